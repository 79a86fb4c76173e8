// The dashboard keeps the newest copy of a conversation: an HTTP answer that left the server
// before a change (a close, a claim) but reaches the page after it must not undo the change
// (conversations carry a version that grows with every change). Each test holds one answer in
// page.route until the change is on screen, then lets it through; the refetch that would
// repair a wrong screen is held for the rest of the test, so what is checked is what the
// late answer left behind. Chats of an away department of this run wait for this run's
// supervisor, so the shared queue and the other suites' agents play no part. The rule itself
// (src/agent/known.ts) is also checked as a unit.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { RUN, launch, shot, adminApi, freshAgent, removeFreshAgents, dashboardLogin, awayDesk, apiOk, agentToken } from "./helpers.mjs";

let browser, desk;
before(async () => { browser = await launch(); desk = await awayDesk("stale", "Stale Desk", "Stale Boss"); });
after(async () => { await browser?.close(); await desk?.remove(); await removeFreshAgents(); });

const sel = (id) => `[data-testid="agent-conversation"][data-id="${id}"]`;

/** a customer whose first chat the boss handled and closed, and whose second chat waits in the
 *  away department's queue (the dashboard shows it with "Earlier conversations"); `word`: the
 *  customer first writes a word of this run (found by the search: the shared queue may hold
 *  more than a page). Without it nothing is unread: no read receipt's echo repairs the screen. */
async function returningCustomer(tag, word = false) {
  const s = await apiOk(null, "POST", "/session", { context: { product_id: `sku-${tag}-${RUN}`, product_name: "Stale " + tag } });
  const first = s.conversation.id;
  await apiOk(s.token, "POST", "/escalate", { department_id: desk.away.id });
  await desk.asBoss("POST", `/agent/conversations/${first}/claim`);
  await desk.asBoss("POST", `/agent/conversations/${first}/close`);
  const again = await apiOk(s.token, "POST", "/session", {});
  assert.notEqual(again.conversation.id, first);
  if (word) await apiOk(s.token, "POST", "/messages", { text: `Question ${tag}${RUN}`, client_id: crypto.randomUUID() });
  const esc = await apiOk(s.token, "POST", "/escalate", { department_id: desk.away.id });
  assert.equal(esc.conversation.assigned_agent, null, "the second chat waits in the away department");
  return { token: s.token, id: again.conversation.id };
}

/**
 * Holds the first GET matched by `match` (answered by the server at once, delivered on
 * release()); every later one is held until the test ends (`next` resolves when the first of
 * them is asked: the page has applied the released answer and refreshes again).
 */
async function holdFirst(page, match) {
  let release, fetched, asked;
  const gate = new Promise((r) => { release = r; });
  const answered = new Promise((r) => { fetched = r; });
  const next = new Promise((r) => { asked = r; });
  let n = 0;
  const handler = async (route) => {
    if (route.request().method() !== "GET") return route.continue();
    if (n++ === 0) {
      const res = await route.fetch();
      fetched();
      await gate;
      return route.fulfill({ response: res }).catch(() => {});
    }
    asked(); // never answered: the repair must not come from a refetch
  };
  await page.route(match, handler);
  return { release: () => release(), answered, next };
}
const convGet = (id) => (u) => u.pathname.endsWith(`/agent/conversations/${id}`);

test("the rule (unit): the newer version wins, closed stays closed without versions, an event keeps the agent's unread count", async () => {
  const out = await esbuild.build({
    entryPoints: [fileURLToPath(new URL("../src/agent/known.ts", import.meta.url))], bundle: true, write: false, format: "esm",
  });
  const { supersedes, Known } = await import("data:text/javascript," + encodeURIComponent(out.outputFiles[0].text));
  const c = (version, status = "agent", more = {}) => ({ id: "c1", status, version, unread_count: 0, ...more });
  assert.equal(supersedes(c(5), c(4)), true, "newer");
  assert.equal(supersedes(c(4), c(5)), false, "older");
  assert.equal(supersedes(c(5), c(5)), true, "the same version (e.g. a new queue position)");
  assert.equal(supersedes(c(4), c(5, "closed")), false, "an older open copy of a closed chat");
  assert.equal(supersedes(c(6), c(5, "closed")), true, "a newer version may say otherwise");
  assert.equal(supersedes(c(undefined), c(undefined, "closed")), false, "without versions closed stays closed");
  assert.equal(supersedes(c(undefined, "closed"), c(undefined)), true);
  assert.equal(supersedes(c(1), { ...c(9), id: "c2" }), true, "another conversation is no comparison");
  assert.equal(supersedes(c(1), undefined), true);

  const k = new Known();
  assert.deepEqual(k.offer(c(3, "agent", { unread_count: 2, last_message: { seq: 4 } })), { conv: c(3, "agent", { unread_count: 2, last_message: { seq: 4 } }), taken: true });
  // an event's copy (the writer's unread count) is taken, the agent's count and the list's last_message kept
  const ev = k.offer(c(4, "closed", { unread_count: 7 }), true);
  assert.equal(ev.taken, true);
  assert.deepEqual(ev.conv, c(4, "closed", { unread_count: 2, last_message: { seq: 4 } }));
  const late = k.offer(c(3, "agent", { unread_count: 0 }));
  assert.equal(late.taken, false, "the late answer is not taken");
  assert.equal(late.conv.status, "closed", "the known copy stands");
  assert.equal(k.get("c1").version, 4);
  k.prune(new Set()); // offered just now: kept
  assert.equal(k.get("c1").version, 4);
});

