/**
 * Builds the browser bundles into dist/browser/ with esbuild (from
 * tools/browser/, installed by scripts/setup.sh): browser.js (the page's
 * `haul()`, from src/browser/mod.ts) and haul_worker.js (the download worker, from
 * src/browser/worker.ts, with @noble/hashes). The engine imports two runtime
 * modules that need Node's APIs; for the browser a plugin substitutes their
 * browser versions, and the metafile is checked for anything of Node left:
 *
 *   src/runtime/native_hash.ts → src/runtime/browser/hash.ts      (node:crypto → @noble/hashes)
 *   src/runtime/default_fs.ts  → src/runtime/browser/default_fs.ts (node:fs → OPFS)
 *
 * Usage: node --no-warnings scripts/build_browser.ts   (prints the sizes)
 */

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import process from "node:process";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tools = join(root, "tools/browser/node_modules");
const esbuild = createRequire(join(tools, "x.js"))("esbuild") as typeof import("esbuild");
const runtime = join(root, "src/runtime");
const substitutes: Record<string, string> = {
  [join(runtime, "native_hash.ts")]: join(runtime, "browser/hash.ts"),
  [join(runtime, "default_fs.ts")]: join(runtime, "browser/default_fs.ts"),
};

const result = await esbuild.build({
  entryPoints: {
    browser: join(root, "src/browser/mod.ts"),
    haul_worker: join(root, "src/browser/worker.ts"),
  },
  outdir: join(root, "dist/browser"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "chrome120",
  minify: true,
  metafile: true,
  nodePaths: [tools],
  logLevel: "warning",
  plugins: [{
    name: "haul-browser-runtime",
    setup(build) {
      build.onResolve({ filter: /(native_hash|default_fs)\.ts$/ }, (args) => {
        const path = join(args.resolveDir, args.path);
        return substitutes[path] === undefined ? undefined : { path: substitutes[path] };
      });
    },
  }],
});
const inputs = Object.keys(result.metafile.inputs);
const nodeOnly = inputs.filter((input) =>
  input.startsWith("node:") || /runtime\/(native_hash|default_fs|node_fs|deno_fs)\.ts$/.test(input)
);
if (nodeOnly.length > 0) {
  console.error(`build_browser: the bundles still import ${nodeOnly.join(", ")}`);
  process.exit(1);
}
for (const [file, output] of Object.entries(result.metafile.outputs)) {
  const gzip = gzipSync(readFileSync(join(root, file))).length;
  console.log(`${file}: ${output.bytes} bytes, ${gzip} gzipped`);
}
