/**
 * Targets: several connections (issue 12). One file from nginx with
 * `limit_rate 50m` per connection (256 MiB): haul `-x 8` on Deno and on Bun
 * against `aria2c -x8 -s8`, pair by pair (goal ≥ 0.9), with haul `-x 1` and
 * curl for scale. One file at full speed over loopback (1 GiB): `-x 8`
 * against `aria2c -x8 -s8`, pair by pair (goal ≥ 0.9), with its MB/s and
 * CPU per MB against `-x 1` of the same runtime reported beside it (issue
 * 19: `connections: N` opens N connections). Then the list of files
 * (`many_files.ts`).
 *
 * @module
 */

import { GiB, MiB, type Runtime, runtimeCommand, RUNTIMES, sizeLabel } from "../context.ts";
import type { Context } from "../context.ts";
import { aria2One, aria2Version } from "../aria2.ts";
import { type Client, curl, interleave, mbps, pairRatios, type Sample } from "../downloads.ts";
import { median, spread } from "../proc.ts";
import { verdict } from "../report.ts";
import { type Bench, dataFile } from "../section.ts";
import { manyFiles } from "./many_files.ts";

/** CPU milliseconds per MB (10^6 bytes). */
function msPerMB(sample: Sample): number {
  return (sample.cpuS * 1000) / (sample.bytes / 1e6);
}

/** `haul()` with `connections: n` under `runtime`, in a process of its own. */
function haulX(context: Context, runtime: Runtime, n: number): Client {
  return {
    name: `haul -x ${n} (${runtime})`,
    reports: true,
    command: (url, dest) =>
      runtimeCommand(context, runtime, "haul_client.ts", [
        "--url",
        url,
        "--dest",
        dest,
        "--connections",
        String(n),
      ]),
  };
}

/** `aria2c -x8 -s8 -k 4M`. */
const aria2: Client = {
  name: "aria2c -x8 -s8",
  reports: false,
  command: (url, dest) => aria2One(url, dest, 8),
};

function table(bench: Bench, clients: readonly Client[], samples: Map<string, Sample[]>): void {
  bench.report.table(
    ["client", "MB/s", "wall s", "CPU s", "CPU ms per MB", "peak RSS MiB"],
    clients.map((client) => {
      const list = samples.get(client.name)!;
      return [
        client.name,
        spread(list.map(mbps)),
        spread(list.map((s) => s.wallMs / 1000), 2),
        spread(list.map((s) => s.cpuS), 2),
        spread(list.map(msPerMB), 2),
        spread(list.map((s) => s.maxRssKiB / 1024)),
      ];
    }),
  );
}

async function slowLink(bench: Bench, aria2Installed: boolean): Promise<void> {
  const { context, report } = bench;
  const file = await dataFile(bench, context.quick ? 128 * MiB : 256 * MiB);
  const clients = [
    ...RUNTIMES.map((runtime) => haulX(context, runtime, 8)),
    ...(aria2Installed ? [aria2] : []),
    ...RUNTIMES.map((runtime) => haulX(context, runtime, 1)),
    curl,
  ];
  const rounds = context.quick ? 2 : 3;
  const url = `${bench.nginx.url}/slow/${file.name}`;
  const samples = await interleave(bench, "connections, slow", clients, url, file, rounds, false);
  report.out(
    `### ${sizeLabel(file.size)} at 50 MiB/s per connection (nginx \`limit_rate 50m\`)`,
  );
  report.out();
  report.out(
    `${rounds} interleaved rounds; median (min–max); wall time of the whole process, ` +
      "start-up included; CPU = user + system of the process tree; MB/s = 10^6 bytes/s.",
  );
  report.out();
  table(bench, clients, samples);
  const x1 = (runtime: Runtime): number => median(samples.get(`haul -x 1 (${runtime})`)!.map(mbps));
  const curlMBps = median(samples.get(curl.name)!.map(mbps));
  for (const runtime of RUNTIMES) {
    const haul = samples.get(`haul -x 8 (${runtime})`)!;
    const scale = `-x 1 ${x1(runtime).toFixed(0)} MB/s; curl ${curlMBps.toFixed(0)} MB/s`;
    if (!aria2Installed) {
      report.target({
        target: "-x 8 at 50 MiB/s per connection (× aria2c -x8 -s8, pair by pair)",
        runtime,
        figure: `${median(haul.map(mbps)).toFixed(0)} MB/s`,
        reference: `aria2c not installed; ${scale}`,
        goal: "≥ 0.9",
        verdict: "not measured (no aria2c)",
      });
      continue;
    }
    const ratios = pairRatios(haul, samples.get(aria2.name)!, mbps);
    const aria2MBps = median(samples.get(aria2.name)!.map(mbps));
    report.target({
      target: "-x 8 at 50 MiB/s per connection (× aria2c -x8 -s8, pair by pair)",
      runtime,
      figure: `${spread(ratios, 2)} (${median(haul.map(mbps)).toFixed(0)} MB/s)`,
      reference: `aria2c ${aria2MBps.toFixed(0)} MB/s; ${scale}`,
      goal: "≥ 0.9",
      verdict: verdict(median(ratios) >= 0.9),
    });
  }
}

