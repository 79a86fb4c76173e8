// The agent's tools on a real stack (API.md "Agent tools"): a canned reply through /shortcut
// with the customer's name filled in, a private note that another agent sees live and the
// customer's API and open widget never, tags and priority saved with PATCH, a department
// change, keyboard shortcuts, search and filters, "Load more" past the first 100 of a view,
// and the phone layout (390 and 360 px: the header fits, list → conversation → back).
// Agents, canned replies and customers are made for this run (helpers.mjs); customers talk
// through the API with their bearer token.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, RUN, launch, shot, inShadow, agentApiAvailable, adminApi, freshAgent, removeFreshAgents, waitForNoFreeAgent, apiOk, dashboardLogin } from "./helpers.mjs";
import { audit } from "./a11y.mjs";

assert.ok(await agentApiAvailable(), "the agent API answers (API.md: agent endpoints)");
const API = BASE + "/chat/api/v1";

let browser;
const cannedIds = [];
before(async () => { browser = await launch(); });
after(async () => {
  await browser?.close();
  for (const id of cannedIds) await adminApi("DELETE", `/admin/canned/${id}`).catch((e) => console.log("cleanup:", e.message));
  await removeFreshAgents();
});

const call = (method, path, token, body) => apiOk(token, method, path, body);
/** a customer with a conversation (and a name, when given) who says `text` */
async function customer({ name, text } = {}) {
  const s = await call("POST", "/session", null, {});
  if (name) await call("POST", "/identify", s.token, { name });
  if (text) await call("POST", "/messages", s.token, { text, client_id: crypto.randomUUID() });
  return { token: s.token, id: s.conversation.id };
}
const login = (context, who) => dashboardLogin(context, who, { acceptDialogs: true });
/** axe-core (a11y.mjs's rules) on the parts this file is about: no violation of any impact there */
const PARTS = [".conv-tools", ".notes-box", ".finder", "#agent-canned-list:not([hidden])", "dialog.shortcuts[open]", ".convlist .more", ".chat-head"];
async function assertPartsAccessible(page, label) {
  await audit(page, label); // loads axe-core into the page (the whole page's findings belong to a11y.mjs's users)
  const found = await page.evaluate(async (sels) => {
    const include = sels.filter((s) => document.querySelector(s)).map((s) => [s]);
    const r = await window.axe.run({ include }, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] }, resultTypes: ["violations"] });
    return r.violations.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  }, PARTS);
  assert.deepEqual(found, [], "accessibility of the agent tools on " + label);
}
const sel = (id) => `[data-testid="agent-conversation"][data-id="${id}"]`;
const focused = (page) => page.evaluate(() => document.activeElement && document.activeElement.getAttribute("data-testid"));
const patched = (page) => page.waitForResponse((r) => /\/agent\/conversations\/[^/?]+$/.test(new URL(r.url()).pathname) && r.request().method() === "PATCH");

