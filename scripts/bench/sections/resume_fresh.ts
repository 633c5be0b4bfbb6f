/**
 * Target: a resume is never slower than a fresh download. 512 MiB over
 * loopback from nginx: the time of a `haul()` call resuming from a 148 MiB
 * checkpoint (made by an earlier process whose call was aborted at that byte
 * count) against a fresh call, pair by pair, each in a new process.
 *
 * @module
 */

import { join } from "node:path";
import {
  clean,
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

interface Timing {
  readonly ms: number;
  readonly cpuMs: number;
}

async function call(
  bench: Bench,
  runtime: Runtime,
  url: string,
  dest: string,
  file: DataFile,
  extra: string[] = [],
): Promise<{ timing: Timing; validLength: number }> {
  const { report } = await runClient(
    bench.context,
    runtimeCommand(bench.context, runtime, "haul_client.ts", [
      "--url",
      url,
      "--dest",
      dest,
      ...extra,
    ]),
  );
  if (report["error"] !== null) {
    throw new Error(`haul (${runtime}) failed: ${String(report["error"])}`);
  }
  if (extra.length === 0 && report["sha256"] !== file.sha256) {
    throw new Error(`haul (${runtime}) reported sha256 ${String(report["sha256"])}`);
  }
  return {
    timing: { ms: Number(report["elapsedMs"]), cpuMs: Number(report["cpuMs"]) },
    validLength: Number(report["validLength"]),
  };
}

/** Runs the section. */
export async function resumeFresh(bench: Bench): Promise<void> {
  const { context, report } = bench;
  const file = await dataFile(bench, context.quick ? 256 * MiB : 512 * MiB);
  const checkpoint = context.quick ? 74 * MiB : 148 * MiB;
  const rounds = context.quick ? 2 : 3;
  const url = `${bench.nginx.url}/${file.name}`;
  const dest = join(context.downloads, "resume.bin");
  const fresh = new Map<Runtime, Timing[]>(RUNTIMES.map((runtime) => [runtime, []]));
  const resumed = new Map<Runtime, Timing[]>(RUNTIMES.map((runtime) => [runtime, []]));
  for (let round = 1; round <= rounds; round++) {
    const jobs = RUNTIMES.flatMap((
      runtime,
    ) => [{ runtime, resume: false }, { runtime, resume: true }]);
    const parts: string[] = [];
    for (const job of shuffled(jobs, round)) {
      await clean(dest);
      if (job.resume) {
        const cut = await call(bench, job.runtime, url, dest, file, [
          "--abort-at",
          String(checkpoint),
        ]);
        if (cut.validLength < checkpoint) {
          throw new Error(`The cut left only ${cut.validLength} bytes`);
        }
      }
      settle();
      const { timing } = await call(bench, job.runtime, url, dest, file);
      (job.resume ? resumed : fresh).get(job.runtime)!.push(timing);
      parts.push(
        `${job.runtime} ${job.resume ? "resume" : "fresh"} ${(timing.ms / 1000).toFixed(2)} s`,
      );
    }
    await clean(dest);
    bench.log(`resume vs fresh: round ${round}/${rounds}: ${parts.join(", ")}`);
  }
  report.out(`## A resume is never slower than a fresh download: ${sizeLabel(file.size)}`);
  report.out();
  report.out(
    `The call's own time (measured in the process, start-up excluded), fresh and resuming from a ` +
      `${
        sizeLabel(checkpoint)
      } checkpoint left by an earlier process; ${rounds} interleaved rounds.`,
  );
  report.out();
  const rows: string[][] = [];
  for (const runtime of RUNTIMES) {
    const a = fresh.get(runtime)!;
    const b = resumed.get(runtime)!;
    const ratios = b.map((timing, i) => timing.ms / (a[i]?.ms ?? NaN));
    rows.push([
      runtime,
      spread(a.map((t) => t.ms / 1000), 2),
      spread(b.map((t) => t.ms / 1000), 2),
      spread(a.map((t) => t.cpuMs / 1000), 2),
      spread(b.map((t) => t.cpuMs / 1000), 2),
      spread(ratios, 2),
    ]);
    report.target({
      target: `Resume from ${sizeLabel(checkpoint)} vs fresh ${sizeLabel(file.size)} (time ×)`,
      runtime,
      figure: `${median(ratios).toFixed(2)} (${(median(b.map((t) => t.ms)) / 1000).toFixed(2)} s)`,
      reference: `fresh ${(median(a.map((t) => t.ms)) / 1000).toFixed(2)} s`,
      goal: "≤ 1.0",
      verdict: verdict(median(ratios) <= 1.0),
    });
  }
  report.table(
    ["runtime", "fresh s", "resume s", "fresh CPU s", "resume CPU s", "resume / fresh"],
    rows,
  );
}
