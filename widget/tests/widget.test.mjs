// The customer widget in real Chromium against a running stack (CHAT_URL).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { BASE, RUN, launch, shot, inShadow, customerConversation, talkToPerson } from "./helpers.mjs";

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function openWidget(context, path = "/product-mug.html") {
  const page = await context.newPage();
  const dialogs = [];
  page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
  page.on("pageerror", (e) => console.log("page error:", e.message));
  await page.goto(BASE + path);
  await page.getByTestId("chat-launcher").click();
  await page.getByTestId("chat-panel").waitFor({ state: "visible" });
  await page.locator('[data-testid="chat-message"][data-sender="bot"]').first().waitFor();
  return { page, dialogs };
}
const texts = (page) => page.getByTestId("chat-message").locator(".bubble, span").allTextContents();

test("a customer asks an FAQ question and sees the bot's answer; a refresh keeps the history", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const { page } = await openWidget(context);
  await shot(page, "widget-greeting");
  const faq = (await (await page.request.get(BASE + "/chat/api/v1/faq")).json()).faq;
  assert.ok(faq.length > 0, "the FAQ has entries");
  const chip = page.getByTestId("chat-faq").first();
  await chip.waitFor();
  const slug = await chip.getAttribute("data-slug");
  const entry = faq.find((f) => f.slug === slug);
  assert.ok(entry, "the first chip is an FAQ entry");
  await chip.click();
  const answer = page.locator('[data-testid="chat-message"][data-sender="bot"]').filter({ hasText: entry.answer.slice(0, 40) });
  await answer.first().waitFor();
  await page.locator('[data-testid="chat-message"][data-sender="customer"]').filter({ hasText: entry.question }).first().waitFor();

  // a typed question gets an instant bot reply too
  const before = await page.locator('[data-testid="chat-message"][data-sender="bot"]').count();
  await page.getByTestId("chat-input").fill("How long does shipping take?");
  await page.getByTestId("chat-input").press("Enter");
  await page.locator('[data-testid="chat-message"][data-sender="customer"]').filter({ hasText: "How long does shipping take?" }).first().waitFor();
  await page.waitForFunction((n) => {
    const r = document.getElementById("nginx-chat-widget").shadowRoot;
    return r.querySelectorAll('[data-testid="chat-message"][data-sender="bot"]').length > n;
  }, before);
  await shot(page, "widget-faq-answer");

  // refresh: same conversation, same history
  const convBefore = (await customerConversation(page)).conversation.id;
  const history = await texts(page);
  await page.reload();
  await page.getByTestId("chat-panel").waitFor({ state: "visible" }); // the panel stays open across a refresh
  await page.locator('[data-testid="chat-message"][data-sender="bot"]').nth(2).waitFor();
  assert.deepEqual(await texts(page), history, "the history is the same after a refresh");
  assert.equal((await customerConversation(page)).conversation.id, convBefore, "and so is the conversation");
  await context.close();
});

test("an XSS payload in a message stays text", async () => {
  const context = await browser.newContext();
  const { page, dialogs } = await openWidget(context);
  const payload = "<img src=x onerror=alert(1)>";
  await page.getByTestId("chat-input").fill(payload);
  await page.getByTestId("chat-send").click();
  const mine = page.locator('[data-testid="chat-message"][data-sender="customer"] .bubble').filter({ hasText: payload });
  await mine.first().waitFor();
  assert.equal(await mine.first().textContent(), payload, "the payload is shown as text");
  assert.equal(await inShadow(page, (root) => root.querySelectorAll("img").length), 0, "no img element in the widget");
  assert.equal(await page.locator("img").count(), 0, "none on the page either");
  await page.waitForTimeout(300);
  assert.deepEqual(dialogs, [], "no script ran");
  await shot(page, "widget-xss");
  await context.close();
});

