// The admins' Webhooks screen (API.md "Admin": GET|POST /admin/webhooks, DELETE
// /admin/webhooks/{id}): a create form (URL, event types, a secret the browser can generate)
// and the site's webhooks with their delivery state, refreshed every few seconds while shown.
import { h, ago, HttpError } from "../shared/util";
import type { ReportsCtx } from "./reports";

interface Webhook {
  id: string; url: string; events: string[]; created_at: string;
  last_delivered_at: string | null; last_error: string | null; backlog: number;
  last_error_at?: string | null; failing?: boolean;
}
type Ctx = Pick<ReportsCtx, "api" | "main" | "errText" | "toast"> & { announce: (text: string) => void };

// the event types a webhook may subscribe to: core/include/chat/limits.h kWebhookEvents (the
// server refuses any other with 422); what each means is README "Webhooks"
const EVENTS: [string, string][] = [
  ["message.created", "a message was posted (customer, bot or agent)"],
  ["conversation.updated", "a conversation changed (status, agent, tags, priority…)"],
  ["agent.assigned", "an agent got a conversation"],
  ["chat.closed", "a conversation was closed"],
  ["agent.presence.changed", "an agent went online, away or offline"],
  ["note.created", "an agent wrote a private note"],
  ["conversation.offline_reply", "an agent answered an offline conversation (email it)"],
  ["conversation.rated", "a customer rated a conversation"],
];
const REFRESH_MS = 5000;

/** a random 32-byte secret as 64 hex digits */
export function newSecret(): string {
  const b = new Uint8Array(32);
  crypto.getRandomValues(b);
  return Array.from(b, (n) => n.toString(16).padStart(2, "0")).join("");
}

/** the state in words: a colour is never the only sign. `failing`: the last attempt that ended
 *  failed (its error is newer than the last delivery) */
function status(w: Webhook): { text: string; cls: string } {
  if (!w.last_error) return w.last_delivered_at ? { text: "Delivering", cls: "ok" } : { text: "No deliveries yet", cls: "idle" };
  if (w.failing) return { text: "Failing", cls: "failing" };
  return { text: "Delivering (an earlier attempt failed)", cls: "ok" };
}

const when = (iso: string | null) => {
  if (!iso) return "Never";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : `${d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" })} (${ago(iso) === "just now" ? "just now" : ago(iso) + " ago"})`;
};

/** the field a 400/422/409 answer is about: the server's message starts with its name */
function fieldOf(e: unknown): "url" | "events" | "secret" | null {
  if (!(e instanceof HttpError)) return null;
  if (e.status === 409) return "url";
  if (e.status !== 400 && e.status !== 422) return null;
  const m = /^(url|events|secret)\b/.exec(e.message);
  return m ? (m[1] as "url" | "events" | "secret") : null;
}
/** "url must start with http://" → "The URL must start with http://." */
function fieldMessage(e: HttpError): string {
  if (e.status === 409) return "A webhook with this URL exists already on this site.";
  const s = e.message.replace(/^url\b/, "The URL").replace(/^events\b/, "Events").replace(/^secret\b/, "The secret");
  return /[.!?]$/.test(s) ? s : s + ".";
}

