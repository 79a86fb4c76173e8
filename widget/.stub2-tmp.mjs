import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const dist = new URL("./dist/agent/", import.meta.url).pathname;
const me = { id: "a1", username: "john", display_name: "John Doe", role: "admin", presence: "online", max_active_chats: 5, active_chats: 0 };
const iso = (m) => new Date(Date.now() - m * 60000).toISOString();
const conv = (id, st, ag, qp, prio, dept) => ({ id, status: st, assigned_agent: ag, queue_position: qp, context: { product_name: "Mug", product_id: "sku", page_url: "http://x/p.html" }, last_seq: 3, unread_count: ag ? 2 : 0, created_at: iso(9), updated_at: iso(3), requested_agent_at: iso(5), closed_at: null, priority: prio, department: dept, offline: !!dept, customer: { id: "c", name: "Lea", email: null }, last_message: { seq: 3, sender_type: "customer", content: "Hello there", sender_agent_id: null } });
const cs = [conv("c1", "agent", { id: "a1", display_name: "John Doe" }, null, "high", null), conv("c2", "agent", null, 1, "urgent", { id: "d", name: "Returns" })];
const msgs = [{ id: "m1", conversation_id: "c1", seq: 1, sender_type: "bot", kind: "text", content: "Hi!", created_at: iso(8), read_at: null }, { id: "m2", conversation_id: "c1", seq: 2, sender_type: "customer", kind: "text", content: "Question", created_at: iso(6), read_at: null }, { id: "m3", conversation_id: "c1", seq: 3, sender_type: "agent", sender_agent_id: "a1", kind: "text", content: "Answer", created_at: iso(4), read_at: iso(3) }];
const run = (v, label) => v.map((x) => label + " " + x.impact + " " + x.id + " " + x.nodes.slice(0, 3).map((n) => n.target.join(" ") + " :: " + (n.failureSummary || "").split("\n")[1]).join(" | "));
const b = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox"] });
for (const w of [390, 1280]) {
  const ctx = await b.newContext({ viewport: { width: w, height: 900 } });
  let logged = false;
  await ctx.route("http://x/**", (r) => {
    const u = new URL(r.request().url()); const p = u.pathname;
    const j = (o, s = 200) => r.fulfill({ status: s, contentType: "application/json", body: JSON.stringify(o) });
    if (p.startsWith("/chat/agent/")) { const f = p.slice(12) || "index.html"; return r.fulfill({ body: readFileSync(dist + f), contentType: f.endsWith("js") ? "text/javascript" : f.endsWith("css") ? "text/css" : "text/html" }); }
    const q = p.replace("/chat/api/v1", "");
    if (q === "/agent/me") return logged ? j({ agent: me }) : j({ error: { code: "unauthorized", message: "x" } }, 401);
    if (q === "/agent/login") { logged = true; return j({ token: "t", agent: me }); }
    if (q === "/agent/conversations") return j({ conversations: cs, next_cursor: null });
    if (q === "/agent/conversations/c1") return j({ conversation: cs[0], messages: u.searchParams.get("after") === "0" ? msgs : [], notes: [], history: [] });
    if (q.endsWith("/read")) return r.fulfill({ status: 204 });
    if (q === "/admin/agents") return j({ agents: [me] });
    if (q === "/admin/departments") return j({ departments: [{ id: "d", name: "Returns", strategy: "least_loaded", agent_ids: ["a1"], hours: null }] });
    if (q === "/admin/faq") return j({ faq: [{ slug: "s", question: "Q?", answer: "A.", display_order: 1, is_active: true }] });
    return j({ error: { code: "not_found", message: "stub" } }, 404);
  });
  const p = await ctx.newPage(); p.on("pageerror", (e) => console.log("err", e.message));
  const ax = async (label) => { if (!(await p.evaluate(() => !!window.axe))) await p.addScriptTag({ content: AXE }); await p.waitForTimeout(200); console.log(run(await p.evaluate(async () => (await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } })).violations), w + " " + label).join("\n") || w + " " + label + " clean"); await p.screenshot({ path: `/tmp/rep/${label}-${w}.png` }); };
  await p.goto("http://x/chat/agent/");
  await p.getByTestId("agent-login").waitFor(); await ax("login");
  await p.getByTestId("agent-username").fill("a"); await p.getByTestId("agent-password").fill("b"); await p.getByTestId("agent-login").click();
  await p.getByTestId("agent-conversation").first().waitFor(); await ax("inbox");
  await p.getByTestId("agent-conversation").first().click(); await p.getByTestId("agent-message").first().waitFor(); await ax("conversation");
  for (const n of ["Agents", "Departments", "FAQ"]) { await p.getByRole("button", { name: n, exact: true }).click(); await p.locator("tbody tr").first().waitFor(); await ax(n); }
  await ctx.close();
}
await b.close();
