/**
 * What `worker: true` costs a small download: in one process, `--count`
 * rounds of (plain `haul()`; a pause past the worker pool's idle time, then
 * `worker: true`, which starts a worker; `worker: true` again at once, which
 * reuses it), each to a fresh dest. Prints one JSON line with the median wall
 * milliseconds of each.
 *
 * ```sh
 * deno run -A scripts/bench/worker_cost_client.ts --url URL --dir DIR --count 10
 * ```
 *
 * @module
 */

import { rm } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { haul } from "../../mod.ts";

function option(name: string): string {
  const index = process.argv.indexOf(name);
  const value = index >= 0 ? process.argv[index + 1] : undefined;
  if (value === undefined) throw new Error(`Pass ${name}`);
  return value;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

const url = option("--url");
const dir = option("--dir");
const count = Number(option("--count"));
const plain: number[] = [];
const cold: number[] = [];
const warm: number[] = [];
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function timed(name: string, worker: boolean): Promise<number> {
  const dest = join(dir, `cost-${name}.bin`);
  const started = performance.now();
  await haul(url, { dest, worker });
  const ms = performance.now() - started;
  await rm(dest, { force: true });
  return ms;
}

// One of each first, not counted: module loading and the first connection.
for (let i = -1; i < count; i++) {
  const p = await timed(`p${i}`, false);
  // Past the pool's idle time (250 ms), so this call starts a worker of its own.
  await pause(400);
  const c = await timed(`c${i}`, true);
  // Right after it: the same worker serves this one.
  const w = await timed(`w${i}`, true);
  if (i >= 0) {
    plain.push(p);
    cold.push(c);
    warm.push(w);
  }
}
process.stdout.write(
  `${JSON.stringify({ plainMs: median(plain), coldMs: median(cold), warmMs: median(warm) })}\n`,
);
