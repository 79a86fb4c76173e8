// A live event feed: a WebSocket with reconnect and exponential backoff, and polling
// while the socket is down (also when the server has no WebSocket endpoint at all).
import type { ChatEvent } from "./types";

export interface LiveOptions {
  /** WebSocket URL, computed at every (re)connect so it can carry after=<last seq> */
  url: () => string;
  onEvent: (e: ChatEvent) => void;
  /** called by the poller every pollMs while the socket is down; should fetch what is new */
  poll: () => Promise<unknown>;
  pollMs: number;
  onOpen?: () => void;
  onState?: (connected: boolean) => void;
  /** the server closed the socket with a code that means "never come back" (4410: the
   *  conversation was deleted); the feed stops instead of reconnecting */
  onGone?: (code: number) => void;
}

/** close codes after which reconnecting can never succeed */
const GONE = new Set([4410]);

export class Live {
  private ws: WebSocket | null = null;
  private backoff = 1000;
  private pollTimer = 0;
  private reconnectTimer = 0;
  private pingTimer = 0;
  private polling = false;
  private stopped = true;
  connected = false;

  constructor(private o: LiveOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.startPolling(true);
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.pollTimer); clearTimeout(this.reconnectTimer); clearInterval(this.pingTimer);
    this.polling = false;
    const ws = this.ws;
    this.ws = null;
    if (ws) { ws.onclose = null; ws.onerror = null; ws.onmessage = null; try { ws.close(1000); } catch { /* */ } }
    this.setConnected(false);
  }

  /** send a client frame; false when the socket is not open */
  send(frame: object): boolean {
    if (!this.ws || !this.connected) return false;
    try { this.ws.send(JSON.stringify(frame)); return true; } catch { return false; }
  }

  /** poll now (e.g. after a write), whatever the socket state */
  async kick(): Promise<void> { try { await this.o.poll(); } catch { /* next tick */ } }

  private connect(): void {
    if (this.stopped || typeof WebSocket === "undefined") return;
    let ws: WebSocket;
    try { ws = new WebSocket(this.o.url()); } catch { this.scheduleReconnect(); return; }
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 1000;
      this.setConnected(true);
      this.stopPolling();
      clearInterval(this.pingTimer);
      this.pingTimer = window.setInterval(() => this.send({ type: "ping" }), 25000);
      this.o.onOpen?.();
    };
    ws.onmessage = (m) => {
      let e: ChatEvent;
      try { e = JSON.parse(String(m.data)); } catch { return; }
      if (e && typeof e.type === "string" && e.type !== "pong") this.o.onEvent(e);
    };
    ws.onerror = () => { /* onclose follows */ };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      if (GONE.has(ev.code) && this.o.onGone) { this.stop(); this.o.onGone(ev.code); return; }
      this.ws = null;
      clearInterval(this.pingTimer);
      this.setConnected(false);
      this.startPolling(false);
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    clearTimeout(this.reconnectTimer);
    const delay = this.backoff * (0.75 + Math.random() * 0.5);
    this.backoff = Math.min(this.backoff * 2, 30000);
    this.reconnectTimer = window.setTimeout(() => this.connect(), delay);
  }

  private setConnected(c: boolean): void {
    if (this.connected === c) return;
    this.connected = c;
    this.o.onState?.(c);
  }

  private startPolling(delayFirst: boolean): void {
    if (this.polling || this.stopped) return;
    this.polling = true;
    const tick = async () => {
      if (!this.polling) return;
      try { await this.o.poll(); } catch { /* keep polling */ }
      if (!this.polling) return;
      const ms = document.hidden ? this.o.pollMs * 4 : this.o.pollMs;
      this.pollTimer = window.setTimeout(tick, ms);
    };
    this.pollTimer = window.setTimeout(tick, delayFirst ? this.o.pollMs : 0);
  }

  private stopPolling(): void {
    this.polling = false;
    clearTimeout(this.pollTimer);
  }
}
