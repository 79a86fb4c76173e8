// The agent's tools in an open conversation (API.md "Agent tools"): priority, department and
// tags (PATCH), private notes, canned replies behind `/shortcut` in the reply box, and the
// list's filters (q, tag, priority, department). main.ts places the elements and feeds them
// the open conversation; every write goes through the host's api. Text only via textContent.
import { h, uuid, timeOf, HttpError } from "../shared/util";
import type { Agent, Conversation, DepartmentRef, Priority } from "../shared/types";

export interface Note { id: string; conversation_id: string; agent: { id: string; display_name: string } | null; text: string; after_seq: number; created_at: string }
export interface Canned { id: string; shortcut: string; title: string; text: string }
export type Conv = Conversation & { tags?: string[] };

export interface ToolsHost {
  api: <T = any>(method: string, path: string, body?: unknown) => Promise<T>;
  me: () => Agent | null;
  open: () => Conv | null;
  /** a PATCH answered: the conversation as it is now */
  patched: (c: Conv) => void;
  toast: (text: string, kind?: "error" | "info") => void;
  errText: (e: unknown) => string;
}

const PRIORITIES: Priority[] = ["low", "normal", "high", "urgent"];
const TAG_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
export const TAGS_MAX = 10;
const cap = (s: string) => s[0].toUpperCase() + s.slice(1);

