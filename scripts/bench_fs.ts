/**
 * Filesystem shim throughput: writes 1 GiB in 1 MiB chunks at increasing
 * positions, with fdatasync every 8 MiB (as the engine checkpoints), through
 * each shim this runtime can load, and reports MB/s (10^6 bytes per second).
 *
 * - Deno: `denoFs` and `nodeFs` (Deno's node:fs compatibility layer).
 * - Bun: `nodeFs`, and for information a raw `Bun.file().writer()` loop,
 *   which has no fsync and so is not comparable as a durable writer.
 *
 * Each writer also runs once without fdatasync, to separate the shim's own
 * overhead from the disk's. Writers take turns over several rounds (the order
 * rotates each round); after each timed run the file is fsynced (untimed)
 * before it is deleted, so no run inherits another's dirty pages. Reported:
 * every round, then per writer the median and best MB/s and the median
 * process CPU time (user + system, all threads) per GiB, which other load on
 * the machine disturbs far less than wall-clock rates. Files go to a temporary directory,
 * removed at the end.
 *
 * Usage: `deno run -A scripts/bench_fs.ts` or `bun scripts/bench_fs.ts`.
 * Environment: `HAUL_BENCH_MIB` (default 1024), `HAUL_BENCH_ROUNDS` (default
 * 5), `HAUL_BENCH_DIR` (where the temp dir goes; default the OS temp dir; a
 * tmpfs such as /dev/shm shows the shims' CPU cost without the disk),
 * `HAUL_BENCH_ONLY` (run only writers whose name contains this text, e.g.
 * `fdatasync`).
 *
 * @module
 */

import * as fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import type { FsShim } from "../src/runtime/fs_shim.ts";
import { nodeFs } from "../src/runtime/node_fs.ts";

const MIB = 1024 * 1024;
const totalMiB = Number(process.env["HAUL_BENCH_MIB"] ?? "1024");
const rounds = Number(process.env["HAUL_BENCH_ROUNDS"] ?? "5");
const chunkBytes = MIB;
const syncEveryBytes = 8 * MIB;
const totalBytes = totalMiB * MIB;
const baseDir = process.env["HAUL_BENCH_DIR"] ?? os.tmpdir();

/** The part of Bun's API the raw writer loop uses (Bun is untyped under deno check). */
interface BunLike {
  version: string;
  file(path: string): {
    writer(options?: { highWaterMark?: number }): {
      write(chunk: Uint8Array): number | Promise<number>;
      flush(): number | Promise<number>;
      end(): number | Promise<number>;
    };
  };
}

interface Writer {
  name: string;
  durable: boolean;
  run(file: string, chunk: Uint8Array): Promise<void>;
}

/** A writer over a shim: sequential positional writes, fdatasync every 8 MiB if `sync`. */
function shimWriter(shim: FsShim, sync: boolean): Writer {
  return {
    name: `${shim.name}Fs${sync ? " + fdatasync/8MiB" : " (no sync)"}`,
    durable: sync,
    async run(target, chunk) {
      const file = await shim.open(target, "readwrite");
      try {
        let sinceSync = 0;
        for (let position = 0; position < totalBytes; position += chunk.length) {
          await file.write(chunk, position);
          sinceSync += chunk.length;
          if (sync && sinceSync >= syncEveryBytes) {
            await file.datasync();
            sinceSync = 0;
          }
        }
        if (sync) await file.datasync();
      } finally {
        await file.close();
      }
    },
  };
}

/** Bun's own buffered file writer, for information only: it cannot fsync. */
function bunWriter(bun: BunLike): Writer {
  return {
    name: "Bun.file().writer() (no sync possible)",
    durable: false,
    async run(target, chunk) {
      const writer = bun.file(target).writer({ highWaterMark: chunkBytes });
      for (let written = 0; written < totalBytes; written += chunk.length) {
        await writer.write(chunk);
        await writer.flush();
      }
      await writer.end();
    },
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[middle] ?? NaN
    : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

async function main(): Promise<void> {
  const deno = globalThis.Deno;
  const bun = (globalThis as { Bun?: BunLike }).Bun;
  const runtime = typeof deno?.open === "function"
    ? `deno ${deno.version.deno}`
    : bun !== undefined
    ? `bun ${bun.version}`
    : `node ${process.version}`;

  const shims: FsShim[] = [nodeFs];
  if (typeof deno?.open === "function") {
    shims.unshift((await import("../src/runtime/deno_fs.ts")).denoFs);
  }
  const writers: Writer[] = [
    ...shims.map((shim) => shimWriter(shim, true)),
    ...shims.map((shim) => shimWriter(shim, false)),
  ];
  if (bun !== undefined) writers.push(bunWriter(bun));
  const only = process.env["HAUL_BENCH_ONLY"];
  if (only !== undefined) {
    writers.splice(0, writers.length, ...writers.filter((writer) => writer.name.includes(only)));
  }

  const chunk = new Uint8Array(chunkBytes);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 2654435761) >>> 24;

  const dir = await fsp.mkdtemp(path.join(baseDir, "haul-bench-fs-"));
  console.log(
    `${runtime} on ${os.platform()}: ${totalMiB} MiB in ${chunkBytes / MIB} MiB chunks, ` +
      `${rounds} rounds, temp dir ${dir}`,
  );
  const results = new Map<Writer, { rates: number[]; cpuPerGiB: number[] }>(
    writers.map((writer) => [writer, { rates: [], cpuPerGiB: [] }]),
  );
  try {
    for (let round = 1; round <= rounds; round++) {
      const order = writers.map((_, i) => writers[(i + round) % writers.length]);
      for (const writer of order) {
        if (writer === undefined) continue;
        const target = path.join(dir, "bench.bin");
        const cpuBefore = process.cpuUsage();
        const started = performance.now();
        await writer.run(target, chunk);
        const seconds = (performance.now() - started) / 1000;
        const cpu = process.cpuUsage(cpuBefore);
        const cpuSeconds = (cpu.user + cpu.system) / 1e6;
        const stat = await fsp.stat(target);
        if (stat.size !== totalBytes) {
          throw new Error(`${writer.name} wrote ${stat.size} bytes, expected ${totalBytes}`);
        }
        // Untimed: flush what a non-syncing writer left dirty before the next run.
        const settle = await fsp.open(target, "r");
        await settle.sync();
        await settle.close();
        await fsp.rm(target);
        const rate = totalBytes / 1e6 / seconds;
        const cpuPerGiB = cpuSeconds / (totalBytes / (1024 * MIB));
        results.get(writer)?.rates.push(rate);
        results.get(writer)?.cpuPerGiB.push(cpuPerGiB);
        console.log(
          `  round ${round}  ${writer.name.padEnd(40)} ${rate.toFixed(0).padStart(6)} MB/s  ` +
            `${cpuPerGiB.toFixed(2)} CPU s/GiB`,
        );
      }
    }
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
  console.log(`\n${runtime}, ${totalMiB} MiB per run, ${rounds} rounds:`);
  console.log(`  ${"writer".padEnd(40)} ${"median".padStart(7)} ${"best".padStart(7)}  CPU s/GiB`);
  for (const [writer, { rates, cpuPerGiB }] of results) {
    const best = Math.max(...rates).toFixed(0);
    const cpu = median(cpuPerGiB).toFixed(2);
    const note = writer.durable ? "" : "  (not durable)";
    console.log(
      `  ${writer.name.padEnd(40)} ${median(rates).toFixed(0).padStart(7)} ` +
        `${best.padStart(7)}  ${cpu.padStart(9)}${note}`,
    );
  }
}

await main();
