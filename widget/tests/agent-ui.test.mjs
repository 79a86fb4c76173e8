// The dashboard's rendering against an API stubbed inside the browser (page routes,
// no server of our own): views and counts, transcript, context panel, XSS as text,
// admin screens. The real end-to-end flows are in agent.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BASE as B, launch, SHOTS } from "./helpers.mjs";
const now = Date.now(), iso = (m) => new Date(now - m * 60000).toISOString();
const me = { id: "a1", username: "john.doe", display_name: "John Doe", role: "admin", presence: "online", max_active_chats: 5, active_chats: 1 };
const conv = (id, st, ag, name, last, mins, qp = null) => ({ id, status: st, assigned_agent: ag, queue_position: qp,
  context: name ? { product_id: "sku-tee-014", product_name: name, page_url: "http://127.0.0.1:18200/product-tee.html" } : {},
  last_seq: 4, unread_count: st === "agent" && ag ? 1 : 0, created_at: iso(mins + 3), updated_at: iso(mins), requested_agent_at: st !== "automated" ? iso(mins) : null,
  closed_at: st === "closed" ? iso(1) : null, last_message: { seq: 4, sender_type: "customer", content: last, sender_agent_id: null } });
const active = [conv("c1a2b3c4-0000-4000-8000-000000000001", "agent", { id: "a1", display_name: "John Doe" }, "Organic Cotton Tee", "<img src=x onerror=alert(1)>", 2)];
const queue = [conv("d4e5f6a7-0000-4000-8000-000000000002", "agent", null, "Stoneware Mug", "My mug arrived cracked, what now?", 7, 1),
  conv("e8f9a0b1-0000-4000-8000-000000000003", "agent", null, null, "Where is my order #1042?", 3, 2)];
// departments and priority (API.md "Operators"): an urgent chat for Returns that came in while nobody was there
Object.assign(queue[0], { department: { id: "dd000000-0000-4000-8000-000000000001", name: "Returns" }, priority: "urgent", offline: true,
  customer: { id: "cu1", name: "Lea Novak", email: "lea@example.com" } });
