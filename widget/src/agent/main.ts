// The agent dashboard at /chat/agent/: inbox (views, conversation, context, reply),
// presence, notifications, and for admins the Agents, Departments, FAQ and Webhooks screens.
// Speaks only ../../../shared/API.md. Customer text is only ever set with textContent.
import { h, uuid, timeOf, ago, api as rawApi, HttpError, sleep, wsUrl } from "../shared/util";
import { Live } from "../shared/live";
import type { Agent, Conversation, Message, FaqEntry, ChatEvent } from "../shared/types";
import { ConvTools, Notes, CannedPicker, Filters, loadDepartments, type ToolsHost, type Conv } from "./tools";
import { installShortcuts } from "./shortcuts";
import { renderReports } from "./reports";
import { renderCannedAdmin } from "./canned";
import { renderWebhooksAdmin } from "./webhooks";
import { askTotpCode, isTotpRequired, renderTwoFactor, totpCode } from "./totp";
import { Known } from "./known";
import { newestMessage } from "../shared/newest";

type View = "active" | "queue" | "closed" | "all";
const VIEWS: View[] = ["active", "queue", "closed", "all"];
const VIEW_LABEL: Record<View, string> = { active: "Active", queue: "Queue", closed: "Closed", all: "All" };

const API = new URL("../api/v1", location.href).pathname;
const app = document.getElementById("app")!;

let token: string | undefined;
let me: Agent | null = null;
let screen: "inbox" | "agents" | "departments" | "faq" | "reports" | "canned" | "webhooks" | "twofactor" = "inbox";
let view: View = "active";
const lists: Record<View, Conversation[]> = { active: [], queue: [], closed: [], all: [] };
const more: Record<View, boolean> = { active: false, queue: false, closed: false, all: false };
const PAGE = 100; // the views' page (limit= at most 100); "Load more" follows next_cursor
const pages: Record<View, number> = { active: 1, queue: 1, closed: 1, all: 1 };
let loadingMore = false;
let seenActive: Set<string> | null = null; // ids in my active view at the last refresh
const selfClaimed = new Set<string>();
let openId: string | null = null;
let openConv: Conv | null = null;  // always known's copy of openId (takeConv)
const known = new Known();
let openHistory: Conversation[] = [];  // the customer's earlier conversations (agent view)
const openMsgs = new Map<number, Message>();
let openLastSeq = 0;
// a live message of the open conversation skipped seqs after this one (its frame lost): the next
// refresh asks from here, not from openLastSeq, which is already past it
let openMissingAfter = Infinity;
const knownAgents = new Map<string, Agent>();
let audio: AudioContext | null = null;
let typingAt = 0;
let typingStop = 0;
let custTypingTimer = 0;

const api = <T = any>(method: string, path: string, body?: unknown) => rawApi<T>(API, method, path, body, token);

/**
 * The one door for a conversation from an answer or an event (known.ts): a copy older than the
 * one known (its version) is not taken, so a late answer never undoes a close, a claim or a
 * transfer. The newest copy is returned; the open conversation follows it.
 */
function takeConv(c: Conversation | null | undefined, fromEvent = false): { conv: Conversation; taken: boolean } | null {
  if (!c || !c.id) return null;
  const r = known.offer(c, fromEvent);
  if (r.conv.id === openId) openConv = r.conv;
  return r;
}
/** whether a conversation belongs in a view (sql/functions/60_agent_views.sql), as far as it shows */
function inView(v: View, c: Conversation): boolean {
  if (v === "active") return c.status === "agent" && !!me && !!c.assigned_agent && c.assigned_agent.id === me.id;
  if (v === "queue") return c.status === "agent" && !c.assigned_agent;
  if (v === "closed") return c.status === "closed";
  return true;
}
/** a view's list as fetched, each row the newest copy known; a row whose newer copy has left the view is dropped */
function freshList(v: View, list: Conversation[]): Conversation[] {
  const out: Conversation[] = [];
  for (const c of list) {
    const r = takeConv(c);
    if (r && (r.taken || inView(v, r.conv))) out.push(r.conv);
  }
  return out;
}

// ---------------------------------------------------------------- helpers
function toast(text: string, kind: "error" | "info" = "error"): void {
  let t = document.getElementById("toast");
  if (!t) { t = h("div", { id: "toast", role: "status", "aria-live": "assertive" }); document.body.appendChild(t); }
  const item = h("div", { class: "toast-item " + kind }, text);
  t.appendChild(item);
  setTimeout(() => item.remove(), 5000);
}
function errText(e: unknown): string {
  if (e instanceof HttpError) return e.message || e.code;
  return "Network error: the server could not be reached.";
}
function shortId(id: string): string { return id ? id.slice(0, 6) : "?"; }
function custName(c: Conversation): string { return (c.customer && c.customer.name) || "Visitor " + shortId(c.id); }
function senderLabel(m: Message): string {
  if (m.sender_type === "customer") return "Customer";
  if (m.sender_type === "bot") return "Bot";
  if (m.sender_type === "system") return "System";
  if (me && m.sender_agent_id === me.id) return "You";
  const a = m.sender_agent_id ? knownAgents.get(m.sender_agent_id) : undefined;
  if (a) return a.display_name;
  if (openConv && openConv.assigned_agent && openConv.assigned_agent.id === m.sender_agent_id) return openConv.assigned_agent.display_name;
  return "Agent";
}
function canReply(c: Conversation | null): boolean {
  if (!c || !me || c.status !== "agent") return false;
  if (c.assigned_agent && c.assigned_agent.id === me.id) return true;
  return me.role !== "agent" && !!c.assigned_agent;
}
function beep(): void {
  try {
    const Ctx = window.AudioContext || (window as any).webkitAudioContext;
    if (!Ctx) return;
    audio = audio || new Ctx();
    if (audio.state === "suspended") audio.resume();
    const t0 = audio.currentTime;
    [880, 1320].forEach((f, i) => {
      const o = audio!.createOscillator(), g = audio!.createGain();
      o.frequency.value = f; o.type = "sine";
      g.gain.setValueAtTime(0.0001, t0 + i * 0.16);
      g.gain.exponentialRampToValueAtTime(0.2, t0 + i * 0.16 + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.16 + 0.15);
      o.connect(g).connect(audio!.destination);
      o.start(t0 + i * 0.16); o.stop(t0 + i * 0.16 + 0.16);
    });
  } catch { /* no sound */ }
}
/** one sound, one toast and one desktop notification per refresh, however many chats arrived */
function notifyAssigned(cs: Conversation[]): void {
  if (!cs.length) return;
  beep();
  const c = cs[0];
  const n = cs.length + (cs.length === lists.active.length && more.active ? "+" : "");
  const title = cs.length === 1 ? "New chat assigned" : `${n} new chats assigned`;
  const body = cs.length === 1
    ? (c.context && c.context.product_name ? c.context.product_name + " · " : "") + custName(c)
    : "Open the Active view to answer them.";
  toast(title + ": " + body, "info");
  try {
    if ("Notification" in window && Notification.permission === "granted") {
      const n = new Notification(title, { body, tag: cs.length === 1 ? c.id : "assigned" });
      n.onclick = () => { window.focus(); if (cs.length === 1) selectConversation(c.id); else { view = "active"; renderViews(); renderList(); } n.close(); };
    }
  } catch { /* not allowed */ }
}

