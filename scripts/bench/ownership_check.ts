/**
 * What ownership costs per check (`PartOwner.check()`: one read of the lock
 * file and one `stat` of `.part`, run before each checkpoint, each removal
 * and the commit): 2,000 checks on a held lock in a temp folder, median and
 * p99 in microseconds. Prints one line.
 *
 * ```sh
 * deno run -A scripts/bench/ownership_check.ts
 * bun scripts/bench/ownership_check.ts
 * node --no-warnings scripts/bench/ownership_check.ts
 * ```
 *
 * @module
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acquireLock } from "../../src/store/lock.ts";
import { PartOwner } from "../../src/store/ownership.ts";
import { sidecarPaths } from "../../src/store/destination.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";

const ROUNDS = 2000;
const dir = await mkdtemp(join(tmpdir(), "haul-ownership-"));
try {
  const fs = await defaultFs();
  const paths = sidecarPaths(join(dir, "x.bin"));
  const lock = await acquireLock(fs, paths.lock, paths.dest);
  const owner = new PartOwner(fs, paths, lock);
  const file = await fs.open(paths.part, "readwrite");
  await owner.adopt(file);
  const micros: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    await owner.check();
    micros.push((performance.now() - start) * 1000);
  }
  micros.sort((a, b) => a - b);
  const at = (q: number) => Math.round(micros[Math.floor(q * (ROUNDS - 1))]!);
  const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
  console.log(`${runtime}: PartOwner.check() median ${at(0.5)} µs, p99 ${at(0.99)} µs`);
  await file.close();
  await lock.release();
} finally {
  await rm(dir, { recursive: true, force: true });
}
