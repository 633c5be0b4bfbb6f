/**
 * Target: full speed. 1 GiB over loopback from nginx: haul on Deno and on
 * Bun against `curl -o F && sync -d F`, pair by pair within a round (goal
 * ≥ 1.0, stretch 1.2), with `dd if=F of=G oflag=direct bs=1M` of the same
 * file as the disk's limit.
 *
 * @module
 */

import { GiB, MiB, RUNTIMES, sizeLabel } from "../context.ts";
import { curlSync, ddDirect, haulClient, interleave, mbps, pairRatios } from "../downloads.ts";
import { median, spread } from "../proc.ts";
import { verdict } from "../report.ts";
import { type Bench, dataFile } from "../section.ts";

/** Runs the section. */
export async function fullSpeed(bench: Bench): Promise<void> {
  const { context, report } = bench;
  const file = await dataFile(bench, context.quick ? 512 * MiB : GiB);
  const clients = [...RUNTIMES.map((runtime) => haulClient(context, runtime)), curlSync, ddDirect];
  const rounds = context.quick ? 3 : 5;
  const url = `${bench.nginx.url}/${file.name}`;
  const samples = await interleave(bench, "full speed", clients, url, file, rounds, !context.quick);
  report.out(`## Full speed: ${sizeLabel(file.size)} over loopback`);
  report.out();
  report.out(
    `${rounds} interleaved rounds${context.quick ? "" : " after a warm-up"}; median (min–max); ` +
      "wall time of the whole process, start-up included; MB/s = 10^6 bytes/s.",
  );
  report.out();
  report.table(
    ["client", "MB/s", "wall s", "CPU s", "peak RSS MiB"],
    clients.map((client) => {
      const list = samples.get(client.name)!;
      return [
        client.name,
        spread(list.map(mbps)),
        spread(list.map((s) => s.wallMs / 1000), 2),
        spread(list.map((s) => s.cpuS), 2),
        spread(list.map((s) => s.maxRssKiB / 1024)),
      ];
    }),
  );
  const rows: string[][] = [];
  const curlMBps = median(samples.get(curlSync.name)!.map(mbps));
  const ddMBps = median(samples.get(ddDirect.name)!.map(mbps));
  for (const runtime of RUNTIMES) {
    const haul = samples.get(`haul (${runtime})`)!;
    const toCurl = pairRatios(haul, samples.get(curlSync.name)!, mbps);
    const toDd = pairRatios(haul, samples.get(ddDirect.name)!, mbps);
    rows.push([`haul (${runtime}) / curl -o && sync -d`, spread(toCurl, 2)]);
    rows.push([`haul (${runtime}) / dd oflag=direct`, spread(toDd, 2)]);
    const ratio = median(toCurl);
    report.target({
      target: "Full speed (× curl -o && sync -d, pair by pair)",
      runtime,
      figure: `${spread(toCurl, 2)} (${median(haul.map(mbps)).toFixed(0)} MB/s)`,
      reference: `curl+sync ${curlMBps.toFixed(0)} MB/s; dd oflag=direct ${ddMBps.toFixed(0)} MB/s`,
      goal: "≥ 1.0 (stretch 1.2)",
      verdict: ratio >= 1.2 ? "met, stretch met" : verdict(ratio >= 1.0),
    });
  }
  report.out("Throughput ratios, pair by pair (same round):");
  report.out();
  report.table(["ratio", "median (min–max)"], rows);
}