/** "Damaged, refund  REFUND" → ["damaged", "refund"], or the reason it is not a tag list */
export function parseTags(text: string): string[] | string {
  const out: string[] = [];
  for (const raw of text.split(/[,\s]+/)) {
    const t = raw.replace(/^#/, "").toLowerCase();
    if (!t) continue;
    if (!TAG_RE.test(t)) return `"${raw}" is not a tag: letters, digits, - and _, up to 32, starting with a letter or digit.`;
    if (!out.includes(t)) out.push(t);
  }
  return out.length > TAGS_MAX ? `At most ${TAGS_MAX} tags.` : out;
}

/** who may change a conversation's priority, tags, department and add notes */
export function canEdit(c: Conv | null, me: Agent | null): boolean {
  if (!c || !me) return false;
  if (me.role !== "agent") return true;
  return !!c.assigned_agent && c.assigned_agent.id === me.id;
}

// ---------------------------------------------------------------- departments (public list)
let departments: DepartmentRef[] = [];
const deptListeners: (() => void)[] = [];
export async function loadDepartments(host: ToolsHost): Promise<void> {
  try { departments = ((await host.api("GET", "/departments")).departments || []).map((d: DepartmentRef) => ({ id: d.id, name: d.name })); }
  catch { departments = []; }
  deptListeners.forEach((f) => f());
}
/** the departments as options (rebuilt only when they changed, so an open select keeps its state) */
function fillDepartments(sel: HTMLSelectElement, first: string, current: string, extra?: DepartmentRef | null): void {
  const ds = extra && !departments.some((d) => d.id === extra.id) ? departments.concat(extra) : departments;
  const key = ds.map((d) => d.id + "=" + d.name).join("|");
  if (sel.dataset.key !== key) {
    sel.replaceChildren(h("option", { value: "" }, first), ...ds.map((d) => h("option", { value: d.id }, d.name)));
    sel.dataset.key = key;
  }
  sel.value = ds.some((d) => d.id === current) ? current : "";
}

// ---------------------------------------------------------------- priority, department, tags
export class ConvTools {
  readonly el: HTMLElement;
  readonly priority = h("select", { "data-testid": "agent-priority", id: "agent-priority" },
    ...PRIORITIES.map((p) => h("option", { value: p }, cap(p))));
  readonly department = h("select", { "data-testid": "agent-department", id: "agent-department" });
  readonly tags = h("input", {
    "data-testid": "agent-tags", id: "agent-tags", autocomplete: "off", spellcheck: "false",
    placeholder: "Add tags: refund, damaged", "aria-describedby": "agent-tags-help",
  });
  private readonly error = h("p", { class: "tools-error", id: "agent-tags-help", role: "alert" });
  private shown: Conv | null = null;

  constructor(private host: ToolsHost) {
    this.el = h("div", { class: "conv-tools", role: "group", "aria-label": "Priority, department and tags" },
      h("label", { class: "tool", for: "agent-priority" }, h("span", null, "Priority"), this.priority),
      h("label", { class: "tool", for: "agent-department" }, h("span", null, "Department"), this.department),
      h("label", { class: "tool tags-tool", for: "agent-tags" }, h("span", null, "Tags"), this.tags),
      this.error);
    this.priority.addEventListener("change", () => this.patch({ priority: this.priority.value }, "change the priority"));
    this.department.addEventListener("change", () => {
      const c = this.host.open();
      const to = this.department.value;
      const name = to ? (departments.find((d) => d.id === to) || { name: "that department" }).name : "the default queue";
      if (c && c.status === "agent" && !confirm(`Move this chat to ${name}? It goes back to that queue and may go to another agent.`)) {
        this.set(c); return;
      }
      this.patch({ department_id: to || null }, "change the department");
    });
    this.tags.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.isComposing) { e.preventDefault(); this.saveTags(); }
      else if (e.key === "Escape" && this.shown) { this.tags.value = (this.shown.tags || []).join(", "); this.error.textContent = ""; }
    });
    this.tags.addEventListener("change", () => this.saveTags());
    deptListeners.push(() => { if (this.shown) this.set(this.shown); });
  }

  /** shows c's values (an input being edited keeps what the agent typed) */
  set(c: Conv): void {
    const same = this.shown && this.shown.id === c.id;
    this.shown = c;
    const editable = canEdit(c, this.host.me());
    this.priority.value = c.priority || "normal";
    fillDepartments(this.department, "Default queue", c.department ? c.department.id : "", c.department);
    if (!same || document.activeElement !== this.tags) { this.tags.value = (c.tags || []).join(", "); this.error.textContent = ""; }
    this.priority.disabled = this.department.disabled = this.tags.disabled = !editable;
    this.tags.title = editable ? "Comma separated; Enter saves" : "Only the chat's agent, a supervisor or an admin can change this";
  }

  private saveTags(): void {
    const c = this.host.open();
    if (!c || this.tags.disabled) return;
    const t = parseTags(this.tags.value);
    if (typeof t === "string") { this.error.textContent = t; return; }
    this.error.textContent = "";
    const now = c.tags || [];
    if (t.length === now.length && t.every((x, i) => x === now[i])) { this.tags.value = t.join(", "); return; }
    this.patch({ tags: t }, "save the tags");
  }

  private async patch(body: Record<string, unknown>, what: string): Promise<void> {
    const c = this.host.open();
    if (!c) return;
    try {
      const r = await this.host.api("PATCH", `/agent/conversations/${encodeURIComponent(c.id)}`, body);
      if (r && r.conversation) { this.shown = null; this.host.patched(r.conversation); }
    } catch (e) {
      const msg = `Couldn't ${what}: ` + (e instanceof HttpError ? (e.message || e.code) : this.host.errText(e));
      if ("tags" in body) this.error.textContent = msg; else this.host.toast(msg);
      const now = this.host.open();
      if (now && !("tags" in body)) this.set(now);
    }
  }
}

// ---------------------------------------------------------------- private notes
export class Notes {
  readonly el: HTMLElement;
  readonly input = h("textarea", {
    "data-testid": "agent-note-input", id: "agent-note-input", rows: 2,
    placeholder: "Only agents see notes (Ctrl+Enter adds)",
  });
  readonly send = h("button", { class: "btn small", type: "submit", "data-testid": "agent-note-send" }, "Add note");
  private readonly list = h("ul", { class: "notes", "aria-label": "Private notes" });
  private readonly form = h("form", { class: "note-form" },
    h("label", { class: "sr", for: "agent-note-input" }, "Private note"), this.input, this.send);
  private notes: Note[] = [];
  private id: string | null = null;

