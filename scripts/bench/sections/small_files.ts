/**
 * Target: many small files, the seeds' bulk case (issue 19). A list of
 * 1000 × 1 MiB from nginx over loopback, no limit: the haul CLI
 * `-i LIST -j 8` on Deno and on Bun against `aria2c -j8 -i LIST` (goal: wall
 * ≤ 1.0 × pair by pair) and `xargs -P 8 -n 1 curl -O` followed by one
 * `sync`, each into a fresh directory, interleaved; wall time and CPU of the
 * whole process tree and their ratios pair by pair. Then the system calls
 * per file: `strace -f -c` around one haul run of the list per runtime (and
 * one aria2c run for scale), divided by the number of files, by syscall,
 * failed calls beside. With `HAUL_BASELINE=<dir>` (a checkout of another
 * commit), that checkout's CLI runs in the same rounds too, each runtime's
 * ratio to it pair by pair (an A/B of a change).
 *
 * aria2c runs with `--file-allocation=none` (no preallocation: the bytes are
 * written once, as haul and curl write them), `--allow-overwrite=true`,
 * `--auto-file-renaming=false` and one connection per file (`-x1 -s1`): the
 * reference the issue names, as it comes. It `fsync`s every file itself
 * (strace: the empty file when it opens it, its `.aria2` control file, the
 * data at the end; no directory). haul `fsync`s every file and its
 * directory entry; the curl reference pays one `sync` for all.
 *
 * @module
 */

import { readFile, rm } from "node:fs/promises";
import os from "node:os";
import process from "node:process";
import { join } from "node:path";
import { aria2List, aria2Version } from "../aria2.ts";
import { MiB, type Runtime, RUNTIMES, settle, shuffled } from "../context.ts";
import { mbps, pairRatios, type Sample } from "../downloads.ts";
import { measure, median, run, spread } from "../proc.ts";
import { verdict } from "../report.ts";
import type { Bench } from "../section.ts";
import { dataFile } from "../section.ts";
import { fetchList, type ListClient, serveList } from "./many_files.ts";

const JOBS = 8;

function haulCli(bench: Bench, runtime: Runtime, baseline?: string): ListClient {
  const cli = join(baseline ?? bench.context.root, "cli.ts");
  const flags = (list: string, dir: string): string[] => ["-i", list, "-d", dir, "-j", `${JOBS}`];
  return {
    name: `haul -j ${JOBS} (${runtime}${baseline === undefined ? "" : ", before"})`,
    command: (list, dir) =>
      runtime === "deno"
        ? [bench.context.bin.deno, "run", "-A", "--quiet", cli, ...flags(list, dir)]
        : [bench.context.bin.bun, cli, ...flags(list, dir)],
  };
}

const aria2: ListClient = {
  name: `aria2c -j${JOBS}`,
  command: (list, dir) => aria2List(list, dir, JOBS, 1),
};

const curlSync: ListClient = {
  name: `xargs -P ${JOBS} curl + sync`,
  command: (list, dir) => [
    "sh",
    "-c",
    `cd "$1" && xargs -P ${JOBS} -n 1 curl -sSf -O < "$2" && sync`,
    "sh",
    dir,
    list,
  ],
};

function load(): string {
  return os.loadavg().map((value) => value.toFixed(2)).join(" ");
}

/** One syscall's count over a run: calls and failed calls. */
interface Count {
  readonly calls: number;
  readonly errors: number;
}

/** Parses `strace -c`'s table into counts by syscall. */
function parseStrace(text: string): Map<string, Count> {
  const counts = new Map<string, Count>();
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || !/^\d/.test(fields[0]!)) continue;
    const name = fields[fields.length - 1]!;
    if (name === "total") continue;
    const calls = Number(fields[3]);
    const errors = fields.length >= 6 ? Number(fields[4]) : 0;
    if (Number.isFinite(calls)) counts.set(name, { calls, errors });
  }
  return counts;
}

