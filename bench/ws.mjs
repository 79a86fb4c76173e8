// bench/ws.mjs: realtime end to end against a running stack (make up): N customer
// WebSockets open at once, then messages POSTed at a fixed pace by random sessions; for
// each message the time from the POST being sent to its message.created event arriving
// on the author's socket, and apart the POST's own time (sent -> 201) and the event's
// lag behind the 201 (the event path: publish, Redis, the workers' subscribers, the
// send). Every message must arrive exactly once; the nginx workers' memory per open
// socket is measured from their RSS before and after the sockets open.
//
//   node bench/ws.mjs [--sockets 1000] [--rate 500] [--seconds 10]
//
// Environment: CHAT_PORT (8080), CHAT_VAR (the stack's var/, for nginx.pid). The `ws`
// package comes from widget/node_modules (the widget's tests use it too).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../widget/package.json'));
const WebSocket = require('ws');

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
    return acc;
}, []));
const SOCKETS = Number(args.sockets ?? 1000);
const RATE = Number(args.rate ?? 500);
const SECONDS = Number(args.seconds ?? 10);
const PORT = Number(process.env.CHAT_PORT ?? 8080);
const VAR = process.env.CHAT_VAR ?? path.join(here, '../var');
const API = `/chat/api/v1`;

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const log = (...m) => console.error('bench/ws:', ...m);

function request(method, p, { token, body } = {}) {
    return new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : JSON.stringify(body);
        const req = http.request({
            host: '127.0.0.1', port: PORT, path: p, method, agent,
            headers: {
                ...(token ? { Authorization: `Bearer ${token}` } : {}),
                ...(data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}),
            },
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString();
                resolve({ status: res.statusCode, json: text ? JSON.parse(text) : null });
            });
        });
        req.on('error', reject);
        if (data) req.write(data);
        req.end();
    });
}

function workerRss() {
    const pid = readFileSync(path.join(VAR, 'nginx.pid'), 'utf8').trim();
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
    let kb = 0;
    for (const k of kids) {
        try {
            const cmd = readFileSync(`/proc/${k}/cmdline`, 'utf8');
            if (!cmd.includes('worker process')) continue;
            const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${k}/status`, 'utf8'));
            kb += Number(m[1]);
        } catch { /* a worker that just went */ }
    }
    return kb;
}

function pct(sorted, p) {
    return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : NaN;
}

async function inBatches(n, batch, fn) {
    const out = [];
    for (let i = 0; i < n; i += batch) {
        out.push(...await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, j) => fn(i + j))));
    }
    return out;
}

// --- sessions and sockets ---------------------------------------------------------------
log(`creating ${SOCKETS} sessions`);
const sessions = await inBatches(SOCKETS, 64, async () => {
    const r = await request('POST', `${API}/session`, { body: {} });
    if (r.status !== 200) throw new Error(`POST /session: ${r.status}`);
    return { token: r.json.token, last: r.json.conversation.last_seq };
});

const rss0 = workerRss();
const pending = new Map();      // text -> { sent, session }
const seen = new Map();         // text -> times its message.created arrived
const latencies = [];
const posts = [];               // POST sent -> its 201 (the write's own share of the latency)
let dupes = 0;

log(`opening ${SOCKETS} sockets`);
const sockets = await inBatches(SOCKETS, 200, (i) => new Promise((resolve, reject) => {
    const s = sessions[i];
    const ws = new WebSocket(`ws://127.0.0.1:${PORT}${API}/ws?after=${s.last}&token=${encodeURIComponent(s.token)}`);
    ws.on('message', (buf) => {
        const e = JSON.parse(buf.toString());
        if (e.type !== 'message.created' || e.data.sender_type !== 'customer') return;
        const text = e.data.content;
        const n = (seen.get(text) ?? 0) + 1;
        seen.set(text, n);
        if (n > 1) { dupes++; return; }
        const p = pending.get(text);
        if (p) {
            p.heard = process.hrtime.bigint();
            latencies.push(Number(p.heard - p.sent) / 1e6);
        }
    });
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
    ws.on('close', (code) => { if (!closing) log(`socket ${i} closed: ${code}`); });
}));
let closing = false;
await new Promise((r) => setTimeout(r, 1000));
const rss1 = workerRss();
log(`${sockets.length} sockets open; nginx workers' RSS ${rss0} KB -> ${rss1} KB`);

// --- paced messages ---------------------------------------------------------------------
const total = RATE * SECONDS;
log(`posting ${total} messages at ${RATE}/s`);
let sent = 0, failed = 0;
const t0 = process.hrtime.bigint();
await new Promise((done) => {
    let inflight = 0;
    const tick = setInterval(() => {
        const due = Math.min(total, Math.floor(Number(process.hrtime.bigint() - t0) / 1e9 * RATE));
        while (sent < due) {
            const i = sent++;
            const s = sessions[Math.floor(Math.random() * sessions.length)];
            const text = `bench ${process.pid} ${i}`;
            const p = { sent: process.hrtime.bigint() };
            pending.set(text, p);
            inflight++;
            request('POST', `${API}/messages`, { token: s.token, body: { text } })
                .then((r) => {
                    p.answered = process.hrtime.bigint();
                    if (r.status !== 201) failed++;
                    else posts.push(Number(p.answered - p.sent) / 1e6);
                })
                .catch(() => { failed++; })
                .finally(() => { if (--inflight === 0 && sent >= total) { clearInterval(tick); done(); } });
        }
    }, 2);
});
const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
await new Promise((r) => setTimeout(r, 2000));       // the last events

let missing = 0;
// The event path alone: its message.created heard after the POST's 201 was (negative
// when the event came first; the server publishes before it answers).
const after201 = [];
for (const [text, p] of pending) {
    if (!seen.has(text)) missing++;
    if (p.heard !== undefined && p.answered !== undefined) after201.push(Number(p.heard - p.answered) / 1e6);
}
after201.sort((a, b) => a - b);
latencies.sort((a, b) => a - b);
posts.sort((a, b) => a - b);
closing = true;
for (const ws of sockets) ws.terminate();
agent.destroy();

const perSocket = ((rss1 - rss0) * 1024 / SOCKETS) / 1024;
const result = {
    sockets: SOCKETS, rate: RATE, seconds: SECONDS, posted: sent, failed,
    delivered: latencies.length, missing, duplicates: dupes,
    p50_ms: Number(pct(latencies, 0.5).toFixed(2)), p99_ms: Number(pct(latencies, 0.99).toFixed(2)),
    max_ms: Number((latencies.at(-1) ?? NaN).toFixed(2)),
    post_p50_ms: Number(pct(posts, 0.5).toFixed(2)), post_p99_ms: Number(pct(posts, 0.99).toFixed(2)),
    event_after_201_p50_ms: Number(pct(after201, 0.5).toFixed(2)),
    event_after_201_p99_ms: Number(pct(after201, 0.99).toFixed(2)),
    achieved_rate: Number((sent / elapsed).toFixed(0)),
    kb_per_socket: Number(perSocket.toFixed(2)),
};
console.log(JSON.stringify(result));
process.exit(failed || missing || dupes ? 1 : 0);