// ---------------------------------------------------------------- login
function showLogin(message = ""): void {
  live.stop();
  canned.reset();
  me = null; token = undefined;
  const user = h("input", { id: "u", name: "username", autocomplete: "username", required: true, "data-testid": "agent-username" });
  const pass = h("input", { id: "p", name: "password", type: "password", autocomplete: "current-password", required: true, "data-testid": "agent-password" });
  const err = h("p", { class: "form-error", role: "alert" }, message);
  const btn = h("button", { class: "btn primary wide", type: "submit", "data-testid": "agent-login" }, "Sign in");
  const form = h("form", { class: "login-card", "aria-labelledby": "login-title" },
    h("div", { class: "brand-mark", "aria-hidden": "true" }, "nginx-chat"),
    h("h1", { id: "login-title" }, "Support dashboard"),
    h("p", { class: "muted" }, "Sign in to answer customer chats."),
    h("label", { for: "u" }, "Username"), user,
    h("label", { for: "p" }, "Password"), pass,
    err, btn);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = ""; btn.disabled = true; btn.textContent = "Signing in…";
    // both need the click: the permission prompt and an AudioContext that may play later
    try { if ("Notification" in window && Notification.permission === "default") Notification.requestPermission().catch(() => {}); } catch { /* */ }
    try { const Ctx = window.AudioContext || (window as any).webkitAudioContext; if (Ctx && !audio) audio = new Ctx(); } catch { /* */ }
    try {
      const r = await api("POST", "/agent/login", { username: user.value.trim(), password: pass.value, ...totpCode(form) });
      token = r.token; me = r.agent;
      enterApp();
    } catch (ex) {
      btn.disabled = false; btn.textContent = "Sign in";
      if (isTotpRequired(ex)) { askTotpCode(form, err); err.textContent = "Enter the 6-digit code from your authenticator app."; return; }
      const asked = "code" in totpCode(form);
      err.textContent = ex instanceof HttpError
        ? ex.status === 401 ? (asked ? "Wrong username, password or code." : "Wrong username or password.")
          : ex.status === 422 && asked ? "The code has 6 digits."
          : ex.status === 429 ? "Too many attempts. Please wait a minute and try again."
            : ex.status === 404 ? "The agent API is not available on this server."
              : errText(ex)
        : errText(ex);
      pass.select();
    }
  });
  app.replaceChildren(h("main", { class: "login-wrap" }, form));
  user.focus();
}

// ---------------------------------------------------------------- shell
const presenceSel = h("select", { "data-testid": "agent-presence", "aria-label": "Your presence" },
  h("option", { value: "online" }, "Online"), h("option", { value: "away" }, "Away"), h("option", { value: "offline" }, "Offline"));
const presenceDot = h("span", { class: "dot", "aria-hidden": "true" });
const connState = h("span", { class: "conn", title: "" });
const meName = h("span", { class: "me" });
const nav = h("nav", { class: "screens", "aria-label": "Screens" });
const main = h("main", { class: "main" });

function enterApp(): void {
  if (!me) return;
  knownAgents.set(me.id, me);
  const logout = h("button", { class: "btn ghost", type: "button" }, "Sign out");
  logout.addEventListener("click", async () => {
    try { await api("POST", "/agent/logout", {}); } catch { /* */ }
    // signing out forgets the screen (the next one to sign in starts in the inbox); an expired token keeps it
    screen = "inbox"; setHash();
    showLogin();
  });
  app.replaceChildren(
    h("header", { class: "topbar" },
      h("h1", { class: "brand" }, "nginx-chat ", h("span", null, "Support")),
      nav,
      h("div", { class: "spacer" }),
      connState,
      h("label", { class: "presence" }, presenceDot, h("span", { class: "sr" }, "Presence"), presenceSel),
      meName, shortcuts.button, logout),
    main);
  renderMe();
  screen = screenFromHash();
  renderNav();
  renderScreen();
  live.start();
  refreshAll();
  loadDepartments(toolsHost);
  canned.load();
  if (me.role === "admin") loadAgents().catch(() => {});
}

function renderMe(): void {
  if (!me) return;
  presenceSel.value = me.presence;
  presenceDot.className = "dot " + me.presence;
  meName.textContent = `${me.display_name} · ${me.role}`;
}

presenceSel.addEventListener("change", async () => {
  const want = presenceSel.value;
  try {
    const r = await api("POST", "/agent/presence", { presence: want });
    me = r.agent; renderMe(); refreshAll();
  } catch (e) { toast("Couldn't change presence: " + errText(e)); renderMe(); }
});

function navItems(): [typeof screen, string][] {
  const items: [typeof screen, string][] = [["inbox", "Inbox"]];
  if (me && me.role !== "agent") items.push(["reports", "Reports"]);
  if (me && me.role === "admin") items.push(["agents", "Agents"], ["departments", "Departments"], ["canned", "Canned replies"], ["faq", "FAQ"], ["webhooks", "Webhooks"]);
  items.push(["twofactor", "Two-factor"]);
  return items;
}
/** the screen named by the URL's #hash (e.g. #reports), if this agent may see it */
function screenFromHash(): typeof screen {
  const want = location.hash.slice(1);
  return navItems().find(([s]) => s === want)?.[0] || "inbox";
}

function setHash(): void { history.replaceState(null, "", screen === "inbox" ? location.pathname + location.search : "#" + screen); }

function renderNav(): void {
  const items = navItems();
  const hadFocus = nav.contains(document.activeElement);
  nav.replaceChildren(...items.map(([s, label]) => {
    const b = h("button", { type: "button", class: "navbtn" + (screen === s ? " on" : ""), "aria-current": screen === s ? "page" : null, "data-testid": s === "reports" ? "agent-reports" : s === "twofactor" ? "agent-twofactor" : s === "webhooks" ? "agent-webhooks" : null }, label);
    b.addEventListener("click", () => {
      screen = s; renderNav(); renderScreen();
      setHash();
    });
    return b;
  }));
  // the clicked button was replaced: keep the keyboard where it was
  if (hadFocus) (nav.querySelector('[aria-current="page"]') as HTMLElement | null)?.focus();
}

function renderScreen(): void {
  if (screen === "inbox") renderInbox();
  else if (screen === "agents") renderAgentsAdmin();
  else if (screen === "departments") renderDepartmentsAdmin();
  else if (screen === "reports") renderReports({ api, main, apiBase: API, token: () => token, errText, toast, field });
  else if (screen === "canned") renderCannedAdmin({ api, main, errText, toast, field });
  else if (screen === "webhooks") renderWebhooksAdmin({ api, main, errText, toast, announce });
  else if (screen === "twofactor") { if (me) renderTwoFactor(main, api, me, (a) => { me = a; renderMe(); }); }
  else renderFaqAdmin();
}

// ---------------------------------------------------------------- inbox
const viewBtns = {} as Record<View, HTMLButtonElement>;
const viewTabs = h("div", { class: "views", role: "tablist", "aria-label": "Conversation views" },
  ...VIEWS.map((v) => {
    const b = h("button", { type: "button", role: "tab", class: "view", "data-testid": "agent-view-" + v, "aria-selected": "false" });
    b.addEventListener("click", () => { view = v; renderViews(); renderList(); });
    viewBtns[v] = b;
    return b;
  }));