export function renderWebhooksAdmin(ctx: Ctx): void {
  const { api, main } = ctx;
  main.className = "main admin";
  const list = h("ul", { class: "webhooks", "aria-labelledby": "webhooks-list-title" });
  const listTitle = h("h3", { id: "webhooks-list-title", tabindex: "-1" }, "Webhooks of this site");
  const updated = h("span", { class: "muted updated" });
  const refresh = h("button", { class: "btn small", type: "button" }, "Refresh");
  const notice = h("div", { class: "card notice", tabindex: "-1", hidden: true, "data-testid": "webhook-created" });
  const page = h("div", { class: "admin-page webhooks-page", "data-testid": "agent-webhooks-screen" },
    h("h2", { tabindex: "-1" }, "Webhooks"),
    h("p", { class: "muted" }, "Each event a webhook subscribes to is POSTed to its URL as JSON ",
      h("code", null, '{"id", "type", "created_at", "data"}'), ", signed in the header ",
      h("code", null, "X-Chat-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>"),
      ". Failed deliveries are retried with backoff for 24 hours."),
    h("section", { class: "card", "aria-labelledby": "webhooks-list-title" },
      h("div", { class: "list-head" }, listTitle, updated, refresh), list),
    notice,
    webhookForm(ctx, (w, secret) => {
      notice.replaceChildren(
        h("p", null, h("strong", null, "Webhook created."), " Copy its secret to your receiver now: it is not shown again."),
        h("p", null, "Secret: ", h("code", { class: "secret", "data-testid": "webhook-created-secret" }, secret)),
        h("div", { class: "form-actions" }, copy(secret), dismiss()));
      notice.hidden = false;
      ctx.announce(`Webhook created for ${w.url}. Copy its secret now: it is not shown again.`);
      notice.focus();
      load();
    }));
  main.replaceChildren(page);

  /** copies the secret; where the clipboard is not allowed (plain http) selects it for Ctrl+C */
  function copy(secret: string): HTMLButtonElement {
    const b = h("button", { class: "btn small primary", type: "button", "data-testid": "webhook-secret-copy" }, "Copy the secret");
    b.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(secret);
        ctx.announce("Secret copied.");
      } catch {
        const code = notice.querySelector(".secret");
        const sel = getSelection();
        if (code && sel) { sel.selectAllChildren(code); }
        ctx.announce("The secret is selected: press Ctrl+C to copy it.");
      }
    });
    return b;
  }

  function dismiss(): HTMLButtonElement {
    const b = h("button", { class: "btn small", type: "button" }, "I copied it");
    b.addEventListener("click", () => { notice.hidden = true; notice.replaceChildren(); listTitle.focus(); });
    return b;
  }

  // rows are updated in place (keyed by id): a refresh never takes the focus away
  const rows = new Map<string, { li: HTMLLIElement; update: (w: Webhook) => void; failing: boolean }>();
  const gone = new Set<string>(); // deleted here: an answer that was on its way keeps no row of them
  let first = true;
  let busy = false;
  let again = false;
  async function load(manual = false): Promise<void> {
    if (busy) { again = true; return; } // after a create during a refresh: once more when it ends
    busy = true;
    try {
      const r = await api<{ webhooks: Webhook[] }>("GET", "/admin/webhooks");
      const ws = (r.webhooks || []).filter((w) => !gone.has(w.id));
      for (const [id, row] of rows) if (!ws.some((w) => w.id === id)) { row.li.remove(); rows.delete(id); }
      list.querySelector(".empty")?.remove();
      ws.forEach((w, i) => {
        let row = rows.get(w.id);
        if (!row) { row = webhookRow(w); rows.set(w.id, row); }
        // the server's order (oldest first); a row already in place is never moved (that would blur it)
        if (list.children[i] !== row.li) list.insertBefore(row.li, list.children[i] || null);
        const failing = status(w).cls === "failing";
        if (failing && !row.failing && !first) ctx.announce(`Webhook ${w.url} is failing: ${w.last_error}`);
        row.failing = failing;
        row.update(w);
      });
      if (!ws.length) list.appendChild(h("li", { class: "empty" }, "No webhooks yet."));
      updated.textContent = "Updated " + new Date().toLocaleTimeString();
      if (manual) ctx.announce(`Webhooks refreshed: ${ws.length} ${ws.length === 1 ? "webhook" : "webhooks"}.`);
      first = false;
    } catch (e) {
      updated.textContent = "Couldn't load the webhooks: " + ctx.errText(e);
      if (manual) ctx.announce(updated.textContent);
    } finally {
      busy = false;
      if (again) { again = false; load(); }
    }
  }

  function webhookRow(w: Webhook): { li: HTMLLIElement; update: (w: Webhook) => void; failing: boolean } {
    const titleId = "webhook-" + w.id;
    const badge = h("span", { class: "badge" });
    const events = h("dd"), created = h("dd"), delivered = h("dd");
    const backlog = h("dd", { "data-testid": "webhook-backlog" });
    const errBox = h("div", { class: "wide" }, h("dt", null, "Last error"), h("dd", { "data-testid": "webhook-last-error" }));
    const del = h("button", { class: "btn small danger", type: "button", "data-testid": "webhook-delete", "aria-label": `Delete the webhook ${w.url}` }, "Delete");
    const li = h("li", { class: "webhook", "data-testid": "webhook-row", "data-webhook-id": w.id, "aria-labelledby": titleId },
      h("div", { class: "webhook-head" }, h("h4", { id: titleId }, h("code", { class: "url" }, w.url)), badge, del),
      h("dl", { class: "facts" },
        h("div", { class: "wide" }, h("dt", null, "Events"), events),
        h("div", null, h("dt", null, "Created"), created),
        h("div", null, h("dt", null, "Last delivered"), delivered),
        h("div", null, h("dt", null, "Backlog (deliveries waiting)"), backlog),
        errBox));
    del.addEventListener("click", async () => {
      if (!confirm(`Delete the webhook ${w.url}? Its waiting deliveries are dropped.`)) return;
      del.disabled = true;
      try {
        await api("DELETE", `/admin/webhooks/${encodeURIComponent(w.id)}`);
      } catch (e) {
        if (!(e instanceof HttpError && e.status === 404)) { del.disabled = false; ctx.toast("Couldn't delete the webhook: " + ctx.errText(e)); return; }
      }
      // the focus goes to the next row's Delete, else the previous one's, else the list's title
      const next = (li.nextElementSibling || li.previousElementSibling)?.querySelector<HTMLButtonElement>('[data-testid="webhook-delete"]');
      li.remove(); rows.delete(w.id); gone.add(w.id);
      if (!rows.size && !list.querySelector(".empty")) list.appendChild(h("li", { class: "empty" }, "No webhooks yet."));
      (next || listTitle).focus();
      ctx.announce(`Webhook ${w.url} deleted.`);
    });
    const update = (x: Webhook) => {
      const s = status(x);
      badge.className = "badge " + s.cls;
      badge.textContent = s.text;
      li.classList.toggle("failing", s.cls === "failing");
      events.replaceChildren(...x.events.flatMap((e, i) => [i ? ", " : "", h("code", null, e)]));
      created.textContent = when(x.created_at);
      delivered.textContent = when(x.last_delivered_at);
      backlog.textContent = String(x.backlog);
      errBox.hidden = !x.last_error;
      errBox.firstElementChild!.textContent = x.last_error_at ? `Last error, ${when(x.last_error_at)}` : "Last error";
      errBox.lastElementChild!.textContent = x.last_error || "";
    };
    return { li, update, failing: false };
  }

  refresh.addEventListener("click", () => load(true));
  load();
  // cheap: one GET every few seconds, only while this screen is shown and the tab visible
  const timer = setInterval(() => {
    if (!page.isConnected) { clearInterval(timer); return; }
    if (document.visibilityState === "visible") load();
  }, REFRESH_MS);
}

