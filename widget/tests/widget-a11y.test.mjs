// The customer widget is accessible (issue 15): axe (a11y.mjs) on every screen at 360 px and
// 1280 px, in the light and the dark theme; what a screen reader hears (one polite live region:
// new messages, not the history; the unread count and queue position when they change; the
// launcher's name with the unread count); keyboard and focus (into the panel on open, back to
// the launcher on Escape, never lost on a re-render); 320 px and 200% zoom without horizontal
// scrolling; prefers-reduced-motion; a shop's brand colour with black or white text by contrast.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import {
  BASE, RUN, launch, shot, inShadow, customerConversation, removeFreshAgents, agentApiAvailable, awayDesk,
} from "./helpers.mjs";
import { assertAccessible } from "./a11y.mjs";

const API = BASE + "/chat/api/v1";
assert.ok(await agentApiAvailable(), "the agent API answers");

let browser, away, boss, asBoss, desk;
before(async () => {
  browser = await launch();
  desk = await awayDesk("a11y", "A11y", "Ana Lima");
  ({ away, boss, asBoss } = desk);
});
after(async () => {
  await browser?.close();
  if (desk) await desk.remove();
  await removeFreshAgents();
});

const focused = (page) => inShadow(page, (root) => {
  const a = root.activeElement;
  return a ? a.getAttribute("data-testid") || a.tagName.toLowerCase() : null;
});
const pageFocus = (page) => page.evaluate(() => {
  const a = document.activeElement;
  return a && a.id === "nginx-chat-widget" ? "widget" : a ? a.tagName.toLowerCase() : null;
});
const announced = (page) => page.getByTestId("chat-announce").textContent();
const waitAnnounced = (page, re) => page.waitForFunction((src) => {
  const el = document.getElementById("nginx-chat-widget").shadowRoot.querySelector('[data-testid="chat-announce"]');
  return new RegExp(src).test(el.textContent);
}, re.source);