const convList = h("ul", { class: "convlist", "aria-label": "Conversations" });
const chatPane = h("section", { class: "chat", "aria-label": "Conversation" });
const ctxPane = h("aside", { class: "context", id: "agent-context-pane", "data-testid": "agent-context", "aria-label": "Customer context" });
// the transcript re-renders whole: it is no live region; new messages are announced once through `announcer`
const transcript = h("div", { class: "transcript", role: "region", "aria-label": "Transcript", tabindex: "0" });
const announcer = h("div", { class: "sr", "aria-live": "polite", "data-testid": "agent-announcer" });
document.body.append(announcer);
function announce(text: string): void {
  announcer.append(h("p", null, text));
  while (announcer.childNodes.length > 5) announcer.firstChild!.remove();
}
const custTyping = h("div", { class: "typing", hidden: true }, "Customer is typing…");
const replyInput = h("textarea", { "data-testid": "agent-input", rows: 2, "aria-label": "Reply to the customer", placeholder: "Write a reply… (Enter sends, / canned replies)" });
const sendBtn = h("button", { class: "btn primary", type: "submit", "data-testid": "agent-send" }, "Send");
const replyForm = h("form", { class: "reply" }, replyInput, sendBtn);
const claimBtn = h("button", { class: "btn primary", type: "button", "data-testid": "agent-claim" }, "Claim");
const transferBtn = h("button", { class: "btn", type: "button", "data-testid": "agent-transfer", "aria-haspopup": "true" }, "Transfer");
const closeBtn = h("button", { class: "btn danger", type: "button", "data-testid": "agent-close" }, "Close chat");
const transferBox = h("div", { class: "transfer", hidden: true });
const chatHead = h("div", { class: "chat-head" });
const chatTitle = h("div", { class: "title" });
const actionError = h("div", { class: "action-error", role: "alert", "data-testid": "agent-error", hidden: true });
function showActionError(text: string): void {
  actionError.replaceChildren(h("span", null, text));
  const x = h("button", { class: "btn small ghost", type: "button", "aria-label": "Dismiss" }, "Dismiss");
  x.addEventListener("click", clearActionError);
  actionError.appendChild(x);
  actionError.hidden = false;
}
function clearActionError(): void { actionError.hidden = true; actionError.replaceChildren(); }
const replyNote = h("p", { class: "reply-note" });

// the agent's tools (tools.ts): priority/department/tags under the head, notes in the context panel
const toolsHost: ToolsHost = {
  api, toast, errText, me: () => me, open: () => openConv,
  patched: (c) => { if (takeConv(c)?.conv.id === openId) renderOpen(); refreshSoon(); },
};
const convTools = new ConvTools(toolsHost);
const notes = new Notes(toolsHost);
const canned = new CannedPicker(toolsHost, replyInput);
replyForm.prepend(canned.el);
const filters = new Filters(() => { for (const v of VIEWS) pages[v] = 1; seenActive = null; refreshAll(); });
const ctxInfo = h("div", { class: "ctx-info" });
// narrow screens: list → conversation → back (phone), the context panel behind "Details" (≤ 1100 px)
const phone = matchMedia("(max-width: 720px)"), narrow = matchMedia("(max-width: 1100px)");
const backBtn = h("button", { class: "btn ghost back", type: "button", "data-testid": "agent-back", "aria-label": "Back to the list" }, "← Back");
const detailsBtn = h("button", { class: "btn details-btn", type: "button", "data-testid": "agent-details", "aria-expanded": "false", "aria-controls": "agent-context-pane" }, "Details");
const detailsClose = h("button", { class: "btn small details-close", type: "button", "data-testid": "agent-details-close" }, "Close details");
function setPane(p: "list" | "chat"): void { main.dataset.pane = p; if (p === "list") showDetails(false); }
function showDetails(on: boolean): void {
  main.classList.toggle("ctx-open", on);
  detailsBtn.setAttribute("aria-expanded", String(on));
}
backBtn.addEventListener("click", () => {
  setPane("list");
  (convList.querySelector(`[data-id="${openId}"]`) as HTMLElement | null)?.focus();
});
detailsBtn.addEventListener("click", () => { const on = !main.classList.contains("ctx-open"); showDetails(on); if (on) detailsClose.focus(); });
detailsClose.addEventListener("click", () => { showDetails(false); detailsBtn.focus(); });
/** makes the context panel visible where it is hidden (≤ 1100 px) */
function revealDetails(): void { if (narrow.matches) showDetails(true); }
/** makes the conversation visible on a phone */
function revealChat(): boolean { if (!openId) return false; if (phone.matches) setPane("chat"); return true; }
const shortcuts = installShortcuts({
  inbox: () => !!me && screen === "inbox",
  step: (d) => {
    const cs = lists[view];
    if (!cs.length) return;
    const i = cs.findIndex((c) => c.id === openId);
    const next = cs[i < 0 ? (d > 0 ? 0 : cs.length - 1) : Math.min(cs.length - 1, Math.max(0, i + d))];
    if (next.id !== openId) selectConversation(next.id, false);
  },
  view: (i) => { view = VIEWS[i]; renderViews(); renderList(); setPane("list"); },
  reply: () => { if (revealChat()) replyInput.focus(); },
  note: () => { if (revealChat()) { revealDetails(); notes.input.focus(); } },
  tags: () => { if (revealChat()) convTools.tags.focus(); },
  priority: () => { if (revealChat()) convTools.priority.focus(); },
  search: () => { setPane("list"); filters.search.focus(); },
  back: () => { if (main.classList.contains("ctx-open")) { showDetails(false); detailsBtn.focus(); } else if (phone.matches && main.dataset.pane === "chat") backBtn.click(); },
});

function renderInbox(): void {
  main.className = "main inbox";
  setPane(openId ? "chat" : "list");
  main.replaceChildren(
    h("aside", { class: "sidebar" }, filters.el, viewTabs, convList),
    chatPane, ctxPane);
  renderViews(); renderList(); renderOpen();
}

function renderViews(): void {
  for (const v of VIEWS) {
    const b = viewBtns[v];
    const n = lists[v].length;
    b.replaceChildren(VIEW_LABEL[v], h("span", { class: "count" + (v === "queue" && n ? " hot" : "") }, String(n) + (more[v] ? "+" : "")));
    b.classList.toggle("on", v === view);
    b.setAttribute("aria-selected", String(v === view));
  }
}

function lastLine(c: Conversation): string {
  const m = c.last_message;
  if (!m) return "No messages yet";
  const who = m.sender_type === "customer" ? "" : m.sender_type === "agent" ? (me && m.sender_agent_id === me.id ? "You: " : "Agent: ") :
    m.sender_type === "bot" ? "Bot: " : "";
  return who + m.content;
}

function renderList(): void {
  const cs = lists[view];
  if (!cs.length) {
    const empty: Record<View, string> = {
      active: "No active chats. New chats are assigned to you while you are online.",
      queue: "Nobody is waiting.", closed: "No closed chats yet.", all: "No conversations yet.",
    };
    convList.replaceChildren(h("li", { class: "empty" }, filters.active ? "No conversations match the search and filters." : empty[view]));
    return;
  }
  const rows = cs.map((c) => {
    const waiting = c.status === "agent" && !c.assigned_agent && c.requested_agent_at;
    const when = c.status === "closed" ? "closed " + ago(c.closed_at || c.updated_at) + " ago"
      : waiting ? "waiting " + ago(c.requested_agent_at) : ago(c.updated_at);
    const b = h("button", {
      type: "button", class: "conv" + (c.id === openId ? " on" : ""), "data-testid": "agent-conversation", "data-id": c.id,
      "aria-current": c.id === openId ? "true" : null,
    },
      h("div", { class: "row1" },
        h("span", { class: "cname" }, (c.context && c.context.product_name) || "General question"),
        h("span", { class: "when" + (waiting ? " waiting" : "") }, when.replace(/^just now ago$/, "just now"))),
      h("div", { class: "row2" },
        h("span", { class: "last" }, lastLine(c)),
        c.unread_count > 0 && c.id !== openId ? h("span", { class: "unread", "aria-label": c.unread_count + " unread" }, String(c.unread_count)) : null),
      h("div", { class: "row3" }, custName(c), " · ", statusLabel(c)),
      routingBadges(c));
    b.addEventListener("click", () => selectConversation(c.id));
    return h("li", null, b);
  });
  if (more[view]) {
    const lm = h("button", { class: "btn load-more", type: "button", "data-testid": "agent-load-more", disabled: loadingMore },
      loadingMore ? "Loading…" : `Load more (showing ${cs.length})`);
    lm.addEventListener("click", loadMore);
    rows.push(h("li", { class: "more" }, lm));
  }
  // a row that had the focus keeps it (j/k, Tab) when the list is redrawn
  const had = document.activeElement instanceof HTMLElement && convList.contains(document.activeElement) ? document.activeElement.getAttribute("data-id") : null;
  convList.replaceChildren(...rows);
  if (had) (convList.querySelector(`[data-id="${had}"]`) as HTMLElement | null)?.focus();
}

