// Customer and agent together: escalate, auto-assignment or claim with context, reply
// live, XSS in the dashboard, close -> read-only widget; presence, counts and a visible
// "at capacity" error; admin screens. Skipped while the server has no agent API
// (POST /chat/api/v1/agent/login answers 404).
//
// The database is shared with the other suites and earlier runs (many queued chats,
// seeded agents in any state), so every test works with agents created for this run
// (helpers.mjs) and finds its own customer's chat by id and by a product id unique to
// this run, wherever it sits.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, RUN, launch, shot, customerConversation, agentApiAvailable, ADMIN, adminApi, freshAgent, removeFreshAgents, waitForNoFreeAgent, talkToPerson, dashboardLogin } from "./helpers.mjs";

assert.ok(await agentApiAvailable(), "the agent API answers (API.md: agent endpoints)");

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); await removeFreshAgents(); });

const login = (context, who) => dashboardLogin(context, who, { acceptDialogs: true });
/** picks a presence in the dashboard and waits for the server's 200 */
async function setPresence(page, p) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/agent/presence") && r.request().method() === "POST"),
    page.getByTestId("agent-presence").selectOption(p),
  ]);
  assert.equal(res.status(), 200, `presence ${p}: ${await res.text()}`);
  return (await res.json()).agent;
}
const sel = (id) => `[data-testid="agent-conversation"][data-id="${id}"]`;

test("escalate → assignment (or claim) with context → live reply → XSS stays text → close makes the widget read-only", async () => {
  // room for everything already queued, so that going online also hands us our customer
  const me = await freshAgent("maya", { max_active_chats: 1000, display_name: "Maya Lindqvist" });
  const productId = "sku-tee-014-" + RUN;

  // the customer, on the tee's page (with a product id unique to this run), asks for a person
  const cctx = await browser.newContext();
  await cctx.route("**/product-tee.html", async (route) => {
    const res = await route.fetch();
    const body = (await res.text()).replace('data-product-id="sku-tee-014"', `data-product-id="${productId}"`);
    await route.fulfill({ response: res, body });
  });
  const customer = await cctx.newPage();
  const dialogs = [];
  customer.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
  await customer.goto(BASE + "/product-tee.html");
  await customer.getByTestId("chat-launcher").click();
  await customer.locator('[data-testid="chat-message"][data-sender="bot"]').first().waitFor();
  await customer.getByTestId("chat-input").fill("Is the tee available in XL?");
  await customer.getByTestId("chat-send").click();
  await customer.locator('[data-testid="chat-message"][data-sender="bot"]').nth(1).waitFor();
  await waitForNoFreeAgent(); // else the chat would go to someone else at once
  await talkToPerson(customer); // "No preference" when the shop has departments
  const { conversation } = await customerConversation(customer);
  const convId = conversation.id;
  assert.equal(conversation.context.product_id, productId);

  // the agent, in a second browser context, goes online: assignment is automatic
  const actx = await browser.newContext({ viewport: { width: 1366, height: 820 } });
  const agent = await login(actx, me);
  await setPresence(agent, "online");
  let row = agent.locator(sel(convId));
  try {
    await row.waitFor({ timeout: 8000 }); // assigned to us: in Active, the most recent
  } catch { // still queued (e.g. we were full): take it from the queue
    await agent.getByTestId("agent-view-queue").click();
    await row.waitFor({ timeout: 8000 });
  }
  await shot(agent, "agent-inbox");
  await row.click();
  const ctx = agent.getByTestId("agent-context");
  await ctx.getByText("Organic Cotton Tee").waitFor();
  await ctx.getByText(productId).waitFor();
  await ctx.getByText("/product-tee.html").waitFor();
  await agent.locator('[data-testid="agent-message"][data-sender="customer"]').filter({ hasText: "XL" }).first().waitFor();
  const claim = agent.getByTestId("agent-claim");
  if (await claim.isVisible()) {
    await shot(agent, "agent-queued-conversation");
    await claim.click();
    await claim.waitFor({ state: "hidden" });
  }
  await agent.getByTestId("agent-input").waitFor({ state: "visible" });
  assert.equal(await agent.getByTestId("agent-input").isEditable(), true, "the assigned agent can reply");
  // the customer sees who is helping
  await customer.waitForFunction(() => /chatting with maya/i.test(
    document.getElementById("nginx-chat-widget").shadowRoot.querySelector('[data-testid="chat-status"]').textContent), null, { timeout: 10000 });

  // the agent replies; the customer sees it without reloading
  await agent.getByTestId("agent-input").fill("Yes, XL is in stock and ships tomorrow.");
  await agent.getByTestId("agent-send").click();
  await agent.locator('[data-testid="agent-message"][data-sender="agent"]').filter({ hasText: "XL is in stock" }).first().waitFor();
  await customer.locator('[data-testid="chat-message"][data-sender="agent"]').filter({ hasText: "XL is in stock" }).first().waitFor({ timeout: 10000 });
  await shot(customer, "widget-agent-reply");

  // the customer sends markup; the dashboard shows it as text
  const payload = "<img src=x onerror=alert(1)>";
  await customer.getByTestId("chat-input").fill(payload);
  await customer.getByTestId("chat-send").click();
  const xss = agent.locator('[data-testid="agent-message"][data-sender="customer"] .bubble').filter({ hasText: payload });
  await xss.first().waitFor({ timeout: 10000 });
  assert.equal(await xss.first().textContent(), payload);
  assert.equal(await agent.locator("img").count(), 0, "no img element in the dashboard");
  await shot(agent, "agent-conversation");

  // close: the widget turns read-only and offers a new chat
  await agent.getByTestId("agent-close").click();
  await agent.getByTestId("agent-close").waitFor({ state: "hidden" });
  await customer.getByTestId("chat-new").waitFor({ state: "visible", timeout: 10000 });
  assert.equal(await customer.getByTestId("chat-input").isEditable().catch(() => false), false, "the closed chat is read-only");
  await shot(customer, "widget-closed");
  await agent.getByTestId("agent-view-closed").click();
  await agent.locator(sel(convId)).waitFor();
  await shot(agent, "agent-closed-view");
  await setPresence(agent, "offline"); // take no more chats from here on

  // "Start a new chat": a fresh automated conversation
  await customer.getByTestId("chat-new").click();
  await customer.getByTestId("chat-talk-to-agent").waitFor();
  const fresh = (await customerConversation(customer)).conversation;
  assert.notEqual(fresh.id, convId);
  assert.equal(fresh.status, "automated");
  assert.deepEqual(dialogs, [], "no script ran in the widget");
  await cctx.close(); await actx.close();
});