function haveStrace(): boolean {
  try {
    run(["strace", "-V"]);
    return true;
  } catch {
    return false;
  }
}

/** The syscalls the issue counts, always shown. */
const NAMED = [
  "statx",
  "newfstatat",
  "openat",
  "close",
  "fcntl",
  "pread64",
  "pwrite64",
  "fsync",
  "fdatasync",
  "flock",
  "unlink",
  "rename",
  "ftruncate",
];

async function syscallsPerFile(
  bench: Bench,
  clients: readonly ListClient[],
  list: string,
  count: number,
): Promise<void> {
  const { context, report } = bench;
  const tables = new Map<string, Map<string, Count>>();
  for (const client of clients) {
    const dir = join(context.downloads, "small-strace");
    await rm(dir, { recursive: true, force: true });
    run(["mkdir", "-p", dir]);
    settle();
    const out = join(context.scratch, "strace.txt");
    const measurement = await measure(
      ["strace", "-f", "-c", "-o", out, "--", ...client.command(list, dir)],
      { scratch: context.scratch },
    );
    if (measurement.exitCode !== 0) {
      throw new Error(`strace ${client.name} failed: ${measurement.stderr.slice(-2000)}`);
    }
    tables.set(client.name, parseStrace(await readFile(out, "utf8")));
    await rm(out, { force: true });
    await rm(dir, { recursive: true, force: true });
    bench.log(`small files: strace of ${client.name} done`);
  }
  const names = new Set(NAMED);
  for (const table of tables.values()) {
    for (const [name, c] of table) if (c.calls / count >= 0.5) names.add(name);
  }
  const cell = (table: Map<string, Count>, name: string): string => {
    const c = table.get(name);
    if (c === undefined) return "0";
    const per = (n: number): string => (n / count).toFixed(n / count >= 10 ? 0 : 2);
    return c.errors > 0 ? `${per(c.calls)} (${per(c.errors)} fail)` : per(c.calls);
  };
  report.out(
    `System calls per file: \`strace -f -c\` around one run of the list, every thread, ` +
      `divided by ${count} (start-up included); "fail" = calls that returned an error.`,
  );
  report.out();
  const ordered = [...names].sort((a, b) => {
    const named = Number(NAMED.includes(b)) - Number(NAMED.includes(a));
    return named !== 0 ? named : a.localeCompare(b);
  });
  const totals = [...tables.values()].map((table) => {
    let calls = 0;
    for (const c of table.values()) calls += c.calls;
    return (calls / count).toFixed(0);
  });
  report.table(
    ["syscall", ...clients.map((client) => client.name)],
    [
      ...ordered.map((name) => [name, ...[...tables.values()].map((t) => cell(t, name))]),
      ["all", ...totals],
    ],
  );
}

