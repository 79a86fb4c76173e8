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

export const ADMIN = { username: process.env.CHAT_ADMIN_USER || "admin", password: process.env.CHAT_ADMIN_PASS || "Admin@123" };

// ---------------------------------------------------------------- agents made per test run
// The database is shared with every other suite (the Perl tests, earlier runs): the queue
// may hold many conversations and the seeded agents may be online or full. So the agent
// tests sign in as the admin from node, create fresh agents with unique usernames for
// this run, and delete them afterwards (their open chats go back to the queue).
export const RUN = Date.now().toString(36) + Math.random().toString(36).slice(2, 6);
const API = BASE + "/chat/api/v1";
let adminToken = null;

/** a call to the API as the admin (token from POST /agent/login); JSON answer, throws on HTTP errors */
export async function adminApi(method, path, body) {
  if (!adminToken) {
    const r = await fetch(API + "/agent/login", {
      method: "POST", headers: { "Content-Type": "application/json", "X-Chat-Csrf": "1" },
      body: JSON.stringify(ADMIN),
    });
    const j = await r.json().catch(() => null);
    if (r.status !== 200) throw new Error(`admin login: ${r.status} ${JSON.stringify(j)}`);
    adminToken = j.token;
  }
  const r = await fetch(API + path, {
    method,
    headers: { Authorization: "Bearer " + adminToken, "X-Chat-Csrf": "1", ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const j = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

const created = [];
/** a fresh agent for this run: {id, username, password, display_name, ...} */
export async function freshAgent(tag, { role = "agent", max_active_chats = 5, display_name } = {}) {
  const username = `e2e-${RUN}-${tag}`;
  const password = `Pw-${RUN}-${tag}-0123456789`;
  const { agent } = await adminApi("POST", "/admin/agents", {
    username, password, role, max_active_chats, display_name: display_name || `E2E ${tag} ${RUN}`,
  });
  created.push(agent.id);
  return { ...agent, password };
}

/** deletes this run's agents (soft delete: they can't sign in, their open chats are requeued) */
export async function removeFreshAgents() {
  while (created.length) {
    const id = created.pop();
    await adminApi("DELETE", `/admin/agents/${id}`).catch((e) => console.log("cleanup:", e.message));
  }
}

/**
 * Waits until no agent outside `except` is online with a free slot, so that a chat
 * escalated now stays in the queue for us (assignment is automatic). Agents left online
 * by an earlier run go offline by themselves after chat_agent_grace without a heartbeat.
 */
export async function waitForNoFreeAgent(except = [], timeoutMs = 120000) {
  const t0 = Date.now();
  let said = false;
  for (;;) {
    const { agents } = await adminApi("GET", "/admin/agents");
    const free = agents.filter((a) => !except.includes(a.id) && a.presence === "online" && a.active_chats < a.max_active_chats);
    if (!free.length) return;
    if (Date.now() - t0 > timeoutMs) throw new Error("agents online with free slots: " + free.map((a) => a.username).join(", "));
    if (!said) { console.log("waiting for agents left online to go offline:", free.map((a) => a.username).join(", ")); said = true; }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** the shop's departments as the public API lists them ([] while the endpoint is missing) */
export async function publicDepartments() {
  const r = await fetch(API + "/departments").catch(() => null);
  if (!r || r.status !== 200) return [];
  return (await r.json()).departments || [];
}

/**
 * "Talk to a person" in the widget. When the shop has departments the picker comes first:
 * picks `departmentId` ("" is "No preference", the default queue).
 */
export async function talkToPerson(page, departmentId = "") {
  const picker = (await publicDepartments()).length > 0;
  await page.getByTestId("chat-talk-to-agent").click();
  if (picker) await page.locator(`[data-testid="chat-department"][data-department-id="${departmentId}"]`).click();
  await page.getByTestId("chat-talk-to-agent").waitFor({ state: "hidden" });
}

// ---------------------------------------------------------------- calls and sign-ins shared by the suites

/** an API call with a bearer token (a customer's or an agent's; none when null): {status, json} */
export async function apiCall(token, method, path, body) {
  const r = await fetch(API + path, {
    method,
    headers: { "X-Chat-Csrf": "1", ...(token ? { Authorization: "Bearer " + token } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, json: r.status === 204 ? null : await r.json().catch(() => null) };
}

/** the same call; the JSON answer, throwing on an HTTP error */
export async function apiOk(token, method, path, body) {
  const { status, json } = await apiCall(token, method, path, body);
  if (status < 200 || status > 299) throw new Error(`${method} ${path}: ${status} ${JSON.stringify(json)}`);
  return json;
}

/** an agent's bearer token (POST /agent/login) */
export async function agentToken(who) {
  return (await apiOk(null, "POST", "/agent/login", { username: who.username, password: who.password })).token;
}

/** a new page of `context` with the dashboard signed in as `who` (confirm dialogs accepted when asked) */
export async function dashboardLogin(context, who, { acceptDialogs = false } = {}) {
  const page = await context.newPage();
  page.on("pageerror", (e) => console.log("dashboard error:", e.message));
  if (acceptDialogs) page.on("dialog", (d) => d.accept());
  await page.goto(BASE + "/chat/agent/");
  await page.getByTestId("agent-username").fill(who.username);
  await page.getByTestId("agent-password").fill(who.password);
  await page.getByTestId("agent-login").click();
  await page.getByTestId("agent-presence").waitFor();
  return page;
}

/** a department of this run whose only member stays offline (its chats wait, offline, for the
 *  supervisor of this run), and that supervisor with a token; `remove()` deletes the department */
export async function awayDesk(tag, departmentName, bossName) {
  const member = await freshAgent(tag + "-away", { max_active_chats: 1, display_name: "Away Member" });
  const r = await adminApi("POST", "/admin/departments", { name: departmentName + " " + RUN, strategy: "least_loaded", agent_ids: [member.id], hours: null });
  const away = r.department || r;
  const boss = await freshAgent(tag + "-boss", { role: "supervisor", max_active_chats: 20, display_name: bossName });
  boss.token = await agentToken(boss);
  return {
    away, boss,
    asBoss: (method, path, body) => apiOk(boss.token, method, path, body),
    remove: () => adminApi("DELETE", `/admin/departments/${away.id}`).catch((e) => console.log("cleanup:", e.message)),
  };
}

/** a new page of `context` on a shop page with the widget opened and the bot's greeting shown */
export async function openWidget(context, path = "/product-mug.html") {
  const page = await context.newPage();
  page.on("pageerror", (e) => console.log("page error:", e.message));
  await page.goto(BASE + path);
  await page.getByTestId("chat-launcher").click();
  await page.locator('[data-testid="chat-message"][data-sender="bot"]').first().waitFor();
  return page;
}