/** axe at 1280 and 360 px (the panel goes full screen there); a screenshot of each */
async function auditBoth(page, label) {
  for (const width of [1280, 360]) {
    await page.setViewportSize({ width, height: width === 360 ? 740 : 800 });
    await assertAccessible(page, `${label} at ${width} px`);
    await shot(page, `a11y-${label.replace(/\W+/g, "-")}-${width}`);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

test("every widget screen passes axe at 360 and 1280 px, and a screen reader hears what changes, once", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.log("page error:", e.message));
  await page.goto(BASE + "/product-mug.html");
  await page.getByTestId("chat-launcher").waitFor();
  await auditBoth(page, "closed");
  assert.equal(await page.getByTestId("chat-launcher").getAttribute("aria-label"), "Open chat with customer support");

  // open: the focus moves into the panel (the input)
  await page.getByTestId("chat-launcher").click();
  await page.locator('[data-testid="chat-message"][data-sender="bot"]').first().waitFor();
  await page.waitForFunction(() => document.getElementById("nginx-chat-widget").shadowRoot.activeElement?.dataset.testid === "chat-input");
  assert.equal(await announced(page), "", "the history (the greeting) is not announced");
  await auditBoth(page, "open");

  // an FAQ answer: announced once, with who said it
  const faq = (await (await fetch(API + "/faq")).json()).faq;
  await page.locator(`[data-testid="chat-faq"][data-slug="${faq[0].slug}"]`).click();
  await page.getByTestId("chat-helpful").first().waitFor();
  await waitAnnounced(page, /^Assistant: /);
  assert.ok((await announced(page)).includes(faq[0].answer.slice(0, 30)), "the answer is read");
  assert.ok(!(await announced(page)).includes(faq[0].question), "the customer's own question is not read back");
  await auditBoth(page, "faq answer");

  // the department picker: the focus moves into it
  await page.getByTestId("chat-talk-to-agent").click();
  await page.locator(`[data-testid="chat-department"][data-department-id="${away.id}"]`).waitFor();
  assert.equal(await focused(page), "chat-department");
  await auditBoth(page, "department picker");

  // queued (offline department): the queue position is announced; the email form takes the focus
  await page.locator(`[data-testid="chat-department"][data-department-id="${away.id}"]`).click();
  await page.getByTestId("chat-email").waitFor();
  await waitAnnounced(page, /You are number \d+ in the queue/);
  assert.equal(await focused(page), "chat-email");
  await auditBoth(page, "queued offline email form");
  // a 422 from /identify is shown next to the field and the field is marked invalid
  await page.getByTestId("chat-email").fill("not-an-email");
  await page.getByTestId("chat-email-send").click();
  await page.locator('[data-testid="chat-email"][aria-invalid="true"]').waitFor();
  await auditBoth(page, "email error");
  await page.getByTestId("chat-email").fill(`a11y-${RUN}@example.com`);
  await page.getByTestId("chat-email-send").click();
  await page.getByText(/Thanks! We'll get back to you/).waitFor();

  // an agent joins and writes: the message is announced (not the earlier history again)
  const { conversation } = await customerConversation(page);
  await asBoss("POST", `/agent/conversations/${conversation.id}/claim`);
  await page.getByTestId("chat-status").filter({ hasText: "Ana Lima" }).waitFor();
  await asBoss("POST", `/agent/conversations/${conversation.id}/messages`, { text: "Hi, I'm Ana. Let me look.", client_id: crypto.randomUUID() });
  await waitAnnounced(page, /Ana Lima: Hi, I'm Ana\. Let me look\./);
  assert.ok(!(await announced(page)).includes(faq[0].answer.slice(0, 30)), "earlier messages are not read again");
  await auditBoth(page, "agent joined");

  // closed panel: Escape returns the focus to the launcher; a new message is announced as an
  // unread count, and the launcher's name says it
  await page.getByTestId("chat-input").focus();
  await page.keyboard.press("Escape");
  await page.getByTestId("chat-panel").waitFor({ state: "hidden" });
  assert.equal(await focused(page), "chat-launcher", "Escape returns the focus to the launcher");
  await asBoss("POST", `/agent/conversations/${conversation.id}/messages`, { text: "Found it.", client_id: crypto.randomUUID() });
  await waitAnnounced(page, /^1 unread message from customer support\.$/);
  assert.equal(await page.getByTestId("chat-launcher").getAttribute("aria-label"), "Open chat with customer support, 1 unread message");
  assert.equal(await page.getByTestId("chat-unread").textContent(), "1");
  await auditBoth(page, "closed with unread");

  // keyboard: Enter on the launcher opens the panel with the focus inside
  await page.keyboard.press("Enter");
  await page.getByTestId("chat-panel").waitFor();
  await page.waitForFunction(() => document.getElementById("nginx-chat-widget").shadowRoot.activeElement?.dataset.testid === "chat-input");

  // the agent closes while the customer is in the input: the focus goes to the rating, not lost
  await asBoss("POST", `/agent/conversations/${conversation.id}/close`);
  await page.getByTestId("chat-rating").first().waitFor();
  await page.waitForFunction(() => document.getElementById("nginx-chat-widget").shadowRoot.activeElement?.dataset.testid === "chat-rating");
  assert.equal(await pageFocus(page), "widget");
  await auditBoth(page, "closed with rating");
  await page.locator('[data-testid="chat-rating"][data-score="5"]').click();
  await page.getByTestId("chat-rating-send").click();
  await page.getByTestId("chat-rating-given").waitFor();
  await auditBoth(page, "rated");
  await context.close();
});

test("the agent's typing is said once, not on every keystroke", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(BASE + "/product-tee.html");
  await page.getByTestId("chat-launcher").click();
  await page.getByTestId("chat-talk-to-agent").click();
  await page.locator(`[data-testid="chat-department"][data-department-id="${away.id}"]`).click();
  await page.getByTestId("chat-email").waitFor();
  const { conversation } = await customerConversation(page);
  await asBoss("POST", `/agent/conversations/${conversation.id}/claim`);
  await page.getByTestId("chat-status").filter({ hasText: "Ana Lima" }).waitFor();
  // the agent's socket: typing frames as a keyboard sends them
  const { default: WebSocket } = await import("ws");
  const ws = new WebSocket(API.replace(/^http/, "ws") + "/agent/ws?token=" + boss.token, { headers: { Origin: BASE } });
  await new Promise((ok, fail) => { ws.once("open", ok); ws.once("error", fail); });
  const said = [];
  await page.exposeFunction("__heard", (t) => said.push(t));
  await inShadow(page, (root) => {
    const el = root.querySelector('[data-testid="chat-announce"]');
    new MutationObserver(() => { if (el.textContent) window.__heard(el.textContent); }).observe(el, { childList: true, characterData: true, subtree: true });
  });
  for (let i = 0; i < 6; i++) {
    ws.send(JSON.stringify({ type: "typing", conversation_id: conversation.id, typing: true }));
    await page.waitForTimeout(250);
    if (i === 2) ws.send(JSON.stringify({ type: "typing", conversation_id: conversation.id, typing: false }));
  }
  await page.getByText("Ana Lima is typing…").waitFor();
  await page.waitForTimeout(300);
  ws.close();
  const typingSaid = said.filter((t) => /typing/.test(t));
  assert.equal(typingSaid.length, 1, `typing announced once: ${JSON.stringify(said)}`);
  await asBoss("POST", `/agent/conversations/${conversation.id}/close`);
  await context.close();
});

test("320 px and 200% zoom without horizontal scrolling; reduced motion; dark theme passes axe", async () => {
  // 320 px wide (WCAG reflow) and 1280x800 at 200% zoom = a 640x400 CSS viewport
  for (const [width, height] of [[320, 640], [640, 400]]) {
    const context = await browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    await page.goto(BASE + "/product-mug.html");
    await page.getByTestId("chat-launcher").click();
    await page.locator('[data-testid="chat-message"][data-sender="bot"]').first().waitFor();
    await page.getByTestId("chat-input").fill("A long question without spaces: " + "x".repeat(120));
    await page.getByTestId("chat-input").press("Enter");
    await page.locator('[data-testid="chat-message"][data-sender="customer"]').first().waitFor();
    const over = await inShadow(page, (root) => {
      const bad = [];
      for (const el of root.querySelectorAll(":not(.sr)")) {
        const r = el.getBoundingClientRect();
        if (r.width && (r.right > innerWidth + 0.5 || r.left < -0.5)) bad.push(el.className || el.tagName);
      }
      const log = root.querySelector(".log");
      return { bad, logScroll: log.scrollWidth - log.clientWidth };
    });
    assert.deepEqual(over.bad, [], `nothing sticks out at ${width}x${height}`);
    assert.ok(over.logScroll <= 0, "the messages never scroll sideways");
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), "the page does not scroll sideways");
    const composer = await page.getByTestId("chat-send").boundingBox();
    assert.ok(composer.y + composer.height <= height + 0.5, "the send button is on screen");
    await shot(page, `a11y-reflow-${width}x${height}`);
    await assertAccessible(page, `reflow ${width}x${height}`);
    // full screen here, the launcher hidden behind the panel: Escape still returns the focus to it
    await page.getByTestId("chat-input").focus();
    await page.keyboard.press("Escape");
    await page.getByTestId("chat-panel").waitFor({ state: "hidden" });
    assert.equal(await focused(page), "chat-launcher", `Escape returns the focus to the launcher at ${width}x${height}`);
    await context.close();
  }

  // prefers-reduced-motion: no transitions; without it, the launcher animates
  for (const reducedMotion of ["reduce", "no-preference"]) {
    const context = await browser.newContext({ reducedMotion });
    const page = await context.newPage();
    await page.goto(BASE + "/product-mug.html");
    const t = await page.getByTestId("chat-launcher").evaluate((el) => getComputedStyle(el).transitionDuration);
    if (reducedMotion === "reduce") assert.match(t, /^0s(, 0s)*$/, "no motion when reduced motion is asked for");
    else assert.doesNotMatch(t, /^0s(, 0s)*$/, "the launcher animates otherwise");
    await context.close();
  }

  // the dark theme (the visitor's system setting): contrast holds there too
  const context = await browser.newContext({ colorScheme: "dark", viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(BASE + "/product-mug.html");
  await page.getByTestId("chat-launcher").click();
  await page.locator('[data-testid="chat-message"][data-sender="bot"]').first().waitFor();
  const faq = (await (await fetch(API + "/faq")).json()).faq;
  await page.locator(`[data-testid="chat-faq"][data-slug="${faq[0].slug}"]`).click();
  await page.getByTestId("chat-helpful").first().waitFor();
  const bg = await inShadow(page, (root) => getComputedStyle(root.querySelector(".log")).backgroundColor);
  assert.equal(bg, "rgb(13, 17, 23)", "the dark theme is on");
  await auditBoth(page, "dark theme");
  await page.getByTestId("chat-talk-to-agent").click();
  await page.locator(`[data-testid="chat-department"][data-department-id="${away.id}"]`).click();
  await page.getByTestId("chat-email").waitFor();
  await auditBoth(page, "dark theme queued");
  await context.close();
});

test("a brand colour gets black or white text, whichever contrasts more (unit and in the page)", async () => {
  const out = await esbuild.build({
    entryPoints: [fileURLToPath(new URL("../src/shared/color.ts", import.meta.url))], bundle: true, write: false, format: "esm",
  });
  const { textOn, contrast, luminance, parseHex } = await import("data:text/javascript," + encodeURIComponent(out.outputFiles[0].text));
  assert.deepEqual(parseHex("#0a7"), [0, 170, 119]);
  assert.equal(parseHex("blue"), null);
  assert.equal(luminance("#ffffff"), 1);
  assert.equal(luminance("#000000"), 0);
  assert.equal(Math.round(contrast("#000", "#fff") * 10) / 10, 21);
  assert.equal(Math.round(contrast("#1f6feb", "#ffffff") * 100) / 100, 4.63);
  for (const [bg, want] of [["#ffd400", "#000000"], ["#ffffff", "#000000"], ["#7fdbff", "#000000"], ["#1f6feb", "#ffffff"],
    ["#000000", "#ffffff"], ["#b00020", "#ffffff"], ["#777777", "#000000"], ["#00a86b", "#000000"]]) {
    assert.equal(textOn(bg), want, `text on ${bg}`);
    assert.ok(contrast(bg, textOn(bg)) >= 4.5, `${bg} with ${want} reaches 4.5:1`);
  }

  // a shop page with data-color: the launcher and the customer's bubbles read black on yellow
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.route(BASE + "/brand-test.html", (route) => route.fulfill({
    contentType: "text/html",
    body: `<!doctype html><html lang="en"><head><title>Brand</title></head><body><main><h1>Shop</h1></main>
      <script src="/chat/widget.js" data-color="#ffd400" defer></script></body></html>`,
  }));
  await page.goto(BASE + "/brand-test.html");
  const launcher = page.getByTestId("chat-launcher");
  assert.equal(await launcher.evaluate((el) => getComputedStyle(el).color), "rgb(0, 0, 0)", "black text on yellow");
  assert.equal(await launcher.evaluate((el) => getComputedStyle(el).backgroundColor), "rgb(255, 212, 0)");
  await launcher.click();
  await page.getByTestId("chat-input").fill("Hello in brand colours");
  await page.getByTestId("chat-input").press("Enter");
  await page.locator('[data-testid="chat-message"][data-sender="customer"]').first().waitFor();
  await auditBoth(page, "brand colour");
  await context.close();
});

test("the whole customer journey works with the keyboard alone: ask the bot, ask for a person, get the answer, rate", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.log("page error:", e.message));
  await page.goto(BASE + "/product-beans.html");
  // Tab through the shop to the launcher (the widget comes last in the page)
  for (let i = 0; i < 30 && (await focused(page)) !== "chat-launcher"; i++) await page.keyboard.press("Tab");
  assert.equal(await focused(page), "chat-launcher", "the launcher is reachable with Tab");
  const ring = (el) => { const c = getComputedStyle(el); return c.outlineStyle !== "none" && parseFloat(c.outlineWidth) >= 2; };
  assert.ok(await page.getByTestId("chat-launcher").evaluate(ring), "a visible focus ring on the launcher");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.getElementById("nginx-chat-widget").shadowRoot.activeElement?.dataset.testid === "chat-input");
  // ask the bot
  await page.keyboard.type("How long does shipping take?");
  await page.keyboard.press("Enter");
  await page.locator('[data-testid="chat-message"][data-sender="bot"]').nth(1).waitFor();
  // ask for a person: Shift+Tab from the input is "Talk to a person"; the picker takes the focus
  await page.keyboard.press("Shift+Tab");
  assert.equal(await focused(page), "chat-talk-to-agent");
  assert.ok(await page.getByTestId("chat-talk-to-agent").evaluate(ring), "and on the buttons in the panel");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.getElementById("nginx-chat-widget").shadowRoot.activeElement?.dataset.testid === "chat-department");
  for (let i = 0; i < 20; i++) {
    const id = await inShadow(page, (root) => root.activeElement.getAttribute("data-department-id"));
    if (id === away.id) break;
    await page.keyboard.press("Tab");
  }
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.getElementById("nginx-chat-widget").shadowRoot.activeElement?.dataset.testid === "chat-email");
  await page.keyboard.type(`keys-${RUN}@example.com`);
  await page.keyboard.press("Enter");
  await page.getByText(/Thanks! We'll get back to you/).waitFor();
  assert.equal(await focused(page), "chat-input", "back in the input after the email");
  // get the answer from a person, and answer back
  const { conversation } = await customerConversation(page);
  await asBoss("POST", `/agent/conversations/${conversation.id}/claim`);
  await asBoss("POST", `/agent/conversations/${conversation.id}/messages`, { text: "Two days, usually.", client_id: crypto.randomUUID() });
  await waitAnnounced(page, /Ana Lima: Two days, usually\./);
  await page.keyboard.type("Thanks!");
  await page.keyboard.press("Enter");
  await page.locator('[data-testid="chat-message"][data-sender="customer"]').filter({ hasText: "Thanks!" }).first().waitFor();
  // rate: the focus is on the first star once the agent closes; Tab to 5, comment, send
  await asBoss("POST", `/agent/conversations/${conversation.id}/close`);
  await page.waitForFunction(() => document.getElementById("nginx-chat-widget").shadowRoot.activeElement?.dataset.score === "1");
  for (let i = 0; i < 4; i++) await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await page.keyboard.press("Tab");
  assert.equal(await focused(page), "chat-rating-comment");
  await page.keyboard.type("All by keyboard");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await page.getByTestId("chat-rating-given").filter({ hasText: "You rated this chat 5 of 5: “All by keyboard”." }).waitFor();
  assert.deepEqual((await customerConversation(page)).conversation.rating, { score: 5, comment: "All by keyboard" });
  // and a new chat, still by keyboard
  await page.keyboard.press("Tab");
  assert.equal(await focused(page), "chat-new");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.getElementById("nginx-chat-widget").shadowRoot.activeElement?.dataset.testid === "chat-input");
  assert.equal((await customerConversation(page)).conversation.status, "automated");
  await shot(page, "a11y-keyboard-journey-new-chat");
  await context.close();
});
