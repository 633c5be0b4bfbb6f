/**
 * What `worker: true` costs a small download: in one process, `--count`
 * downloads of the same URL with plain `haul()` and as many with
 * `worker: true`, interleaved (each to a fresh dest). Prints one JSON line
 * with the median wall milliseconds of each.
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
const worker: number[] = [];
// One of each first, not counted: module loading and the first connection.
for (let i = -1; i < count; i++) {
  for (const onWorker of [false, true]) {
    const dest = join(dir, `cost-${onWorker ? "w" : "p"}-${i + 1}.bin`);
    const started = performance.now();
    await haul(url, { dest, worker: onWorker });
    const ms = performance.now() - started;
    await rm(dest, { force: true });
    if (i >= 0) (onWorker ? worker : plain).push(ms);
  }
}
process.stdout.write(`${JSON.stringify({ plainMs: median(plain), workerMs: median(worker) })}\n`);