/** the create form; `created` gets the new webhook and the secret it was made with */
function webhookForm(ctx: Ctx, created: (w: Webhook, secret: string) => void): HTMLFormElement {
  const err = (id: string) => h("p", { class: "field-error", id, "data-testid": id });
  const urlErr = err("webhook-url-error"), eventsErr = err("webhook-events-error"), secretErr = err("webhook-secret-error");
  const url = h("input", { id: "webhook-url", type: "url", inputmode: "url", autocomplete: "off", spellcheck: "false", maxlength: 2048,
    "aria-describedby": "webhook-url-hint webhook-url-error", "data-testid": "webhook-url" });
  const boxes = EVENTS.map(([ev, what]) => {
    const cb = h("input", { type: "checkbox", value: ev, "data-testid": "webhook-event", "data-event": ev });
    return { cb, el: h("label", { class: "check event" }, cb, h("span", null, h("code", null, ev), h("span", { class: "muted" }, " " + what))) };
  });
  const secret = h("input", { id: "webhook-secret", class: "mono", autocomplete: "off", spellcheck: "false", maxlength: 256,
    "aria-describedby": "webhook-secret-hint webhook-secret-error", "data-testid": "webhook-secret" });
  const gen = h("button", { class: "btn", type: "button", "data-testid": "webhook-secret-generate" }, "Generate");
  gen.addEventListener("click", () => {
    secret.value = newSecret();
    setError(secretErr, secret, "");
    secret.focus(); secret.select();
    ctx.announce("A random 64-character secret was filled in. Copy it to your receiver.");
  });
  const btn = h("button", { class: "btn primary", type: "submit", "data-testid": "webhook-create" }, "Create webhook");
  const form = h("form", { class: "card create", novalidate: true, "aria-labelledby": "webhook-form-title" },
    h("h3", { id: "webhook-form-title" }, "Add a webhook"),
    h("div", { class: "field" }, h("label", { for: "webhook-url" }, "URL"), url,
      h("span", { class: "hint", id: "webhook-url-hint" }, "Where the events go, e.g. https://shop.example.com/hooks/chat"), urlErr),
    h("fieldset", { class: "wh-events", "aria-describedby": "webhook-events-error" }, h("legend", null, "Events to send"),
      ...boxes.map((b) => b.el), eventsErr),
    h("div", { class: "field" }, h("label", { for: "webhook-secret" }, "Secret"),
      h("div", { class: "secret-row" }, secret, gen),
      h("span", { class: "hint", id: "webhook-secret-hint" }, "16–256 characters; the receiver checks each signature with it. It is not shown again after you create the webhook."),
      secretErr),
    h("div", { class: "form-actions" }, btn));
  const inputs = { url: url as HTMLElement, events: boxes[0].cb as HTMLElement, secret: secret as HTMLElement };
  const errs = { url: urlErr, events: eventsErr, secret: secretErr };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const k of ["url", "events", "secret"] as const) setError(errs[k], k === "events" ? null : inputs[k], "");
    const body = { url: url.value.trim(), events: boxes.filter((b) => b.cb.checked).map((b) => b.cb.value), secret: secret.value };
    btn.disabled = true;
    try {
      const r = await ctx.api<{ webhook: Webhook }>("POST", "/admin/webhooks", body);
      form.reset();
      created(r.webhook, body.secret);
    } catch (ex) {
      const f = fieldOf(ex);
      if (f && ex instanceof HttpError) {
        setError(errs[f], f === "events" ? null : inputs[f], fieldMessage(ex));
        inputs[f].focus();
        ctx.announce(fieldMessage(ex));
      } else ctx.toast("Couldn't create the webhook: " + ctx.errText(ex));
    } finally { btn.disabled = false; }
  });
  return form;
}

function setError(p: HTMLElement, input: HTMLElement | null, text: string): void {
  p.textContent = text;
  if (input) { if (text) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid"); }
}