/** the next page of the current view (the views are refetched page by page up to it) */
async function loadMore(): Promise<void> {
  if (loadingMore) return;
  loadingMore = true;
  pages[view]++;
  renderList();
  try { await refreshAll(); } finally { loadingMore = false; if (screen === "inbox") renderList(); }
}

/** department, priority and offline, in words (colour only repeats them) */
function routingBadges(c: Conversation): HTMLElement {
  const p = c.priority || "normal";
  return h("div", { class: "tags" },
    c.department ? h("span", { class: "tag dept", "data-testid": "agent-conv-department" }, c.department.name) : null,
    h("span", { class: "tag prio " + p, "data-testid": "agent-conv-priority" }, priorityLabel(p)),
    c.offline ? h("span", { class: "tag offline", "data-testid": "agent-conv-offline" }, offlineLabel(c)) : null,
    ...((c as Conv).tags || []).map((t) => h("span", { class: "tag label", "data-testid": "agent-conv-tag" }, "#" + t)));
}
function priorityLabel(p: string): string { return p[0].toUpperCase() + p.slice(1) + " priority"; }
function offlineLabel(c: Conversation): string {
  return c.customer && c.customer.email ? "Offline · email left" : "Offline · no email yet";
}

function statusLabel(c: Conversation): string {
  if (c.status === "closed") return "Closed";
  if (c.status === "automated") return "With the bot";
  if (!c.assigned_agent) return c.queue_position ? `In queue (#${c.queue_position})` : "In queue";
  return me && c.assigned_agent.id === me.id ? "Assigned to you" : "With " + c.assigned_agent.display_name;
}

