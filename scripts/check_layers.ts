/**
 * Fails when `src/` breaks its layer map (docs/architecture.md, "Folders are
 * layers"): an import from a lower layer to a higher one, or a cycle between
 * files (type imports count: a cycle of types is a cycle of ideas). Imports
 * are read from the source text: `import … from`, `export … from`, and
 * dynamic `import("…")` with a literal path.
 *
 * Usage: node --no-warnings scripts/check_layers.ts (any runtime works).
 */

import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The layers, lowest first: a file may import its own layer and any lower one. */
const LAYERS: readonly (readonly string[])[] = [
  ["types.ts", "errors.ts", "fetch_failure.ts", "redact.ts"],
  ["runtime/"],
  ["protocol/"],
  ["hashing/"],
  ["store/"],
  ["engine/"],
  ["batch/"],
  ["calls.ts", "stream.ts"],
  ["cli/", "browser/"],
];

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

function layerOf(file: string): number {
  const rel = relative(src, file).replaceAll("\\", "/");
  const index = LAYERS.findIndex((layer) =>
    layer.some((entry) => entry.endsWith("/") ? rel.startsWith(entry) : rel === entry)
  );
  if (index < 0) throw new Error(`check_layers: ${rel} is in no layer; add it to LAYERS`);
  return index;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  const found: string[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2]!;
    if (spec.startsWith(".")) found.push(normalize(join(dirname(file), spec)));
  }
  return found;
}

const all = files(src);
const graph = new Map(
  all.map((file) => [file, importsOf(file).filter((to) => to.startsWith(src))]),
);
const problems: string[] = [];
const name = (file: string) => relative(root, file).replaceAll("\\", "/");

for (const [from, targets] of graph) {
  for (const to of targets) {
    if (!graph.has(to)) {
      problems.push(`${name(from)} imports ${name(to)}, which does not exist`);
    } else if (layerOf(to) > layerOf(from)) {
      problems.push(`${name(from)} imports upwards: ${name(to)}`);
    }
  }
}

// Cycles: a depth-first search that reports each back edge's loop once.
const state = new Map<string, "open" | "done">();
const stack: string[] = [];
function visit(file: string): void {
  state.set(file, "open");
  stack.push(file);
  for (const to of graph.get(file) ?? []) {
    if (!graph.has(to)) continue;
    if (state.get(to) === "open") {
      const loop = stack.slice(stack.indexOf(to)).concat(to);
      problems.push(`import cycle: ${loop.map(name).join(" → ")}`);
    } else if (state.get(to) === undefined) {
      visit(to);
    }
  }
  stack.pop();
  state.set(file, "done");
}
for (const file of all) if (state.get(file) === undefined) visit(file);

if (problems.length > 0) {
  console.error(`check_layers: ${problems.length} problem(s):\n${problems.join("\n")}`);
  process.exit(1);
}
console.log(`check_layers: ${all.length} files, imports only downwards, no cycles`);
