// The widget after close and under the bot's answers (issue 13, API.md "After close", "Bot
// feedback"): the rating prompt when an agent closes the chat, once, with the server's 409 and
// 422 said in words; "Did this answer your question?" once per FAQ answer, "no" offering a person
// right there; and the input capped at the server's chat_message_max (POST /session "limits").
// Real stack: the conversations are escalated into a department of this run whose only member
// stays offline (so nobody else takes them), claimed and closed by a supervisor of this run.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  BASE, RUN, launch, shot, inShadow, customerConversation, removeFreshAgents, agentApiAvailable, awayDesk,
  openWidget,
} from "./helpers.mjs";

const API = BASE + "/chat/api/v1";
assert.ok(await agentApiAvailable(), "the agent API answers");

let browser, away, asBoss, desk;
before(async () => {
  browser = await launch();
  desk = await awayDesk("rate", "Rate", "Sam Rivera");
  ({ away, asBoss } = desk);
});
after(async () => {
  await browser?.close();
  if (desk) await desk.remove();
  await removeFreshAgents();
});

const focused = (page) => inShadow(page, (root) => {
  const a = root.activeElement;
  return a ? (a.getAttribute("data-testid") || a.tagName.toLowerCase()) + (a.dataset.score ? ":" + a.dataset.score : "") : null;
});

/** escalates the widget's chat into this run's away department; the supervisor claims it */
async function escalatedAndClaimed(page) {
  await page.getByTestId("chat-talk-to-agent").click();
  await page.locator(`[data-testid="chat-department"][data-department-id="${away.id}"]`).click();
  await page.getByTestId("chat-status").filter({ hasText: /queue/ }).waitFor();
  const { conversation } = await customerConversation(page);
  await asBoss("POST", `/agent/conversations/${conversation.id}/claim`);
  await page.getByTestId("chat-status").filter({ hasText: "Sam Rivera" }).waitFor();
  return conversation.id;
}

test("when the agent closes the chat, the customer rates it with the keyboard, once; the rating stays shown", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await openWidget(context);
  const id = await escalatedAndClaimed(page);
  await asBoss("POST", `/agent/conversations/${id}/messages`, { text: "Anything else I can do?", client_id: crypto.randomUUID() });
  await page.locator('[data-testid="chat-message"][data-sender="agent"]').filter({ hasText: "Anything else" }).waitFor();
  await page.getByTestId("chat-input").focus();
  await asBoss("POST", `/agent/conversations/${id}/close`);

  // the prompt: five buttons, a comment and send; the focus moved from the vanished input to the first star
  await page.getByTestId("chat-rating").first().waitFor();
  assert.deepEqual(await page.getByTestId("chat-rating").evaluateAll((els) => els.map((e) => e.dataset.score)), ["1", "2", "3", "4", "5"]);
  assert.equal(await page.getByTestId("chat-input").isVisible(), false, "no composer on a closed chat");
  assert.equal(await focused(page), "chat-rating:1", "the focus is not lost when the composer goes");
  await shot(page, "widget-rating-prompt-1280");

  // sending without a score says what is missing (nothing is posted)
  await page.getByTestId("chat-rating-send").click();
  await page.getByText("Choose from 1 to 5 stars first.").waitFor();

  // keyboard: Tab to the fourth star, Enter; Tab to the comment, type; Tab to send, Enter
  await page.getByTestId("chat-rating").first().focus();
  for (let i = 0; i < 3; i++) await page.keyboard.press("Tab");
  assert.equal(await focused(page), "chat-rating:4");
  await page.keyboard.press("Enter");
  assert.equal(await page.locator('[data-testid="chat-rating"][data-score="4"]').getAttribute("aria-pressed"), "true");
  assert.equal(await page.locator('[data-testid="chat-rating"][data-score="5"]').getAttribute("aria-pressed"), "false");
  // the choice shows in shape, not colour alone: filled stars up to it, outlined after
  assert.deepEqual(await page.getByTestId("chat-rating").allTextContents(), ["★", "★", "★", "★", "☆"]);
  await page.keyboard.press("Tab"); await page.keyboard.press("Tab");
  assert.equal(await focused(page), "chat-rating-comment");
  await page.keyboard.type("Quick and kind");
  await page.keyboard.press("Tab");
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/rating")),
    page.keyboard.press("Enter"),
  ]);
  assert.equal(res.status(), 200);
  assert.deepEqual(res.request().postDataJSON(), { score: 4, comment: "Quick and kind" });
  const given = page.getByTestId("chat-rating-given");
  await given.filter({ hasText: "You rated this chat 4 of 5" }).waitFor();
  assert.match(await given.textContent(), /Quick and kind/);
  assert.match(await given.textContent(), /Thank you/);
  assert.equal(await page.getByTestId("chat-rating").count() > 0 && await page.getByTestId("chat-rating").first().isVisible(), false, "the prompt is gone");
  assert.equal(await focused(page), "chat-rating-given", "the focus moves to the answer");
  await shot(page, "widget-rated-1280");
  assert.deepEqual((await customerConversation(page)).conversation.rating, { score: 4, comment: "Quick and kind" });

  await context.close();
});

