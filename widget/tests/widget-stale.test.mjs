// The customer widget keeps the newest state it has seen: a GET /conversation answer that left
// the server before a change (the agent read the customer's message, claimed the chat) but
// reaches the page after the change's event must not undo it ("Seen" back to "Delivered", the
// chat back in the queue). The late answer is made the way it happens: a message frame lost on
// the socket (here dropped by the test's proxy) makes the widget catch up with a GET (or a
// queued chat refreshes its queue position), which the test holds in page.route until the
// change is on screen, then lets through (it alone brings the lost message); every later
// GET is held for the rest of the test, so what is checked is what the late answer left
// behind. The chats wait in an away department of this run for this run's supervisor, so the
// shared queue and the other suites' agents play no part. The rule itself
// (src/shared/newest.ts, shared with the dashboard) is also checked as a unit.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import WebSocket from "ws";
import { BASE, RUN, launch, shot, removeFreshAgents, awayDesk, openWidget, talkToPerson, customerConversation } from "./helpers.mjs";

let browser, desk;
before(async () => { browser = await launch(); desk = await awayDesk("wstale", "Widget Stale Desk", "Stale Boss"); });
after(async () => { await browser?.close(); await desk?.remove(); await removeFreshAgents(); });

/**
 * A context whose widget sockets go through the test: `dropOne(pred)` drops the next frame
 * from the server that `pred` accepts (resolves when it did); everything else passes.
 */
async function proxiedContext() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 } });
  let drop = null;
  await ctx.routeWebSocket(/\/chat\/api\/v1\/ws/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((m) => {
      if (drop) {
        let e = null;
        try { e = JSON.parse(String(m)); } catch { /* not JSON: pass it */ }
        if (e && drop.pred(e)) { const d = drop; drop = null; d.done(); return; }
      }
      ws.send(m);
    });
  });
  return { ctx, dropOne: (pred) => new Promise((done) => { drop = { pred, done }; }) };
}

/**
 * Holds the first GET /conversation whose answer holds `marker` (answered by the server at
 * once, delivered on release()); earlier ones pass, every later one is never answered.
 */
async function holdConversation(page, marker) {
  let release, fetched;
  const gate = new Promise((r) => { release = r; });
  const answered = new Promise((r) => { fetched = r; });
  let held = false;
  await page.route((u) => u.pathname.endsWith("/chat/api/v1/conversation"), async (route) => {
    if (route.request().method() !== "GET") return route.continue();
    if (held) return; // never answered: the repair must not come from a refetch
    const res = await route.fetch();
    const body = await res.text();
    if (held || !body.includes(marker)) return route.fulfill({ response: res, body }).catch(() => {});
    held = true;
    fetched();
    await gate;
    return route.fulfill({ response: res, body }).catch(() => {});
  });
  return { release: () => release(), answered };
}

/** the customer writes from outside the widget (the page's own session cookie): the widget
 *  learns of the message only from its socket */
function customerPost(page, text) {
  return page.evaluate(async ([t, id]) => {
    const r = await fetch("/chat/api/v1/messages", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Chat-Csrf": "1" }, body: JSON.stringify({ text: t, client_id: id }),
    });
    if (r.status !== 201) throw new Error("POST /messages: " + r.status);
    return (await r.json()).messages[0];
  }, [text, crypto.randomUUID()]);
}

/**
 * X is written and its frame lost; the widget's next GET /conversation (the one that brings X)
 * is held: with `then`, Y is written next and the gap makes the widget catch up at once (an
 * assigned chat looks back over the customer's unread messages); without, a queued chat's
 * refresh of its queue position asks.
 */
async function lateAnswer(page, dropOne, tag, then = true) {
  const x = `Lost ${tag} ${RUN}`;
  const held = await holdConversation(page, x);
  const lost = dropOne((e) => e.type === "message.created" && e.data && e.data.content === x);
  await customerPost(page, x);
  await lost;
  const y = then ? await customerPost(page, `Then ${tag} ${RUN}`) : null;
  await held.answered;
  return { held, x, y };
}

const status = (page) => page.getByTestId("chat-status");
const bubble = (page, text) => page.locator('[data-testid="chat-message"][data-sender="customer"]').filter({ hasText: text });

/** the customer's chat in the away department, waiting there (the widget shows it queued) */
async function queuedChat(ctx) {
  const page = await openWidget(ctx);
  await talkToPerson(page, desk.away.id);
  const { conversation } = await customerConversation(page);
  assert.equal(conversation.status, "agent");
  assert.equal(conversation.assigned_agent, null, "the chat waits in the away department");
  await status(page).filter({ hasText: /Waiting for an agent|away right now/ }).waitFor();
  return { page, id: conversation.id };
}

/** the customer's chat, claimed by the boss; the customer has written a first message, not yet
 *  read by the agent (so a catch-up looks back over it) */
async function claimedChat(ctx) {
  const { page, id } = await queuedChat(ctx);
  await desk.asBoss("POST", `/agent/conversations/${id}/claim`);
  await status(page).filter({ hasText: "You're chatting with Stale Boss" }).waitFor();
  await page.getByTestId("chat-input").fill(`Hello ${RUN}`);
  await page.getByTestId("chat-input").press("Enter");
  await bubble(page, `Hello ${RUN}`).locator(".receipt").filter({ hasText: "Delivered" }).waitFor();
  return { page, id };
}

/** an agent socket that sends a read frame, as the dashboard does */
async function agentReads(id, upTo) {
  const ws = new WebSocket(BASE.replace(/^http/, "ws") + "/chat/api/v1/agent/ws", { headers: { Authorization: "Bearer " + desk.boss.token } });
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  ws.send(JSON.stringify({ type: "read", conversation_id: id, up_to_seq: upTo }));
  return ws;
}

