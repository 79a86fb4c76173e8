// Accessibility audit for the browser tests: axe-core (WCAG 2.0/2.1 A and AA rules) run in the page.
// `audit(page, label)` returns the violations; `assertAccessible(page, label)` fails the test on any
// serious or critical one and prints the moderate/minor ones (each must be fixed or written down in
// README "Accessibility" with its reason, see ALLOWED below).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const AXE_SRC = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** moderate/minor rules we accept, each with its reason (keep README "Accessibility" in step) */
export const ALLOWED = {};

/** runs axe on the whole page, the widget's open shadow root included; returns violations */
export async function audit(page, label) {
  await page.waitForTimeout(100); // let transitions finish (reduced motion is not forced here)
  const loaded = await page.evaluate(() => typeof window.axe !== "undefined");
  if (!loaded) await page.addScriptTag({ content: AXE_SRC });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
      resultTypes: ["violations"],
    });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
    }));
  });
  return result.map((v) => ({ ...v, label }));
}

/** fails on serious/critical violations, and on moderate/minor ones not in ALLOWED */
export async function assertAccessible(page, label) {
  const violations = await audit(page, label);
  const blocking = violations.filter((v) => v.impact === "serious" || v.impact === "critical" || !(v.id in ALLOWED));
  const text = blocking.map((v) => `${v.impact} ${v.id}: ${v.help}\n` +
    v.nodes.map((n) => `    ${n.target}\n      ${(n.summary || "").replace(/\n/g, "\n      ")}`).join("\n")).join("\n");
  assert.equal(blocking.length, 0, `accessibility violations on ${label}:\n${text}`);
  return violations;
}
