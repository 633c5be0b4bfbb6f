/**
 * Checkpoint cadence curve: the same loopback download with checkpoints off
 * and at several byte cadences, interleaved, median of rounds. Run:
 * `deno run -A scripts/bench_cadence.ts [MiB] [rounds]` or `bun scripts/bench_cadence.ts`.
 *
 * @module
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { haulWith } from "../src/engine/haul.ts";
import { startResourceServer } from "../tests/helpers/script_server.ts";

const args = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as unknown as { process: { argv: string[] } }).process.argv.slice(2);
const mib = Number(args[0] ?? 256);
const rounds = Number(args[1] ?? 3);
const body = new Uint8Array(mib << 20).map((_, i) => (i * 2654435761) >>> 24);
const server = await startResourceServer({ body });
const dir = await mkdtemp(join(tmpdir(), "haul-cadence-"));
const variants: [string, number | null][] = [
  ["off", null],
  ["8 MiB", 8 << 20],
  ["32 MiB", 32 << 20],
  ["64 MiB", 64 << 20],
];
const times = new Map<string, number[]>(variants.map(([name]) => [name, []]));
try {
  for (let round = 0; round <= rounds; round++) {
    for (const [name, bytes] of variants) {
      const dest = join(dir, "f.bin");
      await rm(dest, { force: true });
      const started = performance.now();
      await haulWith(server.url, {
        dest,
        checkpointEvery: { bytes: bytes ?? 1 << 30, ms: bytes === null ? 1e9 : 1000 },
      }, { disableCheckpoints: bytes === null });
      if (round > 0) times.get(name)!.push(performance.now() - started); // round 0: warm-up
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(times.get("off")!);
  for (const [name] of variants) {
    const ms = median(times.get(name)!);
    const rate = (mib * 1.048576) / (ms / 1000);
    console.log(
      `${name.padEnd(7)} ${rate.toFixed(0).padStart(5)} MB/s  ${
        (base / ms * 100).toFixed(1)
      }% of off`,
    );
  }
} finally {
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