  constructor(private host: ToolsHost) {
    this.el = h("section", { class: "notes-box", "aria-labelledby": "notes-title" },
      h("h3", { id: "notes-title" }, "Private notes"), this.list, this.form);
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.add(); });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !e.isComposing) { e.preventDefault(); this.add(); }
    });
    this.render();
  }

  /** the open conversation changed (id) or was refetched (notes: every note) */
  reset(id: string | null, notes: Note[] = []): void {
    if (id !== this.id) { this.input.value = ""; this.id = id; this.notes = []; }
    for (const n of notes) this.push(n);
    this.render();
  }
  /** a note.created event or an answer */
  push(n: Note): void {
    if (!n || n.conversation_id !== this.id || this.notes.some((x) => x.id === n.id)) return;
    this.notes.push(n);
    this.notes.sort((a, b) => a.created_at.localeCompare(b.created_at));
  }
  added(n: Note): void { this.push(n); this.render(); }

  render(): void {
    const editable = canEdit(this.host.open(), this.host.me());
    this.input.disabled = this.send.disabled = !editable || !this.id;
    this.list.replaceChildren(...(this.notes.length ? this.notes.map((n) => h("li", { class: "note-item", "data-testid": "agent-note", "data-id": n.id },
      h("div", { class: "note-who" }, h("span", { class: "lock" }, "Private"), " ",
        n.agent ? n.agent.display_name : "Agent", " · ", h("time", null, timeOf(n.created_at))),
      h("div", { class: "note-text" }, n.text)))
      : [h("li", { class: "empty" }, "No notes yet. Notes are for agents; the customer never sees them.")]));
  }

  private async add(): Promise<void> {
    const text = this.input.value.trim();
    const id = this.id;
    if (!text || !id || this.input.disabled) return;
    const client_id = uuid();
    this.send.disabled = true;
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await this.host.api("POST", `/agent/conversations/${encodeURIComponent(id)}/notes`, { text, client_id });
        if (id === this.id) { if (this.input.value.trim() === text) this.input.value = ""; if (r && r.note) this.added(r.note); }
        break;
      } catch (e) {
        const transient = !(e instanceof HttpError) || e.status === 429 || e.status >= 500;
        if (!transient || attempt >= 2) { this.host.toast("Note not added: " + this.host.errText(e)); break; }
        await new Promise((res) => setTimeout(res, 1000 * 2 ** attempt));
      }
    }
    this.render();
  }
}

// ---------------------------------------------------------------- canned replies
/** fills {{customer.name}} and {{agent.name}} (unknown: a neutral fallback) */
export function fillCanned(text: string, customer: string | null | undefined, agent: string | null | undefined): string {
  return text
    .replace(/\{\{\s*customer\.name\s*\}\}/g, customer && customer.trim() ? customer.trim() : "there")
    .replace(/\{\{\s*agent\.name\s*\}\}/g, agent && agent.trim() ? agent.trim() : "the support team");
}

/**
 * `/shortcut` in the reply box: a list of matching canned replies under the caret's word,
 * ↑/↓ to move, Enter or Tab to put the reply in (placeholders filled), Esc to close.
 */
export class CannedPicker {
  readonly el = h("ul", { class: "canned", role: "listbox", id: "agent-canned-list", "data-testid": "agent-canned-list", "aria-label": "Canned replies", hidden: true });
  private all: Canned[] | null = null;
  private loadedAt = 0;
  private loading: Promise<void> | null = null;
  private matches: Canned[] = [];
  private active = 0;
  private token: { start: number; end: number } | null = null;

