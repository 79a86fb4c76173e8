// The reports page (issue 13, API.md "Reports") against the real stack: a conversation of this
// run is escalated into a department of this run, answered, closed and rated through the API;
// a supervisor then sees it in the page's cards, per-agent table and per-day chart (one bar per
// day of the range), downloads the CSV, and the page passes the axe audit at 390 and 1280 px.
// A plain agent gets no reports link and a 403 from the API.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { BASE, RUN, launch, shot, agentApiAvailable, adminApi, freshAgent, removeFreshAgents, dashboardLogin, apiCall } from "./helpers.mjs";
import { assertAccessible } from "./a11y.mjs";

const API = BASE + "/chat/api/v1";
assert.ok(await agentApiAvailable(), "the agent API answers");

const call = apiCall;
async function ok(token, method, path, body) {
  const r = await call(token, method, path, body);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}
const agentToken = async (a) => (await ok(null, "POST", "/agent/login", { username: a.username, password: a.password })).token;
const today = () => new Date().toISOString().slice(0, 10);

let browser, dept, sup, plain, answerer, convId;
before(async () => {
  browser = await launch();
  sup = await freshAgent("sup", { role: "supervisor", display_name: "Sofia Supervisor" });
  plain = await freshAgent("plain", { display_name: "Paul Plain" });
  answerer = await freshAgent("ans", { max_active_chats: 1000, display_name: "Ana Answerer " + RUN });
  const r = await adminApi("POST", "/admin/departments", { name: "Reports " + RUN, strategy: "least_loaded", agent_ids: [answerer.id], hours: null });
  dept = r.department || r;

  // the conversation: escalated into our department, assigned to its only member, answered, closed, rated 4
  const at = await agentToken(answerer);
  await ok(at, "POST", "/agent/presence", { presence: "online" });
  const s = await ok(null, "POST", "/session", { context: { product_id: "sku-report-" + RUN, product_name: "Report Mug" } });
  const ct = s.token;
  convId = s.conversation.id;
  await ok(ct, "POST", "/messages", { text: "Where is my parcel " + RUN + "?", client_id: crypto.randomUUID() });
  const e = await ok(ct, "POST", "/escalate", { department_id: dept.id });
  assert.equal(e.conversation.assigned_agent && e.conversation.assigned_agent.id, answerer.id, "our department's only member gets it");
  await ok(at, "POST", `/agent/conversations/${convId}/messages`, { text: "It ships today.", client_id: crypto.randomUUID() });
  await ok(at, "POST", `/agent/conversations/${convId}/close`, {});
  await ok(ct, "POST", "/rating", { score: 4, comment: "quick" });
  await ok(at, "POST", "/agent/presence", { presence: "offline" });
});
after(async () => {
  await browser?.close();
  if (dept) await adminApi("DELETE", `/admin/departments/${dept.id}`).catch((e) => console.log("cleanup:", e.message));
  await removeFreshAgents();
});

const login = (context, who) => dashboardLogin(context, who);
const card = (page, metric) => page.locator(`[data-testid="agent-report-card"][data-metric="${metric}"] .stat-value`).textContent();
/** waits for the report that the last filter change asked for */
async function showReport(page) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().includes("/agent/reports?") && !r.url().includes("format=csv")),
    page.getByRole("button", { name: "Show report" }).click(),
  ]);
  assert.equal(res.status(), 200);
  await page.locator(".report-status").filter({ hasText: /^Report for/ }).waitFor();
  return res.json();
}

