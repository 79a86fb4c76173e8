// The dashboard's accessibility (issue 15) against the real stack: axe-core (a11y.mjs) on every
// screen — login, inbox, an open conversation, reports, and the admin screens (agents,
// departments, canned replies, FAQ, webhooks) — at 360 and 1280 px with no serious or critical violation;
// then the agent's journey by keyboard alone (sign in, open the chat, reply, close) with a polite
// live region that announces the customer's new message once, not the history, and focus that
// never falls back to the page when a view re-renders.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, RUN, launch, shot, agentApiAvailable, adminApi, freshAgent, removeFreshAgents, ADMIN, apiOk } from "./helpers.mjs";
import { assertAccessible } from "./a11y.mjs";

assert.ok(await agentApiAvailable(), "the agent API answers");

const call = apiOk;

let browser, dept, kbd;
before(async () => {
  browser = await launch();
  kbd = await freshAgent("kbd", { max_active_chats: 1000, display_name: "Kim Keyboard" });
  const r = await adminApi("POST", "/admin/departments", { name: "Keyboard " + RUN, strategy: "least_loaded", agent_ids: [kbd.id], hours: null });
  dept = r.department || r;
});
after(async () => {
  await browser?.close();
  if (dept) await adminApi("DELETE", `/admin/departments/${dept.id}`).catch((e) => console.log("cleanup:", e.message));
  await removeFreshAgents();
});

/** a customer whose chat was escalated into our department (so it goes to kbd, its only member) */
async function escalatedCustomer(text) {
  const s = await call(null, "POST", "/session", { context: { product_id: "sku-a11y-" + RUN, product_name: "Keyboard Mug" } });
  await call(s.token, "POST", "/messages", { text, client_id: crypto.randomUUID() });
  await call(s.token, "POST", "/escalate", { department_id: dept.id });
  return { token: s.token, id: s.conversation.id };
}
const focused = (page) => page.evaluate(() => {
  const e = document.activeElement;
  return e && e !== document.body ? (e.getAttribute("data-testid") || e.tagName.toLowerCase()) + (e.getAttribute("data-id") ? ":" + e.getAttribute("data-id") : "") : "body";
});
/** presses `key` until the focused element is `want` (a data-testid, optionally :data-id) */
async function tabTo(page, want, key = "Tab", max = 60) {
  for (let i = 0; i < max; i++) {
    if ((await focused(page)) === want) return;
    await page.keyboard.press(key);
  }
  assert.fail(`${want} not reached with ${key} (focus on ${await focused(page)})`);
}

test("every dashboard screen passes axe at 360 and 1280 px (no serious or critical violation)", async () => {
  const { id } = await escalatedCustomer("Does the mug fit in a dishwasher?");
  for (const width of [360, 1280]) {
    const context = await browser.newContext({ viewport: { width, height: width === 360 ? 780 : 900 }, isMobile: width === 360 });
    const page = await context.newPage();
    page.on("pageerror", (e) => console.log("dashboard error:", e.message));
    page.on("dialog", (d) => d.dismiss());
    await page.goto(BASE + "/chat/agent/");
    await page.getByTestId("agent-login").waitFor();
    await assertAccessible(page, `login ${width}px`);
    await shot(page, `a11y-login-${width}`);
    await page.getByTestId("agent-username").fill(ADMIN.username);
    await page.getByTestId("agent-password").fill(ADMIN.password);
    await page.getByTestId("agent-login").click();
    await page.getByTestId("agent-presence").waitFor();
    await page.locator('[data-testid="agent-conversation"], .convlist .empty').first().waitFor();
    await assertAccessible(page, `inbox ${width}px`);
    await shot(page, `a11y-inbox-${width}`);
    // our chat (queued or with kbd) in All, the admin's view of everyone's
    await page.getByTestId("agent-view-all").click();
    const row = page.locator(`[data-testid="agent-conversation"][data-id="${id}"]`);
    await row.waitFor();
    await row.click();
    await page.locator('[data-testid="agent-message"][data-sender="customer"]').first().waitFor();
    await assertAccessible(page, `conversation ${width}px`);
    await shot(page, `a11y-conversation-${width}`);
    await page.getByTestId("agent-reports").click();
    await page.getByTestId("agent-chart").waitFor();
    await assertAccessible(page, `reports ${width}px`);
    for (const [name, ready] of [["Agents", "tbody tr"], ["Departments", "tbody tr"], ["Canned replies", "tbody tr"], ["FAQ", "tbody tr"], ["Webhooks", ".webhooks li"]]) {
      await page.getByRole("button", { name, exact: true }).click();
      await page.locator(".admin-page h2").filter({ hasText: name }).waitFor();
      await page.locator(ready).first().waitFor();
      await assertAccessible(page, `${name} ${width}px`);
      await shot(page, `a11y-${name.toLowerCase().replace(/ /g, "-")}-${width}`);
    }
    await context.close();
  }
});