test("a conversation answer that left before the close does not reopen the chat", async () => {
  const { id } = await returningCustomer("close");
  await desk.asBoss("POST", `/agent/conversations/${id}/claim`);
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 820 } });
  const page = await dashboardLogin(ctx, desk.boss, { acceptDialogs: true });
  await page.locator(sel(id)).waitFor();
  const held = await holdFirst(page, convGet(id));
  await page.locator(sel(id)).click(); // its GET (status agent) is answered and held
  await held.answered;
  await page.getByTestId("agent-close").waitFor({ state: "visible" });
  await adminApi("POST", `/agent/conversations/${id}/close`); // someone else closes it: chat.closed
  await page.getByTestId("agent-close").waitFor({ state: "hidden" });
  held.release();
  // the held answer is on screen once the customer's earlier chat is listed (only it brings them)
  await page.getByTestId("agent-history").waitFor();
  await shot(page, "agent-stale-closed");
  assert.equal(await page.getByTestId("agent-close").isVisible(), false, "no Close button: the chat stays closed");
  assert.equal(await page.getByTestId("agent-input").isVisible(), false, "no reply box: the chat stays closed");
  assert.match(await page.locator(".chat-head .pill").textContent(), /Closed/);
  await page.unrouteAll({ behavior: "ignoreErrors" });
  await ctx.close();
});

test("a conversation answer that left before my claim does not put the chat back in the queue", async () => {
  const { id } = await returningCustomer("claim", true);
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 820 } });
  const page = await dashboardLogin(ctx, desk.boss, { acceptDialogs: true });
  await page.getByTestId("agent-search").fill(`claim${RUN}`);
  await page.getByTestId("agent-search").press("Enter");
  await page.getByTestId("agent-view-queue").click();
  await page.locator(sel(id)).waitFor();
  const held = await holdFirst(page, convGet(id));
  await page.locator(sel(id)).click(); // its GET (queued) is answered and held
  await held.answered;
  const claim = page.getByTestId("agent-claim");
  const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith(`/${id}/claim`)), claim.click()]);
  assert.equal(res.status(), 200, "the boss takes the chat");
  await claim.waitFor({ state: "hidden" });
  held.release();
  await page.getByTestId("agent-history").waitFor();
  await shot(page, "agent-stale-claimed");
  assert.equal(await claim.isVisible(), false, "no Claim button: the chat is mine");
  assert.equal(await page.getByTestId("agent-input").isEditable(), true, "I can reply");
  assert.match(await page.locator(".chat-head .pill").textContent(), /Assigned to you/);
  await page.unrouteAll({ behavior: "ignoreErrors" });
  await ctx.close();
});

test("an Active list that left before the close does not list the closed chat as mine", async () => {
  const { token, id } = await returningCustomer("list");
  await desk.asBoss("POST", `/agent/conversations/${id}/claim`);
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 820 } });
  const page = await dashboardLogin(ctx, desk.boss, { acceptDialogs: true });
  await page.locator(sel(id)).click();
  await page.getByTestId("agent-close").waitFor({ state: "visible" });
  // the next refresh's Active view (the chat still open in it) is answered and held
  const held = await holdFirst(page, (u) => u.pathname.endsWith("/agent/conversations") && u.searchParams.get("view") === "active");
  await apiOk(token, "POST", "/messages", { text: "Still there?", client_id: crypto.randomUUID() }); // message.created: refresh
  await held.answered;
  const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith(`/${id}/close`)), page.getByTestId("agent-close").click()]);
  assert.equal(res.status(), 200, "the boss closes the chat");
  await page.getByTestId("agent-close").waitFor({ state: "hidden" });
  held.release();
  await held.next; // the held list was applied and the dashboard refreshes once more
  await shot(page, "agent-stale-list");
  const row = page.locator(sel(id));
  const shown = (await row.count()) ? await row.textContent() : "";
  assert.doesNotMatch(shown, /Assigned to you/, "the closed chat is not listed as mine");
  assert.equal(await row.count(), 0, "the closed chat is not in the Active view");
  assert.match(await page.locator(".chat-head .pill").textContent(), /Closed/);
  await page.unrouteAll({ behavior: "ignoreErrors" });
  await ctx.close();
});

