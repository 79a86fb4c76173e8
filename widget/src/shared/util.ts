// Small helpers shared by the widget and the dashboard. No innerHTML anywhere:
// every string child becomes a text node.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const k in attrs) {
      const v = attrs[k];
      if (v == null || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v as EventListener);
      else if (k === "class") el.className = String(v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: (Child | Child[])[]): void {
  for (const c of children) {
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else if (c != null && c !== false) el.appendChild(document.createTextNode(String(c)));
  }
}

export function uuid(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  // crypto.randomUUID needs a secure context; fall back to getRandomValues (v4 layout)
  const b = new Uint8Array(16);
  c.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = Array.from(b, (n) => n.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export function timeOf(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d.getTime())) return "";
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** "just now", "4 min", "2 h", "3 d" since iso */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "";
  const s = Math.max(0, (now - new Date(iso).getTime()) / 1000);
  if (!isFinite(s)) return "";
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

export class HttpError extends Error {
  constructor(public status: number, public code: string, message: string, public retryAfter = 0) { super(message); }
}

/** fetch JSON from the chat API; throws HttpError on an HTTP error, TypeError on a network error */
export async function api<T = any>(base: string, method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") { headers["X-Chat-Csrf"] = "1"; headers["Content-Type"] = "application/json"; }
  if (token) headers["Authorization"] = "Bearer " + token;
  const res = await fetch(base + path, {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: method === "GET" || body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  let json: any = null;
  try { json = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const e = json && json.error;
    throw new HttpError(res.status, (e && e.code) || "http_" + res.status, (e && e.message) || res.statusText,
      Number(res.headers.get("Retry-After")) || 0);
  }
  return json as T;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** ws:// or wss:// URL for an http path on this origin */
export function wsUrl(path: string): string {
  const u = new URL(path, location.href);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  return u.toString();
}
