// The admins' Canned replies screen (issue 13, API.md "Admin": /admin/canned) against the real
// stack: an admin adds a reply in the browser, sees it listed, edits it, is told when a shortcut
// is taken, and deletes it; each step is checked through the API. A supervisor has no such screen.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, RUN, ADMIN, launch, shot, agentApiAvailable, adminApi, freshAgent, removeFreshAgents, dashboardLogin } from "./helpers.mjs";
import { assertAccessible } from "./a11y.mjs";

assert.ok(await agentApiAvailable(), "the agent API answers");
const shortcut = "e2e-" + RUN;
let browser;
before(async () => { browser = await launch(); });
after(async () => {
  await browser?.close();
  const { canned } = await adminApi("GET", "/admin/canned");
  for (const c of canned.filter((x) => x.shortcut.startsWith("e2e-" + RUN))) await adminApi("DELETE", `/admin/canned/${c.id}`).catch(() => {});
  await removeFreshAgents();
});

const login = (context, who) => dashboardLogin(context, who, { acceptDialogs: true });
const byShortcut = async (s) => (await adminApi("GET", "/admin/canned")).canned.find((c) => c.shortcut === s);

test("an admin adds, edits and deletes a canned reply in the browser; a taken shortcut is refused in words", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await login(context, ADMIN);
  await page.getByRole("button", { name: "Canned replies", exact: true }).click();
  await page.getByRole("heading", { name: "Canned replies" }).waitFor();

  // add
  await page.getByTestId("agent-canned-shortcut").fill(shortcut);
  await page.getByTestId("agent-canned-title").fill("Parcel delayed");
  await page.getByTestId("agent-canned-text").fill("Hi {{customer.name}}, your parcel is on its way. {{agent.name}}");
  await page.getByTestId("agent-canned-save").click();
  let saved = await (async () => { for (let i = 0; i < 50; i++) { const c = await byShortcut(shortcut); if (c) return c; await page.waitForTimeout(100); } })();
  assert.ok(saved, "created through POST /admin/canned");
  assert.equal(saved.text, "Hi {{customer.name}}, your parcel is on its way. {{agent.name}}");
  const row = page.locator(`[data-testid="agent-canned-row"][data-id="${saved.id}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), new RegExp(`/${shortcut}.*Parcel delayed`));
  assert.equal(await page.getByTestId("agent-canned-shortcut").inputValue(), "", "the form is empty again");
  await shot(page, "agent-canned-1280");
  await assertAccessible(page, "canned replies 1280px");

  // the same shortcut again: 409, said in words, nothing added
  await page.getByTestId("agent-canned-shortcut").fill(shortcut);
  await page.getByTestId("agent-canned-title").fill("Twice");
  await page.getByTestId("agent-canned-text").fill("Twice");
  await page.getByTestId("agent-canned-save").click();
  await page.getByText("that shortcut is taken").waitFor();
  assert.equal((await adminApi("GET", "/admin/canned")).canned.filter((c) => c.shortcut === shortcut).length, 1);

  // edit: the form fills with the reply; Save patches it; the focus returns to its row
  await row.getByRole("button", { name: `Edit /${shortcut}` }).click();
  assert.equal(await page.getByTestId("agent-canned-shortcut").inputValue(), shortcut);
  await page.getByTestId("agent-canned-title").fill("Parcel delayed (edited)");
  await page.getByTestId("agent-canned-save").click();
  await row.filter({ hasText: "Parcel delayed (edited)" }).waitFor();
  saved = await byShortcut(shortcut);
  assert.equal(saved.title, "Parcel delayed (edited)");
  assert.equal(await page.evaluate(() => document.activeElement.closest("tr")?.getAttribute("data-id")), saved.id, "focus back on the edited row");

  // delete (the confirm is accepted)
  await row.getByRole("button", { name: `Delete /${shortcut}` }).click();
  await row.waitFor({ state: "detached" });
  assert.equal(await byShortcut(shortcut), undefined, "deleted through DELETE /admin/canned/{id}");
  await context.close();
});

test("a supervisor has reports but no Canned replies screen", async () => {
  const sup = await freshAgent("csup", { role: "supervisor" });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await login(context, sup);
  await page.getByTestId("agent-reports").waitFor();
  assert.equal(await page.getByRole("button", { name: "Canned replies" }).count(), 0);
  await context.close();
});
