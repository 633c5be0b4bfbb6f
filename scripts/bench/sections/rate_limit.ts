/**
 * Target: a rate limit (issue 21). At 1, 10 and 100 MB/s over loopback from
 * nginx (far faster unlimited), a file that takes 10 s at the limit: haul
 * with `maxBytesPerSecond` (Deno, Bun) beside `curl --limit-rate`, round by
 * round: the rate achieved within 10 % of the limit, pair by pair with
 * curl's, and haul's CPU per MB no higher than an unlimited haul of the same
 * file. haul's time and CPU are the call's own (measured in the process, so
 * a runtime's start-up does not weigh on the small file); curl's are its
 * whole process. MB = 10^6 bytes. The floor beside it: the CPU of the same
 * runtime alive and idle for those 10 s, woken 4 times a second (as the
 * limiter's bursts wake it), added to the unlimited download's: a limited
 * download cannot cost less.
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

/** A runtime alive for {@link SECONDS} s, woken 4 times a second: one JSON line, its CPU ms. */
const IDLE = `const c0 = process.cpuUsage();
for (let i = 0; i < ${SECONDS * 4}; i++) await new Promise((r) => setTimeout(r, 250));
const c = process.cpuUsage(c0);
console.log(JSON.stringify({ cpuMs: (c.user + c.system) / 1000 }));`;

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
  /** CPU ms of an idle runtime over the 10 s, per round. */
  const idle = new Map<string, number[]>();
  for (const runtime of RUNTIMES) {
    const command = runtime === "deno"
      ? [context.bin.deno, "eval", `import process from "node:process";\n${IDLE}`]
      : [context.bin.bun, "-e", IDLE];
    const runs: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      settle();
      runs.push((await runClient(context, command)).report["cpuMs"] as number);
    }
    idle.set(runtime, runs);
    bench.log(
      `idle ${runtime} for ${SECONDS} s: ${runs.map((ms) => ms.toFixed(1)).join(", ")} ms CPU`,
    );
  }
  for (const limit of LIMITS) {
    const bytes = limit * 1e6;
    const file = await dataFile(bench, bytes * SECONDS);
    const url = `${bench.nginx.url}/${file.name}`;
    const haul = async (runtime: "deno" | "bun", limited: boolean): Promise<Run> => {
      const extra = limited ? ["--max-bytes-per-second", String(bytes)] : [];
      const args = ["--url", url, "--dest", dest, ...extra];
      const { report: out } = await runClient(
        context,
        runtimeCommand(context, runtime, "haul_client.ts", args),
      );
      if (out["sha256"] !== file.sha256) throw new Error(`haul (${runtime}): wrong bytes`);
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
        [`haul (${runtime})`, () => haul(runtime, true)],
        [`haul (${runtime}) unlimited`, () => haul(runtime, false)],
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
      // The floor: the unlimited download plus the runtime idle for the 10 s.
      const floor = free.map((value, i) => value + idle.get(runtime)![i]! / (file.size / 1e6));
      rows.push([
        `${limit} MB/s`,
        `floor (${runtime}): unlimited + idle ${SECONDS} s`,
        "—",
        "—",
        spread(floor, 2),
      ]);
      report.target({
        target: `Rate limit ${limit} MB/s: rate / limit; × curl --limit-rate; CPU/MB × unlimited`,
        runtime,
        figure: `${spread(toLimit, 3)}; ${spread(toCurl, 3)}; ${spread(cpuRatio, 2)}`,
        reference: `curl ${spread(curlRates, 2)} MB/s; floor ${
          spread(floor.map((value, i) => value / free[i]!), 2)
        } × unlimited`,
        goal: "0.9–1.1; CPU/MB ≤ 1.0",
        verdict: verdict(
          toLimit.every((x) => x >= 0.9 && x <= 1.1) && median(cpuRatio) <= 1.0,
        ),
      });
    }
  }
  report.table(["limit", "client", "MB/s", "× limit", "CPU ms/MB"], rows);
}