test("the agent's journey by keyboard alone: sign in, open the chat, reply, close; new messages announced once", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.log("dashboard error:", e.message));
  await page.emulateMedia({ reducedMotion: "reduce" });
  await page.goto(BASE + "/chat/agent/");
  await page.getByTestId("agent-username").waitFor();
  assert.equal(await focused(page), "agent-username", "the login form takes the focus");
  await page.keyboard.type(kbd.username);
  await page.keyboard.press("Tab");
  await page.keyboard.type(kbd.password);
  await page.keyboard.press("Enter");
  await page.getByTestId("agent-presence").waitFor();
  // online, by keyboard: the presence select
  await tabTo(page, "agent-presence");
  // type-ahead on the focused select picks "Online"
  const [pres] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/agent/presence")), page.keyboard.type("on")]);
  assert.equal(pres.status(), 200);
  await page.waitForFunction(() => document.querySelector('[data-testid="agent-presence"]').value === "online");

  const cust = await escalatedCustomer("My keyboard order " + RUN + " is late");
  const rowId = `agent-conversation:${cust.id}`;
  await page.locator(`[data-testid="agent-conversation"][data-id="${cust.id}"]`).waitFor({ timeout: 15000 });
  await tabTo(page, rowId);
  // the customer writes while the row has the focus: the list re-renders, the focus stays on the row
  await call(cust.token, "POST", "/messages", { text: "Hello again " + RUN, client_id: crypto.randomUUID() });
  await page.locator(`[data-testid="agent-conversation"][data-id="${cust.id}"]`).filter({ hasText: "Hello again" }).waitFor({ timeout: 10000 });
  assert.equal(await focused(page), rowId, "the focus survives the list's re-render");
  await page.keyboard.press("Enter");
  await page.locator('[data-testid="agent-message"][data-sender="customer"]').first().waitFor();
  await page.waitForFunction(() => document.activeElement && document.activeElement.getAttribute("data-testid") === "agent-input");
  assert.equal((await page.getByTestId("agent-announcer").textContent()).trim(), "", "opening a chat announces nothing (no history)");

  // the customer writes: announced once through the polite live region
  await call(cust.token, "POST", "/messages", { text: "Any news " + RUN + "?", client_id: crypto.randomUUID() });
  await page.locator('[data-testid="agent-message"][data-sender="customer"]').filter({ hasText: "Any news" }).waitFor({ timeout: 10000 });
  const live = page.getByTestId("agent-announcer");
  assert.equal(await live.getAttribute("aria-live"), "polite");
  await page.waitForFunction(() => /Customer: Any news/.test(document.querySelector('[data-testid="agent-announcer"]').textContent));
  assert.equal((await live.textContent()).split("Any news").length - 1, 1, "announced once");
  assert.doesNotMatch(await live.textContent(), /keyboard order/, "the history is not announced again");

  await page.keyboard.type("It leaves the warehouse today.");
  await page.keyboard.press("Enter");
  await page.locator('[data-testid="agent-message"][data-sender="agent"]').filter({ hasText: "warehouse today" }).waitFor();
  assert.doesNotMatch(await live.textContent(), /warehouse/, "my own reply is not announced");
  await tabTo(page, "agent-close", "Shift+Tab", 20);
  // the conversation re-renders (a new customer message) while Close has the focus: it keeps it
  await call(cust.token, "POST", "/messages", { text: "Thanks " + RUN, client_id: crypto.randomUUID() });
  await page.locator('[data-testid="agent-message"][data-sender="customer"]').filter({ hasText: "Thanks " + RUN }).waitFor({ timeout: 10000 });
  assert.equal(await focused(page), "agent-close", "the focus survives the conversation's re-render");
  // the focus ring is drawn
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, "none", "a visible focus ring");
  await page.keyboard.press("Enter");
  await page.getByTestId("agent-close").waitFor({ state: "hidden" });
  const r = await call(cust.token, "GET", "/conversation?after=0");
  assert.equal(r.conversation.status, "closed");
  assert.notEqual(await focused(page), "body", "closing keeps the focus in the conversation");
  await shot(page, "a11y-keyboard-closed-1280");
  await context.close();
});
