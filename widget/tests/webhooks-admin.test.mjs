// The admins' Webhooks screen (API.md "Admin": /admin/webhooks; "Webhooks (transactional outbox)")
// against the real stack and a real receiver started here (node http on 127.0.0.1; the dev config
// has chat_webhook_private on): an admin creates a webhook in the browser with a generated secret,
// a customer's message reaches the receiver signed with it and the row shows it delivered; a
// webhook to a closed port shows its error in words; a bad URL and a taken one are refused next
// to the field; delete asks first and removes the webhook. Agents and supervisors have no such screen.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createHmac } from "node:crypto";
import { BASE, RUN, ADMIN, launch, shot, agentApiAvailable, adminApi, freshAgent, removeFreshAgents, dashboardLogin, apiOk } from "./helpers.mjs";
import { assertAccessible } from "./a11y.mjs";

assert.ok(await agentApiAvailable(), "the agent API answers");

/** a receiver that answers 204 and keeps every request: {headers, body} */
const received = [];
const receiver = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => { received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") }); res.writeHead(204).end(); });
});
const listen = (srv) => new Promise((r) => srv.listen(0, "127.0.0.1", () => r(srv.address().port)));
const port = await listen(receiver);
// a port nobody listens on: bound, then closed
const closedPort = await (async () => { const s = createServer(); const p = await listen(s); await new Promise((r) => s.close(r)); return p; })();
const goodUrl = `http://127.0.0.1:${port}/hook-${RUN}`;
const deadUrl = `http://127.0.0.1:${closedPort}/dead-${RUN}`;

let browser;
before(async () => { browser = await launch(); });
after(async () => {
  await browser?.close();
  // a webhook left behind keeps the outbox triggers installed for every later test
  const { webhooks } = await adminApi("GET", "/admin/webhooks");
  for (const w of webhooks.filter((x) => x.url.includes(RUN))) await adminApi("DELETE", `/admin/webhooks/${w.id}`).catch((e) => console.log("cleanup:", e.message));
  await removeFreshAgents();
  receiver.close();
});