  constructor(private host: ToolsHost, private input: HTMLTextAreaElement) {
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", "agent-canned-list");
    input.addEventListener("input", () => this.update());
    input.addEventListener("click", () => this.update());
    input.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== input) this.close(); }, 150));
  }

  /** fetches the list once, and again in the background when it is a minute old (admins edit it) */
  load(): Promise<void> {
    if (this.all && Date.now() - this.loadedAt < 60000) return Promise.resolve();
    if (!this.loading) {
      this.loading = this.host.api("GET", "/agent/canned")
        .then((r) => { this.all = (r && r.canned) || []; this.loadedAt = Date.now(); })
        .catch(() => { /* keep what we had; null: no list offered */ })
        .finally(() => { this.loading = null; });
    }
    return this.loading;
  }
  /** forget the list (e.g. after sign-in): it is fetched again on the next `/` */
  reset(): void { this.all = null; this.loadedAt = 0; this.close(); }
  get isOpen(): boolean { return !this.el.hidden; }

  /** keys while the list is open; true when the key was ours */
  key(e: KeyboardEvent): boolean {
    if (!this.isOpen) return false;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      this.active = (this.active + (e.key === "ArrowDown" ? 1 : -1) + this.matches.length) % this.matches.length;
      this.render(); return true;
    }
    if ((e.key === "Enter" && !e.shiftKey && !e.ctrlKey && !e.metaKey) || e.key === "Tab") { this.pick(this.matches[this.active]); return true; }
    if (e.key === "Escape") { this.close(); return true; }
    return false;
  }

  /** the `/word` before the caret, if any */
  private word(): { start: number; end: number; q: string } | null {
    const v = this.input.value, end = this.input.selectionStart ?? v.length;
    if (end !== (this.input.selectionEnd ?? end)) return null;
    const m = /(^|\s)\/([a-z0-9-]*)$/i.exec(v.slice(0, end));
    if (!m) return null;
    return { start: end - m[2].length - 1, end, q: m[2].toLowerCase() };
  }

  private async update(): Promise<void> {
    const w = this.word();
    if (!w || this.input.disabled) { this.close(); return; }
    if (!this.all) await this.load(); else this.load();
    if (!this.all) { this.close(); return; }
    const w2 = this.word(); // the text may have changed while loading
    if (!w2) { this.close(); return; }
    const q = w2.q;
    const starts = this.all.filter((c) => c.shortcut.startsWith(q));
    const inTitle = q ? this.all.filter((c) => !c.shortcut.startsWith(q) && (c.shortcut.includes(q) || c.title.toLowerCase().includes(q))) : [];
    const matches = starts.concat(inTitle).slice(0, 8);
    const before = this.matches.map((c) => c.id).join();
    this.matches = matches;
    this.token = { start: w2.start, end: w2.end };
    if (!matches.length) { this.close(); return; }
    if (before !== matches.map((c) => c.id).join()) this.active = 0;
    // an exact shortcut goes first
    const exact = matches.findIndex((c) => c.shortcut === q);
    if (exact > 0 && before !== matches.map((c) => c.id).join()) this.active = exact;
    this.el.hidden = false;
    this.render();
  }

  private render(): void {
    this.el.replaceChildren(...this.matches.map((c, i) => {
      const li = h("li", {
        role: "option", id: "agent-canned-" + i, class: "canned-item" + (i === this.active ? " on" : ""),
        "aria-selected": String(i === this.active), "data-testid": "agent-canned-option", "data-shortcut": c.shortcut,
      }, h("span", { class: "sc" }, "/" + c.shortcut), h("span", { class: "ct" }, c.title),
      h("span", { class: "cx" }, this.preview(c)));
      li.addEventListener("mousedown", (e) => { e.preventDefault(); this.pick(c); });
      return li;
    }));
    this.input.setAttribute("aria-activedescendant", "agent-canned-" + this.active);
  }

  private preview(c: Canned): string {
    const t = this.expand(c);
    return t.length > 90 ? t.slice(0, 89) + "…" : t;
  }
  private expand(c: Canned): string {
    const conv = this.host.open(), me = this.host.me();
    return fillCanned(c.text, conv && conv.customer ? conv.customer.name : null, me ? me.display_name : null);
  }

  private pick(c: Canned | undefined): void {
    if (!c || !this.token) { this.close(); return; }
    const v = this.input.value, text = this.expand(c);
    this.input.value = v.slice(0, this.token.start) + text + v.slice(this.token.end);
    const caret = this.token.start + text.length;
    this.input.setSelectionRange(caret, caret);
    this.close();
    this.input.focus();
    this.input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  close(): void {
    this.el.hidden = true;
    this.el.replaceChildren();
    this.matches = []; this.token = null;
    this.input.removeAttribute("aria-activedescendant");
  }
}

