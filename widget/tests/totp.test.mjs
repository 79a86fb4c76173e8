// The agent's second factor in the dashboard against the real stack: the Two-factor screen's
// QR code decodes to the otpauth:// URL of the key it shows, a code computed here (RFC 6238
// in node's crypto) turns it on, the login then asks for a code (agent-totp) and signs in
// with it, and the screen turns it off again with the next code.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import jsQR from "jsqr";
import { BASE, launch, shot, freshAgent, removeFreshAgents, agentApiAvailable } from "./helpers.mjs";
import { assertAccessible } from "./a11y.mjs";

after(removeFreshAgents);

function base32Decode(s) {
  const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of s) bits += A.indexOf(ch).toString(2).padStart(5, "0");
  const out = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) out.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(out);
}

/** RFC 6238: HMAC-SHA1 of the 30 s step, dynamic truncation, 6 digits */
function codeAt(secret, step) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", secret).update(msg).digest();
  const off = mac[19] & 15;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1000000).padStart(6, "0");
}

/** the current step, after waiting out a step with under 12 s left (the test names steps around now) */
async function freshStep() {
  const left = 30 - ((Date.now() / 1000) % 30);
  if (left < 12) await new Promise((r) => setTimeout(r, (left + 0.3) * 1000));
  return Math.floor(Date.now() / 1000 / 30);
}

async function signIn(page, who) {
  await page.getByTestId("agent-username").fill(who.username);
  await page.getByTestId("agent-password").fill(who.password);
  await page.getByTestId("agent-login").click();
}

test("two-factor: set up from the QR code, sign in with a code, turn it off", async (t) => {
  assert.ok(await agentApiAvailable(), "the agent API answers (API.md: agent endpoints)");
  const who = await freshAgent("totp");
  const b = await launch();
  try {
    const ctx = await b.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    page.on("pageerror", (e) => console.log("pageerror:", e.message));
    await page.goto(BASE + "/chat/agent/");
    await signIn(page, who);
    await page.getByTestId("agent-twofactor").click();
    await page.getByTestId("agent-totp-setup").click();
    await page.getByTestId("agent-totp-qr").waitFor();

    // the QR code as drawn decodes to the otpauth:// URL of the key shown beside it
    const img = await page.getByTestId("agent-totp-qr").evaluate((c) => {
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height);
      return { width: d.width, height: d.height, data: Array.from(d.data) };
    });
    const qr = jsQR(Uint8ClampedArray.from(img.data), img.width, img.height);
    assert.ok(qr, "the QR code decodes");
    const secretText = (await page.getByTestId("agent-totp-secret").textContent()).trim();
    assert.match(secretText, /^[A-Z2-7]{32}$/);
    assert.equal(qr.data, `otpauth://totp/nginx-chat:${encodeURIComponent(who.username)}?secret=${secretText}` +
      "&issuer=nginx-chat&period=30&digits=6&algorithm=SHA1");
    await assertAccessible(page, "two-factor setup");
    await shot(page, "totp-setup-1280");
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, "totp-setup-390");
    await page.setViewportSize({ width: 1280, height: 800 });

    const secret = base32Decode(secretText);
    let step = await freshStep();
    // a wrong code is refused with a message, then the app's code turns it on
    await page.getByTestId("agent-totp-code").fill(codeAt(secret, step + 5));
    await page.getByTestId("agent-totp-enable").click();
    await page.getByRole("alert").filter({ hasText: /wrong/ }).waitFor();
    await page.getByTestId("agent-totp-code").fill(codeAt(secret, step - 1));
    await page.getByTestId("agent-totp-enable").click();
    await page.getByTestId("agent-totp-disable").waitFor();
    assert.match(await page.getByTestId("agent-totp-status").textContent(), /is on/);

    // sign out; the password alone now gets the code field
    await page.getByRole("button", { name: "Sign out" }).click();
    await signIn(page, who);
    await page.getByTestId("agent-totp").waitFor();
    assert.equal(await page.getByTestId("agent-view-active").count(), 0, "not signed in without the code");
    await assertAccessible(page, "login asking for the code");
    await shot(page, "totp-login-code");
    await page.getByTestId("agent-totp").fill(codeAt(secret, step));
    await page.getByTestId("agent-login").click();
    await page.getByTestId("agent-view-active").waitFor();

    // and the screen turns it off with the next code
    await page.getByTestId("agent-twofactor").click();
    await page.getByTestId("agent-totp-code").fill(codeAt(secret, step + 1));
    await page.getByTestId("agent-totp-disable").click();
    await page.getByTestId("agent-totp-setup").waitFor();
    assert.match(await page.getByTestId("agent-totp-status").textContent(), /is off/);
    await shot(page, "totp-off");

    // so the password alone signs in again
    await page.getByRole("button", { name: "Sign out" }).click();
    await signIn(page, who);
    await page.getByTestId("agent-view-active").waitFor();
    assert.equal(await page.getByTestId("agent-totp").count(), 0);
  } finally {
    await b.close();
  }
});
