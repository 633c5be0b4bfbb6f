/**
 * What one metadata call costs, made asynchronously (a thread-pool round trip) and synchronously,
 * in the runtime that runs this script: `lstat` of a file and of a missing name, `rename` there and
 * back, `unlink` of a missing name, `readFile` of a 200-byte file (a lock record's size). Prints
 * one Markdown row per call: CPU µs (user + system of the process) and wall µs per call, the
 * median of 3 runs of 5000 calls each, after a warm-up run. docs/performance.md, "Small files".
 *
 * ```sh
 * deno run -A scripts/bench/fs_calls.ts; bun scripts/bench/fs_calls.ts; node scripts/bench/fs_calls.ts
 * ```
 *
 * @module
 */

import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { median } from "./proc.ts";

const CALLS = 5000;
const dir = fs.mkdtempSync(join(process.env.HAUL_BENCH_DIR ?? tmpdir(), "fs-calls-"));
const file = join(dir, "file");
const moved = join(dir, "moved");
const missing = join(dir, "missing");
fs.writeFileSync(file, "x".repeat(200));

/** One call, made both ways; `rename` moves the file there and back (two calls). */
const calls: Record<string, { async: () => Promise<unknown>; sync: () => unknown; per?: number }> =
  {
    "lstat (exists)": { async: () => fsp.lstat(file), sync: () => fs.lstatSync(file) },
    "lstat (missing)": {
      async: () => fsp.lstat(missing).catch(() => null),
      sync: () => fs.lstatSync(missing, { throwIfNoEntry: false }),
    },
    "rename": {
      async: async () => {
        await fsp.rename(file, moved);
        await fsp.rename(moved, file);
      },
      sync: () => {
        fs.renameSync(file, moved);
        fs.renameSync(moved, file);
      },
      per: 2,
    },
    "unlink (missing)": {
      async: () => fsp.unlink(missing).catch(() => null),
      sync: () => {
        try {
          fs.unlinkSync(missing);
        } catch { /* missing */ }
      },
    },
    "readFile (200 B)": { async: () => fsp.readFile(file), sync: () => fs.readFileSync(file) },
  };

async function time(call: () => unknown, per: number): Promise<{ cpu: number; wall: number }> {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let i = 0; i < CALLS; i++) await call();
  const cpu = process.cpuUsage(cpu0);
  return {
    cpu: (cpu.user + cpu.system) / (CALLS * per),
    wall: ((performance.now() - wall0) * 1000) / (CALLS * per),
  };
}

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
console.log(`| runtime | call | async CPU µs | async wall µs | sync CPU µs | sync wall µs |`);
console.log(`|---|---|---|---|---|---|`);
try {
  for (const [name, call] of Object.entries(calls)) {
    const row: string[] = [];
    for (const way of [call.async, call.sync]) {
      await time(way, call.per ?? 1); // warm-up
      const runs = [];
      for (let run = 0; run < 3; run++) runs.push(await time(way, call.per ?? 1));
      row.push(
        median(runs.map((r) => r.cpu)).toFixed(1),
        median(runs.map((r) => r.wall)).toFixed(1),
      );
    }
    console.log(`| ${runtime} | ${name} | ${row.join(" | ")} |`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