async function fullSpeed(bench: Bench, aria2Installed: boolean): Promise<void> {
  const { context, report } = bench;
  const file = await dataFile(bench, context.quick ? 512 * MiB : GiB);
  const clients = [
    ...RUNTIMES.flatMap((runtime) => [haulX(context, runtime, 1), haulX(context, runtime, 8)]),
    ...(aria2Installed ? [aria2] : []),
  ];
  const rounds = context.quick ? 2 : 3;
  const url = `${bench.nginx.url}/${file.name}`;
  const samples = await interleave(
    bench,
    "connections, full speed",
    clients,
    url,
    file,
    rounds,
    !context.quick,
  );
  report.out(`### ${sizeLabel(file.size)} at full speed over loopback (nginx, no limit)`);
  report.out();
  report.out(
    `${rounds} interleaved rounds${context.quick ? "" : " after a warm-up"}; ` +
      "median (min–max); ratios pair by pair within a round.",
  );
  report.out();
  table(bench, clients, samples);
  const rows: string[][] = [];
  for (const runtime of RUNTIMES) {
    const one = samples.get(`haul -x 1 (${runtime})`)!;
    const eight = samples.get(`haul -x 8 (${runtime})`)!;
    const speed = pairRatios(eight, one, mbps);
    const cpu = pairRatios(eight, one, msPerMB);
    rows.push([`-x 8 / -x 1 (${runtime}), MB/s`, spread(speed, 2)]);
    rows.push([`-x 8 / -x 1 (${runtime}), CPU per MB`, spread(cpu, 2)]);
    const beside = `against -x 1: MB/s × ${spread(speed, 2)}, CPU per MB × ${spread(cpu, 2)}`;
    if (!aria2Installed) {
      report.target({
        target: "-x 8 at full speed (× aria2c -x8 -s8, pair by pair)",
        runtime,
        figure: `${median(eight.map(mbps)).toFixed(0)} MB/s`,
        reference: `aria2c not installed; ${beside}`,
        goal: "≥ 0.9",
        verdict: "not measured (no aria2c)",
      });
      continue;
    }
    const ratios = pairRatios(eight, samples.get(aria2.name)!, mbps);
    const aria2MBps = median(samples.get(aria2.name)!.map(mbps));
    report.target({
      target: "-x 8 at full speed (× aria2c -x8 -s8, pair by pair)",
      runtime,
      figure: `${spread(ratios, 2)} (${median(eight.map(mbps)).toFixed(0)} MB/s)`,
      reference: `aria2c ${aria2MBps.toFixed(0)} MB/s; ${beside}`,
      goal: "≥ 0.9",
      verdict: verdict(median(ratios) >= 0.9),
    });
  }
  report.out("Ratios, pair by pair (same round):");
  report.out();
  report.table(["ratio", "median (min–max)"], rows);
}

/** Runs the section. */
export async function connections(bench: Bench): Promise<void> {
  const { report } = bench;
  const version = aria2Version();
  report.out("## Several connections");
  report.out();
  report.out(
    version === null
      ? "aria2c is not installed (bench.sh installs the `aria2` package when it runs as root " +
        "with apt-get): its rows and ratios are left out."
      : `Reference: ${version}, with \`--file-allocation=none\` (no preallocation) and ` +
        "`-k 4M` (haul's smallest range: aria2c splits nothing under twice `-k`, and with its " +
        "default, 20 MiB, it would fetch a 32 MiB file over one connection).",
  );
  report.out();
  await slowLink(bench, version !== null);
  await fullSpeed(bench, version !== null);
  await manyFiles(bench, version !== null);
}
