// Departments in the widget and the dashboard (issue 12, API.md "Operators"): the picker
// before escalation (open or away, in words), the escalation into the picked department,
// the offline email form (POST /identify), and the department, priority and email the agent
// sees. Real stack; the departments and agent APIs must answer (they are part of API.md).
//
// The database is shared with the other suites: this run makes its own departments (one
// whose only member is a fresh agent, and one with a fresh agent who stays offline, so it is
// always away) and deletes them at the end; the seeded ones stay as they are.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  BASE, RUN, ADMIN, launch, shot, inShadow, customerConversation, agentApiAvailable, adminApi, freshAgent, removeFreshAgents,
  dashboardLogin,
  openWidget,
} from "./helpers.mjs";

const API = BASE + "/chat/api/v1";
const deptApi = (await fetch(API + "/departments").catch(() => null))?.status === 200;
assert.ok(deptApi, "GET /chat/api/v1/departments answers 200");
assert.ok(await agentApiAvailable(), "the agent API answers");

let browser;
const made = []; // departments of this run
let desk, deskAgent, away, awayAgent;

async function department(name, agentIds) {
  const r = await adminApi("POST", "/admin/departments", { name, strategy: "least_loaded", agent_ids: agentIds, hours: null });
  const d = r.department || r;
  made.push(d.id);
  return d;
}

before(async () => {
  browser = await launch();
  deskAgent = await freshAgent("desk", { max_active_chats: 1, display_name: "Desk Agent" });
  awayAgent = await freshAgent("away", { max_active_chats: 1, display_name: "Away Agent" });
  desk = await department("Desk " + RUN, [deskAgent.id]);
  away = await department("Away " + RUN, [awayAgent.id]); // its only member never comes online
});
after(async () => {
  await browser?.close();
  for (const id of made) await adminApi("DELETE", `/admin/departments/${id}`).catch((e) => console.log("cleanup:", e.message));
  await removeFreshAgents();
});

const pick = (page, id) => page.locator(`[data-testid="chat-department"][data-department-id="${id}"]`);
const focusedTestId = (page) => inShadow(page, (root) => root.activeElement && root.activeElement.getAttribute("data-testid"));

const login = (context, who) => dashboardLogin(context, who);
/** the conversation's row in the Queue view (or in All, should the queue be longer than a page) */
async function queueRow(agent, id) {
  await agent.getByTestId("agent-view-queue").click();
  const row = agent.locator(`[data-testid="agent-conversation"][data-id="${id}"]`);
  try { await row.waitFor({ timeout: 10000 }); } catch {
    await agent.getByTestId("agent-view-all").click();
    await row.waitFor({ timeout: 10000 });
  }
  return row;
}

test("the picker lists every department, open or away in words, plus No preference; keyboard and Escape", async () => {
  const listed = (await (await fetch(API + "/departments")).json()).departments;
  assert.ok(listed.some((d) => d.id === desk.id) && listed.some((d) => d.id === away.id), "our departments are listed");
  assert.equal(listed.find((d) => d.id === away.id).open, false, "a department with nobody online is away");

  for (const width of [360, 1280]) {
    const context = await browser.newContext({ viewport: { width, height: width === 360 ? 740 : 800 }, isMobile: width === 360 });
    const page = await openWidget(context);
    await page.getByTestId("chat-talk-to-agent").click();
    await pick(page, "").waitFor();
    assert.equal(await page.getByTestId("chat-talk-to-agent").isVisible(), false, "the picker replaces the button");
    const ids = await page.getByTestId("chat-department").evaluateAll((els) => els.map((e) => e.getAttribute("data-department-id")));
    assert.deepEqual(ids.slice().sort(), [...listed.map((d) => d.id), ""].sort(), "one button per department, and No preference");
    for (const d of listed) {
      const text = await pick(page, d.id).textContent();
      assert.ok(text.includes(d.name), `${d.name} is named`);
      assert.match(text, d.open ? /available now/ : /away, leave your email/, `${d.name}'s state is said in words`);
    }
    assert.match(await pick(page, "").textContent(), /No preference/);
    assert.equal(await focusedTestId(page), "chat-department", "the focus moves into the picker");
    // every choice is a button with its words as its accessible name
    await page.getByRole("button", { name: new RegExp(`Away ${RUN} — away, leave your email`) }).waitFor();
    const box = await page.getByTestId("chat-panel").boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= width + 0.5, "the panel fits the screen");
    await shot(page, `widget-department-picker-${width}`);
    // Escape closes the picker, not the chat; nothing was escalated
    await page.keyboard.press("Escape");
    await page.getByTestId("chat-talk-to-agent").waitFor();
    assert.equal(await page.getByTestId("chat-department").count(), 0);
    assert.equal(await page.getByTestId("chat-panel").isVisible(), true);
    assert.equal((await customerConversation(page)).conversation.status, "automated");
    await context.close();
  }
});