/** a view's first pages[v] pages (keyset cursor), with the list's filters */
async function fetchView(v: View): Promise<{ list: Conversation[]; more: boolean }> {
  const list: Conversation[] = [], seen = new Set<string>();
  let cursor: string | null = null;
  for (let i = 0; i < pages[v]; i++) {
    const r: any = await api("GET", `/agent/conversations?view=${v}&limit=${PAGE}${filters.query()}` + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    for (const c of r.conversations || []) if (!seen.has(c.id)) { seen.add(c.id); list.push(c); }
    cursor = r.next_cursor || null;
    if (!cursor) break;
  }
  return { list, more: !!cursor };
}

async function refreshViews(): Promise<void> {
  const results = await Promise.all(VIEWS.map((v) =>
    fetchView(v).then((r) => [v, r] as const).catch((e) => [v, e as Error] as const)));
  const wasOpen = openConv;
  for (const [v, r] of results) {
    if (r instanceof Error) {
      if (r instanceof HttpError && r.status === 401) { showLogin("Your session has ended. Please sign in again."); return; }
      if (r instanceof HttpError && r.status === 422 && v === view) toast("Search: " + errText(r));
      continue;
    }
    lists[v] = freshList(v, r.list);
    more[v] = r.more;
  }
  const keep = new Set<string>(VIEWS.flatMap((v) => lists[v].map((c) => c.id)));
  if (openId) keep.add(openId);
  known.prune(keep);
  // a chat that appeared in my active view without my claiming it: a new assignment
  const ids = new Set(lists.active.map((c) => c.id));
  if (seenActive) notifyAssigned(lists.active.filter((c) => !seenActive!.has(c.id) && !selfClaimed.has(c.id)));
  seenActive = ids;
  if (screen === "inbox") { renderViews(); renderList(); if (openConv !== wasOpen) renderOpen(); }
  document.title = (lists.queue.length ? `(${lists.queue.length}) ` : "") + "Support dashboard · nginx-chat";
}

async function refreshOpen(): Promise<void> {
  if (!openId) return;
  const id = openId;
  const missing = openMissingAfter;
  const r = await api("GET", `/agent/conversations/${encodeURIComponent(id)}?after=${Math.min(openLastSeq, missing)}&limit=200`);
  if (id !== openId) return;
  if (openMissingAfter === missing) openMissingAfter = Infinity; // fetched (a failed GET keeps it)
  takeConv(r.conversation);
  openHistory = r.history || [];
  notes.reset(id, r.notes || []);
  addOpenMessages(r.messages);
  if (r.messages && r.messages.length >= 200) return refreshOpen();
  renderOpen();
}

let refreshing: Promise<void> | null = null;
let refreshAgain = false;
/** refetches the views and the open conversation; a call during a refresh runs once more after it */
async function refreshAll(): Promise<void> {
  if (!me) return;
  if (refreshing) { refreshAgain = true; return refreshing; }
  refreshing = (async () => {
    try {
      do {
        refreshAgain = false;
        await Promise.all([refreshViews(), refreshOpen().catch(() => {})]);
      } while (refreshAgain && me);
    } finally { refreshing = null; }
  })();
  return refreshing;
}
let refreshSoonTimer = 0;
function refreshSoon(): void { clearTimeout(refreshSoonTimer); refreshSoonTimer = window.setTimeout(refreshAll, 250); }

function addOpenMessages(ms: Message[] | undefined): void {
  const shown = openLastSeq > 0; // the history is on screen: what arrives now is new
  for (const m of ms || []) {
    if (!m || m.conversation_id !== openId) continue;
    if (shown && !openMsgs.has(m.seq) && !(me && m.sender_agent_id === me.id)) announce(senderLabel(m) + ": " + m.content);
    if (shown && m.seq > openLastSeq + 1) openMissingAfter = Math.min(openMissingAfter, openLastSeq);
    openMsgs.set(m.seq, newestMessage(m, openMsgs.get(m.seq))); // a late copy never takes back "Seen"
    if (m.seq > openLastSeq) openLastSeq = m.seq;
    if (m.sender_type === "customer") setCustTyping(false);
  }
}

/** opens a conversation; focusReply false (j/k) keeps the focus on its row */
async function selectConversation(id: string, focusReply = true): Promise<void> {
  if (screen !== "inbox") { screen = "inbox"; renderNav(); renderInbox(); setHash(); }
  if (openId !== id) {
    openId = id; openHistory = []; openConv = known.get(id) || null;
    openMsgs.clear(); openLastSeq = 0; openMissingAfter = Infinity; transferBox.hidden = true; replyInput.value = "";
    canned.close(); notes.reset(id);
    clearActionError();
    setCustTyping(false);
  }
  setPane("chat");
  renderList(); renderOpen();
  const row = convList.querySelector(`[data-id="${id}"]`) as HTMLElement | null;
  if (!focusReply && row) { row.scrollIntoView({ block: "nearest" }); row.focus(); }
  try { await refreshOpen(); } catch (e) { toast("Couldn't load the conversation: " + errText(e)); }
  if (focusReply && id === openId) replyInput.disabled || replyInput.focus();
}

function setCustTyping(on: boolean): void {
  clearTimeout(custTypingTimer);
  custTyping.hidden = !on;
  if (on) custTypingTimer = window.setTimeout(() => setCustTyping(false), 6000);
}

function renderOpen(): void {
  if (!openId || !openConv) {
    chatPane.replaceChildren(h("div", { class: "placeholder" },
      h("div", { class: "big", "aria-hidden": "true" }, "No conversation open"),
      h("p", null, lists.queue.length ? `${lists.queue.length} customer${lists.queue.length === 1 ? " is" : "s are"} waiting in the queue.` : "Select a conversation from the list."),
      lists.queue.length ? h("p", { class: "muted" }, "Open the Queue view to claim one.") : null));
    ctxPane.replaceChildren(h("h2", null, "Customer context"), h("p", { class: "muted" }, "Nothing selected."));
    return;
  }
  const c = openConv;
  // header
  // only the title is rebuilt: moving the action buttons would drop a keyboard user's focus
  chatTitle.replaceChildren(
    h("h2", null, (c.context && c.context.product_name) || "General question"),
    h("span", { class: "pill " + (c.status === "agent" && !c.assigned_agent ? "queue" : c.status) }, statusLabel(c)));
  if (!chatHead.firstChild) chatHead.append(backBtn, chatTitle, h("div", { class: "actions" }, claimBtn, transferBtn, closeBtn, detailsBtn));
  convTools.set(c);
  // the action with the focus, or the one whose request is in flight (disabling a button drops its focus to the body)
  const lost = document.activeElement === document.body || !document.activeElement;
  const hadAction = [claimBtn, transferBtn, closeBtn].find((b) => b === document.activeElement || (lost && b.disabled));
  claimBtn.hidden = !(c.status === "agent" && !c.assigned_agent);
  transferBtn.hidden = closeBtn.hidden = c.status !== "agent" || !c.assigned_agent || !canReply(c);
  // an action that just went away (closed by anyone, claimed) hands the focus to the transcript
  if (hadAction && hadAction.hidden) transcript.focus();
  // transcript
  const nearBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 80;
  const seqs = [...openMsgs.keys()].sort((a, b) => a - b);
  let lastAgentSeq = 0;
  for (const s of seqs) if (openMsgs.get(s)!.sender_type === "agent") lastAgentSeq = s;
  transcript.replaceChildren(...seqs.map((s) => {
    const m = openMsgs.get(s)!;
    if (m.sender_type === "system" || m.kind === "event") {
      return h("div", { class: "msg system", "data-testid": "agent-message", "data-sender": m.sender_type, "data-seq": s }, h("span", null, m.content), h("time", null, timeOf(m.created_at)));
    }
    return h("div", { class: "msg " + m.sender_type, "data-testid": "agent-message", "data-sender": m.sender_type, "data-seq": s },
      h("div", { class: "who" }, senderLabel(m), h("time", null, timeOf(m.created_at)),
        s === lastAgentSeq ? h("span", { class: "receipt" }, m.read_at ? "Seen" : "Delivered") : null),
      h("div", { class: "bubble" }, m.content));
  }));
  if (nearBottom) transcript.scrollTop = transcript.scrollHeight;
  // reply area
  const reply = canReply(c);
  replyInput.disabled = sendBtn.disabled = !reply;
  replyNote.textContent = c.status === "closed" ? "This conversation is closed." :
    c.status === "automated" ? "The customer is talking to the bot." :
      !c.assigned_agent ? "Claim this chat to reply." : !reply ? `Assigned to ${c.assigned_agent.display_name}.` : "";
  replyNote.hidden = !replyNote.textContent;
  replyForm.hidden = c.status === "closed";
  if (!chatPane.contains(transcript)) chatPane.replaceChildren(chatHead, convTools.el, actionError, transferBox, transcript, custTyping, replyNote, replyForm);
  // context
  const ctx = c.context || {};
  const dl = h("dl", null);
  const row = (k: string, v: Node | string | null | undefined) => { if (v) dl.append(h("dt", null, k), h("dd", null, v)); };
  row("Product", ctx.product_name || "—");
  row("Product ID", ctx.product_id || "—");
  let page: Node | string = "—";
  if (ctx.page_url) {
    let safe = false;
    try { safe = /^https?:$/.test(new URL(ctx.page_url).protocol); } catch { /* */ }
    page = safe ? h("a", { href: ctx.page_url, target: "_blank", rel: "noopener noreferrer" }, ctx.page_url) : ctx.page_url;
  }
  row("Page", page);
  row("Customer", custName(c));
  if (c.customer && c.customer.email) row("Email", h("a", { href: "mailto:" + c.customer.email, "data-testid": "agent-customer-email" }, c.customer.email));
  row("Status", statusLabel(c));
  row("Department", c.department ? c.department.name : "Default queue");
  row("Priority", priorityLabel(c.priority || "normal"));
  if (c.offline) row("Offline", h("span", { class: "note", "data-testid": "agent-offline" }, c.customer && c.customer.email
    ? "Came in while nobody was available; the customer left an email (above)."
    : "Came in while nobody was available; no email left yet."));
  row("Started", new Date(c.created_at).toLocaleString());
  if (c.requested_agent_at) row("Asked for an agent", new Date(c.requested_agent_at).toLocaleString() + ` (${ago(c.requested_agent_at)} ago)`.replace("(just now ago)", "(just now)"));
  if (c.closed_at) row("Closed", new Date(c.closed_at).toLocaleString());
  row("Conversation", h("code", null, c.id));
  const earlier = openHistory.filter((x) => x.id !== c.id);
  const history = earlier.length
    ? [h("h3", null, "Earlier conversations"), h("ul", { class: "history", "data-testid": "agent-history" },
        ...earlier.map((x) => {
          const b = h("button", { type: "button", class: "linkish", "data-id": x.id }, new Date(x.created_at).toLocaleDateString() + " · " + statusLabel(x) +
            (x.last_message ? " · " + x.last_message.content.slice(0, 80) : ""));
          b.addEventListener("click", () => selectConversation(x.id));
          return h("li", null, b);
        }))]
    : [];
  notes.render();
  if (!ctxPane.contains(notes.el)) ctxPane.replaceChildren(detailsClose, notes.el, ctxInfo);
  ctxInfo.replaceChildren(h("h2", null, "Customer context"), dl, ...history);
  markOpenRead();
}

let readPosted = "";
function markOpenRead(): void {
  if (!openConv || document.hidden || !canReply(openConv)) return;
  let upTo = 0, unread = false;
  for (const m of openMsgs.values()) if (m.sender_type === "customer") { upTo = Math.max(upTo, m.seq); if (!m.read_at) unread = true; }
  const key = openConv.id + ":" + upTo;
  if (!unread || !upTo || readPosted === key) return;
  readPosted = key;
  api("POST", `/agent/conversations/${encodeURIComponent(openConv.id)}/read`, { up_to_seq: upTo }).catch(() => { readPosted = ""; });
}

// actions
/** what went wrong with an action, for the agent: the server's reason and what to do */
function actionErrText(e: unknown, what: string): string {
  if (!(e instanceof HttpError)) return `Couldn't ${what}: ` + errText(e);
  const why = (e.message || e.code).replace(/\.$/, "");
  let hint = "";
  if (/capacity/i.test(why)) {
    const max = me ? me.max_active_chats : 0, n = lists.active.length;
    hint = /target/i.test(why) ? " Pick another agent."
      : max === 0 ? " Your limit is 0 chats: ask an admin to raise it."
        : ` You have ${n} of ${max} chats: close or transfer one first.`;
  }
  else if (/not in the queue/i.test(why)) hint = " Another agent has probably taken it.";
  else if (/not online/i.test(why)) hint = " Pick an agent who is online.";
  else if (e.status === 403) hint = " It is assigned to someone else.";
  else if (e.status === 404) hint = " It may have been removed.";
  return `Couldn't ${what}: ${why}.${hint}`;
}

async function act(btn: HTMLButtonElement, fn: () => Promise<any>, what: string): Promise<boolean> {
  btn.disabled = true;
  clearActionError();
  try {
    const r = await fn();
    if (r) takeConv(r.conversation);
    if (r && r.messages) addOpenMessages(r.messages);
    renderOpen();
    await refreshAll();
    return true;
  } catch (e) {
    if (e instanceof HttpError && e.status === 401) { showLogin("Your session has ended. Please sign in again."); return false; }
    showActionError(actionErrText(e, what));
    refreshAll();
    return false;
  } finally { btn.disabled = false; }
}
claimBtn.addEventListener("click", () => {
  if (!openId) return;
  const id = openId;
  selfClaimed.add(id);
  act(claimBtn, () => api("POST", `/agent/conversations/${encodeURIComponent(id)}/claim`, {}), "claim the chat")
    .then((ok) => { if (!ok) { selfClaimed.delete(id); return; } view = "active"; renderViews(); renderList(); replyInput.focus(); });
});
closeBtn.addEventListener("click", () => {
  if (!openId) return;
  const id = openId;
  act(closeBtn, () => api("POST", `/agent/conversations/${encodeURIComponent(id)}/close`, {}), "close the chat")
    .then((ok) => { const f = document.activeElement; if (ok && (f === document.body || f === closeBtn)) transcript.focus(); }); // the button is gone
});
transferBtn.addEventListener("click", async () => {
  if (!transferBox.hidden) { transferBox.hidden = true; return; }
  // every colleague's presence as it is now (presence events only tell what changed since)
  try { for (const a of (await api("GET", "/agent/agents")).agents || []) knownAgents.set(a.id, a); } catch { /* what events told */ }
  const others = [...knownAgents.values()].filter((a) => me && a.id !== me.id && a.presence === "online");
  const sel = h("select", { "aria-label": "Transfer to" }, ...others.map((a) =>
    h("option", { value: a.id }, `${a.display_name} (${a.active_chats}/${a.max_active_chats})`)));
  const go = h("button", { class: "btn primary", type: "button" }, "Transfer");
  const cancel = h("button", { class: "btn ghost", type: "button" }, "Cancel");
  cancel.addEventListener("click", () => { transferBox.hidden = true; });
  go.addEventListener("click", () => {
    if (!openId || !sel.value) return;
    const id = openId;
    act(go, () => api("POST", `/agent/conversations/${encodeURIComponent(id)}/transfer`, { agent_id: sel.value }), "transfer the chat")
      .then((ok) => { if (ok) transferBox.hidden = true; });
  });
  transferBox.replaceChildren(...(others.length
    ? [h("span", null, "Transfer to "), sel, go, cancel]
    : [h("span", null, "No other agent is online right now."), cancel]));
  transferBox.hidden = false;
  (others.length ? sel : cancel).focus();
});

replyForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = replyInput.value.trim();
  if (!text || !openId || replyInput.disabled) return;
  const id = openId, client_id = uuid();
  replyInput.value = "";
  stopTyping();
  sendBtn.disabled = true;
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await api("POST", `/agent/conversations/${encodeURIComponent(id)}/messages`, { text, client_id });
      takeConv(r.conversation);
      if (id === openId) { addOpenMessages(r.messages); renderOpen(); transcript.scrollTop = transcript.scrollHeight; }
      refreshSoon();
      break;
    } catch (ex) {
      const transient = !(ex instanceof HttpError) || ex.status === 429 || ex.status >= 500;
      if (!transient || attempt >= 4) {
        toast("Message not sent: " + errText(ex));
        if (id === openId && !replyInput.value) replyInput.value = text;
        break;
      }
      await sleep(ex instanceof HttpError && ex.retryAfter ? ex.retryAfter * 1000 : 1000 * 2 ** attempt);
    }
  }
  sendBtn.disabled = !canReply(openConv);
});
replyInput.addEventListener("keydown", (e) => {
  if (!e.isComposing && canned.key(e)) { e.preventDefault(); return; }
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); replyForm.requestSubmit(); }
});
function stopTyping(): void {
  clearTimeout(typingStop);
  if (typingAt && openId) live.send({ type: "typing", conversation_id: openId, typing: false });
  typingAt = 0;
}
replyInput.addEventListener("input", () => {
  if (!openId) return;
  const now = Date.now();
  if (now - typingAt > 3000 && live.send({ type: "typing", conversation_id: openId, typing: true })) typingAt = now;
  clearTimeout(typingStop);
  typingStop = window.setTimeout(stopTyping, 4000);
});