// ---------------------------------------------------------------- list filters
export class Filters {
  readonly el: HTMLElement;
  readonly search = h("input", {
    type: "search", "data-testid": "agent-search", id: "agent-search", placeholder: "Search messages (/)",
    autocomplete: "off", maxlength: 200, "aria-label": "Search conversations by message text",
  });
  private readonly toggle = h("button", { class: "btn small ghost filters-toggle", type: "button", "aria-expanded": "false", "aria-controls": "agent-filters", "data-testid": "agent-filters-toggle" }, "Filters");
  readonly tag = h("input", { "data-testid": "agent-filter-tag", id: "agent-filter-tag", placeholder: "refund", autocomplete: "off", spellcheck: "false", maxlength: 32 });
  readonly priority = h("select", { "data-testid": "agent-filter-priority", id: "agent-filter-priority" },
    h("option", { value: "" }, "Any"), ...PRIORITIES.map((p) => h("option", { value: p }, cap(p))));
  readonly department = h("select", { "data-testid": "agent-filter-department", id: "agent-filter-department" });
  private readonly clear = h("button", { class: "btn small ghost", type: "button", "data-testid": "agent-filters-clear" }, "Clear");
  private readonly panel: HTMLElement;
  private timer = 0;
  private last = "";

  constructor(private onChange: () => void) {
    this.panel = h("div", { class: "filters", id: "agent-filters", hidden: true },
      h("label", { for: "agent-filter-tag" }, h("span", null, "Tag"), this.tag),
      h("label", { for: "agent-filter-priority" }, h("span", null, "Priority"), this.priority),
      h("label", { for: "agent-filter-department" }, h("span", null, "Department"), this.department),
      this.clear);
    this.el = h("div", { class: "finder" }, h("div", { class: "search-row" }, this.search, this.toggle), this.panel);
    fillDepartments(this.department, "Any", "");
    deptListeners.push(() => fillDepartments(this.department, "Any", this.department.value));
    const soon = () => { clearTimeout(this.timer); this.timer = window.setTimeout(() => this.changed(), 300); };
    this.search.addEventListener("input", soon);
    this.tag.addEventListener("input", soon);
    this.search.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); this.changed(); }
      else if (e.key === "Escape" && this.search.value) { e.stopPropagation(); this.search.value = ""; this.changed(); }
    });
    this.priority.addEventListener("change", () => this.changed());
    this.department.addEventListener("change", () => this.changed());
    this.toggle.addEventListener("click", () => this.show(!!this.panel.hidden));
    this.clear.addEventListener("click", () => {
      this.search.value = this.tag.value = this.priority.value = this.department.value = "";
      this.changed(); this.search.focus();
    });
  }

  show(on: boolean): void {
    this.panel.hidden = !on;
    this.toggle.setAttribute("aria-expanded", String(on));
  }

  /** "&q=…&tag=…" for the views' URLs ("" without filters); a tag that is no tag is left out */
  query(): string {
    const p = new URLSearchParams();
    const q = this.search.value.trim();
    if (/[\p{L}\p{N}]/u.test(q)) p.set("q", q.slice(0, 200));
    const t = this.tag.value.trim().replace(/^#/, "").toLowerCase();
    if (TAG_RE.test(t)) p.set("tag", t);
    if (this.priority.value) p.set("priority", this.priority.value);
    if (this.department.value) p.set("department_id", this.department.value);
    const s = p.toString();
    return s ? "&" + s : "";
  }
  get active(): boolean { return this.query() !== ""; }

  private changed(): void {
    clearTimeout(this.timer);
    const q = this.query();
    const n = (this.tag.value ? 1 : 0) + (this.priority.value ? 1 : 0) + (this.department.value ? 1 : 0);
    this.toggle.textContent = n ? `Filters (${n})` : "Filters";
    if (q === this.last) return;
    this.last = q;
    this.onChange();
  }
}
