import { test } from "node:test";
import assert from "node:assert/strict";
import { widgetSize, BUDGET } from "../scripts/size.mjs";

test("the widget stays within its size budget (12 KB gzipped)", () => {
  const { raw, gzip } = widgetSize();
  console.log(`widget.js: ${raw} bytes raw, ${gzip} bytes gzipped`);
  assert.ok(gzip <= BUDGET, `${gzip} > ${BUDGET}`);
});