/** Runs the section. */
export async function smallFiles(bench: Bench): Promise<void> {
  const { context, report } = bench;
  const version = aria2Version();
  const count = 1000;
  const file = await dataFile(bench, MiB);
  const [list, ...names] = await serveList(bench, file, count);
  const hauls = RUNTIMES.map((runtime) => haulCli(bench, runtime));
  // HAUL_BASELINE=<a checkout of another commit>: its CLI runs in the same rounds, for A/B.
  const baseline = process.env["HAUL_BASELINE"];
  const befores = baseline === undefined
    ? []
    : RUNTIMES.map((runtime) => haulCli(bench, runtime, baseline));
  const clients = [...hauls, ...befores, ...(version !== null ? [aria2] : []), curlSync];
  const rounds = context.quick ? 1 : 3;
  const samples = new Map<string, Sample[]>(clients.map((client) => [client.name, []]));
  const loads: string[] = [];
  for (let round = 1; round <= rounds; round++) {
    loads.push(load());
    const parts: string[] = [];
    for (const client of shuffled(clients, round)) {
      const sample = await fetchList(bench, client, list!, names, file, round);
      samples.get(client.name)!.push(sample);
      parts.push(
        `${client.name} ${(sample.wallMs / 1000).toFixed(2)} s ${sample.cpuS.toFixed(2)} s CPU`,
      );
    }
    bench.log(`small files: round ${round}/${rounds} (load ${loads.at(-1)}): ${parts.join(", ")}`);
  }
  report.out("## Many small files");
  report.out();
  report.out(
    `${count} files × 1 MiB from nginx over loopback, ${JOBS} at once. ${
      version ?? "aria2c not installed"
    }: \`-j${JOBS} -x1 -s1 --file-allocation=none --allow-overwrite=true ` +
      "--auto-file-renaming=false` (no preallocation; it fsyncs each file, no directory); curl: " +
      `\`xargs -P ${JOBS} -n 1 curl -sSf -O < LIST && sync\`. ${rounds} interleaved round(s), ` +
      "each client into a fresh directory after a `sync`; median (min–max); wall time and CPU " +
      `of the whole process tree; MB/s over all files. Load average at each round's start: ` +
      `${loads.join("; ")}.`,
  );
  report.out();
  report.table(
    ["client", "wall s", "MB/s", "CPU s", "peak RSS MiB"],
    clients.map((client) => {
      const listed = samples.get(client.name)!;
      return [
        client.name,
        spread(listed.map((s) => s.wallMs / 1000), 2),
        spread(listed.map(mbps)),
        spread(listed.map((s) => s.cpuS), 2),
        spread(listed.map((s) => s.maxRssKiB / 1024)),
      ];
    }),
  );
  const rows: string[][] = [];
  for (const [i, haul] of hauls.entries()) {
    const mine = samples.get(haul.name)!;
    const references = clients.filter((client) =>
      !hauls.includes(client) && !befores.includes(client)
    );
    for (const reference of befores[i] === undefined ? references : [befores[i]!, ...references]) {
      const theirs = samples.get(reference.name)!;
      rows.push([
        `${haul.name} / ${reference.name}`,
        spread(pairRatios(mine, theirs, (s) => s.wallMs), 2),
        spread(pairRatios(mine, theirs, (s) => s.cpuS), 2),
      ]);
    }
    const wall = median(mine.map((s) => s.wallMs / 1000));
    if (version === null) {
      report.target({
        target: `${count} × 1 MiB, -j ${JOBS} (wall × aria2c -j${JOBS}, pair by pair)`,
        runtime: haul.name.includes("deno") ? "deno" : "bun",
        figure: `${wall.toFixed(2)} s`,
        reference: "aria2c not installed",
        goal: "≤ 1.0",
        verdict: "not measured (no aria2c)",
      });
      continue;
    }
    const ratios = pairRatios(mine, samples.get(aria2.name)!, (s) => s.wallMs);
    const curlRatios = pairRatios(mine, samples.get(curlSync.name)!, (s) => s.wallMs);
    report.target({
      target: `${count} × 1 MiB, -j ${JOBS} (wall × aria2c -j${JOBS}, pair by pair)`,
      runtime: haul.name.includes("deno") ? "deno" : "bun",
      figure: `${spread(ratios, 2)} (${wall.toFixed(2)} s, ${
        median(mine.map(mbps)).toFixed(0)
      } MB/s)`,
      reference: `aria2c ${
        median(samples.get(aria2.name)!.map((s) => s.wallMs / 1000)).toFixed(2)
      } s; ` +
        `× xargs curl + sync ${spread(curlRatios, 2)}`,
      goal: "≤ 1.0",
      verdict: verdict(median(ratios) <= 1.0),
    });
  }
  report.out("Ratios, pair by pair (same round):");
  report.out();
  report.table(["ratio", "wall × (min–max)", "CPU × (min–max)"], rows);
  if (!haveStrace()) {
    report.out("strace is not installed: no system call counts.");
    report.out();
    return;
  }
  const traced = [...hauls, ...befores, ...(version !== null ? [aria2] : [])];
  await syscallsPerFile(bench, traced, list!, count);
}
