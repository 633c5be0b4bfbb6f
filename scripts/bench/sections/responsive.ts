/**
 * Target: a server stays responsive. A `Deno.serve` and a `Bun.serve`
 * process (`serve_client.ts`) answer `/ping` while `haul()` downloads 1 GiB
 * on the server's own thread from nginx's `/link/` twin (`limit_rate 100m`: a
 * fast real link, not loopback at full speed); `pinger.ts` (another process)
 * pings one request at a time every 5 ms and reports p99 latency before and
 * during the download (goal ≤ 10 ms during). This is the evidence for running
 * haul on the caller's thread (issue 19: `worker: true` was removed).
 *
 * @module
 */

import { join } from "node:path";
import { clean, GiB, MiB, runClient, runtimeCommand, RUNTIMES, sizeLabel } from "../context.ts";
import type { Latency } from "../pinger.ts";
import { verdict } from "../report.ts";
import { type Bench, dataFile } from "../section.ts";

/** The goal, ms. */
const GOAL = 10;

function cell(latency: Latency): string {
  return `${latency.p50.toFixed(2)} / ${latency.p99.toFixed(2)} / ${
    latency.max.toFixed(1)
  } (${latency.count})`;
}

/** One server run: `/ping` latency before and during the download, and its speed. */
interface Run {
  readonly before: Latency;
  readonly during: Latency;
  readonly mbps: number;
}

/** Runs the server under `runtime` once. */
async function serverRun(
  bench: Bench,
  runtime: (typeof RUNTIMES)[number],
  file: { name: string; size: number },
): Promise<Run> {
  const { context } = bench;
  const dest = join(context.downloads, "served.bin");
  await clean(dest);
  const server = runtimeCommand(context, runtime, "serve_client.ts", [
    "--url",
    `${bench.nginx.url}/link/${file.name}`,
    "--dest",
    dest,
  ]);
  const { report: result } = await runClient(
    context,
    runtimeCommand(context, "deno", "pinger.ts", [
      "--before-ms",
      context.quick ? "1000" : "2000",
      "--interval-ms",
      "5",
      "--",
      ...server,
    ]),
  );
  await clean(dest);
  return {
    before: result["before"] as Latency,
    during: result["during"] as Latency,
    mbps: file.size / 1e6 / (Number(result["downloadMs"]) / 1000),
  };
}

/** Runs the section. */
export async function responsive(bench: Bench): Promise<void> {
  const { context, report } = bench;
  const file = await dataFile(bench, context.quick ? 512 * MiB : GiB);
  const rows: string[][] = [];
  for (const runtime of RUNTIMES) {
    const server = runtime === "deno" ? "Deno.serve" : "Bun.serve";
    const run = await serverRun(bench, runtime, file);
    bench.log(
      `responsive: ${runtime} haul(): p99 ${run.before.p99.toFixed(2)} ms before, ${
        run.during.p99.toFixed(2)
      } ms during`,
    );
    rows.push([server, cell(run.before), cell(run.during), run.mbps.toFixed(0)]);
    report.target({
      target: `/ping p99 while haul() downloads ${sizeLabel(file.size)} in the server (ms)`,
      runtime,
      figure: `${run.during.p99.toFixed(2)} (${run.mbps.toFixed(0)} MB/s)`,
      reference: `before: ${run.before.p99.toFixed(2)}`,
      goal: `≤ ${GOAL}`,
      verdict: verdict(run.during.p99 <= GOAL),
    });
  }
  report.out(
    `## A server stays responsive while haul downloads ${sizeLabel(file.size)} at 100 MiB/s`,
  );
  report.out();
  report.out("`/ping` latency in ms, p50 / p99 / max (samples), one request at a time every 5 ms.");
  report.out("The download is plain `haul()` on the server's own thread.");
  report.out();
  report.table(["server", "before", "during the download", "download MB/s"], rows);
}