test("the rule (unit): a read_at once known stays; the newer conversation version wins", async () => {
  const out = await esbuild.build({
    entryPoints: [fileURLToPath(new URL("../src/shared/newest.ts", import.meta.url))], bundle: true, write: false, format: "esm",
  });
  const { supersedes, newestMessage } = await import("data:text/javascript," + encodeURIComponent(out.outputFiles[0].text));
  const m = (read_at, more = {}) => ({ id: "m1", seq: 3, sender_type: "customer", content: "hi", read_at, ...more });
  assert.equal(newestMessage(m(null), m("2026-11-30T18:00:00Z")).read_at, "2026-11-30T18:00:00Z", "an older copy keeps the read");
  assert.equal(newestMessage(m(null, { content: "erased" }), m("t")).content, "erased", "the rest comes from the copy");
  assert.equal(newestMessage(m("t2"), m("t1")).read_at, "t2", "the server's read_at over one set locally");
  assert.equal(newestMessage(m("t"), m(null)).read_at, "t", "a read arrives");
  assert.equal(newestMessage(m(null), undefined).read_at, null, "a new message");
  const c = (version, status = "agent") => ({ id: "c1", status, version });
  assert.equal(supersedes(c(4), c(5)), false, "older");
  assert.equal(supersedes(c(6), c(5)), true, "newer");
  assert.equal(supersedes(c(5), c(5)), true, "the same version");
  assert.equal(supersedes(c(undefined), c(undefined, "closed")), false, "without versions closed stays closed");
});

test("a conversation answer that left before the agent read the message does not turn Seen back into Delivered", async () => {
  const { ctx, dropOne } = await proxiedContext();
  const { page, id } = await claimedChat(ctx);
  const { held, x, y } = await lateAnswer(page, dropOne, "read");
  const receipt = bubble(page, y.content).locator(".receipt");
  await receipt.filter({ hasText: "Delivered" }).waitFor(); // Y came by the socket; its GET is held
  const agent = await agentReads(id, y.seq);            // the answer was made before this read
  await receipt.filter({ hasText: "Seen" }).waitFor();  // the read event
  held.release();
  await bubble(page, x).waitFor(); // the held answer is on screen: only it brings the lost message
  await shot(page, "widget-stale-seen");
  assert.match(await receipt.textContent(), /Seen/, "the receipt stays Seen");
  assert.equal(await receipt.evaluate((el) => el.classList.contains("seen")), true);
  agent.close();
  await desk.asBoss("POST", `/agent/conversations/${id}/close`);
  await page.unrouteAll({ behavior: "ignoreErrors" });
  await ctx.close();
});

test("a conversation answer that left before the agent claimed the chat does not put it back in the queue", async () => {
  const { ctx, dropOne } = await proxiedContext();
  const { page, id } = await queuedChat(ctx);
  const { held, x } = await lateAnswer(page, dropOne, "claim", false); // made while the chat waits
  await desk.asBoss("POST", `/agent/conversations/${id}/claim`);
  await status(page).filter({ hasText: "You're chatting with Stale Boss" }).waitFor();
  held.release();
  await bubble(page, x).waitFor(); // the held answer is on screen
  await shot(page, "widget-stale-claimed");
  assert.equal(await status(page).textContent(), "You're chatting with Stale Boss", "the chat stays with the agent");
  assert.equal(await page.getByRole("heading", { name: "Stale Boss" }).count(), 1, "the agent's name stays in the header");
  await desk.asBoss("POST", `/agent/conversations/${id}/close`);
  await page.unrouteAll({ behavior: "ignoreErrors" });
  await ctx.close();
});

test("a conversation answer that left before the agent closed the chat does not reopen it", async () => {
  const { ctx, dropOne } = await proxiedContext();
  const { page, id } = await claimedChat(ctx);
  const { held, x } = await lateAnswer(page, dropOne, "close");
  await desk.asBoss("POST", `/agent/conversations/${id}/close`);
  await status(page).filter({ hasText: "This chat has ended" }).waitFor();
  held.release();
  await bubble(page, x).waitFor();
  await shot(page, "widget-stale-closed");
  assert.equal(await status(page).textContent(), "This chat has ended", "the chat stays closed");
  assert.equal(await page.getByTestId("chat-input").isVisible(), false, "no composer: the chat stays closed");
  assert.equal(await page.getByTestId("chat-rating").first().isVisible(), true, "the rating prompt stays");
  await page.unrouteAll({ behavior: "ignoreErrors" });
  await ctx.close();
});

test("a message whose frame was lost reaches the widget by its catch-up, also in a queued chat", async () => {
  const { ctx, dropOne } = await proxiedContext();
  const { page, id } = await queuedChat(ctx);
  const x = `Lost gap ${RUN}`;
  const lost = dropOne((e) => e.type === "message.created" && e.data && e.data.content === x);
  await customerPost(page, x);
  await lost;
  const y = `After the gap ${RUN}`;
  await customerPost(page, y);         // its frame passes: the widget sees a seq missing
  await bubble(page, y).waitFor();
  await bubble(page, x).waitFor();     // fetched by the catch-up the gap started
  await shot(page, "widget-gap-fetched");
  const seqs = await page.locator('[data-testid="chat-message"]').evaluateAll((els) => els.map((e) => e.textContent));
  assert.ok(seqs.findIndex((t) => t.includes(x)) < seqs.findIndex((t) => t.includes(y)), "the lost message is shown in its place, before the next");
  await desk.asBoss("POST", `/agent/conversations/${id}/claim`);
  await desk.asBoss("POST", `/agent/conversations/${id}/close`);
  await ctx.close();
});