test("a message that arrives before its post's answer is shown once, not twice", async () => {
  // the server commits the post at once, but its answer reaches the page only after the
  // message itself has come (the bot's reply on the socket, then the catch-up that fills its gap)
  const context = await browser.newContext();
  const { page } = await openWidget(context);
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route("**/chat/api/v1/messages", async (route) => {
    const res = await route.fetch();
    await held;
    await route.fulfill({ response: res }).catch(() => {});
  });
  const text = `where is my parcel ${RUN}`;
  await page.getByTestId("chat-input").fill(text);
  await page.getByTestId("chat-send").click();
  const mine = page.locator('[data-testid="chat-message"][data-sender="customer"]').filter({ hasText: text });
  // the confirmed message (it has a seq) is on screen while the post's answer is still held
  await page.locator('[data-testid="chat-message"][data-sender="customer"][data-seq]').filter({ hasText: text }).waitFor();
  assert.equal(await mine.count(), 1, "one bubble while the answer is held: the sending one gave way to the message");
  assert.equal(await page.getByText("Sending…").count(), 0, "nothing still says Sending…");
  const answered = page.waitForResponse("**/chat/api/v1/messages");
  release();
  await answered;
  await page.waitForTimeout(300);
  assert.equal(await mine.count(), 1, "still one once the answer came");
  await page.unroute("**/chat/api/v1/messages");
  await context.close();
});

test('"Talk to agent" shows the queue and hides itself', async () => {
  const context = await browser.newContext();
  const { page } = await openWidget(context, "/product-tee.html");
  const talk = page.getByTestId("chat-talk-to-agent");
  await talk.waitFor();
  await talkToPerson(page); // "No preference" when the shop has departments
  const status = page.getByTestId("chat-status");
  await page.waitForFunction(() => {
    const s = document.getElementById("nginx-chat-widget").shadowRoot.querySelector('[data-testid="chat-status"]');
    return /queue|chatting with|waiting/i.test(s.textContent);
  });
  const st = await status.textContent();
  if (/queue/i.test(st)) {
    await page.locator('[data-testid="chat-message"][data-sender="system"]').filter({ hasText: "You are in queue" }).first().waitFor();
    assert.match(st, /#\d+ in the queue|waiting/i);
  }
  assert.equal(await page.getByTestId("chat-faq").first().isVisible(), false, "FAQ chips go away once a person is asked for");
  await shot(page, "widget-queue");
  await context.close();
});

test("usable on a 360 px wide screen, keyboard only", async () => {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  await page.goto(BASE + "/product-beans.html");
  await shot(page, "mobile-shop");
  // keyboard: focus the launcher, open with Enter, type, send with Enter, close with Escape
  await page.getByTestId("chat-launcher").focus();
  await page.keyboard.press("Enter");
  await page.getByTestId("chat-panel").waitFor({ state: "visible" });
  await page.locator('[data-testid="chat-message"][data-sender="bot"]').first().waitFor();
  const box = await page.getByTestId("chat-panel").boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 360.5, "the panel fits in 360 px");
  const input = page.getByTestId("chat-input");
  assert.ok(await input.evaluate((el) => el.getRootNode().activeElement === el), "the input has the focus");
  await page.keyboard.type("Do you ship to Norway?");
  await page.keyboard.press("Enter");
  await page.locator('[data-testid="chat-message"][data-sender="customer"]').filter({ hasText: "Norway" }).first().waitFor();
  await page.locator('[data-testid="chat-message"][data-sender="bot"]').nth(1).waitFor();
  await shot(page, "mobile-chat");
  assert.equal(await page.getByTestId("chat-launcher").getAttribute("aria-expanded"), "true");
  await page.keyboard.press("Escape");
  await page.getByTestId("chat-panel").waitFor({ state: "hidden" });
  assert.equal(await page.getByTestId("chat-launcher").getAttribute("aria-expanded"), "false");
  await context.close();
});

test("the agent dashboard shows a login form and explains a failed sign-in", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(BASE + "/chat/agent/");
  await page.getByTestId("agent-username").fill("nobody-" + RUN); // fresh: never near the login limit
  await page.getByTestId("agent-password").fill("wrong-password");
  await shot(page, "agent-login");
  await page.getByTestId("agent-login").click();
  const err = page.locator(".form-error");
  await page.waitForFunction(() => document.querySelector(".form-error").textContent.length > 0);
  assert.match(await err.textContent(), /wrong username or password/i);
  await shot(page, "agent-login-error");
  await context.close();
});
