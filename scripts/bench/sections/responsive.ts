/**
 * Target: a server stays responsive. A `Deno.serve` and a `Bun.serve`
 * process (`serve_client.ts`) answer `/ping` while `haul()` downloads 1 GiB
 * in the same process from nginx's `/link/` twin (`limit_rate 100m`: a fast
 * real link, not loopback at full speed); `pinger.ts` (another process) pings one
 * request at a time every 5 ms and reports p99 latency before and during the
 * download (goal ≤ 10 ms during). Each server runs twice: plain `haul()`, then
 * `worker: true`, which the README gives for a server and which the verdict
 * judges.
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

/** Runs the server under `runtime` once, downloading with or without `worker: true`. */
async function serverRun(
  bench: Bench,
  runtime: (typeof RUNTIMES)[number],
  file: { name: string; size: number },
  worker: boolean,
): Promise<Run> {
  const { context } = bench;
  const dest = join(context.downloads, "served.bin");
  await clean(dest);
  const server = runtimeCommand(context, runtime, "serve_client.ts", [
    "--url",
    `${bench.nginx.url}/link/${file.name}`,
    "--dest",
    dest,
    ...(worker ? ["--worker"] : []),
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
    // Interleaved: the plain call, then `worker: true`, in the same minute.
    const plain = await serverRun(bench, runtime, file, false);
    const worker = await serverRun(bench, runtime, file, true);
    for (const [label, run] of [["haul()", plain], ["haul({ worker: true })", worker]] as const) {
      bench.log(
        `responsive: ${runtime} ${label}: p99 ${run.before.p99.toFixed(2)} ms before, ${
          run.during.p99.toFixed(2)
        } ms during`,
      );
      rows.push([server, label, cell(run.before), cell(run.during), run.mbps.toFixed(0)]);
    }
    report.target({
      target: `/ping p99 while haul downloads ${
        sizeLabel(file.size)
      } in the server, worker: true (ms)`,
      runtime,
      figure: `${worker.during.p99.toFixed(2)} (${worker.mbps.toFixed(0)} MB/s)`,
      reference: `before: ${worker.before.p99.toFixed(2)}; without worker: ${
        plain.during.p99.toFixed(2)
      } (${plain.mbps.toFixed(0)} MB/s)`,
      goal: `≤ ${GOAL}`,
      verdict: verdict(worker.during.p99 <= GOAL),
    });
  }
  const small = await dataFile(bench, MiB);
  const costs: string[][] = [];
  for (const runtime of RUNTIMES) {
    const { report: cost } = await runClient(
      context,
      runtimeCommand(context, runtime, "worker_cost_client.ts", [
        "--url",
        `${bench.nginx.url}/${small.name}`,
        "--dir",
        context.downloads,
        "--count",
        context.quick ? "5" : "15",
      ]),
    );
    const plainMs = Number(cost["plainMs"]);
    const workerMs = Number(cost["workerMs"]);
    const files = Number(cost["batchFiles"]);
    const batchPlain = Number(cost["batchPlainMs"]);
    const batchWorker = Number(cost["batchWorkerMs"]);
    bench.log(
      `responsive: ${runtime}: 1 MiB in ${plainMs.toFixed(1)} ms, ${workerMs.toFixed(1)} ms on ` +
        `a worker; haulAll of ${files} in ${batchPlain.toFixed(0)} ms, ${
          batchWorker.toFixed(0)
        } ms on workers`,
    );
    costs.push([
      runtime,
      plainMs.toFixed(1),
      workerMs.toFixed(1),
      `${batchPlain.toFixed(0)} / ${batchWorker.toFixed(0)} (${files} files)`,
    ]);
  }
  report.out(
    `## A server stays responsive while haul downloads ${sizeLabel(file.size)} at 100 MiB/s`,
  );
  report.out();
  report.out("`/ping` latency in ms, p50 / p99 / max (samples), one request at a time every 5 ms.");
  report.out(
    "The server's own call is plain `haul()`, then `worker: true` (the download on a worker thread).",
  );
  report.out();
  report.table(["server", "download", "before", "during the download", "download MB/s"], rows);
  report.out();
  report.out(
    "What a worker costs: median wall ms of one 1 MiB `haul()`, plain and with `worker: true` " +
      "(which starts and stops a worker), interleaved; and `haulAll()` of such files, 4 at once, " +
      "plain and with `worker: true` (the batch reuses its workers).",
  );
  report.out();
  report.table(
    ["runtime", "haul() ms", "haul({ worker: true }) ms", "haulAll() ms, plain / worker: true"],
    costs,
  );
}