// ---------------------------------------------------------------- live
function onEvent(e: ChatEvent): void {
  const d = e.data || {};
  const mine = e.conversation_id && e.conversation_id === openId;
  switch (e.type) {
    case "message.created":
      if (mine) { addOpenMessages([d]); renderOpen(); }
      refreshSoon();
      return;
    case "conversation.updated": case "chat.closed":
      if (d.id && takeConv(d, true)?.taken && d.id === openId) renderOpen();
      refreshSoon();
      return;
    case "note.created":
      if (mine) notes.added(d);
      return;
    case "agent.assigned":
      if (d.agent) knownAgents.set(d.agent.id, d.agent);
      refreshSoon();
      return;
    case "agent.presence.changed":
      if (d.id) {
        knownAgents.set(d.id, d);
        if (me && d.id === me.id) { me = { ...me, ...d }; renderMe(); }
      }
      return;
    case "typing":
      if (mine && d.sender_type === "customer") setCustTyping(!!d.typing);
      return;
    case "read":
      if (mine && d.sender_type === "customer" && typeof d.up_to_seq === "number") {
        for (const m of openMsgs.values()) if (m.sender_type !== "customer" && m.seq <= d.up_to_seq && !m.read_at) m.read_at = new Date().toISOString();
        renderOpen();
      }
      return;
  }
}

const live = new Live({
  url: () => wsUrl(API + "/agent/ws"),
  onEvent,
  poll: () => refreshAll(),
  pollMs: 3000,
  onOpen: () => refreshAll(), // no replay on the agent socket: refetch
  onState: (c) => {
    connState.textContent = c ? "● Live" : "● Polling";
    connState.className = "conn " + (c ? "live" : "polling");
    connState.title = c ? "Live updates over WebSocket" : "Live connection unavailable: refreshing every 3 seconds";
  },
});
connState.textContent = "● Polling"; connState.className = "conn polling";
// even with a socket, a slow safety refresh (counts, waiting times)
setInterval(() => { if (me && live.connected) refreshAll(); }, 30000);
setInterval(() => { if (me && screen === "inbox") renderList(); }, 30000);
document.addEventListener("visibilitychange", () => { if (!document.hidden) markOpenRead(); });

// ---------------------------------------------------------------- admin: agents
async function loadAgents(): Promise<Agent[]> {
  const r = await api("GET", "/admin/agents");
  for (const a of r.agents || []) knownAgents.set(a.id, a);
  return r.agents || [];
}

function field(label: string, el: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement): HTMLElement {
  return h("label", { class: "field" }, h("span", null, label), el);
}
function roleSelect(v = "agent"): HTMLSelectElement {
  const s = h("select", null, ...["agent", "supervisor", "admin"].map((r) => h("option", { value: r }, r)));
  s.value = v; return s;
}

