/**
 * Target: no quadratic re-hashing. A 1 GiB body from a server that drops the
 * connection every 32 MiB of body (the built-in server's `/cut/<N>/`):
 *
 * - finished by `haulWithRetry()` in one process, its CPU against one uncut
 *   download from the same server (goal ≤ 1.5 ×), interleaved;
 * - with a new process per attempt (`haul()` once each), what each resume
 *   costs: the CPU of each attempt against the bytes already on disk, as a
 *   least-squares slope, compared with one native SHA-256 pass over those
 *   bytes (`hash_file.ts`, same runtime, same run).
 *
 * @module
 */

import { join } from "node:path";
import {
  clean,
  cpuSeconds,
  GiB,
  MiB,
  runClient,
  type Runtime,
  runtimeCommand,
  RUNTIMES,
  settle,
  shuffled,
  sizeLabel,
} from "../context.ts";
import { median, spread } from "../proc.ts";
import { verdict } from "../report.ts";
import { type Bench, type DataFile, dataFile } from "../section.ts";

/** Slope of the least-squares line through (x, y). */
function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  const mx = points.reduce((sum, p) => sum + p.x, 0) / n;
  const my = points.reduce((sum, p) => sum + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return num / den;
}

async function oneProcess(bench: Bench, file: DataFile, every: number): Promise<void> {
  const { context, report } = bench;
  const base = bench.builtin.url;
  const dest = join(context.downloads, "cuts.bin");
  // Four rounds: on this VM a run of large writes now and then copies into the page cache several
  // times slower (docs/performance.md, "Noise"), and the median of four pairs outlasts one such run.
  const rounds = context.quick ? 1 : 4;
  const cpu = new Map<string, number[]>();
  const user = new Map<string, number[]>();
  const attempts = new Map<Runtime, number[]>();
  const jobs = RUNTIMES.flatMap((runtime) => [{ runtime, cut: false }, { runtime, cut: true }]);
  for (let round = 1; round <= rounds; round++) {
    for (const job of shuffled(jobs, round)) {
      await clean(dest);
      settle();
      const url = job.cut ? `${base}/cut/${every}/${file.name}` : `${base}/${file.name}`;
      const args = [
        "--url",
        url,
        "--dest",
        dest,
        ...(job.cut ? ["--retries", String(4 * file.size / every)] : []),
      ];
      const { measurement, report: result } = await runClient(
        context,
        runtimeCommand(context, job.runtime, "haul_client.ts", args),
      );
      if (result["sha256"] !== file.sha256) {
        throw new Error(
          `haul (${job.runtime}) ${job.cut ? "cut" : "uncut"}: ${String(result["error"])}`,
        );
      }
      const key = `${job.runtime} ${job.cut ? "cut" : "uncut"}`;
      cpu.set(key, [...(cpu.get(key) ?? []), cpuSeconds(measurement)]);
      user.set(key, [...(user.get(key) ?? []), measurement.userS]);
      if (job.cut) {
        attempts.set(job.runtime, [
          ...(attempts.get(job.runtime) ?? []),
          Number(result["attempts"]),
        ]);
      }
      bench.log(`cuts: ${key}: ${cpuSeconds(measurement).toFixed(2)} s CPU`);
    }
  }
  await clean(dest);
  report.out(`### In one process, finished by \`haulWithRetry()\``);
  report.out();
  const rows: string[][] = [];
  for (const runtime of RUNTIMES) {
    const uncut = cpu.get(`${runtime} uncut`)!;
    const cut = cpu.get(`${runtime} cut`)!;
    const ratios = cut.map((value, i) => value / (uncut[i] ?? NaN));
    const uncutUser = user.get(`${runtime} uncut`)!;
    const userRatios = user.get(`${runtime} cut`)!.map((value, i) => value / (uncutUser[i] ?? NaN));
    rows.push([
      runtime,
      spread(uncut, 2),
      spread(cut, 2),
      spread(attempts.get(runtime)!),
      spread(ratios, 2),
      spread(userRatios, 2),
    ]);
    report.target({
      target: `Cut every ${sizeLabel(every)}, haulWithRetry in one process (CPU ×)`,
      runtime,
      figure: `${median(ratios).toFixed(2)} (${median(cut).toFixed(2)} s)`,
      reference: `uncut ${median(uncut).toFixed(2)} s`,
      goal: "≤ 1.5",
      verdict: verdict(median(ratios) <= 1.5),
    });
  }
  report.table(
    [
      "runtime",
      "uncut CPU s",
      "cut CPU s",
      "attempts",
      "cut / uncut",
      "user CPU only: cut / uncut",
    ],
    rows,
  );
  report.out();
  report.out(
    "User CPU apart: the system CPU of writing 1 GiB into the page cache swings several-fold on " +
      "this VM with how many of the pages were handed back to the host (docs/performance.md, Noise).",
  );
}

