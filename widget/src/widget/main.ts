// The embeddable customer widget: one <script src="/chat/widget.js" data-product-id=…
// data-product-name=… defer> adds a launcher and a chat panel inside an open Shadow DOM.
// Speaks only ../../../shared/API.md. User text is only ever set with textContent.
import { h, uuid, timeOf, api, HttpError, sleep, wsUrl } from "../shared/util";
import { Live } from "../shared/live";
import { parseHex, contrast, textOn } from "../shared/color";
import type { Conversation, Message, FaqEntry, ChatEvent, PublicDepartment } from "../shared/types";
import { supersedes, newestMessage } from "../shared/newest";

declare const __WIDGET_CSS__: string;

(() => {
  const w = window as any;
  if (w.__nginxChat) return; // embedded twice
  w.__nginxChat = true;

  const script = document.currentScript as HTMLScriptElement | null;
  const ds: DOMStringMap = (script && script.dataset) || {};
  const ROOT = script && script.src ? new URL(".", script.src).pathname : "/chat/";
  const API = ROOT + "api/v1";
  const LS_ACTIVE = "nginx-chat:active";
  const SS_OPEN = "nginx-chat:open";
  const LS_HELPED = "nginx-chat:helped"; // bot answers the customer already said were (not) helpful
  const QUEUE_REFRESH_MS = 5000; // how often a queued chat re-reads its queue position

  let conv: Conversation | null = null;
  const msgs = new Map<number, Message>();
  const msgEls = new Map<number, HTMLElement>();
  // bubbles of posts not yet answered: their text, and the last seq known when they were sent
  const pending = new Map<HTMLElement, { text: string; after: number }>();
  let faq: FaqEntry[] = [];
  let lastSeq = 0;
  // a live message skipped seqs after this one (its frame lost): the next catch-up asks from here
  let missingAfter = Infinity;
  let readSeq = 0; // the customer has seen everything up to here
  let isOpen = false;
  let starting: Promise<void> | null = null;
  let typingTimer = 0;
  let myTypingAt = 0;
  let myTypingStop = 0;
  let escalating = false;
  let picking = false; // the department picker is showing
  let thanks = "";     // the confirmation after the customer left an email
  let messageMax = 4000; // chars per message: the server's chat_message_max (POST /session "limits")
  let heardSeq = 0;    // messages up to here were announced (or were history)
  let said = "";       // what the live region said last
  let typingSaidAt = 0;
  let score = 0;       // the rating being chosen
  let rateNote = "";   // the answer to POST /rating (thanks, already rated)

  const store = (s: Storage | undefined, k: string, v: string | null) => {
    try { if (!s) return; if (v == null) s.removeItem(k); else s.setItem(k, v); } catch { /* private mode */ }
  };
  const load = (s: Storage | undefined, k: string) => { try { return s ? s.getItem(k) : null; } catch { return null; } };
  const helped: string[] = (() => { try { return JSON.parse(load(localStorage, LS_HELPED) || "[]"); } catch { return []; } })();

  // ---- icons (built with the DOM, no markup strings) ----
  const SVG = "http://www.w3.org/2000/svg";
  function icon(d: string, size = 24): SVGSVGElement {
    const s = document.createElementNS(SVG, "svg");
    s.setAttribute("viewBox", "0 0 24 24"); s.setAttribute("width", String(size)); s.setAttribute("height", String(size));
    s.setAttribute("aria-hidden", "true"); s.setAttribute("focusable", "false");
    const p = document.createElementNS(SVG, "path");
    p.setAttribute("d", d); p.setAttribute("fill", "currentColor");
    s.appendChild(p);
    return s;
  }
  const I_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";
  const I_SEND = "M3 20.5 21 12 3 3.5v6.6L15 12 3 13.9z";
  const I_CLOCK = "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 10.4 3.5 2.1-1 1.7L11 13V6h2z";
  const I_CHECK = "M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z";
  const I_DOWN = "M7.4 8.6 12 13.2l4.6-4.6L18 10l-6 6-6-6z";

  // ---- DOM ----
  const host = h("div", { id: "nginx-chat-widget", role: "region", "aria-label": "Customer support chat" });
  const root = host.attachShadow({ mode: "open" });
  root.appendChild(h("style", null, __WIDGET_CSS__));
  // the operator's brand colour (data-color="#0a7d4f"): text on it is black or white, whichever reads
  const brand = ds.color && parseHex(ds.color) ? ds.color.trim() : "";
  if (brand) {
    host.style.setProperty("--nc-accent", brand);
    host.style.setProperty("--nc-accent-dark", brand);
    host.style.setProperty("--nc-on-accent", textOn(brand));
    if (contrast(brand, "#ffffff") >= 4.5) host.style.setProperty("--nc-link", brand);
  }

  const badge = h("span", { class: "badge", "data-testid": "chat-unread", hidden: true, "aria-hidden": "true" });
  const launcher = h("button", {
    class: "launcher", type: "button", "data-testid": "chat-launcher",
    "aria-label": "Open chat with customer support", "aria-expanded": "false", "aria-controls": "nc-panel",
  }, icon(I_CHAT, 28), badge);
  // the one polite live region: new messages (never the history), unread count, queue position
  const announcer = h("div", { class: "sr", "aria-live": "polite", "data-testid": "chat-announce" });

  const title = h("h2", { id: "nc-title" }, "Customer support");
  const status = h("p", { class: "status", "data-testid": "chat-status" }, "Connecting…");
  const avatar = h("div", { class: "avatar", "aria-hidden": "true" }, "?");
  const closeBtn = h("button", { class: "icon-btn", type: "button", "aria-label": "Minimize chat", title: "Minimize" }, icon(I_DOWN));
  const list = h("div", { class: "list", role: "list" });
  const typing = h("div", { class: "typing", hidden: true });
  const log = h("div", { class: "log", role: "region", "aria-label": "Chat messages", tabindex: "0" }, list, typing);
  const chips = h("div", { class: "chips", role: "group", "aria-label": "Common questions", hidden: true });
  const talk = h("button", { class: "talk", type: "button", "data-testid": "chat-talk-to-agent", hidden: true }, "Talk to a person");
  const input = h("textarea", {
    "data-testid": "chat-input", rows: 1, "aria-label": "Type your message", placeholder: "Type your message…", maxlength: messageMax,
    "aria-describedby": "nc-left",
  });
  // near the server's limit, how much is left (the input stops there)
  const left = h("p", { class: "left", id: "nc-left", "data-testid": "chat-chars-left", hidden: true });
  const sendBtn = h("button", { class: "send", type: "submit", "data-testid": "chat-send", "aria-label": "Send message", title: "Send" }, icon(I_SEND, 20));
  const composer = h("form", { class: "composer" }, input, sendBtn);
  // "talk to a person" in a shop with departments: pick one first (open or away, said in words)
  const picker = h("div", { class: "picker", role: "group", "aria-labelledby": "nc-pick", hidden: true });
  // offline: ask for an email (POST /identify); the server judges it (novalidate), its 422 text is shown
  const email = h("input", {
    id: "nc-email", type: "email", "data-testid": "chat-email", autocomplete: "email", maxlength: 254,
    placeholder: "you@example.com", "aria-describedby": "nc-email-err",
  });
  const emailErr = h("p", { class: "form-err", id: "nc-email-err", role: "alert" });
  const emailSend = h("button", { class: "primary", type: "submit", "data-testid": "chat-email-send" }, "Send");
  const emailForm = h("form", { class: "email", novalidate: true, hidden: true },
    h("label", { for: "nc-email" }, "Your email, so we can get back to you"), h("div", { class: "row" }, email, emailSend), emailErr);
  const thanksBox = h("p", { class: "thanks", role: "status", hidden: true });
  // after close: a rating once (POST /rating), then the rating given
  const stars = [1, 2, 3, 4, 5].map((n) => h("button", {
    type: "button", class: "star", "data-testid": "chat-rating", "data-score": n, "aria-pressed": "false",
    "aria-label": `${n} of 5${n === 1 ? ", poor" : n === 5 ? ", excellent" : ""}`,
    onclick: () => { score = n; rateErr.textContent = ""; render(); },
  }, "☆"));
  // no maxlength: the server judges the comment (1,000 characters) and its 422 is shown, as for the email
  const rateComment = h("textarea", {
    id: "nc-rate-c", class: "rate-c", "data-testid": "chat-rating-comment", rows: 2, placeholder: "Anything to add? (optional)",
  });
  const rateErr = h("p", { class: "form-err", id: "nc-rate-err", role: "alert" });
  const rateSend = h("button", { class: "primary", type: "submit", "data-testid": "chat-rating-send" }, "Send rating");
  const rateForm = h("form", { class: "rate", "aria-labelledby": "nc-rate-q" },
    h("p", { id: "nc-rate-q", class: "q" }, "How did we do?"),
    h("div", { class: "stars", role: "group", "aria-labelledby": "nc-rate-q" }, stars),
    h("label", { for: "nc-rate-c", class: "sr" }, "Comment (optional)"), rateComment, rateSend, rateErr);
  const rated = h("p", { class: "rated", "data-testid": "chat-rating-given", tabindex: "-1" });
  const newBtn = h("button", { class: "primary", type: "button", "data-testid": "chat-new" }, "Start a new chat");
  const closedBox = h("div", { class: "closed", hidden: true }, h("p", null, "This chat has ended. Thanks for reaching out!"), rateForm, rated, newBtn);
  const errorBox = h("div", { class: "error", role: "alert", hidden: true });
  const panel = h("section", {
    class: "panel", id: "nc-panel", role: "dialog", "aria-labelledby": "nc-title", "data-testid": "chat-panel", hidden: true,
  },
    h("header", null, avatar, h("div", { class: "who" }, title, status), closeBtn),
    log, errorBox, h("div", { class: "bottom" }, chips, talk, picker, emailForm, thanksBox, closedBox, composer, left),
    h("div", { class: "foot" }, "Powered by nginx-chat"));
  root.append(launcher, panel, announcer);

  /** says `text` through the live region; what is said in one turn goes out as one announcement */
  let saying: string[] = [];
  function announce(text: string): void {
    if (!text) return;
    if (!saying.length) setTimeout(() => {
      const t = saying.join(" ");
      saying = [];
      // the same words again: empty the region first, or nothing is read
      if (t === said) { announcer.textContent = ""; setTimeout(() => { announcer.textContent = t; }, 100); }
      else announcer.textContent = t;
      said = t;
    }, 0);
    saying.push(text);
  }

  // ---- rendering ----
  function agentName(): string {
    return (conv && conv.assigned_agent && conv.assigned_agent.display_name) || "Support agent";
  }
  function initials(name: string): string {
    return name.split(/\s+/).filter(Boolean).slice(0, 2).map((s) => s[0].toUpperCase()).join("") || "?";
  }

  function msgEl(m: Message): HTMLElement {
    const who = m.sender_type;
    if (who === "system" || m.kind === "event") {
      return h("div", { class: "msg system", role: "listitem", "data-testid": "chat-message", "data-sender": who, "data-seq": m.seq },
        h("span", null, m.content));
    }
    const label = senderName(m);
    const meta = h("div", { class: "meta" }, timeOf(m.created_at));
    return h("div", { class: "msg " + who, role: "listitem", "data-testid": "chat-message", "data-sender": who, "data-seq": m.seq },
      label ? h("div", { class: "name" }, label) : h("div", { class: "sr" }, "You:"),
      h("div", { class: "bubble" }, m.content),
      meta, helpfulEl(m));
  }
  function senderName(m: Message): string {
    return m.sender_type === "agent" ? agentName() : m.sender_type === "bot" ? "Assistant" : "";
  }

  // "Did this answer your question?" under each FAQ answer of the bot, once per answer
  function helpfulEl(m: Message): HTMLElement | null {
    if (m.sender_type !== "bot" || !m.metadata || !m.metadata.faq || helped.includes(m.id)) return null;
    const row = h("div", { class: "helpful", role: "group", "aria-labelledby": "nc-h" + m.seq });
    const ask = (yes: boolean) => h("button", {
      type: "button", class: "hb", "data-testid": "chat-helpful", "data-helpful": String(yes),
      onclick: () => feedback(m, yes, row),
    }, yes ? "Yes" : "No");
    row.append(h("span", { id: "nc-h" + m.seq }, "Did this answer your question?"), h("span", { class: "hbs" }, ask(true), ask(false)));
    return row;
  }

  async function feedback(m: Message, yes: boolean, row: HTMLElement): Promise<void> {
    const buttons = row.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    let note = yes ? "Thanks! Glad it helped." : "Sorry it didn't. A person can help:";
    try {
      await api(API, "POST", "/feedback", { message_id: m.id, helpful: yes });
    } catch (e) {
      const he = e instanceof HttpError ? e : null;
      if (he && he.status === 409) note = "You already answered this one. Thanks!" + (yes ? "" : " A person can help:");
      else if (he && (he.status === 422 || he.status === 404)) note = "We couldn't record that answer." + (yes ? "" : " A person can help:");
      else { // try again later: nothing was recorded
        buttons.forEach((b) => { b.disabled = false; });
        announce(he && he.status === 429 ? "Too many requests, please wait a moment." : "We couldn't send that. Please try again.");
        return;
      }
    }
    helped.push(m.id);
    store(localStorage, LS_HELPED, JSON.stringify(helped.slice(-100)));
    const noteEl = h("span", { tabindex: "-1" }, note);
    row.replaceChildren(noteEl);
    row.removeAttribute("role");
    // "no": a person at once, right here (the department picker first when the shop has departments)
    if (!yes && conv && conv.status === "automated") {
      const b = h("button", { type: "button", class: "hb talk-now", "data-testid": "chat-helpful-talk", onclick: talkToPerson }, "Talk to a person");
      row.append(b);
      b.focus();
    } else noteEl.focus();
  }

  function renderMessages(): void {
    const seqs = [...msgs.keys()].sort((a, b) => a - b);
    const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    let prev: Element | null = null;
    let lastCustomer: Message | null = null;
    for (const s of seqs) {
      const m = msgs.get(s)!;
      let el = msgEls.get(s);
      if (!el) { el = msgEl(m); msgEls.set(s, el); }
      const want: Element | null = prev ? prev.nextElementSibling : list.firstElementChild;
      if (want !== el) list.insertBefore(el, want);
      prev = el;
      if (m.sender_type === "customer") lastCustomer = m;
    }
    for (const p of pending.keys()) list.appendChild(p);
    // read receipt under the customer's last message
    list.querySelectorAll(".receipt").forEach((r) => r.remove());
    if (lastCustomer && conv && conv.status === "agent") {
      const el = msgEls.get(lastCustomer.seq);
      const meta = el && el.querySelector(".meta");
      if (meta) meta.appendChild(h("span", { class: "receipt" + (lastCustomer.read_at ? " seen" : "") },
        lastCustomer.read_at ? " · Seen" : " · Delivered"));
    }
    if (nearBottom || !isOpen) log.scrollTop = log.scrollHeight;
  }

  function unreadCount(): number {
    let n = 0;
    for (const m of msgs.values()) if (m.sender_type !== "customer" && m.seq > readSeq && !m.read_at) n++;
    return n;
  }

  /** where focus goes when the element that had it goes away */
  function focusBest(): void {
    const st = conv ? conv.status : null;
    const el = st === "closed" ? (!rateForm.hidden ? stars[0] : newBtn)
      : picking ? picker.querySelector("button") : !emailForm.hidden ? email : !input.disabled ? input : closeBtn;
    (el || closeBtn).focus();
  }
  const shown = (el: Element) => el.isConnected && el.getClientRects().length > 0;

  let saidQueue: number | null = null;
  function render(): void {
    const had = root.activeElement as HTMLElement | null;
    const st = conv ? conv.status : null;
    // header
    let line = "Connecting…";
    const setAvatar = (v: string | SVGSVGElement) => { if (avatar.textContent !== v || typeof v !== "string") avatar.replaceChildren(v); };
    if (st === "automated") { title.textContent = "Customer support"; setAvatar(icon(I_CHAT, 22)); line = "Our assistant answers instantly"; }
    else if (st === "agent") {
      if (conv!.assigned_agent) {
        title.textContent = agentName(); setAvatar(initials(agentName()));
        line = `You're chatting with ${agentName()}`;
      } else {
        title.textContent = "Customer support"; setAvatar(icon(I_CLOCK, 22));
        const wait = conv!.offline ? "We're away right now" : "Waiting for an agent";
        line = conv!.queue_position ? `${wait} · you are #${conv!.queue_position} in the queue` : wait + "…";
      }
    } else if (st === "closed") { title.textContent = "Customer support"; setAvatar(icon(I_CHECK, 22)); line = "This chat has ended"; }
    if (status.textContent !== line) status.textContent = line;
    const q = st === "agent" && !conv!.assigned_agent ? conv!.queue_position : null;
    if (q && q !== saidQueue) announce(`You are number ${q} in the queue.`);
    saidQueue = q;
    // bottom area
    const automated = st === "automated";
    if (!automated) picking = false;
    chips.hidden = !automated || picking || faq.length === 0;
    talk.hidden = !automated || picking;
    talk.disabled = escalating;
    picker.hidden = !picking;
    if (!picking) picker.textContent = "";
    const c = conv;
    emailForm.hidden = !c || st === "closed" || !c.offline || !!(c.customer && c.customer.email);
    thanksBox.hidden = !thanks || st === "closed";
    thanksBox.textContent = thanks;
    closedBox.hidden = st !== "closed";
    const given = c && c.rating;
    rateForm.hidden = st !== "closed" || !!given;
    rated.hidden = st !== "closed" || !given;
    if (given) rated.replaceChildren(h("span", { class: "given", "aria-hidden": "true" }, "★".repeat(given.score) + "☆".repeat(5 - given.score)),
      ` You rated this chat ${given.score} of 5` + (given.comment ? `: “${given.comment}”.` : ".") + (rateNote ? " " + rateNote : ""));
    stars.forEach((b, i) => {
      b.textContent = i < score ? "★" : "☆";
      b.classList.toggle("on", i < score);
      b.setAttribute("aria-pressed", String(i + 1 === score));
    });
    list.querySelectorAll<HTMLElement>(".talk-now").forEach((b) => { b.hidden = !automated; });
    composer.hidden = st === "closed";
    if (st === "closed") left.hidden = true;
    input.disabled = st === "closed" || !conv;
    sendBtn.disabled = st === "closed" || !conv;
    panel.classList.toggle("is-closed", st === "closed");
    renderMessages();
    // unread badge
    const n = isOpen ? 0 : unreadCount();
    badge.hidden = n === 0;
    badge.textContent = n > 9 ? "9+" : String(n);
    launcher.setAttribute("aria-label", isOpen ? "Minimize chat" : n ? `Open chat with customer support, ${n} unread message${n === 1 ? "" : "s"}` : "Open chat with customer support");
    // a re-render never drops the focus: if what had it went away, focus the next best thing
    if (had && isOpen && !shown(had)) focusBest();
  }

  // new messages from the other side go to the live region (never the history, never our own);
  // while the panel is closed, the unread count instead
  function announceNew(): void {
    const fresh = [...msgs.values()].filter((m) => m.seq > heardSeq && m.sender_type !== "customer").sort((a, b) => a.seq - b.seq);
    if (lastSeq > heardSeq) heardSeq = lastSeq;
    if (!fresh.length) return;
    if (isOpen) for (const m of fresh) announce((senderName(m) ? senderName(m) + ": " : "") + m.content);
    else {
      const n = unreadCount();
      if (n) announce(`${n} unread message${n === 1 ? "" : "s"} from customer support.`);
    }
  }

  function renderChips(): void {
    chips.textContent = "";
    for (const f of faq) {
      chips.appendChild(h("button", {
        type: "button", class: "chip", "data-testid": "chat-faq", "data-slug": f.slug,
        onclick: () => send({ faq: f.slug }, f.question),
      }, f.question));
    }
  }

  function showError(text: string, retry?: () => void): void {
    errorBox.textContent = "";
    errorBox.hidden = !text;
    if (!text) return;
    errorBox.append(h("span", null, text));
    if (retry) errorBox.append(h("button", { type: "button", class: "link", onclick: () => { showError(""); retry(); } }, "Try again"));
  }

  // ---- state ----
  function applyConv(c: Conversation | null | undefined): void {
    if (!c) return;
    if (conv && c.id !== conv.id) return; // an old conversation's late event
    // the one rule for late copies (../shared/newest.ts, as in the dashboard): a copy older
    // than the known one (its version; e.g. a GET /conversation answered before the agent
    // claimed or closed the chat, delivered after) is not taken
    if (!supersedes(c, conv)) return;
    const wasClosed = conv && conv.status === "closed";
    // closed is terminal (API.md): an answer or event that was on its way before the close
    // (a reply's POST answered "agent") never reopens the chat nor hides the rating prompt
    if (wasClosed && c.status !== "closed") return;
    conv = { ...(conv || {}), ...c };
    if (c.status === "closed" && !wasClosed) setTyping(false);
  }

  function addMessages(ms: Message[] | null | undefined, fromLive = false): void {
    if (!ms) return;
    let gap = false;
    for (const m of ms) {
      if (!m || typeof m.seq !== "number" || (conv && m.conversation_id && m.conversation_id !== conv.id)) continue;
      if (fromLive && m.seq > lastSeq + 1) { gap = true; missingAfter = Math.min(missingAfter, lastSeq); }
      if (m.sender_type === "customer" && !msgs.has(m.seq)) settlePending(m);
      // a read_at once known stays: a copy from before the read ("Seen" → "Delivered") is older
      msgs.set(m.seq, newestMessage(m, msgs.get(m.seq)));
      if (m.seq > lastSeq) lastSeq = m.seq;
      if (m.sender_type === "agent") setTyping(false);
    }
    if (gap) catchUp();
  }

  /**
   * A post's message can arrive (socket, catch-up) before the post's own answer: it then
   * replaces the oldest bubble still sending that text since before it, so the customer never
   * sees it twice. The answer, when it comes, finds its bubble gone and adds nothing new.
   */
  function settlePending(m: Message): void {
    for (const [el, p] of pending) {
      if (p.text === m.content && m.seq > p.after) { dropPending(el); return; }
    }
  }

  function dropPending(el: HTMLElement): void {
    pending.delete(el); el.remove();
  }

  async function catchUp(): Promise<void> {
    if (!conv) return;
    // look back over the customer's messages still awaiting a read receipt
    let from = lastSeq;
    if (conv.status === "agent" && conv.assigned_agent) {
      for (const m of msgs.values()) if (m.sender_type === "customer" && !m.read_at && m.seq - 1 < from) from = m.seq - 1;
      from = Math.max(from, lastSeq - 50, 0);
    }
    // lastSeq is already past a message whose frame was lost: ask from before it
    const missing = missingAfter;
    from = Math.min(from, missing);
    const r = await api(API, "GET", `/conversation?after=${from}&limit=200`);
    const id = conv && conv.id;
    if (!r || !r.conversation || r.conversation.id !== id) return;
    if (missingAfter === missing) missingAfter = Infinity; // fetched (a failed GET keeps it for the next)
    applyConv(r.conversation);
    addMessages(r.messages);
    if (r.messages && r.messages.length >= 200) return catchUp();
    afterChange();
  }

  function afterChange(): void {
    announceNew();
    render();
    if (isOpen && !document.hidden) markRead();
    followQueue();
  }

  // While the chat waits in the queue, its position changes with every chat ahead of it that
  // an agent takes, and no event says so: refresh the conversation now and then while the
  // socket is up (while it is down, the poller already does).
  let queueTimer = 0;
  function followQueue(): void {
    const queued = !!conv && conv.status === "agent" && !conv.assigned_agent;
    if (queued && !queueTimer) {
      queueTimer = window.setInterval(() => { if (live.connected && !document.hidden) catchUp().catch(() => {}); }, QUEUE_REFRESH_MS);
    } else if (!queued && queueTimer) {
      clearInterval(queueTimer);
      queueTimer = 0;
    }
  }

  let readPosted = 0;
  function markRead(): void {
    let upTo = 0;
    for (const m of msgs.values()) if (m.sender_type !== "customer" && m.seq > upTo) upTo = m.seq;
    if (upTo > readSeq) readSeq = upTo;
    if (!conv || upTo <= readPosted) return;
    let any = false;
    for (const m of msgs.values()) if (m.sender_type !== "customer" && !m.read_at && m.seq <= upTo) any = true;
    readPosted = upTo;
    if (!any) return;
    if (!live.send({ type: "read", up_to_seq: upTo })) api(API, "POST", "/read", { up_to_seq: upTo }).catch(() => { readPosted = 0; });
  }

  function setTyping(on: boolean): void {
    clearTimeout(typingTimer);
    if (on && typing.hidden && isOpen && Date.now() - typingSaidAt > 30000) { typingSaidAt = Date.now(); announce(`${agentName()} is typing.`); }
    typing.hidden = !on;
    if (on) {
      typing.textContent = `${agentName()} is typing…`;
      typingTimer = window.setTimeout(() => setTyping(false), 6000);
      log.scrollTop = log.scrollHeight;
    }
  }

  function onEvent(e: ChatEvent): void {
    if (!conv || (e.conversation_id && e.conversation_id !== conv.id)) return;
    const d = e.data || {};
    switch (e.type) {
      case "message.created": addMessages([d], true); break;
      case "conversation.updated": case "chat.closed": applyConv(d); break;
      case "agent.assigned":
        if (d.agent) applyConv({ ...conv, status: conv.status === "closed" ? "closed" : "agent", queue_position: null,
          assigned_agent: { id: d.agent.id, display_name: d.agent.display_name } });
        break;
      case "typing": if (d.sender_type === "agent") setTyping(!!d.typing); return;
      case "read":
        if (d.sender_type === "agent" && typeof d.up_to_seq === "number") {
          for (const m of msgs.values()) if (m.sender_type === "customer" && m.seq <= d.up_to_seq && !m.read_at) m.read_at = new Date().toISOString();
        }
        break;
      default: return;
    }
    afterChange();
  }

  const live = new Live({
    url: () => wsUrl(`${API}/ws?after=${lastSeq}`),
    onEvent,
    poll: () => catchUp(),
    pollMs: 2500,
    // the conversation was deleted (erasure or retention): start over with a new session,
    // nothing of the old one is shown any longer
    onGone: () => { starting = null; start(); },
  });

  // ---- actions ----
  function context(): Record<string, string> {
    const c: Record<string, string> = { page_url: location.href };
    if (ds.productId) c.product_id = ds.productId;
    if (ds.productName) c.product_name = ds.productName;
    return c;
  }

  function start(): Promise<void> {
    if (!starting) {
      starting = (async () => {
        try {
          const r = await api(API, "POST", "/session", { context: context() });
          store(localStorage, LS_ACTIVE, "1");
          useSession(r);
          showError("");
        } catch (e) {
          starting = null;
          showError(e instanceof HttpError && e.status === 429 ? "Too many requests, please wait a moment." :
            "We couldn't connect to support right now.", () => start());
        }
      })();
    }
    return starting;
  }

  function useSession(r: { conversation: Conversation; messages: Message[]; faq?: FaqEntry[]; limits?: { message_max?: number } }): void {
    live.stop();
    conv = null;
    msgs.clear(); msgEls.clear(); list.textContent = "";
    for (const p of pending.keys()) p.remove();
    pending.clear();
    lastSeq = 0; readSeq = 0; readPosted = 0; missingAfter = Infinity;
    thanks = ""; picking = false; emailErr.textContent = ""; email.value = "";
    score = 0; rateNote = ""; rateErr.textContent = ""; rateComment.value = ""; saidQueue = null;
    const max = r.limits && r.limits.message_max;
    if (typeof max === "number" && max > 0) { messageMax = max; input.maxLength = max; }
    applyConv(r.conversation);
    addMessages(r.messages);
    if (r.conversation.last_seq > lastSeq) lastSeq = r.conversation.last_seq;
    for (const m of r.messages || []) if (m.sender_type !== "customer" && m.read_at && m.seq > readSeq) readSeq = m.seq;
    heardSeq = lastSeq; // the history is not news
    faq = r.faq || [];
    renderChips();
    afterChange();
    const c = conv as Conversation | null;
    if (c && c.status !== "closed") live.start();
  }

  function pendingEl(text: string): HTMLElement {
    const el = h("div", { class: "msg customer pending", role: "listitem", "data-testid": "chat-message", "data-sender": "customer" },
      h("div", { class: "sr" }, "You:"), h("div", { class: "bubble" }, text), h("div", { class: "meta" }, "Sending…"));
    pending.set(el, { text, after: lastSeq });
    return el;
  }

  async function send(body: { text?: string; faq?: string }, label: string, el?: HTMLElement, clientId?: string): Promise<void> {
    await start();
    if (!conv || conv.status === "closed") return;
    const client_id = clientId || uuid();
    el = el || pendingEl(label);
    el.classList.remove("failed");
    el.querySelector(".meta")!.textContent = "Sending…";
    renderMessages();
    log.scrollTop = log.scrollHeight;
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await api(API, "POST", "/messages", { ...body, client_id });
        dropPending(el);
        applyConv(r.conversation);
        addMessages(r.messages);
        afterChange();
        log.scrollTop = log.scrollHeight;
        return;
      } catch (e) {
        const he = e instanceof HttpError ? e : null;
        const transient = !he || he.status === 429 || he.status >= 500;
        if (!transient || attempt >= 5) {
          const meta = el.querySelector(".meta")!;
          meta.textContent = "";
          el.classList.add("failed");
          if (he && he.status === 409) { dropPending(el); catchUp().catch(() => {}); return; }
          meta.append(he && he.status === 422 ? "Not sent: " + he.message + " " : "Not sent. ",
            transient ? h("button", { type: "button", class: "link", onclick: () => send(body, label, el, client_id) }, "Retry") : "");
          if (!transient) setTimeout(() => dropPending(el!), 8000);
          return;
        }
        await sleep(he && he.retryAfter ? he.retryAfter * 1000 : Math.min(1000 * 2 ** attempt, 8000));
      }
    }
  }

  // "Talk to a person": with departments, the picker first; without (or if they can't be
  // read), straight into the default queue as before.
  async function talkToPerson(): Promise<void> {
    if (escalating) return;
    escalating = true; render();
    let ds: PublicDepartment[] = [];
    try { ds = (await api(API, "GET", "/departments")).departments || []; } catch { /* none to offer */ }
    escalating = false;
    if (!ds.length || !conv || conv.status !== "automated") return escalate();
    const opt = (id: string, name: string, state: string, open = true) => h("button", {
      type: "button", class: open ? "dept" : "dept away", "data-testid": "chat-department", "data-department-id": id,
      onclick: () => { picking = false; escalate(id); },
    }, h("b", null, name), h("span", null, " — " + state));
    picker.replaceChildren(h("p", { id: "nc-pick" }, "Who can help you?"),
      ...ds.map((d) => opt(d.id, d.name, d.open ? "available now" : "away, leave your email", d.open)),
      opt("", "No preference", "the next free person"),
      h("button", { type: "button", class: "link", onclick: cancelPick }, "Cancel"));
    picking = true; render();
    (picker.querySelector("button") as HTMLElement).focus();
  }
  function cancelPick(): void { picking = false; render(); talk.focus(); }

  async function escalate(department?: string): Promise<void> {
    if (escalating) return;
    escalating = true; render();
    try {
      await start();
      const r = await api(API, "POST", "/escalate", department ? { department_id: department } : {});
      applyConv(r.conversation);
      addMessages(r.messages);
      showError("");
    } catch (e) {
      showError("We couldn't reach an agent right now.", () => escalate(department));
    } finally {
      escalating = false;
      afterChange();
      (emailForm.hidden ? input : email).focus();
    }
  }

  function setOpen(open: boolean, focus = true): void {
    isOpen = open;
    panel.hidden = !open;
    host.classList.toggle("open", open);
    launcher.setAttribute("aria-expanded", String(open));
    launcher.replaceChildren(icon(open ? I_DOWN : I_CHAT, 28), badge);
    store(sessionStorage, SS_OPEN, open ? "1" : null);
    if (open) {
      // into the panel, to the input once the session is there (the minimize button held it meanwhile)
      const focusIn = () => { const a = root.activeElement; if (focus && isOpen && (!a || a === closeBtn || !panel.contains(a))) focusBest(); };
      start().then(() => { afterChange(); log.scrollTop = log.scrollHeight; focusIn(); });
      render();
      if (conv) setTimeout(focusIn, 0);
    } else {
      render();
      if (focus) launcher.focus();
    }
  }

  // ---- wiring ----
  launcher.addEventListener("click", () => setOpen(!isOpen));
  closeBtn.addEventListener("click", () => setOpen(false));
  panel.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.stopPropagation(); if (picking) cancelPick(); else setOpen(false); } });
  talk.addEventListener("click", talkToPerson);
  emailForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = email.value.trim();
    emailSend.disabled = true;
    try {
      const r = await api(API, "POST", "/identify", { email: v });
      applyConv(r.conversation);
      if (conv) conv.customer = { ...(conv.customer || { id: "", name: null }), email: v };
      thanks = `Thanks! We'll get back to you at ${v}.`;
      emailErr.textContent = ""; email.removeAttribute("aria-invalid");
      afterChange();
      input.focus();
    } catch (ex) {
      emailErr.textContent = ex instanceof HttpError && ex.status === 422 ? ex.message :
        ex instanceof HttpError && ex.status === 429 ? "Too many requests, please wait a moment." : "We couldn't save your email. Please try again.";
      email.setAttribute("aria-invalid", "true");
      email.focus();
    } finally { emailSend.disabled = false; }
  });
  rateForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!score) { rateErr.textContent = "Choose from 1 to 5 stars first."; stars[0].focus(); return; }
    const comment = rateComment.value.trim();
    rateSend.disabled = true;
    rateErr.textContent = "";
    try {
      const r = await api(API, "POST", "/rating", comment ? { score, comment } : { score });
      applyConv(r.conversation);
      if (conv && !conv.rating) conv.rating = { score, comment: comment || null };
      rateNote = "Thank you for your feedback!";
      afterChange();
      rated.focus();
    } catch (ex) {
      const he = ex instanceof HttpError ? ex : null;
      if (he && he.status === 409) {
        await catchUp().catch(() => {});
        if (conv && conv.rating) { rateNote = "This chat was already rated."; render(); rated.focus(); }
        else rateErr.textContent = "This chat can't be rated any more.";
      } else rateErr.textContent = he && he.status === 422 ? "Not sent: " + he.message :
        he && he.status === 429 ? "Too many requests, please wait a moment." : "We couldn't send your rating. Please try again.";
    } finally { rateSend.disabled = false; }
  });
  newBtn.addEventListener("click", async () => {
    newBtn.disabled = true;
    try {
      const r = await api(API, "POST", "/session", { context: context() });
      useSession(r);
      showError("");
      input.focus();
    } catch { showError("We couldn't start a new chat right now.", () => newBtn.click()); }
    finally { newBtn.disabled = false; }
  });
  composer.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || input.disabled) return;
    input.value = ""; autosize();
    stopTyping();
    send({ text }, text);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); composer.requestSubmit(); }
  });
  function autosize(): void {
    input.style.height = "auto"; input.style.height = Math.min(input.scrollHeight, 120) + "px";
    const n = messageMax - input.value.length;
    left.hidden = n > 200;
    left.textContent = `${n} character${n === 1 ? "" : "s"} left`;
  }
  function stopTyping(): void {
    clearTimeout(myTypingStop);
    if (myTypingAt) { live.send({ type: "typing", typing: false }); myTypingAt = 0; }
  }
  input.addEventListener("input", () => {
    autosize();
    if (!conv || conv.status !== "agent") return;
    const now = Date.now();
    if (now - myTypingAt > 3000 && live.send({ type: "typing", typing: true })) myTypingAt = now;
    clearTimeout(myTypingStop);
    myTypingStop = window.setTimeout(stopTyping, 4000);
  });
  document.addEventListener("visibilitychange", () => { if (!document.hidden && isOpen) markRead(); });

  function mount(): void {
    document.body.appendChild(host);
    // resume a chat this browser already started (history, unread badge, live updates)
    if (load(localStorage, LS_ACTIVE)) start();
    if (load(sessionStorage, SS_OPEN)) setOpen(true, false);
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
