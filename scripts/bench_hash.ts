/**
 * Throughput of haul's pure-TypeScript SHA-256 against native `node:crypto`,
 * on 256 MiB fed in 1 MiB and in 64 KiB chunks.
 *
 * Usage: `deno run -A scripts/bench_hash.ts` or `bun scripts/bench_hash.ts`.
 * Optional argument: total MiB per run (default 256).
 *
 * Prints the best of three runs, by wall-clock time and by the process's CPU
 * time. On a busy machine the CPU-time figure is the steadier of the two.
 *
 * @module
 */

import { createHash } from "node:crypto";
import process from "node:process";
import { Sha256 } from "../src/hashing/sha256.ts";

const MiB = 1024 * 1024;
const totalMiB = Number(process.argv[2] ?? 256);
const total = totalMiB * MiB;

/** Fills `buf` with cheap pseudo-random bytes (xorshift32). */
function fill(buf: Uint8Array): void {
  let x = 0x9e3779b9;
  for (let i = 0; i < buf.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
}

/** Feeds `total` bytes in `chunk`-sized pieces; returns [wall MiB/s, CPU MiB/s, hex digest]. */
function run(kind: "haul" | "native", chunk: number): [number, number, string] {
  const data = new Uint8Array(chunk);
  fill(data);
  const cpu = process.cpuUsage();
  const start = performance.now();
  let hex: string;
  if (kind === "haul") {
    const h = new Sha256();
    for (let done = 0; done < total; done += chunk) h.update(data);
    hex = h.hex();
  } else {
    const h = createHash("sha256");
    for (let done = 0; done < total; done += chunk) h.update(data);
    hex = h.digest("hex");
  }
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  return [totalMiB / seconds, totalMiB / ((used.user + used.system) / 1e6), hex];
}

const runtime = "Deno" in globalThis
  ? `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : "Bun" in globalThis
  ? `bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`
  : "node";
console.log(`${runtime}: SHA-256 of ${totalMiB} MiB (best of 3 runs)`);
for (const chunk of [MiB, 64 * 1024]) {
  for (const kind of ["haul", "native"] as const) {
    let best = 0;
    let bestCpu = 0;
    let digest = "";
    for (let i = 0; i < 3; i++) {
      const [rate, cpuRate, hex] = run(kind, chunk);
      best = Math.max(best, rate);
      bestCpu = Math.max(bestCpu, cpuRate);
      digest = hex;
    }
    const label = `${kind === "haul" ? "haul Sha256" : "node:crypto"}, ${chunk / 1024} KiB chunks`;
    console.log(
      `  ${label.padEnd(30)} ${best.toFixed(0).padStart(5)} MiB/s wall ` +
        `${bestCpu.toFixed(0).padStart(5)} MiB/s cpu  ${digest.slice(0, 16)}`,
    );
  }
}
