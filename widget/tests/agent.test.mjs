// Customer and agent together: escalate, claim with context, reply live, XSS in the
// dashboard, close -> read-only widget, admin screens. Skipped while the server has
// no agent API (POST /chat/api/v1/agent/login answers 404).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, launch, shot, customerConversation, agentApiAvailable, AGENT, ADMIN } from "./helpers.mjs";

const available = await agentApiAvailable();
if (!available) console.log("skipped: agent API not available (POST /chat/api/v1/agent/login answers 404)");
const skip = available ? false : "agent API not available";

let browser;
before(async () => { if (available) browser = await launch(); });
after(async () => { await browser?.close(); });

async function login(context, who) {
  const page = await context.newPage();
  page.on("pageerror", (e) => console.log("dashboard error:", e.message));
  page.on("dialog", (d) => d.accept());
  await page.goto(BASE + "/chat/agent/");
  await page.getByTestId("agent-username").fill(who.username);
  await page.getByTestId("agent-password").fill(who.password);
  await page.getByTestId("agent-login").click();
  await page.getByTestId("agent-presence").waitFor();
  return page;
}
const sel = (id) => `[data-testid="agent-conversation"][data-id="${id}"]`;

test("escalate → claim with context → live reply → XSS stays text → close makes the widget read-only", { skip }, async () => {
  // the customer, on a product page, asks for a person
  const cctx = await browser.newContext();
  const customer = await cctx.newPage();
  const dialogs = [];
  customer.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
  await customer.goto(BASE + "/product-tee.html");
  await customer.getByTestId("chat-launcher").click();
  await customer.locator('[data-testid="chat-message"][data-sender="bot"]').first().waitFor();
  await customer.getByTestId("chat-input").fill("Is the tee available in XL?");
  await customer.getByTestId("chat-send").click();
  await customer.locator('[data-testid="chat-message"][data-sender="bot"]').nth(1).waitFor();
  await customer.getByTestId("chat-talk-to-agent").click();
  await customer.getByTestId("chat-talk-to-agent").waitFor({ state: "hidden" });
  const convId = (await customerConversation(customer)).conversation.id;

  // the agent, in a second browser context
  const actx = await browser.newContext({ viewport: { width: 1366, height: 820 } });
  const agent = await login(actx, AGENT);
  await shot(agent, "agent-inbox");
  let row = agent.locator(sel(convId));
  const assigned = await row.count();
  if (!assigned) { // still queued (agent offline): take it from the queue
    await agent.getByTestId("agent-view-queue").click();
    row = agent.locator(sel(convId));
  }
  await row.waitFor({ timeout: 10000 });
  await row.click();
  const ctx = agent.getByTestId("agent-context");
  await ctx.getByText("Organic Cotton Tee").waitFor();
  await ctx.getByText("sku-tee-014").waitFor();
  await ctx.getByText("/product-tee.html").waitFor();
  await agent.locator('[data-testid="agent-message"][data-sender="customer"]').filter({ hasText: "XL" }).first().waitFor();
  const claim = agent.getByTestId("agent-claim");
  if (await claim.isVisible()) {
    await shot(agent, "agent-queued-conversation");
    await claim.click();
    await claim.waitFor({ state: "hidden" });
  }
  // the customer sees who is helping
  await customer.waitForFunction(() => /chatting with/i.test(
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

  // "Start a new chat": a fresh automated conversation
  await customer.getByTestId("chat-new").click();
  await customer.getByTestId("chat-talk-to-agent").waitFor();
  const fresh = (await customerConversation(customer)).conversation;
  assert.notEqual(fresh.id, convId);
  assert.equal(fresh.status, "automated");
  assert.deepEqual(dialogs, [], "no script ran in the widget");
  await cctx.close(); await actx.close();
});

test("presence control and the view counts", { skip }, async () => {
  const actx = await browser.newContext({ viewport: { width: 1366, height: 820 } });
  const agent = await login(actx, AGENT);
  for (const p of ["away", "offline"]) {
    await agent.getByTestId("agent-presence").selectOption(p);
    await agent.waitForResponse((r) => r.url().endsWith("/agent/presence") && r.status() === 200);
  }
  const me = await agent.evaluate(async () => (await (await fetch("/chat/api/v1/agent/me")).json()).agent);
  assert.equal(me.presence, "offline");
  for (const v of ["active", "queue", "closed", "all"]) assert.match(await agent.getByTestId("agent-view-" + v).textContent(), /\d/);
  await actx.close();
});

test("admins get the Agents and FAQ screens", { skip }, async () => {
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
