/**
 * Target: a server stays responsive. A `Deno.serve` and a `Bun.serve`
 * process (`serve_client.ts`) answer `/ping` while `haul()` downloads 1 GiB
 * at full speed in the same process; `pinger.ts` (another process) pings one
 * request at a time every 5 ms and reports p99 latency before and during the
 * download (goal ≤ 10 ms during).
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

/** Runs the section. */
export async function responsive(bench: Bench): Promise<void> {
  const { context, report } = bench;
  const file = await dataFile(bench, context.quick ? 512 * MiB : GiB);
  const dest = join(context.downloads, "served.bin");
  const rows: string[][] = [];
  for (const runtime of RUNTIMES) {
    await clean(dest);
    const server = runtimeCommand(context, runtime, "serve_client.ts", [
      "--url",
      `${bench.nginx.url}/${file.name}`,
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
    const before = result["before"] as Latency;
    const during = result["during"] as Latency;
    const mbps = file.size / 1e6 / (Number(result["downloadMs"]) / 1000);
    bench.log(
      `responsive: ${runtime}: p99 ${before.p99.toFixed(2)} ms before, ${
        during.p99.toFixed(2)
      } ms during`,
    );
    rows.push([
      runtime === "deno" ? "Deno.serve" : "Bun.serve",
      cell(before),
      cell(during),
      mbps.toFixed(0),
    ]);
    report.target({
      target: `/ping p99 while haul downloads ${sizeLabel(file.size)} in the server (ms)`,
      runtime,
      figure: `${during.p99.toFixed(2)} (${mbps.toFixed(0)} MB/s)`,
      reference: `before: ${before.p99.toFixed(2)}`,
      goal: `≤ ${GOAL}`,
      verdict: verdict(during.p99 <= GOAL),
    });
  }
  report.out(`## A server stays responsive while haul downloads ${sizeLabel(file.size)}`);
  report.out();
  report.out("`/ping` latency in ms, p50 / p99 / max (samples), one request at a time every 5 ms.");
  report.out();
  report.table(["server", "before", "during the download", "download MB/s"], rows);
}