Object.assign(queue[1], { department: null, priority: "normal", offline: false });
const closed = [conv("f1f2f3f4-0000-4000-8000-000000000004", "closed", { id: "a1", display_name: "John Doe" }, "House Blend Coffee Beans", "Thanks, bye!", 60)];
const msgs = (id) => [
  { id: "m1", conversation_id: id, seq: 1, sender_type: "bot", sender_agent_id: null, kind: "text", content: "Hi! I'm the shop assistant. Ask me anything about orders, shipping, returns or payments.", metadata: {}, created_at: iso(5), read_at: iso(4) },
  { id: "m2", conversation_id: id, seq: 2, sender_type: "customer", sender_agent_id: null, kind: "text", content: "Is the tee available in XL?", metadata: {}, created_at: iso(4), read_at: iso(3) },
  { id: "m3", conversation_id: id, seq: 3, sender_type: "system", sender_agent_id: null, kind: "event", content: "All agents are busy. You are in queue.", metadata: {}, created_at: iso(4), read_at: null },
  { id: "m5", conversation_id: id, seq: 4, sender_type: "agent", sender_agent_id: "a1", kind: "text", content: "Hi, I'm John. Yes, XL is in stock and ships tomorrow.", metadata: {}, created_at: iso(3), read_at: iso(2) },
  { id: "m4", conversation_id: id, seq: 5, sender_type: "customer", sender_agent_id: null, kind: "text", content: "<img src=x onerror=alert(1)>", metadata: {}, created_at: iso(2), read_at: null },
];
test("the dashboard renders views, transcript, context and admin screens (stubbed API)", async () => {
  const b = await launch();
  const ctx = await b.newContext({ viewport: { width: 1366, height: 768 } });
  await ctx.route("**/chat/api/v1/**", (r) => {
    const u = new URL(r.request().url()); const p = u.pathname.replace("/chat/api/v1", "");
    const j = (o, s = 200) => r.fulfill({ status: s, contentType: "application/json", body: JSON.stringify(o) });
    if (p === "/agent/me") return j({ agent: me });
    if (p === "/agent/conversations") { const v = u.searchParams.get("view"); return j({ conversations: { active, queue, closed, all: [...active, ...queue, ...closed] }[v], next_cursor: null }); }
    const m = p.match(/^\/agent\/conversations\/([^/]+)$/);
    if (m) { const c = [...active, ...queue, ...closed].find((c) => c.id === m[1]); return j({ conversation: c, messages: u.searchParams.get("after") === "0" ? msgs(c.id) : [] }); }
    if (p.endsWith("/read")) return r.fulfill({ status: 204 });
    if (p === "/admin/agents") return j({ agents: [me, { id: "a2", username: "bibek.joshi", display_name: "Bibek Joshi", role: "agent", presence: "away", max_active_chats: 5, active_chats: 0 }] });
    if (p === "/admin/departments") return j({ departments: [
      { id: "dd000000-0000-4000-8000-000000000001", name: "Returns", strategy: "round_robin", agent_ids: ["a2"], hours: { tz: "Europe/Berlin", mon: ["09:00", "17:00"], tue: ["09:00", "17:00"], wed: ["09:00", "17:00"], thu: ["09:00", "17:00"], fri: ["09:00", "17:00"], sat: ["10:00", "14:00"] } },
      { id: "dd000000-0000-4000-8000-000000000002", name: "Orders", strategy: "least_loaded", agent_ids: ["a1", "a2"], hours: null }] });
    if (p === "/admin/faq") return j({ faq: [{ slug: "shipping-time", question: "How long does shipping take?", answer: "Standard shipping takes 3–5 business days within the continental US.", display_order: 1, is_active: true, keywords: ["shipping"] }, { slug: "returns", question: "How do I return an item?", answer: "Start a return from your order page within 30 days.", display_order: 2, is_active: false }] });
    return j({ error: { code: "not_found", message: "stub" } }, 404);
  });
  const p = await ctx.newPage();
  p.on("pageerror", (e) => console.log("err", e.message));
  await p.goto(B + "/chat/agent/");
  await p.getByTestId("agent-conversation").first().waitFor();
  await p.screenshot({ path: SHOTS + "stub-inbox.png" });
  await p.getByTestId("agent-conversation").first().click();
  await p.getByTestId("agent-message").first().waitFor();
  await p.waitForTimeout(200);
  assert.equal(await p.locator("img").count(), 0, "customer markup stays text");
  assert.equal(await p.locator('[data-testid="agent-message"][data-sender="customer"] .bubble').last().textContent(), "<img src=x onerror=alert(1)>");
  const ctxText = await p.getByTestId("agent-context").textContent();
  assert.match(ctxText, /Organic Cotton Tee/); assert.match(ctxText, /sku-tee-014/); assert.match(ctxText, /product-tee\.html/);
  assert.match(await p.getByTestId("agent-view-queue").textContent(), /2/);
  await p.screenshot({ path: SHOTS + "stub-conversation.png" });
  await p.getByTestId("agent-view-queue").click();
  await p.getByTestId("agent-conversation").first().click();
  await p.getByTestId("agent-claim").waitFor();
  assert.equal(await p.getByTestId("agent-input").isDisabled(), true, "a queued chat must be claimed before replying");
  const row = p.locator('[data-testid="agent-conversation"]').first();
  assert.equal(await row.getByTestId("agent-conv-department").textContent(), "Returns");
  assert.equal(await row.getByTestId("agent-conv-priority").textContent(), "Urgent priority");
  assert.equal(await row.getByTestId("agent-conv-offline").textContent(), "Offline · email left");
  assert.equal(await p.getByTestId("agent-customer-email").textContent(), "lea@example.com");
  assert.match(await p.getByTestId("agent-offline").textContent(), /left an email/);
  assert.match(await p.getByTestId("agent-context").textContent(), /DepartmentReturns.*PriorityUrgent priority/);
  await p.screenshot({ path: SHOTS + "stub-queue.png" });
  await p.setViewportSize({ width: 360, height: 740 });
  await p.screenshot({ path: SHOTS + "stub-queue-360.png" });
  await p.setViewportSize({ width: 1366, height: 768 });
  await p.getByRole("button", { name: "Agents", exact: true }).click(); await p.waitForTimeout(300);
  await p.screenshot({ path: SHOTS + "stub-admin-agents.png" });
  await p.getByRole("button", { name: "Departments", exact: true }).click();
  await p.getByText("Mon–Fri 09:00–17:00, Sat 10:00–14:00 (Europe/Berlin)").waitFor();
  await p.screenshot({ path: SHOTS + "stub-admin-departments.png", fullPage: true });
  await p.getByRole("button", { name: "FAQ", exact: true }).click(); await p.waitForTimeout(300);
  await p.screenshot({ path: SHOTS + "stub-admin-faq.png" });
  await b.close();
});