const login = (context, who) => dashboardLogin(context, who, { acceptDialogs: true });
const byUrl = async (url) => (await adminApi("GET", "/admin/webhooks")).webhooks.find((w) => w.url === url);
const row = (page, id) => page.locator(`[data-testid="webhook-row"][data-webhook-id="${id}"]`);
const focused = (page) => page.evaluate(() => {
  const e = document.activeElement;
  return e && e !== document.body ? e.getAttribute("data-testid") || e.tagName.toLowerCase() : "body";
});
async function customerSays(text) {
  const s = await apiOk(null, "POST", "/session", { context: { product_id: "sku-hooks-" + RUN, product_name: "Hook Mug" } });
  await apiOk(s.token, "POST", "/messages", { text, client_id: crypto.randomUUID() });
}
async function until(what, fn, ms = 30000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) assert.fail("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("an admin creates a webhook with a generated secret; the receiver gets signed events and the row shows them delivered", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await login(context, ADMIN);
  // an admin's nine screen links leave the presence and Sign out on screen at laptop widths
  for (const width of [1024, 800, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    for (const el of [page.getByTestId("agent-presence"), page.getByRole("button", { name: "Sign out" }), page.getByTestId("agent-webhooks")]) {
      const box = await el.boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= width, `on screen at ${width} px`);
    }
  }
  await page.getByTestId("agent-webhooks").click();
  await page.getByRole("heading", { name: "Webhooks", exact: true }).waitFor();
  assert.equal(new URL(page.url()).hash, "#webhooks", "the screen has its address");
  assert.equal(await page.getByTestId("webhook-event").count(), 8, "one checkbox per event type");

  await page.getByLabel("URL", { exact: true }).fill(goodUrl);
  await page.locator('[data-testid="webhook-event"][data-event="message.created"]').check();
  await page.getByRole("button", { name: "Generate" }).click();
  const secret = await page.getByTestId("webhook-secret").inputValue();
  assert.match(secret, /^[0-9a-f]{64}$/, "a 32-byte hex secret");
  assert.equal(await focused(page), "webhook-secret", "the generated secret is focused (selected, to copy)");
  await page.getByTestId("webhook-create").click();
  // shown once, with the focus on it
  await page.getByTestId("webhook-created").filter({ hasText: secret }).waitFor();
  assert.equal(await focused(page), "webhook-created");
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
  await page.getByTestId("webhook-secret-copy").click();
  await page.getByTestId("agent-announcer").filter({ hasText: "Secret copied." }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, "copied to the clipboard");
  assert.match(await page.getByTestId("agent-announcer").textContent(), /Webhook created/);
  assert.equal(await page.getByTestId("webhook-url").inputValue(), "", "the form is empty again");
  assert.equal(await page.getByTestId("webhook-secret").inputValue(), "");

  const hook = await until("the webhook in the API", () => byUrl(goodUrl));
  assert.deepEqual(hook.events, ["message.created"]);
  assert.equal("secret" in hook, false);
  const r = row(page, hook.id);
  await r.waitFor();
  assert.match(await r.textContent(), /message\.created/);
  assert.match(await r.textContent(), /Never/, "not delivered yet");

  // a customer writes: the receiver gets message.created signed with the secret
  const text = "Where is my hook order " + RUN;
  await customerSays(text);
  const got = await until("the delivery", () => received.find((x) => x.body.includes(text)));
  const body = JSON.parse(got.body);
  assert.equal(body.type, "message.created");
  assert.ok(body.id && body.created_at && body.data, "{id, type, created_at, data}");
  assert.equal(got.headers["x-chat-signature"], "sha256=" + createHmac("sha256", secret).update(got.body).digest("hex"), "signed with the secret");

  // the row catches up by itself (periodic refresh): delivered, nothing waiting, no error
  await page.waitForFunction((id) => {
    const li = document.querySelector(`[data-testid="webhook-row"][data-webhook-id="${id}"]`);
    return li && li.querySelector('[data-testid="webhook-backlog"]').textContent === "0" && !/Never/.test(li.textContent);
  }, hook.id, { timeout: 30000 });
  assert.match(await r.textContent(), /Delivering/);
  assert.equal(await r.getByTestId("webhook-last-error").isVisible(), false);
  await r.scrollIntoViewIfNeeded();
  await shot(page, "agent-webhooks-1280");
  await assertAccessible(page, "webhooks 1280px");

  // a receiver that is down: the error is in the row, in words
  await page.getByTestId("webhook-url").fill(deadUrl);
  await page.locator('[data-testid="webhook-event"][data-event="message.created"]').check();
  await page.getByTestId("webhook-secret").fill("a-typed-secret-of-" + RUN);
  await page.getByTestId("webhook-create").click();
  const dead = await until("the dead webhook in the API", () => byUrl(deadUrl));
  await row(page, dead.id).waitFor();
  await customerSays("Anyone there? " + RUN);
  const err = row(page, dead.id).getByTestId("webhook-last-error");
  await err.waitFor({ state: "visible", timeout: 30000 });
  assert.ok((await err.textContent()).trim().length > 0, "the last error is written out");
  assert.match(await row(page, dead.id).textContent(), /Failing/, "failing, said in words");
  assert.equal((await byUrl(deadUrl)).last_error, (await err.textContent()), "the API's last_error");
  await row(page, dead.id).scrollIntoViewIfNeeded();
  await shot(page, "agent-webhooks-failing-1280");
  await assertAccessible(page, "webhooks with a failing one 1280px");

  // a bad URL: 422, said next to the URL field, naming it; nothing created
  await page.getByTestId("webhook-url").fill("ftp://x");
  await page.locator('[data-testid="webhook-event"][data-event="chat.closed"]').check();
  await page.getByRole("button", { name: "Generate" }).click();
  await page.getByTestId("webhook-create").click();
  const urlError = page.getByTestId("webhook-url-error");
  await urlError.filter({ hasText: /\S/ }).waitFor();
  assert.match(await urlError.textContent(), /^The URL /, "names the field");
  assert.equal(await page.getByTestId("webhook-url").getAttribute("aria-invalid"), "true");
  assert.match(await page.getByTestId("webhook-url").getAttribute("aria-describedby"), /webhook-url-error/);
  assert.equal(await focused(page), "webhook-url", "the focus goes to the field at fault");
  await shot(page, "agent-webhooks-error-1280");
  // no event: 422 on events, next to the checkboxes
  await page.getByTestId("webhook-url").fill(`http://127.0.0.1:${port}/other-${RUN}`);
  await page.locator('[data-testid="webhook-event"][data-event="chat.closed"]').uncheck();
  await page.getByTestId("webhook-create").click();
  await page.getByTestId("webhook-events-error").filter({ hasText: /^Events / }).waitFor();
  assert.equal(await urlError.textContent(), "", "the URL's error is gone");
  // a URL taken: 409, next to the URL field
  await page.getByTestId("webhook-url").fill(goodUrl);
  await page.locator('[data-testid="webhook-event"][data-event="chat.closed"]').check();
  await page.getByTestId("webhook-create").click();
  await urlError.filter({ hasText: "exists already" }).waitFor();
  assert.deepEqual((await adminApi("GET", "/admin/webhooks")).webhooks.filter((w) => w.url.includes(RUN)).map((w) => w.url).sort(),
    [deadUrl, goodUrl].sort(), "nothing created by the refused forms");

  // delete (the confirm is accepted): the row and the webhook go; the focus stays in the list
  await row(page, dead.id).getByTestId("webhook-delete").click();
  await row(page, dead.id).waitFor({ state: "detached" });
  assert.equal(await byUrl(deadUrl), undefined, "deleted through DELETE /admin/webhooks/{id}");
  assert.notEqual(await focused(page), "body", "the focus is not dropped");
  assert.match(await page.getByTestId("agent-announcer").textContent(), /deleted/);
  await r.getByTestId("webhook-delete").click();
  await r.waitFor({ state: "detached" });
  assert.equal(await byUrl(goodUrl), undefined);
  await context.close();
});

