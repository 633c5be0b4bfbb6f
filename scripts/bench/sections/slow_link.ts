/**
 * Target: CPU on a slow link. 256 MiB from nginx with `limit_rate 50m` (per
 * connection): haul's CPU milliseconds per MB (user + system of the process
 * tree) on Deno and on Bun, beside curl's and beside the floor of each
 * runtime (`floor_client.ts`: fetch, native SHA-256 and durable writes, with
 * none of haul's guarantees), interleaved.
 *
 * @module
 */

import { MiB, RUNTIMES, sizeLabel } from "../context.ts";
import { curl, floorClient, haulClient, interleave, mbps, type Sample } from "../downloads.ts";
import { median, spread } from "../proc.ts";
import { verdict } from "../report.ts";
import { type Bench, dataFile } from "../section.ts";

/** The goal: CPU ms per MB (10^6 bytes). */
const GOAL = 3.0;

function msPerMB(sample: Sample): number {
  return (sample.cpuS * 1000) / (sample.bytes / 1e6);
}

/** Runs the section. */
export async function slowLink(bench: Bench): Promise<void> {
  const { context, report } = bench;
  const file = await dataFile(bench, context.quick ? 128 * MiB : 256 * MiB);
  const clients = [
    ...RUNTIMES.map((runtime) => haulClient(context, runtime)),
    ...RUNTIMES.map((runtime) => floorClient(context, runtime)),
    curl,
  ];
  const rounds = context.quick ? 1 : 2;
  const url = `${bench.nginx.url}/slow/${file.name}`;
  const samples = await interleave(bench, "slow link", clients, url, file, rounds, false);
  report.out(
    `## CPU on a slow link: ${sizeLabel(file.size)} at 50 MiB/s (nginx \`limit_rate 50m\`)`,
  );
  report.out();
  report.out(
    `${rounds} interleaved round(s); median (min–max); CPU = user + system of the process tree.`,
  );
  report.out();
  report.table(
    ["client", "MB/s", "CPU s", "CPU ms per MB"],
    clients.map((client) => {
      const list = samples.get(client.name)!;
      return [
        client.name,
        spread(list.map(mbps)),
        spread(list.map((s) => s.cpuS), 2),
        spread(list.map(msPerMB), 2),
      ];
    }),
  );
  const reference = median(samples.get(curl.name)!.map(msPerMB));
  for (const runtime of RUNTIMES) {
    const figure = median(samples.get(`haul (${runtime})`)!.map(msPerMB));
    const floor = median(samples.get(`floor loop (${runtime})`)!.map(msPerMB));
    report.target({
      target: "CPU on a slow link (ms per MB)",
      runtime,
      figure: figure.toFixed(2),
      reference: `curl ${reference.toFixed(2)}; ${runtime} floor loop ${floor.toFixed(2)}`,
      goal: `≤ ${GOAL.toFixed(1)}`,
      verdict: verdict(figure <= GOAL),
    });
  }
}
