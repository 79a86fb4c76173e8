// Builds dist/widget.js (one file, CSS inlined, for the Shadow DOM) and
// dist/agent/{index.html,agent.js,agent.css} (the agent dashboard at /chat/agent/).
import * as esbuild from "esbuild";
import { mkdir, readFile, writeFile, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = (p) => join(here, "src", p);
const dist = (p) => join(here, "dist", p);
const common = { bundle: true, minify: true, target: "es2020", legalComments: "none", logLevel: "warning" };

async function css(file) {
  const r = await esbuild.transform(await readFile(file, "utf8"), { loader: "css", minify: true });
  return r.code.trim();
}

await rm(join(here, "dist"), { recursive: true, force: true });
await mkdir(dist("agent"), { recursive: true });

await esbuild.build({
  ...common,
  entryPoints: [src("widget/main.ts")],
  outfile: dist("widget.js"),
  format: "iife",
  define: { __WIDGET_CSS__: JSON.stringify(await css(src("widget/widget.css"))) },
});

await esbuild.build({ ...common, entryPoints: [src("agent/main.ts")], outfile: dist("agent/agent.js"), format: "iife" });
await writeFile(dist("agent/agent.css"), await css(src("agent/agent.css")) + "\n");
await writeFile(dist("agent/index.html"), await readFile(src("agent/index.html"), "utf8"));
console.log("built dist/widget.js and dist/agent/");
