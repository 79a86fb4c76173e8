// The dashboard's keyboard shortcuts and their help (the `?` button and key). Single keys act
// only outside text fields, so typing never triggers them; Alt+letter and Ctrl/Cmd+Enter work
// everywhere. Keys are matched by e.code for letters, so a layout's Alt characters don't matter.
import { h } from "../shared/util";

export interface ShortcutActions {
  /** +1 next, -1 previous conversation of the list */
  step: (d: 1 | -1) => void;
  view: (i: number) => void;
  reply: () => void;
  note: () => void;
  tags: () => void;
  priority: () => void;
  search: () => void;
  /** Esc outside a field: back to the list (phone) or close the details panel */
  back: () => void;
  /** false while the inbox is not on screen */
  inbox: () => boolean;
}

const KEYS: [string[], string][] = [
  [["Enter"], "Send the reply (in the reply box; Shift+Enter: new line)"],
  [["Ctrl/⌘", "Enter"], "Send the reply, or add the note (in the note box)"],
  [["/"], "In the reply box: pick a canned reply (↑ ↓, then Enter or Tab)"],
  [["Alt", "R"], "Write a reply"],
  [["Alt", "N"], "Write a private note"],
  [["Alt", "T"], "Edit the tags"],
  [["Alt", "P"], "Change the priority"],
  [["Alt", "J"], "Next conversation (also j outside text fields)"],
  [["Alt", "K"], "Previous conversation (also k outside text fields)"],
  [["1"], "Active view (2 Queue, 3 Closed, 4 All; outside text fields)"],
  [["s"], "Search conversations (outside text fields)"],
  [["Esc"], "Leave a text field; on a phone: back to the list"],
  [["?"], "Show these shortcuts"],
];

function typing(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  if (!el || !el.tagName) return false;
  return el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
}

export function installShortcuts(a: ShortcutActions): { button: HTMLButtonElement; dialog: HTMLDialogElement } {
  const close = h("button", { class: "btn small", type: "button", "data-testid": "agent-shortcuts-close" }, "Close");
  const dialog = h("dialog", { class: "shortcuts", "data-testid": "agent-shortcuts", "aria-labelledby": "shortcuts-title" },
    h("h2", { id: "shortcuts-title" }, "Keyboard shortcuts"),
    h("table", null, h("tbody", null, ...KEYS.map(([keys, what]) => h("tr", null,
      h("td", { class: "keys" }, ...keys.flatMap((k, i) => [i ? " + " : null, h("kbd", null, k)])),
      h("td", null, what))))),
    h("div", { class: "form-actions" }, close));
  close.addEventListener("click", () => dialog.close());
  const button = h("button", {
    class: "btn ghost help", type: "button", "data-testid": "agent-help", "aria-label": "Keyboard shortcuts", title: "Keyboard shortcuts (?)",
  }, "?");
  button.addEventListener("click", () => { if (!dialog.isConnected) document.body.appendChild(dialog); dialog.showModal(); });

  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.isComposing || !a.inbox() || dialog.open) return;
    if (e.altKey && !e.ctrlKey && !e.metaKey) {
      const act: Record<string, () => void> = {
        KeyR: a.reply, KeyN: a.note, KeyT: a.tags, KeyP: a.priority, KeyJ: () => a.step(1), KeyK: () => a.step(-1),
      };
      const f = act[e.code];
      if (f) { e.preventDefault(); f(); }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (typing(e.target)) {
      if (e.key === "Escape" && (e.target as HTMLElement).tagName !== "SELECT") (e.target as HTMLElement).blur();
      return;
    }
    const k = e.key;
    if (k === "?") { e.preventDefault(); button.click(); }
    else if (k === "j") { e.preventDefault(); a.step(1); }
    else if (k === "k") { e.preventDefault(); a.step(-1); }
    else if (k === "s" || k === "/") { e.preventDefault(); a.search(); }
    else if (k === "r") { e.preventDefault(); a.reply(); }
    else if (/^[1-4]$/.test(k)) { e.preventDefault(); a.view(Number(k) - 1); }
    else if (k === "Escape") a.back();
  });
  return { button, dialog };
}
