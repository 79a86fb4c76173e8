// The agent's second factor in the dashboard (API.md "Agent second factor (TOTP, RFC 6238)"):
// the login's code field, shown when the server answers totp_required, and the Two-factor
// screen: set up (the otpauth:// URL as a QR code and the secret as text), enable with a
// code, disable with a code.
import qrcode from "qrcode-generator";
import { h, HttpError } from "../shared/util";
import type { Agent } from "../shared/types";

type Api = <T = any>(method: string, path: string, body?: unknown) => Promise<T>;
type TotpAgent = Agent & { totp_enabled?: boolean };

/** the login's answer when the password was right and a code is needed */
export function isTotpRequired(e: unknown): boolean {
  return e instanceof HttpError && e.status === 401 && e.code === "totp_required";
}

function codeInput(id: string, testid: string): HTMLInputElement {
  return h("input", { id, name: "code", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}",
    maxlength: 6, required: true, placeholder: "123456", "data-testid": testid });
}

/** adds the code field to the login form (once), before `before`; focuses it */
export function askTotpCode(form: HTMLFormElement, before: Element): HTMLInputElement {
  let input = form.querySelector<HTMLInputElement>('[data-testid="agent-totp"]');
  if (!input) {
    input = codeInput("totp", "agent-totp");
    form.insertBefore(h("label", { for: "totp" }, "Authentication code"), before);
    form.insertBefore(input, before);
  }
  input.value = "";
  input.focus();
  return input;
}

/** the login body's {code} once the form asks for one */
export function totpCode(form: HTMLFormElement): { code?: string } {
  const input = form.querySelector<HTMLInputElement>('[data-testid="agent-totp"]');
  return input && input.value.trim() ? { code: input.value.replace(/\s+/g, "") } : {};
}

/** a QR code of `text` (byte mode, level M) on a canvas: `scale` px a module, a 4-module quiet zone */
export function qrCanvas(text: string, scale = 5): HTMLCanvasElement {
  const q = qrcode(0, "M");
  q.addData(text, "Byte");
  q.make();
  const n = q.getModuleCount(), quiet = 4, size = (n + 2 * quiet) * scale;
  const c = h("canvas", { width: size, height: size, class: "qr", role: "img",
    "aria-label": "QR code of the setup link for your authenticator app", "data-testid": "agent-totp-qr" });
  const ctx = c.getContext("2d");
  if (!ctx) return c;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, size, size);
  ctx.fillStyle = "#000";
  for (let r = 0; r < n; r++)
    for (let col = 0; col < n; col++)
      if (q.isDark(r, col)) ctx.fillRect((col + quiet) * scale, (r + quiet) * scale, scale, scale);
  return c;
}

function codeError(e: unknown): string {
  if (!(e instanceof HttpError)) return e instanceof Error ? e.message : String(e);
  if (e.status === 422) return "Enter the 6 digits your app shows.";
  if (e.status === 403) return "That code is wrong or was already used. Wait for the next one and try again.";
  if (e.status === 409) return "Two-factor authentication changed meanwhile. Reload this screen.";
  return e.message;
}

/** the Two-factor screen in `main`; `changed` gets the Agent after enable or disable */
export function renderTwoFactor(main: HTMLElement, api: Api, me: Agent, changed: (a: Agent) => void): void {
  main.className = "main admin";
  const page = h("div", { class: "admin-page twofactor", "data-testid": "agent-twofactor-screen" });
  const err = h("p", { class: "form-error", role: "alert" });
  main.replaceChildren(page);

  const codeForm = (id: string, testid: string, label: string, btnText: string, btnTestid: string,
    submit: (code: string) => Promise<void>): HTMLFormElement => {
    const input = codeInput(id, testid);
    const btn = h("button", { class: "btn primary", type: "submit", "data-testid": btnTestid }, btnText);
    const form = h("form", { class: "totp-code" }, h("label", { for: id }, label), input, btn);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      err.textContent = ""; btn.disabled = true;
      try { await submit(input.value.replace(/\s+/g, "")); } catch (ex) { err.textContent = codeError(ex); input.select(); }
      btn.disabled = false;
    });
    return form;
  };

  const show = (agent: TotpAgent): void => {
    if (agent.totp_enabled) {
      page.replaceChildren(h("h1", { class: "page-title" }, "Two-factor authentication"),
        h("div", { class: "card" },
          h("p", { "data-testid": "agent-totp-status" }, "Two-factor authentication is on: signing in needs your password and a code from your authenticator app."),
          codeForm("totp-off", "agent-totp-code", "Code from your app, to turn it off", "Turn off", "agent-totp-disable", async (code) => {
            const r = await api<{ agent: Agent }>("POST", "/agent/totp/disable", { code });
            changed(r.agent); show(r.agent);
          }),
          err));
      return;
    }
    const setup = h("button", { class: "btn primary", type: "button", "data-testid": "agent-totp-setup" }, "Set up");
    const area = h("div", { class: "totp-setup" });
    setup.addEventListener("click", async () => {
      err.textContent = ""; setup.disabled = true;
      try {
        const r = await api<{ secret: string; otpauth_url: string }>("POST", "/agent/totp/setup", {});
        area.replaceChildren(
          h("p", null, "Scan this QR code with your authenticator app, or type the key in by hand:"),
          qrCanvas(r.otpauth_url),
          h("p", null, "Key: ", h("code", { class: "secret", "data-testid": "agent-totp-secret" }, r.secret)),
          codeForm("totp-on", "agent-totp-code", "Then enter the 6-digit code it shows", "Turn on", "agent-totp-enable", async (code) => {
            const e = await api<{ agent: Agent }>("POST", "/agent/totp/enable", { code });
            changed(e.agent); show(e.agent);
          }));
        setup.textContent = "Start over with a new key";
      } catch (ex) { err.textContent = codeError(ex); }
      setup.disabled = false;
    });
    page.replaceChildren(h("h1", { class: "page-title" }, "Two-factor authentication"),
      h("div", { class: "card" },
        h("p", { "data-testid": "agent-totp-status" }, "Two-factor authentication is off. Turn it on so that a stolen password alone cannot sign in as you."),
        setup, area, err));
  };
  show(me);
}
