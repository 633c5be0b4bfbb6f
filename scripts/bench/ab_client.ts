/**
 * One download with engine hooks, for A/B runs of levers (`ab.ts`): prints
 * one JSON line with the wall time, the process CPU time and MB/s.
 *
 * Usage: `deno run -A scripts/bench/ab_client.ts <url> <dest> [hooks-json]`
 * (or `bun scripts/bench/ab_client.ts …`). `hooks-json` is passed to
 * `haulWith` (e.g. `{"digestWorkerAfter":1e15}` keeps the digest on the
 * download's thread).
 *
 * @module
 */

import process from "node:process";
import { haulWith } from "../../src/engine/haul.ts";

const [url, dest, hooksJson] = process.argv.slice(2);
if (url === undefined || dest === undefined) {
  console.error("usage: ab_client.ts <url> <dest> [hooks-json]");
  process.exit(2);
}
const hooks = JSON.parse(hooksJson ?? "{}");
const started = performance.now();
const cpuBefore = process.cpuUsage();
const result = await haulWith(url, { dest, overwrite: true }, hooks);
const cpu = process.cpuUsage(cpuBefore);
const ms = performance.now() - started;
console.log(JSON.stringify({
  ms,
  cpuMs: (cpu.user + cpu.system) / 1000,
  mbPerS: result.size / ms / 1000,
  sha256: result.sha256,
}));
