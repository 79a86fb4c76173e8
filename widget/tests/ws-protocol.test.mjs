// The WebSocket endpoint spoken to by an independent client (the `ws` package), outside any browser:
// replay after a seq, live events, ping, and the close codes for oversize and unmasked frames.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import WebSocket from "ws";
import { BASE } from "./helpers.mjs";

const WS = BASE.replace(/^http/, "ws");

async function session() {
  const r = await fetch(BASE + "/chat/api/v1/session", { method: "POST", body: "{}",
    headers: { "Content-Type": "application/json" } });
  return (await r.json()).token;
}

async function post(token, text) {
  const r = await fetch(BASE + "/chat/api/v1/messages", { method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
    body: JSON.stringify({ text, client_id: crypto.randomUUID() }) });
  assert.equal(r.status, 201);
}

function open(url, opts) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    const events = [];
    ws.on("message", (m) => events.push(JSON.parse(m.toString())));
    ws.once("open", () => resolve({ ws, events }));
    ws.once("error", reject);
  });
}

const until = async (cond, ms = 3000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (cond()) return true; await new Promise((r) => setTimeout(r, 50)); }
  return cond();
};

test("the ws package replays after a seq, then gets live events in order", async () => {
  const token = await session();
  await post(token, "How long does shipping take?");
  const { ws, events } = await open(`${WS}/chat/api/v1/ws?after=1`, { headers: { Authorization: "Bearer " + token } });
  await until(() => events.filter((e) => e.type === "message.created").length >= 2);
  await post(token, "and returns?");
  await until(() => events.filter((e) => e.type === "message.created").length >= 4);
  const seqs = events.filter((e) => e.type === "message.created").map((e) => e.seq);
  assert.deepEqual(seqs, [2, 3, 4, 5]);
  ws.send(JSON.stringify({ type: "ping" }));
  assert.ok(await until(() => events.some((e) => e.type === "pong")), "a ping frame is answered with pong");
  ws.close(1000);
});

test("a message over the limit closes the socket with 1009", async () => {
  const token = await session();
  const { ws } = await open(`${WS}/chat/api/v1/ws?token=${token}`);
  const code = await new Promise((resolve) => { ws.on("close", (c) => resolve(c)); ws.send("x".repeat(70 * 1024)); });
  assert.equal(code, 1009);
});

test("an unmasked client frame closes the socket with 1002", async () => {
  const token = await session();
  const url = new URL(`${BASE}/chat/api/v1/ws?token=${token}`);
  const sock = net.connect(Number(url.port), url.hostname);
  await new Promise((r) => sock.once("connect", r));
  sock.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  let buf = Buffer.alloc(0);
  sock.on("data", (d) => { buf = Buffer.concat([buf, d]); });
  await until(() => buf.includes("\r\n\r\n"));
  assert.match(buf.toString("latin1"), /^HTTP\/1\.1 101 /);
  assert.match(buf.toString("latin1"), /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i);
  buf = buf.subarray(buf.indexOf("\r\n\r\n") + 4);
  sock.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));          // "hi", not masked
  await until(() => buf.length > 0 && buf.some((b, i) => b === 0x88 && i < buf.length - 3));
  const i = buf.indexOf(0x88);
  assert.equal(buf.readUInt16BE(i + 2), 1002);
  sock.destroy();
});