test("an Active list that left before my transfer does not list the transferred chat as mine", async () => {
  // a colleague online with room (going online hands them whatever waits in the default queue;
  // deleted after the run, those chats go back to it)
  const mate = await freshAgent("stale-mate", { max_active_chats: 1000, display_name: "Stale Mate " + RUN });
  await apiOk(await agentToken(mate), "POST", "/agent/presence", { presence: "online" });
  const { token, id } = await returningCustomer("transfer");
  await desk.asBoss("POST", `/agent/conversations/${id}/claim`);
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 820 } });
  const page = await dashboardLogin(ctx, desk.boss, { acceptDialogs: true });
  await page.locator(sel(id)).click();
  await page.getByTestId("agent-transfer").waitFor({ state: "visible" });
  const held = await holdFirst(page, (u) => u.pathname.endsWith("/agent/conversations") && u.searchParams.get("view") === "active");
  await apiOk(token, "POST", "/messages", { text: "Hello?", client_id: crypto.randomUUID() }); // message.created: refresh
  await held.answered;
  await page.getByTestId("agent-transfer").click();
  const to = page.getByRole("combobox", { name: "Transfer to" });
  await to.locator(`option[value="${mate.id}"]`).waitFor({ state: "attached" });
  await to.selectOption(mate.id);
  const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith(`/${id}/transfer`)), page.locator(".transfer .btn.primary").click()]);
  assert.equal(res.status(), 200, "the boss hands the chat to the colleague");
  await page.locator(".chat-head .pill").filter({ hasText: "With Stale Mate" }).waitFor();
  held.release();
  await held.next;
  await shot(page, "agent-stale-transfer");
  const row = page.locator(sel(id));
  const shown = (await row.count()) ? await row.textContent() : "";
  assert.doesNotMatch(shown, /Assigned to you/, "the transferred chat is not listed as mine");
  assert.equal(await row.count(), 0, "the transferred chat is not in my Active view");
  assert.match(await page.locator(".chat-head .pill").textContent(), /With Stale Mate/);
  await page.unrouteAll({ behavior: "ignoreErrors" });
  await ctx.close();
});

test("a customer message whose frame was lost reaches the open conversation by the next refresh", async () => {
  const { token, id } = await returningCustomer("gap");
  await desk.asBoss("POST", `/agent/conversations/${id}/claim`);
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 820 } });
  let drop = null; // the next frame from the server that drop.pred accepts is not passed on
  await ctx.routeWebSocket(/\/chat\/api\/v1\/agent\/ws/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((m) => {
      let e = null;
      try { e = JSON.parse(String(m)); } catch { /* not JSON: pass it */ }
      if (drop && e && drop.pred(e)) { const d = drop; drop = null; d.done(); return; }
      ws.send(m);
    });
  });
  const page = await dashboardLogin(ctx, desk.boss, { acceptDialogs: true });
  await page.locator(sel(id)).click();
  await page.getByTestId("agent-input").waitFor({ state: "visible" });
  const said = (text) => page.locator('[data-testid="agent-message"][data-sender="customer"]').filter({ hasText: text });
  const first = `Before the gap ${RUN}`;
  await apiOk(token, "POST", "/messages", { text: first, client_id: crypto.randomUUID() });
  await said(first).waitFor(); // the open conversation hears the customer live
  const x = `Lost gap ${RUN}`;
  const lost = new Promise((done) => { drop = { pred: (e) => e.type === "message.created" && e.data && e.data.content === x, done }; });
  await apiOk(token, "POST", "/messages", { text: x, client_id: crypto.randomUUID() });
  await lost;
  const y = `After the gap ${RUN}`;
  await apiOk(token, "POST", "/messages", { text: y, client_id: crypto.randomUUID() });
  await said(y).waitFor();
  await said(x).waitFor(); // the refresh the next message started asks from before the gap
  await shot(page, "agent-gap-fetched");
  const texts = await page.locator('[data-testid="agent-message"]').evaluateAll((els) => els.map((e) => e.textContent));
  assert.ok(texts.findIndex((t) => t.includes(x)) < texts.findIndex((t) => t.includes(y)), "in its place, before the next");
  await desk.asBoss("POST", `/agent/conversations/${id}/close`);
  await ctx.close();
});
