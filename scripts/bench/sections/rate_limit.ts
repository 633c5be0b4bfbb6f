/**
 * Target: a rate limit (issue 21). At 1, 10 and 100 MB/s over loopback from
 * nginx (far faster unlimited), a file that takes 10 s at the limit: haul
 * with `maxBytesPerSecond` (Deno, Bun) beside `curl --limit-rate`, round by
 * round: the rate achieved within 10 % of the limit, pair by pair with
 * curl's, and haul's CPU per MB no higher than an unlimited haul of the same
 * file. haul's time and CPU are the call's own (measured in the process, so
 * a runtime's start-up does not weigh on the small file); curl's are its
 * whole process. MB = 10^6 bytes. The floor beside it: the least a verified,
 * durable download costs in the runtime (`floor_client.ts`: fetch, SHA-256,
 * 1 MiB writes, one `fdatasync`), read at the same pace in the same bursts and
 * unlimited: its own ratio is what pacing costs the runtime with none of
 * haul's work (a paced body wakes the runtime and its network thread for each
 * burst, and a process alive for 10 s pays its timers and allocator for them).
 * A third haul row is limited with `checkpointEvery: { ms: 10000 }`: what of
 * the ratio is the default cadence's durable checkpoint every second (an
 * unlimited call of 10 s of bytes takes none; the limited one ten).
 *
 * @module
 */

import { loadavg } from "node:os";
import { join } from "node:path";
import { clean, cpuSeconds, runClient, runtimeCommand, RUNTIMES, settle } from "../context.ts";
import { measure, median, spread } from "../proc.ts";
import { verdict } from "../report.ts";
import { type Bench, dataFile } from "../section.ts";

/** The limits, in MB/s. */
const LIMITS = [1, 10, 100];
/** Seconds each limited download takes. */
const SECONDS = 10;

/** One download: its rate (MB/s) and CPU per MB (ms). */
interface Run {
  readonly mbps: number;
  readonly cpuMsPerMB: number;
}