test("picking a department escalates into it; its member sees department and priority in the queue and the context panel", async () => {
  const cctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const customer = await openWidget(cctx, "/product-tee.html");
  await customer.getByTestId("chat-talk-to-agent").click();
  const [res] = await Promise.all([
    customer.waitForResponse((r) => r.url().endsWith("/escalate") && r.request().method() === "POST"),
    pick(customer, desk.id).click(),
  ]);
  assert.deepEqual(res.request().postDataJSON(), { department_id: desk.id }, "the widget sends the department");
  assert.equal(res.status(), 200);
  await customer.getByTestId("chat-status").filter({ hasText: /in the queue/ }).waitFor();
  assert.equal(await customer.getByTestId("chat-department").count(), 0, "the picker is gone");
  const { conversation } = await customerConversation(customer);
  assert.equal(conversation.status, "agent");
  assert.deepEqual(conversation.department, { id: desk.id, name: desk.name });
  assert.equal(conversation.priority, "normal");

  // the department's only member (offline, so it waits for them) finds it in the queue
  const actx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const agent = await login(actx, deskAgent);
  const row = await queueRow(agent, conversation.id);
  assert.equal(await row.getByTestId("agent-conv-department").textContent(), desk.name);
  assert.equal(await row.getByTestId("agent-conv-priority").textContent(), "Normal priority");
  await row.click();
  const ctx = agent.getByTestId("agent-context");
  await ctx.getByText(desk.name).waitFor();
  await ctx.getByText("Normal priority").waitFor();
  await shot(agent, "agent-queue-department-1280");
  await agent.setViewportSize({ width: 360, height: 740 });
  await agent.getByTestId("agent-back").click(); // a phone shows one pane: back from the conversation to the list
  await row.scrollIntoViewIfNeeded();
  const box = await row.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 360.5, "the row fits in 360 px");
  await shot(agent, "agent-queue-department-360");
  await cctx.close(); await actx.close();
});

