/**
 * Fails when a TypeScript file of the repository uses syntax that Node's
 * strip-only mode rejects (constructor parameter properties, enums,
 * namespaces, `import x = require`): Node 22.18+ and 24 run the source
 * unflagged only when every type annotation can simply be erased. Uses
 * Node's own stripper (`module.stripTypeScriptTypes`), so it reports exactly
 * what Node would refuse. The same rule is `erasableSyntaxOnly` for `deno check`.
 *
 * Usage: node scripts/check_erasable.ts [files…]   (default: every tracked and
 * untracked, not ignored .ts file, from `git ls-files`)
 *
 * @module
 */

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import process from "node:process";

const given = process.argv.slice(2);
const files = given.length > 0 ? given : execFileSync(
  "git",
  ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts"],
  { encoding: "utf8" },
).split("\n").filter((name) => name !== "");
const refused: string[] = [];
for (const file of files) {
  try {
    stripTypeScriptTypes(readFileSync(file, "utf8"), { mode: "strip" });
  } catch (error) {
    refused.push(`${file}: ${String((error as Error).message).split("\n")[0]}`);
  }
}
if (refused.length > 0) {
  console.error(`check_erasable: Node's strip-only mode refuses ${refused.length} file(s):`);
  for (const line of refused) console.error(`  ${line}`);
  process.exit(1);
}
console.log(`check_erasable: ${files.length} TypeScript files, all erasable`);