test("presence control, the view counts, and a claim at capacity is refused visibly", async () => {
  // no room at all: going online takes nothing from the shared queue
  const me = await freshAgent("full", { max_active_chats: 0, display_name: "Full Agent" });
  // a queued customer of our own (nobody free may take it)
  await waitForNoFreeAgent();
  const s = await fetch(BASE + "/chat/api/v1/session", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ context: { product_id: "sku-mug-" + RUN, product_name: "Stoneware Mug" } }),
  }).then((r) => r.json());
  const cust = { Authorization: "Bearer " + s.token, "Content-Type": "application/json" };
  await fetch(BASE + "/chat/api/v1/messages", { method: "POST", headers: cust, body: JSON.stringify({ text: "My mug arrived cracked", client_id: crypto.randomUUID() }) });
  const esc = await fetch(BASE + "/chat/api/v1/escalate", { method: "POST", headers: cust, body: "{}" }).then((r) => r.json());
  assert.equal(esc.conversation.assigned_agent, null, "our customer waits in the queue");

  const actx = await browser.newContext({ viewport: { width: 1366, height: 820 } });
  const agent = await login(actx, me);
  assert.equal(await agent.getByTestId("agent-presence").inputValue(), "offline", "a new agent starts offline");
  for (const p of ["online", "away", "offline"]) {
    const a = await setPresence(agent, p);
    assert.equal(a.presence, p);
    assert.equal(await agent.getByTestId("agent-presence").inputValue(), p);
  }
  const who = await agent.evaluate(async () => (await (await fetch("/chat/api/v1/agent/me")).json()).agent);
  assert.equal(who.presence, "offline");
  for (const v of ["active", "queue", "closed", "all"]) assert.match(await agent.getByTestId("agent-view-" + v).textContent(), /\d/);
  assert.match(await agent.getByTestId("agent-view-active").textContent(), /0/);
  // the views arrive together once every view's request is answered (slow on a busy machine)
  await agent.getByTestId("agent-view-queue").filter({ hasText: /[1-9]/ }).waitFor({ timeout: 20000 });
  assert.match(await agent.getByTestId("agent-view-queue").textContent(), /[1-9]/, "our customer is in the queue");

  // claim with no free slot: the server's 409 reaches the agent, in words
  await agent.getByTestId("agent-view-queue").click();
  const row = agent.locator(sel(esc.conversation.id));
  const anyRow = (await row.count()) ? row : agent.getByTestId("agent-conversation").first(); // ours may be past the first page
  await anyRow.click();
  const claim = agent.getByTestId("agent-claim");
  await claim.waitFor();
  const [res] = await Promise.all([
    agent.waitForResponse((r) => /\/claim$/.test(r.url())),
    claim.click(),
  ]);
  assert.equal(res.status(), 409);
  const alert = agent.getByTestId("agent-error");
  await alert.waitFor({ state: "visible" });
  assert.match(await alert.textContent(), /capacity/i);
  await shot(agent, "agent-claim-at-capacity");
  assert.equal(await claim.isVisible(), true, "still claimable once a slot is free");
  await actx.close();
});