test("a dismissed confirmation deletes nothing; the screen works at 360 px", async () => {
  const { webhook } = await adminApi("POST", "/admin/webhooks", { url: deadUrl, events: ["chat.closed", "note.created"], secret: "0123456789abcdef-" + RUN });
  const context = await browser.newContext({ viewport: { width: 360, height: 780 }, isMobile: true });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.log("dashboard error:", e.message));
  let asked = 0;
  page.on("dialog", (d) => { asked++; d.dismiss(); });
  // straight to the screen's address
  await page.goto(BASE + "/chat/agent/#webhooks");
  await page.getByTestId("agent-username").fill(ADMIN.username);
  await page.getByTestId("agent-password").fill(ADMIN.password);
  await page.getByTestId("agent-login").click();
  await row(page, webhook.id).waitFor();
  assert.match(await row(page, webhook.id).textContent(), /chat\.closed.*note\.created/);
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, "no sideways scrolling at 360 px");
  assert.deepEqual(await page.evaluate(() => [...document.querySelectorAll(".webhooks-page .card")].filter((c) => c.scrollWidth > c.clientWidth).map((c) => c.className)),
    [], "nothing wider than its card at 360 px");
  await shot(page, "agent-webhooks-360");
  await page.getByTestId("webhook-event").first().scrollIntoViewIfNeeded();
  await shot(page, "agent-webhooks-360-form");
  await assertAccessible(page, "webhooks 360px");
  await row(page, webhook.id).getByTestId("webhook-delete").click();
  assert.equal(asked, 1, "asked first");
  assert.ok(await byUrl(deadUrl), "dismissed: still there");
  assert.equal(await row(page, webhook.id).count(), 1);
  await adminApi("DELETE", `/admin/webhooks/${webhook.id}`);
  await context.close();
});

test("agents and supervisors have no Webhooks screen, not even at its address", async () => {
  for (const role of ["agent", "supervisor"]) {
    const who = await freshAgent("hooks-" + role, { role });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(BASE + "/chat/agent/#webhooks");
    await page.getByTestId("agent-username").fill(who.username);
    await page.getByTestId("agent-password").fill(who.password);
    await page.getByTestId("agent-login").click();
    await page.getByTestId("agent-view-active").waitFor();
    assert.equal(await page.getByTestId("agent-webhooks").count(), 0, role + ": no link");
    assert.equal(await page.getByTestId("webhook-url").count(), 0, role + ": the inbox, not the screen");
    await context.close();
  }
});