test("a supervisor sees the run's escalated, answered, closed and rated conversation in the report, its chart and its CSV", async () => {
  for (const width of [1280, 390]) {
    const context = await browser.newContext({ viewport: { width, height: width === 390 ? 844 : 900 }, isMobile: width === 390, acceptDownloads: true });
    const page = await login(context, sup);
    const link = page.getByTestId("agent-reports");
    await link.click();
    await page.getByTestId("agent-chart").waitFor();
    assert.ok(page.url().endsWith("#reports"), "the page has its own address");
    // the default range: the last 30 days, one bar per day, today last
    assert.equal(await page.getByTestId("agent-report-to").inputValue(), today());
    let bars = page.locator('[data-testid="agent-chart"] g.day');
    assert.equal(await bars.count(), 30, "one bar per day of the default 30 days");
    assert.equal(await bars.last().getAttribute("data-date"), today());

    // our department only: exactly our conversation
    await page.getByTestId("agent-report-department").selectOption(dept.id);
    const r = await showReport(page);
    assert.equal(r.conversations, 1);
    assert.equal(await card(page, "conversations"), "1");
    assert.equal(await card(page, "bot_only"), "0");
    assert.equal(await card(page, "escalated"), "1");
    assert.equal(await card(page, "offline"), "0");
    assert.equal(await card(page, "csat"), "4.00 / 5");
    assert.match(await page.locator('[data-metric="csat"]').textContent(), /1 rating\b/);
    assert.match(await card(page, "first_response"), /^\d+ s \/ \d+ s$|min/, "a first response was measured");
    assert.match(await card(page, "resolution"), /^\d+ s \/ \d+ s$|min/, "a resolution was measured");
    const row = page.getByTestId("agent-report-agents").locator("tr").filter({ hasText: "Ana Answerer " + RUN });
    const cells = await row.locator("th, td").allTextContents();
    assert.equal(cells[1], "1", "the answerer handled one");
    assert.match(cells[2], /\d+ s|min/, "their first response");
    assert.deepEqual(cells.slice(3), ["4.00 / 5", "1"], "their rating");
    const todayBar = page.locator(`[data-testid="agent-chart"] g.day[data-date="${today()}"]`);
    assert.equal(await todayBar.getAttribute("data-conversations"), "1");
    assert.equal(await todayBar.getAttribute("data-escalated"), "1");
    // the chart's text alternative: title, desc and the table of every day
    const svg = page.getByTestId("agent-chart");
    assert.equal(await svg.getAttribute("role"), "img");
    assert.match(await svg.locator("desc").textContent(), /30 days, 1 conversations, 1 escalated/);
    assert.equal(await page.getByTestId("agent-report-days").locator("tbody tr").count(), 30);

    // a week: seven bars
    await page.getByTestId("agent-report-from").fill(new Date(Date.now() - 6 * 864e5).toISOString().slice(0, 10));
    await showReport(page);
    bars = page.locator('[data-testid="agent-chart"] g.day');
    assert.equal(await bars.count(), 7, "one bar per day of the range");

    // every site-wide number on the page is the API's
    await page.getByTestId("agent-report-department").selectOption("");
    const all = await showReport(page);
    assert.ok(all.conversations >= 1 && all.escalated >= 1);
    assert.equal(await card(page, "conversations"), String(all.conversations));
    assert.equal(await card(page, "escalated"), String(all.escalated));
    assert.equal(await card(page, "bot_only"), String(all.bot_only));

    // the CSV, fetched with the bearer token and saved as a file
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("agent-report-csv").click()]);
    const csv = await readFile(await download.path(), "utf8");
    const lines = csv.trim().split(/\r?\n/);
    assert.equal(lines[0], "date,conversations,escalated");
    assert.equal(lines.length, 8, "a header and seven days");
    assert.match(download.suggestedFilename(), /^chat-report-.*\.csv$/);

    await page.getByTestId("agent-chart").scrollIntoViewIfNeeded();
    await shot(page, `agent-reports-${width}`);
    await page.getByTestId("agent-report-faq").scrollIntoViewIfNeeded();
    await shot(page, `agent-reports-tables-${width}`);
    await assertAccessible(page, `reports ${width}px`);
    const box = await page.locator(".reports").boundingBox();
    assert.ok(box.width <= width + 0.5, "the page fits the screen");
    // the address opens the page again after a reload
    await page.reload();
    await page.getByTestId("agent-chart").waitFor();
    await context.close();
  }
});

test("a plain agent has no reports link, and the API answers 403", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await login(context, plain);
  await page.getByRole("button", { name: "Inbox" }).waitFor();
  assert.equal(await page.getByTestId("agent-reports").count(), 0);
  // nor does the page's address open it
  await page.goto(BASE + "/chat/agent/#reports");
  await page.reload(); // a new hash alone does not load the page again
  await page.getByRole("button", { name: "Inbox" }).waitFor();
  await page.getByTestId("agent-view-active").waitFor();
  assert.equal(await page.getByTestId("agent-reports-page").count(), 0);
  await context.close();
  const t = await agentToken(plain);
  const r = await call(t, "GET", `/agent/reports?from=${today()}&to=${today()}`);
  assert.equal(r.status, 403);
  assert.equal(r.json.error.code, "forbidden");
  const s = await call(await agentToken(sup), "GET", `/agent/reports?from=${today()}&to=${today()}`);
  assert.equal(s.status, 200, "while a supervisor may read it");
});