test("a queued customer's position in the widget follows the queue while the socket stays up", async () => {
  await waitForNoFreeAgent();
  // a customer ahead of ours, queued through the API
  const s = await fetch(BASE + "/chat/api/v1/session", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
  }).then((r) => r.json());
  const ahead = await fetch(BASE + "/chat/api/v1/escalate", {
    method: "POST", headers: { Authorization: "Bearer " + s.token, "Content-Type": "application/json" }, body: "{}",
  }).then((r) => r.json());
  assert.equal(ahead.conversation.assigned_agent, null, "the customer ahead waits in the queue");

  // ours, in the widget
  const cctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const customer = await cctx.newPage();
  await customer.goto(BASE + "/product-mug.html");
  await customer.getByTestId("chat-launcher").click();
  await customer.locator('[data-testid="chat-message"][data-sender="bot"]').first().waitFor();
  await talkToPerson(customer);
  await customer.getByTestId("chat-status").filter({ hasText: /#\d+ in the queue/ }).waitFor();
  const mine = (await customerConversation(customer)).conversation;
  assert.ok(mine.queue_position > ahead.conversation.queue_position, "ours is behind the one queued first");
  assert.match(await customer.getByTestId("chat-status").textContent(), new RegExp(`#${mine.queue_position} in the queue`));
  const sockets = [];
  customer.on("websocket", (ws) => sockets.push(ws));

  // an agent takes the chat ahead: ours moves up one place without a reload or a reconnect
  const me = await freshAgent("queue", { max_active_chats: 1, display_name: "Queue Agent" });
  const login = await fetch(BASE + "/chat/api/v1/agent/login", {
    method: "POST", headers: { "Content-Type": "application/json", "X-Chat-Csrf": "1" },
    body: JSON.stringify({ username: me.username, password: me.password }),
  }).then((r) => r.json());
  const claim = await fetch(BASE + `/chat/api/v1/agent/conversations/${ahead.conversation.id}/claim`, {
    method: "POST", headers: { Authorization: "Bearer " + login.token, "X-Chat-Csrf": "1" },
  });
  assert.equal(claim.status, 200, "the agent takes the chat ahead");
  const now = (await customerConversation(customer)).conversation.queue_position;
  assert.equal(now, mine.queue_position - 1, "the server moved ours up");
  await customer.getByTestId("chat-status").filter({ hasText: new RegExp(`#${now} in the queue`) }).waitFor({ timeout: 20000 });
  assert.equal(sockets.length, 0, "the widget's socket stayed up (no new socket)");
  await cctx.close();
});

test("the transfer picker lists a colleague who came online before the dashboard opened", async () => {
  const me = await freshAgent("picker", { max_active_chats: 1, display_name: "Picker Agent" });
  const colleague = await freshAgent("early", { max_active_chats: 0, display_name: "Early Colleague " + RUN });
  const loginApi = (who) => fetch(BASE + "/chat/api/v1/agent/login", {
    method: "POST", headers: { "Content-Type": "application/json", "X-Chat-Csrf": "1" },
    body: JSON.stringify({ username: who.username, password: who.password }),
  }).then((r) => r.json());
  const authed = (token) => ({ Authorization: "Bearer " + token, "X-Chat-Csrf": "1", "Content-Type": "application/json" });

  // a queued customer, claimed by us through the API
  await waitForNoFreeAgent();
  const s = await fetch(BASE + "/chat/api/v1/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }).then((r) => r.json());
  const esc = await fetch(BASE + "/chat/api/v1/escalate", { method: "POST", headers: { Authorization: "Bearer " + s.token, "Content-Type": "application/json" }, body: "{}" }).then((r) => r.json());
  const mine = await loginApi(me);
  const claim = await fetch(BASE + `/chat/api/v1/agent/conversations/${esc.conversation.id}/claim`, { method: "POST", headers: authed(mine.token) });
  assert.equal(claim.status, 200, "we take the chat");

  // the colleague comes online before our dashboard opens (no presence event will tell us)
  const theirs = await loginApi(colleague);
  const p = await fetch(BASE + "/chat/api/v1/agent/presence", { method: "POST", headers: authed(theirs.token), body: JSON.stringify({ presence: "online" }) });
  assert.equal(p.status, 200, "the colleague is online");

  const actx = await browser.newContext({ viewport: { width: 1366, height: 820 } });
  const agent = await login(actx, me);
  await agent.locator(sel(esc.conversation.id)).click();
  await agent.getByTestId("agent-transfer").click();
  const option = agent.getByRole("option", { name: new RegExp("Early Colleague " + RUN) });
  await option.waitFor({ state: "attached", timeout: 10000 });
  assert.equal(await option.getAttribute("value"), colleague.id, "the picker offers the colleague");
  await shot(agent, "agent-transfer-picker");
  await actx.close();
});

test("the agent sees who the customer is and their earlier conversations", async () => {
  const me = await freshAgent("ident", { max_active_chats: 0, display_name: "Ident Agent" });
  const loginApi = await fetch(BASE + "/chat/api/v1/agent/login", {
    method: "POST", headers: { "Content-Type": "application/json", "X-Chat-Csrf": "1" },
    body: JSON.stringify({ username: me.username, password: me.password }),
  }).then((r) => r.json());
  const agentHdr = { Authorization: "Bearer " + loginApi.token, "X-Chat-Csrf": "1", "Content-Type": "application/json" };
  // room for exactly the chat we claim (nothing from the shared queue comes to us)
  await adminApi("PATCH", `/admin/agents/${me.id}`, { max_active_chats: 1 });

  const s = await fetch(BASE + "/chat/api/v1/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }).then((r) => r.json());
  const cust = { Authorization: "Bearer " + s.token, "Content-Type": "application/json" };
  const email = `ana.${RUN}@example.com`;
  const id = await fetch(BASE + "/chat/api/v1/identify", { method: "POST", headers: cust, body: JSON.stringify({ name: "Ana " + RUN, email }) });
  assert.equal(id.status, 200, "the customer leaves a name and an email");
  // a first chat, closed by us
  await waitForNoFreeAgent([me.id]);
  await fetch(BASE + "/chat/api/v1/escalate", { method: "POST", headers: cust, body: "{}" });
  const first = s.conversation.id;
  assert.equal((await fetch(BASE + `/chat/api/v1/agent/conversations/${first}/claim`, { method: "POST", headers: agentHdr })).status, 200);
  assert.equal((await fetch(BASE + `/chat/api/v1/agent/conversations/${first}/close`, { method: "POST", headers: agentHdr, body: "{}" })).status, 200);
  // the same browser comes back: a second chat of the same customer, ours again
  const again = await fetch(BASE + "/chat/api/v1/session", { method: "POST", headers: cust, body: "{}" }).then((r) => r.json());
  assert.notEqual(again.conversation.id, first);
  await fetch(BASE + "/chat/api/v1/escalate", { method: "POST", headers: cust, body: "{}" });
  assert.equal((await fetch(BASE + `/chat/api/v1/agent/conversations/${again.conversation.id}/claim`, { method: "POST", headers: agentHdr })).status, 200);

  const actx = await browser.newContext({ viewport: { width: 1366, height: 820 } });
  const agent = await login(actx, me);
  await agent.locator(sel(again.conversation.id)).click();
  const ctx = agent.getByTestId("agent-context");
  await ctx.getByText("Ana " + RUN).first().waitFor();
  assert.equal(await agent.getByTestId("agent-customer-email").textContent(), email, "the email is shown");
  await agent.getByTestId("agent-history").waitFor();
  assert.equal(await agent.getByTestId("agent-history").locator("li").count(), 1, "one earlier conversation");
  assert.match(await agent.getByTestId("agent-history").textContent(), /Closed/i);
  await shot(agent, "agent-customer-history");
  await actx.close();
});

test("admins get the Agents and FAQ screens", async () => {
  const actx = await browser.newContext({ viewport: { width: 1366, height: 820 } });
  const admin = await login(actx, ADMIN);
  await admin.getByRole("button", { name: "Agents", exact: true }).click();
  await admin.getByRole("cell", { name: "john.doe" }).waitFor();
  await shot(admin, "admin-agents");
  await admin.getByRole("button", { name: "FAQ", exact: true }).click();
  await admin.locator("tbody tr").first().waitFor();
  await shot(admin, "admin-faq");
  await actx.close();
});
