// The admins' Canned replies screen (API.md "Admin": GET|POST /admin/canned, PATCH|DELETE
// /admin/canned/{id}), laid out as the Departments screen: one form that adds or edits,
// a table with Edit and Delete per reply. Agents use them in a reply as /shortcut.
import { h, HttpError } from "../shared/util";
import type { ReportsCtx } from "./reports";

interface Canned { id: string; shortcut: string; title: string; text: string }
type Ctx = Pick<ReportsCtx, "api" | "main" | "errText" | "toast" | "field">;

export function renderCannedAdmin(ctx: Ctx): void {
  const { api, main } = ctx;
  main.className = "main admin";
  const tbody = h("tbody");
  const formBox = h("div");
  main.replaceChildren(h("div", { class: "admin-page" }, h("h2", { tabindex: "-1" }, "Canned replies"),
    h("p", { class: "muted" }, "Agents type /shortcut in a reply to insert one. {{customer.name}} and {{agent.name}} are filled in when it is used."),
    formBox,
    h("div", { class: "card" }, h("table", { "data-testid": "agent-canned-table" },
      h("thead", null, h("tr", null, ...["Shortcut", "Title", "Text", ""].map((t) => h("th", { scope: "col" }, t || h("span", { class: "sr" }, "Actions"))))), tbody))));
  const show = (c: Canned | null) => { formBox.replaceChildren(cannedForm(ctx, c, load)); };
  async function load(focusId?: string): Promise<void> {
    try {
      const r = await api("GET", "/admin/canned");
      const cs: Canned[] = r.canned || [];
      tbody.replaceChildren(...(cs.length ? cs.map((c) => {
        const edit = h("button", { class: "btn small", type: "button", "aria-label": `Edit /${c.shortcut}` }, "Edit");
        const del = h("button", { class: "btn small danger", type: "button", "aria-label": `Delete /${c.shortcut}` }, "Delete");
        edit.addEventListener("click", () => { show(c); (formBox.querySelector("input") as HTMLInputElement).focus(); });
        del.addEventListener("click", async () => {
          if (!confirm(`Delete the canned reply /${c.shortcut}?`)) return;
          try { await api("DELETE", `/admin/canned/${encodeURIComponent(c.id)}`); ctx.toast("Deleted.", "info"); load(); }
          catch (e) { ctx.toast("Couldn't delete: " + ctx.errText(e)); }
        });
        return h("tr", { "data-testid": "agent-canned-row", "data-id": c.id },
          h("td", null, h("code", null, "/" + c.shortcut)), h("td", null, c.title), h("td", { class: "answer" }, c.text),
          h("td", { class: "row-actions" }, edit, del));
      }) : [h("tr", null, h("td", { colspan: 4 }, "No canned replies yet."))]));
      if (focusId) (tbody.querySelector(`[data-id="${focusId}"] button`) as HTMLElement | null)?.focus();
    } catch (e) { tbody.replaceChildren(h("tr", null, h("td", { colspan: 4 }, "Couldn't load the canned replies: " + ctx.errText(e)))); }
    show(null);
  }
  load();
}

/** the create form (c = null) or the edit form of a canned reply */
function cannedForm(ctx: Ctx, c: Canned | null, done: (focusId?: string) => void): HTMLFormElement {
  const shortcut = h("input", { required: true, maxlength: 64, pattern: "[a-z0-9][a-z0-9-]*", value: c ? c.shortcut : "", placeholder: "refund-time", "data-testid": "agent-canned-shortcut" });
  const title = h("input", { required: true, maxlength: 100, value: c ? c.title : "", "data-testid": "agent-canned-title" });
  const text = h("textarea", { required: true, rows: 3, "data-testid": "agent-canned-text" });
  text.value = c ? c.text : "";
  const cancel = c ? h("button", { class: "btn ghost", type: "button" }, "Cancel") : null;
  cancel?.addEventListener("click", () => done(c!.id));
  const form = h("form", { class: "card create", "aria-labelledby": "canned-form-title" },
    h("h3", { id: "canned-form-title" }, c ? "Edit /" + c.shortcut : "Add a canned reply"),
    h("div", { class: "grid" }, ctx.field("Shortcut (lowercase letters, digits and -)", shortcut), ctx.field("Title", title)),
    ctx.field("Text", text),
    h("div", { class: "form-actions" }, h("button", { class: "btn primary", type: "submit", "data-testid": "agent-canned-save" }, c ? "Save" : "Add reply"), cancel));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { shortcut: shortcut.value.trim().replace(/^\//, ""), title: title.value.trim(), text: text.value.trim() };
    try {
      const r = c ? await ctx.api("PATCH", `/admin/canned/${encodeURIComponent(c.id)}`, body) : await ctx.api("POST", "/admin/canned", body);
      ctx.toast(c ? "Saved." : "Canned reply added.", "info");
      done(c ? c.id : r && r.canned && r.canned.id);
    } catch (ex) {
      ctx.toast("Couldn't save the canned reply: " + (ex instanceof HttpError && ex.status === 409 ? "that shortcut is taken." : ctx.errText(ex)));
    }
  });
  return form;
}