test("a rating the server refuses is explained: 422 for a too long comment, 409 once it was rated elsewhere", async () => {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true });
  const page = await openWidget(context, "/product-tee.html");
  const id = await escalatedAndClaimed(page);
  await asBoss("POST", `/agent/conversations/${id}/close`);
  await page.locator('[data-testid="chat-rating"][data-score="2"]').click();
  // 422: the server's limit on the comment, in its words
  await page.getByTestId("chat-rating-comment").fill("x".repeat(1001));
  const [bad] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/rating")), page.getByTestId("chat-rating-send").click()]);
  assert.equal(bad.status(), 422);
  await page.getByText(/^Not sent: .*comment/).waitFor();
  assert.equal(await page.getByTestId("chat-rating-send").isVisible(), true, "the prompt stays to fix it");
  await shot(page, "widget-rating-422-360");

  // 409: the same chat rated meanwhile (another tab of the customer) just before this tab's send
  const [again, other] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/rating") && r.request().postDataJSON().score === 2),
    page.evaluate(async () => {
      const r = await fetch("/chat/api/v1/rating", {
        method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", "X-Chat-Csrf": "1" },
        body: JSON.stringify({ score: 5 }),
      });
      document.getElementById("nginx-chat-widget").shadowRoot.querySelector('[data-testid="chat-rating-comment"]').value = "";
      document.getElementById("nginx-chat-widget").shadowRoot.querySelector('[data-testid="chat-rating-send"]').click();
      return r.status;
    }),
  ]);
  assert.equal(other, 200, "rated in the other tab");
  assert.equal(again.status(), 409, "this tab's rating is refused");
  // the widget shows the rating that was given, says so, and does not ask again
  await page.getByTestId("chat-rating-given").filter({ hasText: "You rated this chat 5 of 5. This chat was already rated." }).waitFor();
  assert.equal(await page.getByTestId("chat-rating").first().isVisible(), false, "no prompt for a rated chat");
  await shot(page, "widget-rating-409-360");
  await context.close();
});

test("under each FAQ answer: did it help? once per answer; no offers a person right there; 409 is said", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await openWidget(context, "/product-beans.html");
  const faq = (await (await fetch(API + "/faq")).json()).faq;
  const bots = page.locator('[data-testid="chat-message"][data-sender="bot"]');
  assert.equal(await bots.first().getByTestId("chat-helpful").count(), 0, "not under the greeting");

  // yes: thanks, the buttons go, the focus stays on the row; POST /feedback {message_id, helpful}
  await page.locator(`[data-testid="chat-faq"][data-slug="${faq[0].slug}"]`).click();
  const first = bots.filter({ hasText: faq[0].answer.slice(0, 30) }).first();
  await first.getByTestId("chat-helpful").first().waitFor();
  await shot(page, "widget-helpful-1280");
  const [yes] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/feedback")),
    first.locator('[data-testid="chat-helpful"][data-helpful="true"]').click(),
  ]);
  assert.equal(yes.status(), 204);
  const body = yes.request().postDataJSON();
  assert.equal(body.helpful, true);
  assert.match(body.message_id, /^[0-9a-f-]{36}$/);
  await first.getByText("Thanks! Glad it helped.").waitFor();
  assert.equal(await first.getByTestId("chat-helpful").count(), 0, "asked once");
  assert.equal(await inShadow(page, (root) => root.activeElement && root.activeElement.textContent), "Thanks! Glad it helped.");

  // 409: the next answer was already judged (say, in another tab): the widget says so, asks no more
  await page.locator(`[data-testid="chat-faq"][data-slug="${faq[1].slug}"]`).click();
  const second = bots.filter({ hasText: faq[1].answer.slice(0, 30) }).first();
  await second.getByTestId("chat-helpful").first().waitFor();
  const { messages } = await customerConversation(page);
  const answer = messages.filter((m) => m.sender_type === "bot").pop();
  const st = await page.evaluate(async (id) => (await fetch("/chat/api/v1/feedback", {
    method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", "X-Chat-Csrf": "1" },
    body: JSON.stringify({ message_id: id, helpful: true }),
  })).status, answer.id);
  assert.equal(st, 204);
  const [dup] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/feedback")),
    second.locator('[data-testid="chat-helpful"][data-helpful="true"]').click(),
  ]);
  assert.equal(dup.status(), 409);
  await second.getByText("You already answered this one. Thanks!").waitFor();

  // no: a person is offered at once, under the answer; it opens the department picker
  await page.locator(`[data-testid="chat-faq"][data-slug="${faq[2].slug}"]`).click();
  const third = bots.filter({ hasText: faq[2].answer.slice(0, 30) }).first();
  await third.locator('[data-testid="chat-helpful"][data-helpful="false"]').click();
  await third.getByText("Sorry it didn't. A person can help:").waitFor();
  const offer = third.getByTestId("chat-helpful-talk");
  await offer.waitFor();
  assert.equal(await inShadow(page, (root) => root.activeElement && root.activeElement.getAttribute("data-testid")), "chat-helpful-talk",
    "the offer has the focus");
  await shot(page, "widget-not-helpful-1280");
  await page.keyboard.press("Enter");
  await page.locator(`[data-testid="chat-department"][data-department-id="${away.id}"]`).waitFor();
  await shot(page, "widget-not-helpful-picker-1280");

  // answered ones are remembered across a refresh
  await page.reload();
  await page.getByTestId("chat-panel").waitFor();
  await bots.filter({ hasText: faq[2].answer.slice(0, 30) }).first().waitFor();
  assert.equal(await page.getByTestId("chat-helpful").count(), 0, "no answer asks again");
  await context.close();
});

