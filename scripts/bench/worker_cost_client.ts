/**
 * What `worker: true` costs small downloads, in one process: `--count`
 * interleaved pairs of one 1 MiB `haul()` with and without it (each call
 * starts and stops its worker), then `haulAll()` of `--count` × 4 such files,
 * 4 at once, with and without it (the batch reuses its workers). Prints one
 * JSON line with the median ms of a call each way and the ms of each batch.
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
import { haul, haulAll } from "../../mod.ts";
import { option } from "./argv.ts";

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

const url = option("--url");
const dir = option("--dir");
const count = Number(option("--count"));

async function oneCall(name: string, worker: boolean): Promise<number> {
  const dest = join(dir, `cost-${name}.bin`);
  const started = performance.now();
  await haul(url, { dest, worker });
  const ms = performance.now() - started;
  await rm(dest, { force: true });
  return ms;
}

async function batch(worker: boolean): Promise<number> {
  const items = Array.from({ length: count * 4 }, (_, i) => ({
    url,
    dest: join(dir, `batch-${worker ? "w" : "p"}-${i}.bin`),
  }));
  const started = performance.now();
  await haulAll(items, { worker, concurrency: 4 });
  const ms = performance.now() - started;
  await Promise.all(items.map((item) => rm(item.dest, { force: true })));
  return ms;
}

const plain: number[] = [];
const onWorker: number[] = [];
// One of each first, not counted: module loading and the first connection.
for (let i = -1; i < count; i++) {
  const p = await oneCall(`p${i}`, false);
  const w = await oneCall(`w${i}`, true);
  if (i >= 0) {
    plain.push(p);
    onWorker.push(w);
  }
}
const batchPlainMs = await batch(false);
const batchWorkerMs = await batch(true);
process.stdout.write(
  `${
    JSON.stringify({
      plainMs: median(plain),
      workerMs: median(onWorker),
      batchPlainMs,
      batchWorkerMs,
      batchFiles: count * 4,
    })
  }\n`,
);
