// Shared by the browser tests: Debian's chromium through playwright-core, the stack's base URL.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const BASE = (process.env.CHAT_URL || "http://127.0.0.1:8080").replace(/\/$/, "");
export const SHOTS = fileURLToPath(new URL("./screenshots/", import.meta.url));
mkdirSync(SHOTS, { recursive: true });

export function launch() {
  // playwright gives every launch a fresh temporary user-data-dir
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

export async function shot(page, name) {
  await page.waitForTimeout(150);
  await page.screenshot({ path: SHOTS + name + ".png" });
}

/** the widget's open shadow root, for checks that must look inside it */
export async function inShadow(page, fn, arg) {
  return page.evaluate(([src, a]) => {
    const root = document.getElementById("nginx-chat-widget").shadowRoot;
    return new Function("root", "arg", "return (" + src + ")(root, arg)")(root, a);
  }, [fn.toString(), arg]);
}

/** customer's current conversation, read with the page's own cookie */
export async function customerConversation(page) {
  return page.evaluate(async () => {
    const r = await fetch("/chat/api/v1/conversation?after=0", { credentials: "same-origin" });
    return r.json();
  });
}

/** true when the agent API answers (anything but 404) */
export async function agentApiAvailable() {
  try {
    const r = await fetch(BASE + "/chat/api/v1/agent/login", {
      method: "POST", headers: { "Content-Type": "application/json", "X-Chat-Csrf": "1" }, body: "{}",
    });
    return r.status !== 404;
  } catch { return false; }
}

export const AGENT = { username: process.env.CHAT_AGENT_USER || "john.doe", password: process.env.CHAT_AGENT_PASS || "AgentPass123!" };
export const ADMIN = { username: process.env.CHAT_ADMIN_USER || "admin", password: process.env.CHAT_ADMIN_PASS || "Admin@123" };