async function processPerAttempt(bench: Bench, file: DataFile, every: number): Promise<void> {
  const { context, report } = bench;
  const url = `${bench.builtin.url}/cut/${every}/${file.name}`;
  const dest = join(context.downloads, "cuts.bin");
  const rows: string[][] = [];
  for (const runtime of RUNTIMES) {
    const { report: pass } = await runClient(
      context,
      runtimeCommand(context, runtime, "hash_file.ts", [file.path]),
    );
    const passMsPerMiB = Number(pass["cpuMs"]) / (file.size / MiB);
    await clean(dest);
    const points: { x: number; y: number }[] = [];
    let onDisk = 0;
    const limit = 4 * file.size / every;
    for (let attempt = 1;; attempt++) {
      if (attempt > limit) throw new Error(`cuts: no end after ${limit} processes`);
      const { measurement, report: result } = await runClient(
        context,
        runtimeCommand(context, runtime, "haul_client.ts", ["--url", url, "--dest", dest]),
      );
      points.push({ x: onDisk / MiB, y: cpuSeconds(measurement) * 1000 });
      if (result["ok"] === true) {
        if (result["sha256"] !== file.sha256) {
          throw new Error(`cuts: ${runtime} finished with another sha256`);
        }
        break;
      }
      const valid = Number(result["validLength"]);
      if (valid <= onDisk) {
        throw new Error(
          `cuts: ${runtime} attempt ${attempt} made no progress: ${String(result["error"])}`,
        );
      }
      onDisk = valid;
    }
    await clean(dest);
    const perMiB = slope(points);
    const passes = perMiB / passMsPerMiB;
    const cpus = points.map((p) => p.y / 1000);
    bench.log(
      `cuts: ${runtime}, a process per attempt: ${points.length} attempts, ${
        perMiB.toFixed(2)
      } ms per MiB on disk`,
    );
    rows.push([
      runtime,
      String(points.length),
      cpus[0]!.toFixed(2),
      cpus[cpus.length - 1]!.toFixed(2),
      cpus.reduce((a, b) => a + b, 0).toFixed(2),
      perMiB.toFixed(2),
      passMsPerMiB.toFixed(2),
      passes.toFixed(2),
    ]);
    report.target({
      target: "Cut, a new process per attempt: passes over the bytes on disk per resume",
      runtime,
      figure: `${passes.toFixed(2)} (${perMiB.toFixed(2)} ms CPU per MiB on disk)`,
      reference: `native pass ${passMsPerMiB.toFixed(2)} ms per MiB`,
      goal: "≤ 1 native pass",
      verdict: passes <= 1 ? "met" : passes <= 1.25 ? "met within noise (≤ 1.25)" : "**not met**",
    });
  }
  report.out("### A new process per attempt");
  report.out();
  report.out(
    "Each attempt is one `haul()` in a new process, measured with GNU time. *Per MiB on disk*: the " +
      "least-squares slope of each attempt's CPU against the bytes already on disk when it started; " +
      "*native pass*: `node:crypto` SHA-256 of the whole file read in 1 MiB pieces (same runtime).",
  );
  report.out();
  report.table(
    [
      "runtime",
      "attempts",
      "first attempt CPU s",
      "last attempt CPU s",
      "total CPU s",
      "CPU ms per MiB on disk",
      "native pass ms per MiB",
      "passes per resume",
    ],
    rows,
  );
}

/** Runs the section. */
export async function cuts(bench: Bench): Promise<void> {
  const file = await dataFile(bench, bench.context.quick ? 256 * MiB : GiB);
  const every = bench.context.quick ? 16 * MiB : 32 * MiB;
  bench.report.out(
    `## No quadratic re-hashing: ${sizeLabel(file.size)} cut every ${sizeLabel(every)}`,
  );
  bench.report.out();
  await oneProcess(bench, file, every);
  await processPerAttempt(bench, file, every);
}
