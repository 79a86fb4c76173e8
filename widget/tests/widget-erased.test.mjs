// A customer erased while their widget is open (`chatctl erase --email`, GDPR): the server
// closes the widget's socket with 4410, and the widget starts over with a new, empty chat
// instead of reconnecting to (or showing) the deleted one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { launch, shot, inShadow, customerConversation, openWidget, RUN } from "./helpers.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PG_PORT = process.env.CHAT_PG_PORT || "55432";
const REDIS_PORT = process.env.CHAT_REDIS_PORT || "56379";

function chatctl(...args) {
  return new Promise((resolve, reject) => {
    execFile(ROOT + "build/core/chatctl",
      ["--conninfo", `host=127.0.0.1 port=${PG_PORT} dbname=chat user=chat password=chat`, ...args],
      { env: { ...process.env, CHAT_REDIS: `127.0.0.1:${REDIS_PORT}` } },
      (err, stdout, stderr) => (err ? reject(new Error(`chatctl ${args[0]}: ${err.message} ${stderr}`)) : resolve(stdout)));
  });
}

test("an erased customer's open widget drops the deleted chat and starts a new one", async () => {
  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 390, height: 760 } });
    const page = await openWidget(context);
    const secret = `my order number is ${RUN}-7731`;
    await page.getByTestId("chat-input").fill(secret);
    await page.getByTestId("chat-send").click();
    await page.locator('[data-testid="chat-message"][data-sender="customer"]', { hasText: secret }).waitFor();
    const before = await customerConversation(page);
    const email = `erase-${RUN}@example.com`;
    const id = await page.evaluate(async (addr) => {
      const r = await fetch("/chat/api/v1/identify", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-Chat-Csrf": "1" },
        body: JSON.stringify({ email: addr }),
      });
      return r.status;
    }, email);
    assert.equal(id, 200, "the customer leaves an email");

    const out = await chatctl("erase", "--email", email);
    assert.match(out, /conversations\D+1\b/, `chatctl says one conversation was removed: ${out}`);

    // within a few seconds the old chat is gone from the page and a new one is shown
    await page.locator('[data-testid="chat-message"][data-sender="customer"]', { hasText: secret })
      .waitFor({ state: "detached", timeout: 15000 });
    await page.locator('[data-testid="chat-message"][data-sender="bot"]').first().waitFor();
    const after = await customerConversation(page);
    assert.ok(after.conversation && after.conversation.id, "the widget has a conversation again");
    assert.notEqual(after.conversation.id, before.conversation.id, "a new conversation, not the deleted one");
    assert.equal(after.messages.filter((m) => m.sender_type === "customer").length, 0, "nothing of the old chat");
    const text = await inShadow(page, (root) => root.textContent);
    assert.ok(!text.includes(secret), "the deleted message is nowhere in the widget");
    await shot(page, "widget-erased-390");
    await context.close();
  } finally {
    await browser.close();
  }
});