test("an away department: the away message and the email form; a bad email shows the server's reason; the agent sees the email", async () => {
  const email = `lea.${RUN}@example.com`;
  for (const width of [360, 1280]) {
    const cctx = await browser.newContext({ viewport: { width, height: width === 360 ? 740 : 800 }, isMobile: width === 360 });
    const customer = await openWidget(cctx);
    // keyboard only: the focus lands in the picker; Tab to the away department, Enter
    await customer.getByTestId("chat-talk-to-agent").click();
    await pick(customer, away.id).waitFor();
    for (let i = 0; i < 40 && await inShadow(customer, (root) => root.activeElement && root.activeElement.getAttribute("data-department-id")) !== away.id; i++) {
      await customer.keyboard.press("Tab");
    }
    const [req] = await Promise.all([
      customer.waitForRequest((r) => r.url().endsWith("/escalate") && r.method() === "POST"),
      customer.keyboard.press("Enter"),
    ]);
    assert.deepEqual(req.postDataJSON(), { department_id: away.id });
    await customer.locator('[data-testid="chat-message"][data-sender="system"]')
      .filter({ hasText: "We're away right now. Leave your email and we'll get back to you." }).first().waitFor();
    const input = customer.getByTestId("chat-email");
    await input.waitFor();
    assert.equal(await input.getAttribute("type"), "email");
    await customer.getByLabel(/your email/i).waitFor(); // labelled
    assert.equal((await customerConversation(customer)).conversation.offline, true);
    await shot(customer, `widget-email-form-${width}`);
    if (width === 360) {
      const box = await customer.getByTestId("chat-email-send").boundingBox();
      assert.ok(box.x + box.width <= 360.5, "the send button fits in 360 px");
      await cctx.close();
      continue;
    }

    // a bad address: the server's 422 reason, in the widget
    await input.fill("not-an-email");
    const [bad] = await Promise.all([
      customer.waitForResponse((r) => r.url().endsWith("/identify")),
      customer.getByTestId("chat-email-send").click(),
    ]);
    assert.equal(bad.status(), 422);
    const reason = (await bad.json()).error.message;
    const err = customer.locator("#nc-email-err");
    await err.filter({ hasText: reason }).waitFor();
    assert.equal(await input.getAttribute("aria-invalid"), "true");
    await shot(customer, "widget-email-error-1280");

    // a good one: a confirmation, and the form is gone (also after a reload)
    await input.fill(email);
    const [good] = await Promise.all([
      customer.waitForResponse((r) => r.url().endsWith("/identify")),
      customer.keyboard.press("Enter"),
    ]);
    assert.equal(good.status(), 200);
    assert.deepEqual(good.request().postDataJSON(), { email });
    await input.waitFor({ state: "hidden" });
    await customer.getByText(`Thanks! We'll get back to you at ${email}.`).waitFor();
    await shot(customer, "widget-email-thanks-1280");
    const { conversation } = await customerConversation(customer);
    assert.equal(conversation.customer.email, email);
    await customer.reload();
    await customer.locator('[data-testid="chat-message"][data-sender="system"]').filter({ hasText: "We're away" }).first().waitFor();
    await customer.getByTestId("chat-input").waitFor();
    assert.equal(await customer.getByTestId("chat-email").isVisible(), false, "no email form once the customer left one");

    // the department's member finds it in the queue: offline, with the email
    const actx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const agent = await login(actx, awayAgent);
    const row = await queueRow(agent, conversation.id);
    assert.equal(await row.getByTestId("agent-conv-department").textContent(), away.name);
    assert.match(await row.getByTestId("agent-conv-offline").textContent(), /offline · email left/i);
    await row.click();
    assert.equal(await agent.getByTestId("agent-customer-email").textContent(), email);
    await agent.getByTestId("agent-offline").waitFor();
    assert.match(await agent.getByTestId("agent-offline").textContent(), /left an email/);
    await shot(agent, "agent-offline-context-1280");
    await cctx.close(); await actx.close();
  }
});

test("admins add, list and delete departments in the Departments screen", async () => {
  const name = "Billing " + RUN;
  const actx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const admin = await login(actx, ADMIN);
  admin.on("dialog", (d) => d.accept());
  await admin.getByRole("button", { name: "Departments", exact: true }).click();
  await admin.locator(`tr[data-department-id="${desk.id}"]`).filter({ hasText: "Desk Agent" }).waitFor();
  await admin.getByLabel("Name", { exact: true }).fill(name);
  await admin.getByLabel("Strategy").selectOption("round_robin");
  await admin.getByRole("checkbox", { name: new RegExp(deskAgent.username) }).check();
  await admin.getByRole("checkbox", { name: /business hours/ }).check();
  await admin.getByLabel(/Time zone/).first().fill("Europe/Berlin");
  for (const d of ["mon", "tue", "wed", "thu", "fri"]) {
    await admin.getByLabel(d + " from").fill("09:00");
    await admin.getByLabel(d + " to").fill("17:00");
  }
  await shot(admin, "admin-departments-form");
  const [res] = await Promise.all([
    admin.waitForResponse((r) => r.url().endsWith("/admin/departments") && r.request().method() === "POST"),
    admin.getByRole("button", { name: "Add department" }).click(),
  ]);
  assert.equal(res.status(), 201, await res.text());
  const created = (await res.json()).department;
  made.push(created.id);
  assert.deepEqual({ strategy: created.strategy, agent_ids: created.agent_ids, hours: created.hours }, {
    strategy: "round_robin", agent_ids: [deskAgent.id],
    hours: { tz: "Europe/Berlin", mon: ["09:00", "17:00"], tue: ["09:00", "17:00"], wed: ["09:00", "17:00"], thu: ["09:00", "17:00"], fri: ["09:00", "17:00"] },
  });
  const row = admin.locator(`tr[data-department-id="${created.id}"]`);
  await row.filter({ hasText: "Mon–Fri 09:00–17:00 (Europe/Berlin)" }).waitFor();
  await shot(admin, "admin-departments");
  await row.getByRole("button", { name: "Delete" }).click();
  await row.waitFor({ state: "detached" });
  made.splice(made.indexOf(created.id), 1);
  assert.ok(!(await adminApi("GET", "/admin/departments")).departments.some((d) => d.id === created.id), "deleted");
  await actx.close();
});