test("canned reply by /shortcut with the customer's name, a private note, tags, priority, shortcuts and search", async () => {
  const me = await freshAgent("tools", { display_name: "Maya Tools" });
  const boss = await freshAgent("boss", { role: "supervisor", display_name: "Sam Supervisor" });
  const word = "parcel" + RUN; // one word for the full-text search, unique to this run
  // two canned replies sharing a prefix, so the picker has a choice (shortcuts come sorted)
  const pre = `t-${RUN}`;
  for (const [sc, title, text] of [
    [`${pre}-hello`, "Hello", "Hello {{customer.name}}!"],
    [`${pre}-refund`, "Refund time", "Hi {{customer.name}}, this is {{agent.name}}: refunds take 5 days."],
  ]) cannedIds.push((await adminApi("POST", "/admin/canned", { shortcut: sc, title, text })).canned.id);

  const name = "Ana " + RUN;
  const cust = await customer({ name, text: `My ${word} arrived damaged` });
  await customer({ text: "Do you ship to Norway?" }); // so that All holds more than ours, even on a fresh database
  await waitForNoFreeAgent(); // else assignment hands the chat to someone else at once
  await call("POST", "/escalate", cust.token, {});
  const { token: agentToken } = await call("POST", "/agent/login", null, { username: me.username, password: me.password });
  await call("POST", `/agent/conversations/${cust.id}/claim`, agentToken, {});
  const before = await call("GET", "/conversation?after=0&limit=200", cust.token);

  const actx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await login(actx, me);
  await page.locator(sel(cust.id)).click();
  await page.locator('[data-testid="agent-message"][data-sender="customer"]').filter({ hasText: word }).waitFor();
  // the supervisor has the same chat open (view All): notes reach them live
  const bctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const bossPage = await login(bctx, boss);
  await bossPage.getByTestId("agent-view-all").click();
  await bossPage.getByTestId("agent-search").fill(word);
  await bossPage.locator(sel(cust.id)).click();
  await bossPage.locator('[data-testid="agent-message"][data-sender="customer"]').filter({ hasText: word }).waitFor();

  // "/" + prefix: both canned replies offered; ↓ picks the second; Enter puts it in, filled
  const input = page.getByTestId("agent-input");
  await input.click();
  await page.keyboard.type("/" + pre);
  const options = page.getByTestId("agent-canned-option");
  await options.nth(1).waitFor();
  assert.deepEqual(await options.evaluateAll((els) => els.map((e) => e.getAttribute("data-shortcut"))), [`${pre}-hello`, `${pre}-refund`]);
  assert.equal(await options.first().getAttribute("aria-selected"), "true");
  await shot(page, "agent-tools-canned-1280");
  await assertPartsAccessible(page, "the canned list");
  await page.keyboard.press("ArrowDown");
  assert.equal(await options.nth(1).getAttribute("aria-selected"), "true", "↓ moves to the second reply");
  await page.keyboard.press("Enter");
  const expanded = `Hi ${name}, this is Maya Tools: refunds take 5 days.`;
  assert.equal(await input.inputValue(), expanded, "the reply is in the box with both placeholders filled");
  assert.equal(await page.getByTestId("agent-canned-list").isVisible(), false, "the list closed");
  await page.keyboard.press("Enter");
  await page.locator('[data-testid="agent-message"][data-sender="agent"]').filter({ hasText: expanded }).waitFor();
  const seen = await call("GET", "/conversation?after=0&limit=200", cust.token);
  assert.ok(seen.messages.some((m) => m.sender_type === "agent" && m.content === expanded), "the customer got the expanded text");
  // the customer's widget (their session cookie), open while the note is written below
  const wctx = await browser.newContext();
  await wctx.addCookies([{ name: "chat_session", value: cust.token, domain: new URL(BASE).hostname, path: "/chat" }]);
  const widget = await wctx.newPage();
  await widget.goto(BASE + "/index.html");
  await widget.getByTestId("chat-launcher").click();
  await widget.locator('[data-testid="chat-message"][data-sender="agent"]').filter({ hasText: expanded }).waitFor();
  // a shortcut typed in full, then Tab: the first match, exact
  await input.click();
  await page.keyboard.type(`thanks /${pre}-hello`);
  await options.first().waitFor();
  await page.keyboard.press("Tab");
  assert.equal(await input.inputValue(), `thanks Hello ${name}!`, "a /shortcut after other text expands in place");
  await input.fill("");

  // a private note: Alt+N focuses the note box; it shows as a note, never as a message
  await page.keyboard.press("Escape");
  await page.keyboard.press("Alt+n");
  assert.equal(await focused(page), "agent-note-input", "Alt+N: the note box");
  const noteText = "Customer is upset, offer a voucher " + RUN;
  await page.keyboard.type(noteText);
  const [noteRes] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/agent/conversations/${cust.id}/notes`) && r.request().method() === "POST"),
    page.getByTestId("agent-note-send").click(),
  ]);
  assert.equal(noteRes.status(), 201);
  assert.ok(noteRes.request().postDataJSON().client_id, "the note is sent with a client_id");
  await page.getByTestId("agent-note").filter({ hasText: noteText }).waitFor();
  assert.match(await page.getByTestId("agent-note").filter({ hasText: noteText }).textContent(), /Private.*Maya Tools/);
  assert.equal(await page.getByTestId("agent-message").filter({ hasText: noteText }).count(), 0, "not in the transcript");
  await bossPage.getByTestId("agent-note").filter({ hasText: noteText }).waitFor({ timeout: 10000 });
  // the supervisor heard note.created; the customer's open widget shows nothing of it, nor after a reload
  await page.getByTestId("agent-input").fill("A reply after the note " + RUN);
  await page.getByTestId("agent-input").press("Control+Enter");
  await widget.locator('[data-testid="chat-message"]').filter({ hasText: "A reply after the note " + RUN }).waitFor({ timeout: 10000 });
  assert.ok(!(await inShadow(widget, (root) => root.textContent)).includes(noteText), "the live widget never shows the note");
  await widget.reload(); // the widget reopens as it was left
  await widget.locator('[data-testid="chat-message"]').filter({ hasText: "A reply after the note " + RUN }).waitFor({ state: "attached" });
  assert.ok(!(await inShadow(widget, (root) => root.textContent)).includes(noteText), "nor after a reload");
  await shot(widget, "agent-tools-customer-widget");
  await wctx.close();
  const after = await call("GET", "/conversation?after=0&limit=200", cust.token);
  assert.ok(!JSON.stringify(after).includes(noteText), "the customer's API never shows the note");
  assert.equal(after.conversation.last_seq, seen.conversation.last_seq + 1, "a note takes no seq (one reply since)");
  const again = await call("POST", "/session", cust.token, {});
  assert.ok(!JSON.stringify(again).includes(noteText), "nor does the customer's session");
  assert.ok(before.messages.length < seen.messages.length);

  // tags (Alt+T, comma separated, Enter saves) and priority, checked through the API
  await page.keyboard.press("Alt+t");
  assert.equal(await focused(page), "agent-tags", "Alt+T: the tags");
  await page.keyboard.type("Damaged, REFUND refund");
  const [tagRes] = await Promise.all([patched(page), page.keyboard.press("Enter")]);
  assert.deepEqual(tagRes.request().postDataJSON(), { tags: ["damaged", "refund"] });
  await page.getByTestId("agent-priority").selectOption("high");
  await page.waitForFunction((id) => {
    const row = document.querySelector(`[data-testid="agent-conversation"][data-id="${id}"]`);
    return row && /High priority/.test(row.textContent) && /#refund/.test(row.textContent);
  }, cust.id);
  const { conversation: c } = await call("GET", `/agent/conversations/${cust.id}`, agentToken);
  assert.deepEqual(c.tags, ["damaged", "refund"]);
  assert.equal(c.priority, "high");
  // a tag the server would refuse is explained, and nothing is sent
  await page.getByTestId("agent-tags").fill("damaged, two words!");
  await page.getByTestId("agent-tags").press("Enter");
  await page.getByText(/is not a tag/).waitFor();
  await page.getByTestId("agent-tags").press("Escape");
  assert.equal(await page.getByTestId("agent-tags").inputValue(), "damaged, refund");
  await shot(page, "agent-tools-1280");

  // the help: "?" outside a text field
  await page.locator("body").click({ position: { x: 640, y: 5 } });
  await page.keyboard.press("Escape");
  await page.keyboard.press("?");
  await page.getByTestId("agent-shortcuts").waitFor();
  assert.match(await page.getByTestId("agent-shortcuts").textContent(), /Alt.*N.*private note/);
  await shot(page, "agent-shortcuts-1280");
  await assertPartsAccessible(page, "the shortcuts");
  await page.getByTestId("agent-shortcuts-close").click();
  await page.getByTestId("agent-shortcuts").waitFor({ state: "hidden" });

  // search and filters: the boss's All view narrows to the chat with the word, tag and priority
  await bossPage.getByTestId("agent-search").fill("");
  await bossPage.waitForFunction(() => document.querySelectorAll('[data-testid="agent-conversation"]').length > 1);
  // j / k outside text fields: the next and the previous conversation of the list
  const ids = await bossPage.getByTestId("agent-conversation").evaluateAll((els) => els.map((e) => e.getAttribute("data-id")));
  const at = ids.indexOf(cust.id);
  assert.ok(at >= 0 && at < ids.length - 1, "ours is in All, with one after it");
  await bossPage.locator(sel(cust.id)).focus();
  await bossPage.keyboard.press("j");
  await bossPage.locator(sel(ids[at + 1]) + '[aria-current="true"]').waitFor();
  assert.equal(await focused(bossPage), "agent-conversation", "the focus stays in the list, so j/k go on");
  await bossPage.keyboard.press("k");
  await bossPage.locator(sel(cust.id) + '[aria-current="true"]').waitFor();
  const [searchReq] = await Promise.all([
    bossPage.waitForRequest((r) => r.url().includes("view=all") && r.url().includes("q=" + word)),
    bossPage.getByTestId("agent-search").fill(word),
  ]);
  assert.ok(searchReq);
  await bossPage.waitForFunction(() => document.querySelectorAll('[data-testid="agent-conversation"]').length === 1);
  assert.equal(await bossPage.getByTestId("agent-conversation").getAttribute("data-id"), cust.id);
  await bossPage.getByTestId("agent-search").fill("nosuchword" + RUN);
  await bossPage.getByText("No conversations match").waitFor();
  await bossPage.getByTestId("agent-search").fill("");
  await bossPage.getByTestId("agent-filters-toggle").click();
  await bossPage.getByTestId("agent-filter-tag").fill("damaged");
  await bossPage.getByTestId("agent-filter-priority").selectOption("high");
  await bossPage.locator(sel(cust.id)).waitFor();
  await bossPage.waitForFunction(() => [...document.querySelectorAll('[data-testid="agent-conversation"]')]
    .every((r) => /#damaged/.test(r.textContent) && /High priority/.test(r.textContent)));
  await shot(bossPage, "agent-filters-1280");
  await assertPartsAccessible(bossPage, "the filters, tools and notes");
  await bossPage.getByTestId("agent-filter-priority").selectOption("urgent");
  await bossPage.locator(sel(cust.id)).waitFor({ state: "detached" });

  // a department change (when the shop has departments): PATCH department_id, seen through the API
  await bossPage.getByTestId("agent-filters-clear").click();
  await bossPage.locator(sel(cust.id)).click();
  const dept = bossPage.getByTestId("agent-department");
  const deptIds = (await dept.locator("option").evaluateAll((os) => os.map((o) => o.value))).filter(Boolean);
  if (deptIds.length) {
    const [res] = await Promise.all([patched(bossPage), dept.selectOption(deptIds[0])]); // the confirm is accepted
    assert.deepEqual(res.request().postDataJSON(), { department_id: deptIds[0] });
    const { conversation: moved } = await call("GET", `/agent/conversations/${cust.id}`, (await call("POST", "/agent/login", null, { username: boss.username, password: boss.password })).token);
    assert.equal(moved.department.id, deptIds[0]);
  }
  await actx.close(); await bctx.close();
});

test("Load more shows the next page of a view past the first 100", async () => {
  const boss = await freshAgent("pages", { role: "supervisor" });
  const word = "bulk" + RUN;
  const N = 105;
  for (let i = 0; i < N; i += 15) {
    await Promise.all(Array.from({ length: Math.min(15, N - i) }, (_, k) => customer({ text: `${word} question ${i + k}` })));
  }
  const actx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await login(actx, boss);
  await page.getByTestId("agent-view-all").click();
  await page.getByTestId("agent-search").fill(word);
  const rows = page.getByTestId("agent-conversation");
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="agent-conversation"]').length === 100);
  assert.match(await page.getByTestId("agent-view-all").textContent(), /100\+/);
  const more = page.getByTestId("agent-load-more");
  await page.evaluate(() => { const l = document.querySelector(".convlist"); l.scrollTop = l.scrollHeight; });
  await more.waitFor();
  await shot(page, "agent-load-more-1280");
  await assertPartsAccessible(page, "Load more");
  const [req] = await Promise.all([
    page.waitForRequest((r) => r.url().includes("view=all") && r.url().includes("cursor=")),
    more.click(),
  ]);
  assert.ok(req);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="agent-conversation"]').length === n, N);
  assert.equal(await more.count(), 0, "no more pages");
  const ids = await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-id")));
  assert.equal(new Set(ids).size, N, "each conversation once");
  assert.match(await page.getByTestId("agent-view-all").textContent(), new RegExp(`${N}(?!\\+)`));
  await actx.close();
});

test("phone layout (390 px): the header fits, list → conversation → back; desktop keeps three columns", async () => {
  const me = await freshAgent("phone", { display_name: "Pia Phone" });
  // a customer who never said their name: the canned reply's placeholder falls back to "there"
  cannedIds.push((await adminApi("POST", "/admin/canned", { shortcut: `p-${RUN}`, title: "Phone hello", text: "Hi {{customer.name}}, {{agent.name}} here." })).canned.id);
  const cust = await customer({ text: "Is the mug dishwasher safe?" });
  await waitForNoFreeAgent();
  await call("POST", "/escalate", cust.token, {});
  const { token } = await call("POST", "/agent/login", null, { username: me.username, password: me.password });
  await call("POST", `/agent/conversations/${cust.id}/claim`, token, {});

  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await login(ctx, me);
  const signOut = page.getByRole("button", { name: "Sign out" });
  const box = await signOut.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 390 && box.y + box.height <= 844, `Sign out within the viewport: ${JSON.stringify(box)}`);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), "nothing wider than the screen");
  for (const id of ["agent-presence", "agent-help"]) {
    const b = await page.getByTestId(id).boundingBox();
    assert.ok(b && b.x + b.width <= 390, id + " within the viewport");
  }
  // down to 360 px the header is one row: Sign out beside the presence, not under it
  await page.setViewportSize({ width: 360, height: 740 });
  const [so, pr] = [await signOut.boundingBox(), await page.getByTestId("agent-presence").boundingBox()];
  assert.ok(so.x + so.width <= 360 && Math.abs((so.y + so.height / 2) - (pr.y + pr.height / 2)) < 8, `one header row at 360 px: ${JSON.stringify([so, pr])}`);
  await shot(page, "agent-phone-list-360");
  await page.setViewportSize({ width: 390, height: 844 });
  const row = page.locator(sel(cust.id));
  await row.waitFor();
  assert.equal(await page.getByText(/on the left/).count(), 0, 'no "on the left" in a stacked layout');
  await shot(page, "agent-phone-list-390");
  await row.click();
  await page.locator('[data-testid="agent-message"][data-sender="customer"]').filter({ hasText: "dishwasher" }).waitFor();
  assert.equal(await row.isVisible(), false, "the conversation takes the screen");
  await page.getByTestId("agent-input").waitFor({ state: "visible" });
  const back = page.getByTestId("agent-back");
  assert.ok(await back.isVisible(), "a back button");
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), "the conversation fits");
  await page.getByTestId("agent-input").click();
  await page.keyboard.type(`/p-${RUN}`);
  await page.getByTestId("agent-canned-option").first().waitFor();
  await shot(page, "agent-phone-canned-390");
  await page.keyboard.press("Enter");
  assert.equal(await page.getByTestId("agent-input").inputValue(), "Hi there, Pia Phone here.", "no name: the fallback");
  await page.keyboard.press("Enter");
  await page.locator('[data-testid="agent-message"][data-sender="agent"]').filter({ hasText: "Hi there, Pia Phone here." }).waitFor();
  await shot(page, "agent-phone-conversation-390");
  // the details (context and notes) open over the conversation and close again
  await page.getByTestId("agent-details").click();
  await page.getByTestId("agent-note-input").waitFor({ state: "visible" });
  await page.getByTestId("agent-context").getByText("Visitor " + cust.id.slice(0, 6)).first().waitFor();
  await shot(page, "agent-phone-details-390");
  await assertPartsAccessible(page, "the details at 390 px");
  await page.getByTestId("agent-details-close").click();
  await page.getByTestId("agent-note-input").waitFor({ state: "hidden" });
  await back.click();
  await row.waitFor({ state: "visible" });
  assert.equal(await page.getByTestId("agent-input").isVisible(), false, "back on the list");
  await shot(page, "agent-phone-back-390");

  // desktop: list, conversation and context side by side, no back button
  await page.setViewportSize({ width: 1280, height: 800 });
  await row.click();
  await page.getByTestId("agent-input").waitFor({ state: "visible" });
  assert.ok(await row.isVisible(), "the list stays");
  assert.ok(await page.getByTestId("agent-context").isVisible(), "the context panel stays");
  assert.equal(await back.isVisible(), false, "no back button on a desktop");
  await shot(page, "agent-desktop-1280");
  await ctx.close();
});
