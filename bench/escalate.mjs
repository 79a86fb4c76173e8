// bench/escalate.mjs: assignment under load. K fresh agents come online (room for every chat),
// N fresh sessions each ask for a person once (POST /escalate) with C requests in flight, and
// every escalation must come back assigned: each one takes the cluster-wide assignment lock,
// queues the chat and hands it to the least loaded agent in one transaction. Prints one JSON
// line (escalations/s, p50/p99/max ms); exits 1 on any error or an unassigned chat. Afterwards
// the agents close what they were given (queued chats left in the dev database by earlier runs
// included: agents take the oldest first) and are deleted.
//
//   node bench/escalate.mjs [--sessions 2000] [--agents 20] [--conns 64]
//   (CHAT_PORT, CHAT_ADMIN_USER / CHAT_ADMIN_PASS: the dev seed's admin by default)
const arg = (name, dflt) => {
  const i = process.argv.indexOf("--" + name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg("sessions", 2000), K = arg("agents", 20), C = arg("conns", 64);
const API = `http://127.0.0.1:${process.env.CHAT_PORT || 8080}/chat/api/v1`;
const RUN = Date.now().toString(36);

async function call(method, path, { token, body } = {}) {
  const headers = { "X-Chat-Csrf": "1" };
  if (token) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: r.status, json, text };
}
async function must(method, path, opts, want = 200) {
  const r = await call(method, path, opts);
  if (r.status !== want) throw new Error(`${method} ${path}: ${r.status} ${r.text.slice(0, 200)}`);
  return r.json;
}
// runs fn over items with at most `limit` in flight
async function pool(items, limit, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) { const i = next++; await fn(items[i], i); }
  }));
}

const admin = (await must("POST", "/agent/login", { body: {
  username: process.env.CHAT_ADMIN_USER || "admin", password: process.env.CHAT_ADMIN_PASS || "Admin@123" } })).token;

// what is queued already goes to our agents first (oldest first): make room for it too
const queued = (await must("GET", "/agent/conversations?view=queue&limit=100", { token: admin })).conversations.length;
const capacity = Math.min(1000, Math.ceil((N + queued + 100) / K));
const agents = [];
const lat = [];
let errors = 0, unassigned = 0, firstError = "", wall = 0, closed = 0;
try {
  await pool(Array.from({ length: K }, (_, i) => i), 4, async (i) => {
    const username = `bench-esc-${RUN}-${i}`, password = `Bench-${RUN}-0123456789`;
    const { agent } = await must("POST", "/admin/agents", { token: admin, body: {
      username, password, display_name: `Bench ${i}`, role: "agent", max_active_chats: capacity } }, 201);
    const me = { id: agent.id, token: null };
    agents.push(me);
    for (;;) {  // each login hashes a password: the server runs only a few at once (429 meanwhile)
      const r = await call("POST", "/agent/login", { body: { username, password } });
      if (r.status === 200) { me.token = r.json.token; break; }
      if (r.status !== 429) throw new Error(`login ${username}: ${r.status} ${r.text.slice(0, 200)}`);
      await new Promise((res) => setTimeout(res, 300));
    }
  });

  const tokens = [];
  await pool(Array.from({ length: N }, (_, i) => i), C, async () => {
    tokens.push((await must("POST", "/session", { body: {} })).token);
  });
  await pool(agents, 8, (a) => must("POST", "/agent/presence", { token: a.token, body: { presence: "online" } }));

  const t0 = performance.now();
  await pool(tokens, C, async (token) => {
    const s = performance.now();
    const r = await call("POST", "/escalate", { token, body: {} });
    lat.push(performance.now() - s);
    if (r.status !== 200) { errors++; firstError ||= `${r.status} ${r.text.slice(0, 200)}`; return; }
    if (!r.json.conversation.assigned_agent) unassigned++;
  });
  wall = (performance.now() - t0) / 1000;
} finally {
  // clean up: every chat our agents hold is closed, then the agents go
  for (const a of agents.filter((x) => x.token)) {
    for (;;) {
      const { conversations } = await must("GET", "/agent/conversations?view=active&limit=100", { token: a.token });
      if (!conversations.length) break;
      await pool(conversations, C, async (c) => { await must("POST", `/agent/conversations/${c.id}/close`, { token: a.token, body: {} }); closed++; });
    }
  }
  await pool(agents, 8, (a) => must("DELETE", `/admin/agents/${a.id}`, { token: admin }, 204));
}

lat.sort((x, y) => x - y);
const pct = (p) => lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] : 0;
console.log(JSON.stringify({
  escalations: N, agents: K, conns: C, errors, unassigned,
  per_s: Math.round(N / wall), p50_ms: +pct(0.5).toFixed(2), p99_ms: +pct(0.99).toFixed(2), max_ms: +pct(1).toFixed(2),
  closed_after: closed,
}));
if (errors || unassigned) {
  console.error(`escalate: ${errors} errors${firstError ? ` (first: ${firstError})` : ""}, ${unassigned} unassigned`);
  process.exit(1);
}