async function renderAgentsAdmin(): Promise<void> {
  main.className = "main admin";
  const tbody = h("tbody");
  const user = h("input", { required: true, autocomplete: "off" }), name = h("input", { required: true });
  const pw = h("input", { type: "password", required: true, minlength: 10, autocomplete: "new-password" });
  const role = roleSelect(), max = h("input", { type: "number", min: 0, max: 1000, value: 5 });
  const form = h("form", { class: "card create" }, h("h3", null, "Add an agent"),
    h("div", { class: "grid" }, field("Username", user), field("Display name", name), field("Password (10+ characters)", pw), field("Role", role), field("Max active chats", max)),
    h("button", { class: "btn primary", type: "submit" }, "Add agent"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("POST", "/admin/agents", { username: user.value.trim(), display_name: name.value.trim(), password: pw.value, role: role.value, max_active_chats: Number(max.value) });
      toast("Agent added.", "info"); form.reset(); load();
    } catch (ex) { toast("Couldn't add the agent: " + (ex instanceof HttpError && ex.status === 409 ? "that username is taken." : errText(ex))); }
  });
  main.replaceChildren(h("div", { class: "admin-page" }, h("h2", null, "Agents"), form,
    h("div", { class: "card" }, h("table", null,
      h("thead", null, h("tr", null, ...["Username", "Name", "Role", "Max chats", "Presence", "Active", ""].map((t) => h("th", null, t || h("span", { class: "sr" }, "Actions"))))), tbody))));
  async function load(): Promise<void> {
    let agents: Agent[];
    try { agents = await loadAgents(); } catch (e) { tbody.replaceChildren(h("tr", null, h("td", { colspan: 7 }, "Couldn't load agents: " + errText(e)))); return; }
    tbody.replaceChildren(...agents.map((a) => agentRow(a, load)));
  }
  load();
}

function agentRow(a: Agent, reload: () => void): HTMLTableRowElement {
  const edit = h("button", { class: "btn small", type: "button" }, "Edit");
  const del = h("button", { class: "btn small danger", type: "button" }, "Delete");
  const tr = h("tr", null, h("td", null, a.username), h("td", null, a.display_name), h("td", null, a.role),
    h("td", null, String(a.max_active_chats)), h("td", null, h("span", { class: "dot " + a.presence }), " ", a.presence),
    h("td", null, String(a.active_chats)), h("td", { class: "row-actions" }, edit, me && a.id === me.id ? null : del));
  del.addEventListener("click", async () => {
    if (!confirm(`Delete ${a.display_name}? Their open chats go back to the queue.`)) return;
    try { await api("DELETE", `/admin/agents/${encodeURIComponent(a.id)}`); reload(); } catch (e) { toast("Couldn't delete: " + errText(e)); }
  });
  edit.addEventListener("click", () => {
    const name = h("input", { value: a.display_name }), role = roleSelect(a.role);
    const max = h("input", { type: "number", min: 0, max: 1000, value: a.max_active_chats });
    const pw = h("input", { type: "password", placeholder: "unchanged", autocomplete: "new-password" });
    const save = h("button", { class: "btn small primary", type: "button" }, "Save");
    const cancel = h("button", { class: "btn small ghost", type: "button" }, "Cancel");
    cancel.addEventListener("click", reload);
    save.addEventListener("click", async () => {
      const body: Record<string, unknown> = { display_name: name.value.trim(), role: role.value, max_active_chats: Number(max.value) };
      if (pw.value) body.password = pw.value;
      try { await api("PATCH", `/admin/agents/${encodeURIComponent(a.id)}`, body); toast("Saved.", "info"); reload(); }
      catch (e) { toast("Couldn't save: " + errText(e)); }
    });
    tr.replaceChildren(h("td", null, a.username), h("td", null, name), h("td", null, role), h("td", null, max),
      h("td", { colspan: 2 }, field("New password", pw)), h("td", { class: "row-actions" }, save, cancel));
    name.focus();
  });
  return tr;
}

// ---------------------------------------------------------------- admin: departments
interface Department {
  id: string; name: string; strategy: string; agent_ids: string[];
  hours: ({ tz: string } & Record<string, string | string[]>) | null;
}
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const STRATEGIES: [string, string][] = [["least_loaded", "Least loaded"], ["round_robin", "Round robin"], ["sticky", "Sticky (last agent of the customer)"]];

/** "Mon–Fri 09:00–17:00 (Europe/Berlin)", or "Always" */
function hoursText(hr: Department["hours"]): string {
  if (!hr) return "Always";
  const parts: string[] = [];
  const span = (d: string) => { const v = hr[d]; return Array.isArray(v) ? v.join("–") : ""; };
  const cap = (d: string) => d[0].toUpperCase() + d.slice(1);
  for (let i = 0; i < 7;) {
    const v = span(DAYS[i]);
    let j = i;
    while (v && j + 1 < 7 && span(DAYS[j + 1]) === v) j++;
    if (v) parts.push((j > i ? cap(DAYS[i]) + "–" + cap(DAYS[j]) : cap(DAYS[i])) + " " + v);
    i = j + 1;
  }
  return (parts.join(", ") || "Closed") + ` (${hr.tz})`;
}

async function renderDepartmentsAdmin(): Promise<void> {
  main.className = "main admin";
  const tbody = h("tbody");
  const formBox = h("div");
  let agents: Agent[] = [];
  main.replaceChildren(h("div", { class: "admin-page" }, h("h2", null, "Departments"),
    h("p", { class: "muted" }, "Customers pick a department before they talk to a person; without one, a chat goes to the default queue that every agent serves."),
    formBox,
    h("div", { class: "card" }, h("table", null,
      h("thead", null, h("tr", null, ...["Name", "Strategy", "Members", "Hours", ""].map((t) => h("th", null, t || h("span", { class: "sr" }, "Actions"))))), tbody))));
  const show = (d: Department | null) => { formBox.replaceChildren(departmentForm(d, agents, load)); };
  async function load(): Promise<void> {
    try {
      const [r, a] = await Promise.all([api("GET", "/admin/departments"), loadAgents()]);
      agents = a;
      const ds: Department[] = r.departments || [];
      tbody.replaceChildren(...(ds.length ? ds.map((d) => {
        const edit = h("button", { class: "btn small", type: "button" }, "Edit");
        const del = h("button", { class: "btn small danger", type: "button" }, "Delete");
        edit.addEventListener("click", () => { show(d); (formBox.querySelector("input") as HTMLInputElement).focus(); });
        del.addEventListener("click", async () => {
          if (!confirm(`Delete the department ${d.name}? Its waiting chats go to the default queue.`)) return;
          try { await api("DELETE", `/admin/departments/${encodeURIComponent(d.id)}`); load(); } catch (e) { toast("Couldn't delete: " + errText(e)); }
        });
        const names = d.agent_ids.map((id) => { const x = knownAgents.get(id); return x ? x.display_name : shortId(id); });
        return h("tr", { "data-department-id": d.id }, h("td", null, d.name), h("td", null, d.strategy.replace("_", " ")),
          h("td", null, names.join(", ") || "Nobody"), h("td", null, hoursText(d.hours)), h("td", { class: "row-actions" }, edit, del));
      }) : [h("tr", null, h("td", { colspan: 5 }, "No departments yet."))]));
    } catch (e) { tbody.replaceChildren(h("tr", null, h("td", { colspan: 5 }, "Couldn't load departments: " + errText(e)))); }
    show(null);
  }
  load();
}