/** Runs the section. */
export async function rateLimit(bench: Bench): Promise<void> {
  const { context, report } = bench;
  const rounds = context.quick ? 1 : 2;
  const dest = join(context.downloads, "limit.bin");
  const load = loadavg().map((x) => x.toFixed(2)).join(", ");
  report.out(`## Rate limit: 1, 10 and 100 MB/s for ${SECONDS} s`);
  report.out();
  report.out(
    `${rounds} round(s), clients in turn; median (min–max); load average at the start ${load}. ` +
      "haul: the call's own time and CPU; curl: its process's.",
  );
  report.out();
  const rows: string[][] = [];
  for (const limit of LIMITS) {
    const bytes = limit * 1e6;
    const file = await dataFile(bench, bytes * SECONDS);
    const url = `${bench.nginx.url}/${file.name}`;
    const child = async (
      script: "haul_client.ts" | "floor_client.ts",
      runtime: "deno" | "bun",
      limited: boolean,
      more: string[] = [],
    ): Promise<Run> => {
      const extra = limited ? ["--max-bytes-per-second", String(bytes), ...more] : more;
      const args = ["--url", url, "--dest", dest, ...extra];
      const { report: out } = await runClient(
        context,
        runtimeCommand(context, runtime, script, args),
      );
      if (out["sha256"] !== file.sha256) throw new Error(`${script} (${runtime}): wrong bytes`);
      const { elapsedMs, cpuMs } = out as { elapsedMs: number; cpuMs: number };
      return { mbps: file.size / 1e3 / elapsedMs, cpuMsPerMB: cpuMs / (file.size / 1e6) };
    };
    const curl = async (limited: boolean): Promise<Run> => {
      const extra = limited ? ["--limit-rate", String(bytes)] : [];
      const run = await measure(["curl", "-sSf", ...extra, "-o", dest, url], {
        scratch: context.scratch,
      });
      if (run.exitCode !== 0) throw new Error(`curl failed: ${run.stderr}`);
      const mb = file.size / 1e6;
      return { mbps: mb / (run.wallMs / 1000), cpuMsPerMB: (cpuSeconds(run) * 1000) / mb };
    };
    const clients: [string, () => Promise<Run>][] = [
      ...RUNTIMES.flatMap((runtime): [string, () => Promise<Run>][] => [
        [`haul (${runtime})`, () => child("haul_client.ts", runtime, true)],
        [`haul (${runtime}) unlimited`, () => child("haul_client.ts", runtime, false)],
        [
          `haul (${runtime}) checkpoint every ${SECONDS} s`,
          () => child("haul_client.ts", runtime, true, ["--checkpoint-ms", String(SECONDS * 1000)]),
        ],
        [`floor (${runtime}) paced`, () => child("floor_client.ts", runtime, true)],
        [`floor (${runtime}) unlimited`, () => child("floor_client.ts", runtime, false)],
      ]),
      ["curl --limit-rate", () => curl(true)],
      ["curl unlimited", () => curl(false)],
    ];
    const runs = new Map<string, Run[]>(clients.map(([name]) => [name, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const [name, once] of clients) {
        await clean(dest);
        settle();
        const run = await once();
        runs.get(name)!.push(run);
        bench.log(
          `limit ${limit} MB/s, round ${round}: ${name} ${run.mbps.toFixed(2)} MB/s, ` +
            `${run.cpuMsPerMB.toFixed(2)} ms CPU/MB`,
        );
      }
    }
    await clean(dest);
    const of = (name: string, f: (run: Run) => number): number[] => runs.get(name)!.map(f);
    for (const [name] of clients) {
      rows.push([
        `${limit} MB/s`,
        name,
        spread(of(name, (r) => r.mbps), 2),
        name.includes("unlimited") ? "—" : spread(of(name, (r) => r.mbps / limit), 3),
        spread(of(name, (r) => r.cpuMsPerMB), 2),
      ]);
    }
    const curlRates = of("curl --limit-rate", (r) => r.mbps);
    for (const runtime of RUNTIMES) {
      const name = `haul (${runtime})`;
      const rates = of(name, (r) => r.mbps);
      const toLimit = rates.map((rate) => rate / limit);
      const toCurl = rates.map((rate, i) => rate / curlRates[i]!);
      const cpu = of(name, (r) => r.cpuMsPerMB);
      const free = of(`${name} unlimited`, (r) => r.cpuMsPerMB);
      const cpuRatio = cpu.map((value, i) => value / free[i]!);
      const sparse = of(`${name} checkpoint every ${SECONDS} s`, (r) => r.cpuMsPerMB);
      const sparseRatio = sparse.map((value, i) => value / free[i]!);
      const paced = of(`floor (${runtime}) paced`, (r) => r.cpuMsPerMB);
      const floorFree = of(`floor (${runtime}) unlimited`, (r) => r.cpuMsPerMB);
      const floorRatio = paced.map((value, i) => value / floorFree[i]!);
      report.target({
        target: `Rate limit ${limit} MB/s: rate / limit; × curl --limit-rate; CPU/MB × unlimited`,
        runtime,
        figure: `${spread(toLimit, 3)}; ${spread(toCurl, 3)}; ${spread(cpuRatio, 2)}`,
        reference: `curl ${spread(curlRates, 2)} MB/s; floor paced ${
          spread(floorRatio, 2)
        } × floor unlimited; a checkpoint every ${SECONDS} s ${spread(sparseRatio, 2)} × unlimited`,
        goal: "0.9–1.1; CPU/MB ≤ 1.0",
        verdict: verdict(
          toLimit.every((x) => x >= 0.9 && x <= 1.1) && median(cpuRatio) <= 1.0,
        ),
      });
    }
  }
  report.table(["limit", "client", "MB/s", "× limit", "CPU ms/MB"], rows);
}
