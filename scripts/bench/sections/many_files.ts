/**
 * Part of the `connections` section: a list of files (100 × 32 MiB; quick
 * 40 × 16 MiB) from nginx over loopback, no limit, with the haul CLI
 * `-i LIST -j 4 -x 4` on Deno and on Bun against
 * `aria2c -j4 -x4 -s4 -k 4M -i LIST`, each into a fresh directory,
 * interleaved; wall time and CPU of the whole process tree, and their
 * ratios pair by pair. The issue sets no goal: the ratios are reported.
 *
 * The served names are symbolic links to one data file, so the server reads
 * from one cached file; every download is still a request of its own.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { aria2List } from "../aria2.ts";
import { cpuSeconds, MiB, type Runtime, RUNTIMES, settle, shuffled } from "../context.ts";
import { mbps, pairRatios, type Sample } from "../downloads.ts";
import { measure, median, spread } from "../proc.ts";
import type { Bench, DataFile } from "../section.ts";
import { dataFile } from "../section.ts";

const JOBS = 4;
const CONNECTIONS = 4;

/** One client of a list: its label and the command that fetches `list` into `dir`. */
export interface ListClient {
  readonly name: string;
  command(list: string, dir: string): string[];
}

function haulCli(bench: Bench, runtime: Runtime): ListClient {
  const cli = join(bench.context.root, "cli.ts");
  const flags = (list: string, dir: string): string[] => [
    "-i",
    list,
    "-d",
    dir,
    "-j",
    String(JOBS),
    "-x",
    String(CONNECTIONS),
  ];
  return {
    name: `haul -j ${JOBS} -x ${CONNECTIONS} (${runtime})`,
    command: (list, dir) =>
      runtime === "deno"
        ? [bench.context.bin.deno, "run", "-A", "--quiet", cli, ...flags(list, dir)]
        : [bench.context.bin.bun, cli, ...flags(list, dir)],
  };
}

const aria2: ListClient = {
  name: `aria2c -j${JOBS} -x${CONNECTIONS} -s${CONNECTIONS}`,
  command: (list, dir) => aria2List(list, dir, JOBS, CONNECTIONS),
};

/** The served names (links to `file`) and the list of their URLs: `[list, ...names]`. */
export async function serveList(bench: Bench, file: DataFile, count: number): Promise<string[]> {
  const dir = join(bench.context.www, `many-${file.size}`);
  await mkdir(dir, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `f-${String(i).padStart(3, "0")}.bin`;
    names.push(name);
    const link = join(dir, name);
    if ((await stat(link).catch(() => null)) === null) await symlink(`../${file.name}`, link);
  }
  const list = join(bench.context.work, `list-${count}x${file.size}.txt`);
  const base = `${bench.nginx.url}/many-${file.size}`;
  await writeFile(list, names.map((name) => `${base}/${name}\n`).join(""));
  return [list, ...names];
}

async function sha256Of(path: string): Promise<string> {
  return createHash("sha256").update(await readFile(path)).digest("hex");
}

/**
 * Runs `client` once into a fresh directory; checks that exactly the listed
 * files are there, each of the right size, the first and the last of the
 * right SHA-256.
 */
export async function fetchList(
  bench: Bench,
  client: ListClient,
  list: string,
  names: readonly string[],
  file: DataFile,
  round: number,
): Promise<Sample> {
  const dir = join(bench.context.downloads, "many");
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  settle();
  const measurement = await measure(client.command(list, dir), {
    scratch: bench.context.scratch,
  });
  if (measurement.exitCode !== 0) {
    throw new Error(
      `${client.name} failed (exit ${measurement.exitCode}): ${measurement.stderr.slice(-2000)}`,
    );
  }
  const found = (await readdir(dir)).sort();
  if (found.join("/") !== [...names].sort().join("/")) {
    throw new Error(`${client.name} left ${found.length} entries: ${found.slice(0, 5).join(" ")}…`);
  }
  for (const name of names) {
    const size = (await stat(join(dir, name))).size;
    if (size !== file.size) throw new Error(`${client.name}: ${name} has ${size} bytes`);
  }
  for (const name of [names[0]!, names[names.length - 1]!]) {
    if ((await sha256Of(join(dir, name))) !== file.sha256) {
      throw new Error(`${client.name}: ${name} has other bytes`);
    }
  }
  await rm(dir, { recursive: true, force: true });
  return {
    client: client.name,
    round,
    bytes: file.size * names.length,
    wallMs: measurement.wallMs,
    cpuS: cpuSeconds(measurement),
    maxRssKiB: measurement.maxRssKiB,
  };
}

/** Runs the list part of the `connections` section. */
export async function manyFiles(bench: Bench, aria2Installed: boolean): Promise<void> {
  const { context, report } = bench;
  const count = context.quick ? 40 : 100;
  const file = await dataFile(bench, context.quick ? 16 * MiB : 32 * MiB);
  const [list, ...names] = await serveList(bench, file, count);
  const clients = [
    ...RUNTIMES.map((runtime) => haulCli(bench, runtime)),
    ...(aria2Installed ? [aria2] : []),
  ];
  const rounds = context.quick ? 1 : 2;
  const samples = new Map<string, Sample[]>(clients.map((client) => [client.name, []]));
  for (let round = 1; round <= rounds; round++) {
    const parts: string[] = [];
    for (const client of shuffled(clients, round)) {
      const sample = await fetchList(bench, client, list!, names, file, round);
      samples.get(client.name)!.push(sample);
      parts.push(
        `${client.name} ${(sample.wallMs / 1000).toFixed(1)} s ${sample.cpuS.toFixed(1)} s CPU`,
      );
    }
    bench.log(`connections, ${count} files: round ${round}/${rounds}: ${parts.join(", ")}`);
  }
  report.out(
    `### ${count} files × ${
      file.size / MiB
    } MiB, ${JOBS} at once over ${CONNECTIONS} connections each`,
  );
  report.out();
  report.out(
    `${rounds} interleaved round(s), each client into a fresh directory; median (min–max); ` +
      "wall time and CPU of the whole process tree; MB/s over all files.",
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
  for (const runtime of RUNTIMES) {
    const haul = samples.get(haulCli(bench, runtime).name)!;
    const wall = median(haul.map((s) => s.wallMs / 1000));
    const cpu = median(haul.map((s) => s.cpuS));
    if (!aria2Installed) {
      report.target({
        target: `${count} files, -j ${JOBS} -x ${CONNECTIONS} (wall, CPU × aria2c)`,
        runtime,
        figure: `${wall.toFixed(2)} s wall, ${cpu.toFixed(2)} s CPU`,
        reference: "aria2c not installed",
        goal: "reported",
        verdict: "not measured (no aria2c)",
      });
      continue;
    }
    const reference = samples.get(aria2.name)!;
    const wallRatio = pairRatios(haul, reference, (s) => s.wallMs);
    const cpuRatio = pairRatios(haul, reference, (s) => s.cpuS);
    report.target({
      target: `${count} files, -j ${JOBS} -x ${CONNECTIONS} (wall, CPU × aria2c, pair by pair)`,
      runtime,
      figure: `wall × ${spread(wallRatio, 2)} (${wall.toFixed(2)} s); CPU × ${
        spread(cpuRatio, 2)
      } (${cpu.toFixed(2)} s)`,
      reference: `aria2c ${median(reference.map((s) => s.wallMs / 1000)).toFixed(2)} s wall, ${
        median(reference.map((s) => s.cpuS)).toFixed(2)
      } s CPU`,
      goal: "none set (reported)",
      verdict: "reported",
    });
  }
}