/** the create form (d = null) or the edit form of a department */
function departmentForm(d: Department | null, agents: Agent[], done: () => void): HTMLFormElement {
  const name = h("input", { required: true, maxlength: 100, value: d ? d.name : "" });
  const strategy = h("select", null, ...STRATEGIES.map(([v, t]) => h("option", { value: v }, t)));
  strategy.value = d ? d.strategy : "least_loaded";
  const members = agents.map((a) => {
    const cb = h("input", { type: "checkbox", value: a.id });
    cb.checked = !!d && d.agent_ids.includes(a.id);
    return { cb, el: h("label", { class: "check" }, cb, ` ${a.display_name} (${a.username})`) };
  });
  const hr = d && d.hours;
  const limited = h("input", { type: "checkbox" });
  limited.checked = !!hr;
  const tz = h("input", { value: hr ? hr.tz : Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC", "aria-label": "Time zone (IANA)" });
  const days = DAYS.map((day) => {
    const v = hr && Array.isArray(hr[day]) ? hr[day] as string[] : null;
    const from = h("input", { type: "time", value: v ? v[0] : "", "aria-label": day + " from" });
    const to = h("input", { type: "time", value: v ? v[1] : "", "aria-label": day + " to" });
    return { day, from, to, el: h("div", { class: "day" }, h("span", null, day[0].toUpperCase() + day.slice(1)), from, "–", to) };
  });
  const hoursBox = h("div", { class: "hours" }, field("Time zone (IANA, e.g. Europe/Berlin)", tz),
    h("p", { class: "muted" }, "Leave a day empty to close it."), ...days.map((x) => x.el));
  const sync = () => { hoursBox.hidden = !limited.checked; };
  limited.addEventListener("change", sync); sync();
  const cancel = d ? h("button", { class: "btn ghost", type: "button" }, "Cancel") : null;
  cancel?.addEventListener("click", done);
  const form = h("form", { class: "card create" }, h("h3", null, d ? "Edit " + d.name : "Add a department"),
    h("div", { class: "grid" }, field("Name", name), field("Strategy", strategy)),
    h("fieldset", { class: "members" }, h("legend", null, "Members"), ...(members.length ? members.map((m) => m.el) : ["No agents yet."])),
    h("label", { class: "check" }, limited, " Only during business hours (otherwise always, while a member is online)"), hoursBox,
    h("div", { class: "form-actions" }, h("button", { class: "btn primary", type: "submit" }, d ? "Save" : "Add department"), cancel));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    let hours: Record<string, unknown> | null = null;
    if (limited.checked) {
      hours = { tz: tz.value.trim() };
      for (const x of days) if (x.from.value && x.to.value) hours[x.day] = [x.from.value, x.to.value];
    }
    const body = { name: name.value.trim(), strategy: strategy.value, agent_ids: members.filter((m) => m.cb.checked).map((m) => m.cb.value), hours };
    try {
      if (d) await api("PATCH", `/admin/departments/${encodeURIComponent(d.id)}`, body);
      else await api("POST", "/admin/departments", body);
      toast(d ? "Saved." : "Department added.", "info");
      done();
    } catch (ex) { toast(`Couldn't save the department: ` + (ex instanceof HttpError && ex.status === 409 ? "that name is taken." : errText(ex))); }
  });
  return form;
}

// ---------------------------------------------------------------- admin: FAQ
async function renderFaqAdmin(): Promise<void> {
  main.className = "main admin";
  const tbody = h("tbody");
  const slug = h("input", { required: true, pattern: "[a-z0-9-]+", placeholder: "shipping-time" });
  const q = h("input", { required: true }), a = h("textarea", { required: true, rows: 3 });
  const order = h("input", { type: "number", value: 100 }), kw = h("input", { placeholder: "shipping, delivery, how long" });
  const form = h("form", { class: "card create" }, h("h3", null, "Add an FAQ entry"),
    h("div", { class: "grid" }, field("Slug", slug), field("Order", order), field("Question", q), field("Keywords (comma separated)", kw)),
    field("Answer", a),
    h("button", { class: "btn primary", type: "submit" }, "Add entry"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("POST", "/admin/faq", { slug: slug.value.trim(), question: q.value.trim(), answer: a.value.trim(), display_order: Number(order.value), keywords: splitKw(kw.value) });
      toast("FAQ entry added.", "info"); form.reset(); load();
    } catch (ex) { toast("Couldn't add the entry: " + (ex instanceof HttpError && ex.status === 409 ? "that slug is taken." : errText(ex))); }
  });
  main.replaceChildren(h("div", { class: "admin-page" }, h("h2", null, "FAQ"), form,
    h("div", { class: "card" }, h("table", null,
      h("thead", null, h("tr", null, ...["#", "Slug", "Question", "Answer", "Active", ""].map((t) => h("th", null, t || h("span", { class: "sr" }, "Actions"))))), tbody))));
  async function load(): Promise<void> {
    try {
      const r = await api("GET", "/admin/faq");
      const entries: FaqEntry[] = (r.faq || []).slice().sort((x: FaqEntry, y: FaqEntry) => x.display_order - y.display_order);
      tbody.replaceChildren(...entries.map((f) => faqRow(f, load)));
    } catch (e) { tbody.replaceChildren(h("tr", null, h("td", { colspan: 6 }, "Couldn't load the FAQ: " + errText(e)))); }
  }
  load();
}
function splitKw(s: string): string[] { return s.split(",").map((x) => x.trim()).filter(Boolean); }

function faqRow(f: FaqEntry, reload: () => void): HTMLTableRowElement {
  const active = h("input", { type: "checkbox", "aria-label": "Active" });
  active.checked = f.is_active !== false;
  active.addEventListener("change", async () => {
    try { await api("PATCH", `/admin/faq/${encodeURIComponent(f.slug)}`, { is_active: active.checked }); }
    catch (e) { toast("Couldn't save: " + errText(e)); active.checked = !active.checked; }
  });
  const edit = h("button", { class: "btn small", type: "button" }, "Edit");
  const del = h("button", { class: "btn small danger", type: "button" }, "Delete");
  del.addEventListener("click", async () => {
    if (!confirm(`Delete the FAQ entry "${f.question}"?`)) return;
    try { await api("DELETE", `/admin/faq/${encodeURIComponent(f.slug)}`); reload(); } catch (e) { toast("Couldn't delete: " + errText(e)); }
  });
  const tr = h("tr", null, h("td", null, String(f.display_order)), h("td", null, h("code", null, f.slug)), h("td", null, f.question),
    h("td", { class: "answer" }, f.answer), h("td", null, active), h("td", { class: "row-actions" }, edit, del));
  edit.addEventListener("click", () => {
    const q = h("input", { value: f.question }), a = h("textarea", { rows: 4 }), order = h("input", { type: "number", value: f.display_order });
    a.value = f.answer;
    const kw = h("input", { value: (f.keywords || []).join(", "), placeholder: "keywords, comma separated" });
    const save = h("button", { class: "btn small primary", type: "button" }, "Save");
    const cancel = h("button", { class: "btn small ghost", type: "button" }, "Cancel");
    cancel.addEventListener("click", reload);
    save.addEventListener("click", async () => {
      const body: Record<string, unknown> = { question: q.value.trim(), answer: a.value.trim(), display_order: Number(order.value) };
      if (kw.value.trim()) body.keywords = splitKw(kw.value);
      try { await api("PATCH", `/admin/faq/${encodeURIComponent(f.slug)}`, body); toast("Saved.", "info"); reload(); }
      catch (e) { toast("Couldn't save: " + errText(e)); }
    });
    tr.replaceChildren(h("td", null, order), h("td", null, h("code", null, f.slug)), h("td", null, q, kw), h("td", null, a),
      h("td", null, active), h("td", { class: "row-actions" }, save, cancel));
    q.focus();
  });
  return tr;
}

// ---------------------------------------------------------------- boot
(async () => {
  try {
    const r = await api("GET", "/agent/me");
    me = r.agent;
    enterApp();
  } catch { showLogin(); }
})();