test("the input takes as many characters as the server allows (POST /session limits.message_max)", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(BASE + "/product-mug.html");
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/session")),
    page.getByTestId("chat-launcher").click(),
  ]);
  const max = (await res.json()).limits.message_max;
  assert.ok(Number.isInteger(max) && max > 2000, `the server allows ${max} characters`);
  const input = page.getByTestId("chat-input");
  await page.locator('[data-testid="chat-message"][data-sender="bot"]').first().waitFor();
  assert.equal(await input.evaluate((el) => el.maxLength), max, "the input's cap is the server's");
  const text = "ab".repeat(Math.floor(max / 2)) + "x".repeat(max % 2);
  await input.fill(text + "overflow");
  assert.equal((await input.inputValue()).length, max, "typing past the cap stops at it");
  assert.equal(await page.getByTestId("chat-chars-left").textContent(), "0 characters left", "and says so");
  await input.press("Backspace");
  assert.equal(await page.getByTestId("chat-chars-left").textContent(), "1 character left");
  await input.press("x");
  await shot(page, "widget-chars-left-1280");
  const [post] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/messages")), input.press("Enter")]);
  assert.equal(post.status(), 201, `a message of ${max} characters is accepted`);
  await page.locator('[data-testid="chat-message"][data-sender="customer"] .bubble').filter({ hasText: text.slice(0, 50) }).first().waitFor();
  await context.close();
});

test("a reply's answer that arrives after the close does not reopen the chat: the rating prompt stays", async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 760 } });
  const page = await openWidget(context);
  const id = await escalatedAndClaimed(page);
  // the customer's POST /messages is answered by the server at once (status "agent"), but its
  // answer reaches the page only after the agent has closed the chat and chat.closed arrived
  let release;
  const held = new Promise((r) => { release = r; });
  let posted;
  const answered = new Promise((r) => { posted = r; });
  await page.route("**/chat/api/v1/messages", async (route) => {
    const res = await route.fetch();
    posted();
    await held;
    await route.fulfill({ response: res });
  });
  await page.getByTestId("chat-input").fill("One more thing");
  await page.getByTestId("chat-send").click();
  await answered;
  await asBoss("POST", `/agent/conversations/${id}/close`);
  await page.getByTestId("chat-rating").first().waitFor();
  release();
  // the held answer has been applied once the message is no longer pending ("Sending…")
  await page.locator('[data-testid="chat-message"][data-sender="customer"]:not(.pending)').filter({ hasText: "One more thing" }).waitFor();
  assert.equal(await page.getByTestId("chat-rating").first().isVisible(), true, "the rating prompt is still shown");
  assert.equal(await page.getByTestId("chat-input").isVisible(), false, "no composer: the chat stays closed");
  await page.unroute("**/chat/api/v1/messages");
  await context.close();
});
