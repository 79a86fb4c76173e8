// Fails when the gzipped widget is over its budget (12 KB, issue 13). Prints raw and gzipped sizes.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

export const BUDGET = 12 * 1024;
export function widgetSize() {
  const raw = readFileSync(fileURLToPath(new URL("../dist/widget.js", import.meta.url)));
  return { raw: raw.length, gzip: gzipSync(raw, { level: 9 }).length };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { raw, gzip } = widgetSize();
  const ok = gzip <= BUDGET;
  console.log(`widget.js: ${raw} bytes raw, ${gzip} bytes gzipped (budget ${BUDGET}) ${ok ? "OK" : "OVER BUDGET"}`);
  process.exit(ok ? 0 : 1);
}
