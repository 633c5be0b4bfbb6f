/**
 * haul's benchmark driver: `deno task bench` (through `scripts/bench.sh`) or
 * `bun scripts/bench/main.ts`. It serves generated files from a local server
 * (nginx when installed, else a built-in one) and runs every measured client
 * as its own child process, interleaved round by round after a warm-up round:
 *
 * - **main**: `haul()` on Deno and on Bun, `curl -o`, `curl -o` then
 *   `sync -d`, and each runtime's bare fetch-to-file loop, on one big file;
 *   MB/s, pair-by-pair ratios, CPU time and peak RSS.
 * - **resume**: time from the call to the first body byte when resuming a
 *   `.part` of 64 MiB and of 4 GiB.
 * - **checkpoint**: the same download with checkpoints off (the test-only
 *   hook) and on, and a cadence curve (by bytes and by time).
 * - **small**: 1,000 × 1 MiB through `haulAll()` with 16 at once, against
 *   curl run 16 at a time by `xargs -P16`.
 * - **slow**: a throttled server, to show CPU time per MB.
 * - **rss**: peak RSS of `haul()` at 256 MiB and at the main size.
 *
 * Options: `--size 2G` (main file; K/M/G are binary), `--runs 5`, `--quick`
 * (512 MiB, 3 rounds, smaller side measurements), `--only main,resume,...`,
 * `--server auto|nginx|builtin`, `--python "CMD {url} {dest}"` (the Python
 * original, when present), `--json FILE`, `--keep` (keep generated files).
 *
 * @module
 */

import { existsSync } from "node:fs";
import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import {
  machine,
  measure,
  type Measurement,
  measurementMethod,
  median,
  run,
  spread,
} from "./proc.ts";
import { type BenchServer, ensureDataFile, startServer } from "./server.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const SECTIONS = ["main", "resume", "checkpoint", "small", "slow", "rss"] as const;
type Section = typeof SECTIONS[number];

/** The driver's settings. */
interface Settings {
  size: number;
  runs: number;
  quick: boolean;
  sections: Set<Section>;
  server: "auto" | "nginx" | "builtin";
  python: string | null;
  json: string | null;
  keep: boolean;
}

function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(text.trim());
  if (match === null) throw new RangeError(`Invalid size: ${text}: use e.g. 512M or 2G`);
  const unit = { "": 1, k: KiB, m: MiB, g: GiB }[match[2]!.toLowerCase()] ?? 1;
  return Math.round(Number(match[1]) * unit);
}

function parseSettings(argv: readonly string[]): Settings {
  const settings: Settings = {
    size: 2 * GiB,
    runs: 5,
    quick: false,
    sections: new Set(SECTIONS),
    server: "auto",
    python: null,
    json: null,
    keep: false,
  };
  let sizeGiven = false;
  let runsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`Missing value after ${flag}`);
      return next;
    };
    if (flag === "--size") {
      settings.size = parseSize(value());
      sizeGiven = true;
    } else if (flag === "--runs") {
      settings.runs = Number(value());
      runsGiven = true;
    } else if (flag === "--quick") settings.quick = true;
    else if (flag === "--only") {
      const names = value().split(",").map((name) => name.trim());
      for (const name of names) {
        if (!(SECTIONS as readonly string[]).includes(name)) {
          throw new Error(`Unknown section: ${name}: use ${SECTIONS.join(",")}`);
        }
      }
      settings.sections = new Set(names as Section[]);
    } else if (flag === "--server") {
      const kind = value();
      if (kind !== "auto" && kind !== "nginx" && kind !== "builtin") {
        throw new Error(`Unknown server: ${kind}`);
      }
      settings.server = kind;
    } else if (flag === "--python") settings.python = value();
    else if (flag === "--json") settings.json = value();
    else if (flag === "--keep") settings.keep = true;
    else if (flag === "--help" || flag === "-h") {
      console.log(
        "Usage: bash scripts/bench.sh [--quick] [--size 2G] [--runs 5] " +
          `[--only ${SECTIONS.join(",")}] [--server auto|nginx|builtin] ` +
          '[--python "CMD {url} {dest}"] [--json FILE] [--keep]',
      );
      process.exit(0);
    } else throw new Error(`Unknown option: ${flag}`);
  }
  if (settings.quick) {
    if (!sizeGiven) settings.size = 512 * MiB;
    if (!runsGiven) settings.runs = 3;
  }
  if (!Number.isInteger(settings.runs) || settings.runs < 1) throw new RangeError("--runs >= 1");
  return settings;
}

const root = join(dirname(new URL(import.meta.url).pathname), "..", "..");
const bin = join(root, "tools", "node_modules", ".bin");
const DENO = process.env["HAUL_DENO"] ?? join(bin, "deno");
const BUN = process.env["HAUL_BUN"] ?? join(bin, "bun");
const work = join(root, ".bench");
const www = join(work, "www");
const downloads = join(work, "dl");
const scratch = join(work, "scratch");
const HAUL_CLIENT = join(root, "scripts", "bench", "haul_client.ts");
const BARE_CLIENT = join(root, "scripts", "bench", "bare_client.ts");

type Runtime = "deno" | "bun";

function runtimeCommand(runtime: Runtime, script: string, args: readonly string[]): string[] {
  return runtime === "deno"
    ? [DENO, "run", "-A", "--quiet", script, ...args]
    : [BUN, script, ...args];
}

/** One kind of measured client in a comparison. */
interface Client {
  /** Row label. */
  readonly name: string;
  /** The command line for one download of `url` to `dest`. */
  command(url: string, dest: string): string[];
  /** Whether it prints a JSON report (haul and bare clients). */
  readonly reports: boolean;
}

function haulClient(runtime: Runtime, extra: readonly string[] = [], label = ""): Client {
  return {
    name: `haul (${runtime})${label}`,
    reports: true,
    command: (url, dest) =>
      runtimeCommand(runtime, HAUL_CLIENT, [
        "--url",
        url,
        "--dest",
        dest,
        "--sample-durability",
        ...extra,
      ]),
  };
}

/** The most bytes a crash could have lost during the run, in MB (haul clients only). */
function atRiskMB(sample: Sample): number {
  const risk = sample.report?.["atRisk"] as { max?: number } | null | undefined;
  return (risk?.max ?? NaN) / 1e6;
}

function bareClient(runtime: Runtime): Client {
  return {
    name: `bare loop (${runtime})`,
    reports: true,
    command: (url, dest) => runtimeCommand(runtime, BARE_CLIENT, ["--url", url, "--dest", dest]),
  };
}

const curl: Client = {
  name: "curl -o",
  reports: false,
  command: (url, dest) => ["curl", "-sSf", "-o", dest, url],
};

const curlSync: Client = {
  name: "curl -o && sync -d",
  reports: false,
  command: (url, dest) => ["sh", "-c", 'curl -sSf -o "$1" "$2" && sync -d "$1"', "sh", dest, url],
};

function pythonClient(template: string): Client {
  return {
    name: "Python original",
    reports: false,
    command: (
      url,
      dest,
    ) => ["sh", "-c", template.replaceAll("{url}", url).replaceAll("{dest}", dest)],
  };
}

/** One measured download. */
interface Sample {
  readonly client: string;
  readonly round: number;
  readonly bytes: number;
  readonly wallMs: number;
  readonly cpuS: number;
  readonly maxRssKiB: number;
  /** What the child reported about itself, when it reports. */
  readonly report: Record<string, unknown> | null;
}

function mbps(sample: Sample): number {
  return sample.bytes / 1e6 / (sample.wallMs / 1000);
}

/** Removes `dest` and its sidecars. */
async function clean(dest: string): Promise<void> {
  for (const path of [dest, `${dest}.part`, `${dest}.part.ctrl`, `${dest}.part.ctrl.tmp`]) {
    await rm(path, { force: true });
  }
  await rm(`${dest}.part.lock`, { force: true, recursive: true });
}

/** Writes back all dirty data, so no run pays for the previous one's. */
function settle(): void {
  run(["sync"]);
}

function parseReport(measurement: Measurement): Record<string, unknown> | null {
  const line = measurement.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/**
 * Downloads `url` to a fresh `dest` with `client`, checks the result and
 * returns the measurement.
 */
async function download(
  client: Client,
  url: string,
  dest: string,
  expected: { size: number; sha256: string | null },
  round: number,
): Promise<Sample> {
  await clean(dest);
  settle();
  const measurement = await measure(client.command(url, dest), { scratch });
  const report = client.reports ? parseReport(measurement) : null;
  if (measurement.exitCode !== 0 || (client.reports && report === null)) {
    throw new Error(
      `${client.name} failed (exit ${measurement.exitCode}): ${measurement.stderr.slice(-2000)}` +
        `\n${measurement.stdout.slice(-1000)}`,
    );
  }
  if (report !== null && report["ok"] === false) {
    throw new Error(`${client.name} failed: ${String(report["error"])}`);
  }
  const size = (await stat(dest)).size;
  if (size !== expected.size) {
    throw new Error(`${client.name} wrote ${size} bytes, expected ${expected.size}`);
  }
  const digest = report?.["sha256"];
  if (
    expected.sha256 !== null && typeof digest === "string" && digest !== "" &&
    digest !== expected.sha256
  ) {
    throw new Error(`${client.name} reported sha256 ${digest}, expected ${expected.sha256}`);
  }
  await clean(dest);
  return {
    client: client.name,
    round,
    bytes: expected.size,
    wallMs: measurement.wallMs,
    cpuS: measurement.userS + measurement.sysS,
    maxRssKiB: measurement.maxRssKiB,
    report,
  };
}

/** Runs every client once untimed, then `runs` interleaved rounds; returns samples by client. */
async function interleave(
  label: string,
  clients: readonly Client[],
  url: string,
  expected: { size: number; sha256: string | null },
  runs: number,
  warmUp = true,
): Promise<Map<string, Sample[]>> {
  const dest = join(downloads, "file.bin");
  const byClient = new Map<string, Sample[]>(clients.map((client) => [client.name, []]));
  if (warmUp) {
    log(`${label}: warm-up round`);
    for (const client of clients) await download(client, url, dest, expected, 0);
  }
  for (let round = 1; round <= runs; round++) {
    const parts: string[] = [];
    for (const client of shuffled(clients, round)) {
      const sample = await download(client, url, dest, expected, round);
      byClient.get(client.name)!.push(sample);
      parts.push(`${client.name} ${mbps(sample).toFixed(0)}`);
    }
    log(`${label}: round ${round}/${runs}: ${parts.join(", ")} MB/s`);
  }
  return byClient;
}

/**
 * The clients in a different order each round (a seeded shuffle): a run is
 * measurably slower right after some others (the page cache and ext4 state a
 * big write and delete leave behind), so no client should always follow the
 * same one.
 */
function shuffled<T>(items: readonly T[], round: number): T[] {
  const copy = [...items];
  let seed = (round * 2654435761) >>> 0;
  for (let i = copy.length - 1; i > 0; i--) {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    const j = seed % (i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** Pair-by-pair throughput ratios a/b over the rounds both have. */
function pairRatios(a: readonly Sample[], b: readonly Sample[]): number[] {
  const ratios: number[] = [];
  for (const sample of a) {
    const other = b.find((candidate) => candidate.round === sample.round);
    if (other !== undefined) ratios.push(mbps(sample) / mbps(other));
  }
  return ratios;
}

const started = new Date();
const lines: string[] = [];
/** Peak RSS (KiB) of the haul clients in the main section, reused by the RSS section. */
const mainPeaks = new Map<Runtime, number[]>();
const results: Record<string, unknown> = {};

function log(text: string): void {
  const seconds = ((Date.now() - started.getTime()) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${seconds}s] ${text}\n`);
}

function out(text = ""): void {
  lines.push(text);
  console.log(text);
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): void {
  out(`| ${header.join(" | ")} |`);
  out(`|${header.map(() => "---").join("|")}|`);
  for (const row of rows) out(`| ${row.join(" | ")} |`);
  out();
}

function verdict(ok: boolean): string {
  return ok ? "met" : "**not met**";
}

function mib(kib: number): string {
  return (kib / 1024).toFixed(0);
}

// ---------------------------------------------------------------- sections

async function mainSection(settings: Settings, server: BenchServer): Promise<void> {
  const name = `main-${settings.size}.bin`;
  const sha256 = await ensureDataFile(join(www, name), settings.size);
  const clients: Client[] = [
    haulClient("deno"),
    curlSync,
    haulClient("bun"),
    curl,
    bareClient("deno"),
    bareClient("bun"),
  ];
  if (settings.python !== null) clients.push(pythonClient(settings.python));
  const samples = await interleave(
    "main",
    clients,
    `${server.url}/${name}`,
    { size: settings.size, sha256 },
    settings.runs,
  );
  results["main"] = Object.fromEntries(samples);
  for (const runtime of ["deno", "bun"] as const) {
    mainPeaks.set(runtime, samples.get(`haul (${runtime})`)!.map((sample) => sample.maxRssKiB));
  }
  out(`## Time to a durable, verified file: ${(settings.size / MiB).toFixed(0)} MiB`);
  out();
  out(
    `${settings.runs} interleaved rounds after a warm-up; each figure is median (min–max). ` +
      "Wall time is the whole child process, start-up included. MB/s = 10^6 bytes/s.",
  );
  out();
  table(
    ["client", "MB/s", "wall s", "CPU s (user+sys)", "peak RSS MiB", "most MB at risk"],
    clients.map((client) => {
      const list = samples.get(client.name)!;
      const risk = list.map(atRiskMB).filter((value) => !Number.isNaN(value));
      return [
        client.name,
        spread(list.map(mbps)),
        spread(list.map((s) => s.wallMs / 1000), 2),
        spread(list.map((s) => s.cpuS), 2),
        spread(list.map((s) => s.maxRssKiB / 1024)),
        risk.length > 0 ? spread(risk) : "all until done",
      ];
    }),
  );
  out(
    "*Most MB at risk*: the most bytes received but not yet covered by the checkpoint on disk " +
      "(sampled every 50 ms): what a crash at the worst moment would have cost.",
  );
  out();
  const rows: string[][] = [];
  for (const runtime of ["deno", "bun"] as const) {
    const haul = samples.get(`haul (${runtime})`)!;
    const pairs: [string, Sample[], number, number | null][] = [
      ["curl -o && sync -d", samples.get(curlSync.name)!, 1.0, 1.2],
      ["curl -o", samples.get(curl.name)!, 0.7, null],
      [`bare loop (${runtime})`, samples.get(`bare loop (${runtime})`)!, NaN, null],
    ];
    if (settings.python !== null) {
      pairs.push(["Python original", samples.get("Python original")!, 2.5, null]);
    }
    for (const [other, list, target, stretch] of pairs) {
      const ratios = pairRatios(haul, list);
      const med = median(ratios);
      const goal = Number.isNaN(target)
        ? "(reference)"
        : `≥ ${target.toFixed(1)}${stretch === null ? "" : ` (stretch ≥ ${stretch.toFixed(1)})`}`;
      const met = Number.isNaN(target) ? "" : verdict(med >= target);
      rows.push([`haul (${runtime}) / ${other}`, spread(ratios, 2), goal, met]);
    }
  }
  out("Throughput ratios, pair by pair (same round):");
  out();
  table(["ratio", "median (min–max)", "target", ""], rows);
  if (settings.python === null) {
    out("The Python original is not present on this machine (pass `--python` to include it).");
    out();
  }
}

async function resumeSection(settings: Settings, server: BenchServer): Promise<void> {
  const big = settings.quick ? GiB : 4 * GiB;
  const small = 64 * MiB;
  const size = big + 64 * MiB;
  const name = `resume-${size}.bin`;
  await ensureDataFile(join(www, name), size);
  const url = `${server.url}/${name}`;
  const probes = settings.quick ? 3 : 5;
  const partials = new Map<number, string>();
  for (const target of [small, big]) {
    const dest = join(downloads, `resume-${target}.bin`);
    await clean(dest);
    log(`resume: making a ${(target / MiB).toFixed(0)} MiB .part`);
    const made = await measure(
      runtimeCommand("deno", HAUL_CLIENT, [
        "--url",
        url,
        "--dest",
        dest,
        "--abort-at",
        String(target),
      ]),
      { scratch },
    );
    const report = parseReport(made);
    const valid = Number(report?.["validLength"] ?? 0);
    if (valid < target) throw new Error(`resume: .part has only ${valid} bytes: ${made.stderr}`);
    partials.set(target, dest);
  }
  settle();
  const firstByte = new Map<string, number[]>();
  for (let round = 0; round <= probes; round++) {
    for (const runtime of ["deno", "bun"] as const) {
      for (const [target, dest] of partials) {
        const key = `${runtime} ${target}`;
        const probe = await measure(
          runtimeCommand(runtime, HAUL_CLIENT, ["--url", url, "--dest", dest, "--first-byte"]),
          { scratch },
        );
        const report = parseReport(probe);
        const ms = Number(report?.["firstByteMs"] ?? NaN);
        if (Number.isNaN(ms)) {
          throw new Error(`resume probe failed: ${probe.stdout} ${probe.stderr}`);
        }
        if (round > 0) firstByte.set(key, [...(firstByte.get(key) ?? []), ms]);
      }
    }
  }
  for (const dest of partials.values()) await clean(dest);
  results["resume"] = Object.fromEntries(firstByte);
  out("## Resume start cost");
  out();
  out(
    `Time from the call to the first body byte, resuming a \`.part\` of ${
      (small / MiB).toFixed(0)
    } MiB and of ${(big / GiB).toFixed(0)} GiB (${probes} probes each after one warm-up, ms).`,
  );
  out();
  const rows: string[][] = [];
  for (const runtime of ["deno", "bun"] as const) {
    const a = firstByte.get(`${runtime} ${small}`) ?? [];
    const b = firstByte.get(`${runtime} ${big}`) ?? [];
    const ratio = median(b) / median(a);
    rows.push([
      runtime,
      spread(a, 1),
      spread(b, 1),
      ratio.toFixed(2),
      "≤ 1.5",
      verdict(ratio <= 1.5),
    ]);
  }
  table(
    [
      "runtime",
      `${(small / MiB).toFixed(0)} MiB .part`,
      `${(big / GiB).toFixed(0)} GiB .part`,
      "ratio",
      "target",
      "",
    ],
    rows,
  );
}

async function checkpointSection(settings: Settings, server: BenchServer): Promise<void> {
  const size = Math.min(settings.size, GiB);
  const name = `main-${size}.bin`;
  const sha256 = await ensureDataFile(join(www, name), size);
  const url = `${server.url}/${name}`;
  const expected = { size, sha256 };
  const clients = [
    haulClient("deno"),
    haulClient("deno", ["--no-checkpoints"], " no checkpoints"),
    haulClient("bun"),
    haulClient("bun", ["--no-checkpoints"], " no checkpoints"),
  ];
  const samples = await interleave("checkpoint", clients, url, expected, settings.runs);
  out(`## Checkpoint overhead (${(size / MiB).toFixed(0)} MiB)`);
  out();
  const rows: string[][] = [];
  for (const runtime of ["deno", "bun"] as const) {
    const on = samples.get(`haul (${runtime})`)!;
    const off = samples.get(`haul (${runtime}) no checkpoints`)!;
    const overhead = pairRatios(on, off).map((ratio) => (1 - ratio) * 100);
    rows.push([
      runtime,
      spread(on.map(mbps)),
      spread(off.map(mbps)),
      spread(overhead, 1),
      "≤ 5",
      verdict(median(overhead) <= 5),
    ]);
  }
  table(["runtime", "default MB/s", "checkpoints off MB/s", "overhead %", "target", ""], rows);

  const cadences: { label: string; args: string[] }[] = [];
  const byteSteps = settings.quick ? [4, 64, 256] : [4, 8, 16, 64, 256];
  for (const mebibytes of byteSteps) {
    cadences.push({
      label: `every ${mebibytes} MiB`,
      args: ["--checkpoint-bytes", String(mebibytes * MiB), "--checkpoint-ms", "1000000000"],
    });
  }
  const msSteps = settings.quick ? [250, 1000] : [250, 1000, 2000];
  for (const ms of msSteps) {
    cadences.push({
      label: `every ${ms} ms`,
      args: ["--checkpoint-bytes", String(2 ** 50), "--checkpoint-ms", String(ms)],
    });
  }
  const curveRuns = settings.quick ? 1 : 2;
  const curveClients = [
    haulClient("deno", ["--no-checkpoints"], " no checkpoints"),
    ...cadences.map((cadence) => haulClient("deno", cadence.args, ` ${cadence.label}`)),
  ];
  const curve = await interleave("cadence", curveClients, url, expected, curveRuns, false);
  results["checkpoint"] = {
    overhead: Object.fromEntries(samples),
    curve: Object.fromEntries(curve),
  };
  out(
    `Cadence curve (Deno, ${curveRuns} interleaved rounds, median MB/s; overhead against no checkpoints in the same round):`,
  );
  out();
  const offList = curve.get("haul (deno) no checkpoints")!;
  table(
    ["cadence", "MB/s", "overhead %", "most MB at risk", "mean MB at risk"],
    cadences.map((cadence) => {
      const list = curve.get(`haul (deno) ${cadence.label}`)!;
      const overhead = pairRatios(list, offList).map((ratio) => (1 - ratio) * 100);
      const mean = list.map((sample) => {
        const risk = sample.report?.["atRisk"] as { mean?: number } | null | undefined;
        return (risk?.mean ?? NaN) / 1e6;
      });
      return [
        cadence.label,
        spread(list.map(mbps)),
        spread(overhead, 1),
        spread(list.map(atRiskMB)),
        spread(mean),
      ];
    }),
  );
}

async function smallSection(settings: Settings, server: BenchServer): Promise<void> {
  const count = settings.quick ? 200 : 1000;
  const size = MiB;
  const dir = join(www, "small");
  await mkdir(dir, { recursive: true });
  const items: { url: string; dest: string }[] = [];
  const curlLines: string[] = [];
  const target = join(downloads, "small");
  for (let i = 0; i < count; i++) {
    const file = `f${String(i).padStart(4, "0")}.bin`;
    if (!existsSync(join(dir, file))) await ensureDataFile(join(dir, file), size);
    items.push({ url: `${server.url}/small/${file}`, dest: join(target, file) });
    curlLines.push(`${join(target, file)} ${server.url}/small/${file}`);
  }
  const listFile = join(scratch, "small.json");
  const curlFile = join(scratch, "small.txt");
  await writeFile(listFile, JSON.stringify(items));
  await writeFile(curlFile, `${curlLines.join("\n")}\n`);
  const clients: { name: string; command: string[] }[] = [
    {
      name: "haul (deno) haulAll ×16",
      command: runtimeCommand("deno", HAUL_CLIENT, ["--batch", listFile, "--concurrency", "16"]),
    },
    {
      name: "haul (bun) haulAll ×16",
      command: runtimeCommand("bun", HAUL_CLIENT, ["--batch", listFile, "--concurrency", "16"]),
    },
    {
      name: "curl, xargs -P16",
      command: ["sh", "-c", `xargs -P16 -n2 curl -sSf -o < "${curlFile}"`],
    },
  ];
  const runs = settings.quick ? 2 : 3;
  const times = new Map<string, number[]>(clients.map((client) => [client.name, []]));
  for (let round = 0; round <= runs; round++) {
    for (const client of clients) {
      await rm(target, { recursive: true, force: true });
      await mkdir(target, { recursive: true });
      settle();
      const measurement = await measure(client.command, { scratch });
      if (measurement.exitCode !== 0) {
        throw new Error(`${client.name} failed: ${measurement.stderr} ${measurement.stdout}`);
      }
      const report = parseReport(measurement);
      if (report !== null && report["ok"] !== true) {
        throw new Error(`${client.name} failed: ${String(report["error"])}`);
      }
      if (round > 0) times.get(client.name)!.push(measurement.wallMs / 1000);
    }
    if (round > 0) log(`small: round ${round}/${runs} done`);
  }
  await rm(target, { recursive: true, force: true });
  results["small"] = Object.fromEntries(times);
  out(`## Many small files: ${count} × 1 MiB, 16 at a time`);
  out();
  const curlTimes = times.get("curl, xargs -P16")!;
  table(
    ["client", "wall s", "files/s", "ratio to curl (pair by pair)", "target", ""],
    clients.map((client) => {
      const list = times.get(client.name)!;
      const ratios = list.map((seconds, i) => (curlTimes[i] ?? NaN) / seconds);
      const isCurl = client.name.startsWith("curl");
      return [
        client.name,
        spread(list, 2),
        spread(list.map((seconds) => count / seconds)),
        isCurl ? "1" : spread(ratios, 2),
        isCurl ? "" : "≥ 0.7",
        isCurl ? "" : verdict(median(ratios) >= 0.7),
      ];
    }),
  );
}

async function slowSection(settings: Settings, server: BenchServer, rate: number): Promise<void> {
  const size = settings.quick ? 64 * MiB : 256 * MiB;
  const name = `slow-${size}.bin`;
  const sha256 = await ensureDataFile(join(www, name), size);
  const clients = [haulClient("deno"), haulClient("bun"), curl];
  const samples = await interleave(
    "slow",
    clients,
    `${server.url}/slow/${name}`,
    { size, sha256 },
    settings.quick ? 1 : 2,
  );
  results["slow"] = Object.fromEntries(samples);
  out(
    `## Slow link: ${(size / MiB).toFixed(0)} MiB from a server throttled to ${
      (rate / 1e6).toFixed(0)
    } MB/s`,
  );
  out();
  table(
    ["client", "MB/s", "CPU s", "CPU ms per MB", "peak RSS MiB", "most MB at risk"],
    clients.map((client) => {
      const list = samples.get(client.name)!;
      const risk = list.map(atRiskMB).filter((value) => !Number.isNaN(value));
      return [
        client.name,
        spread(list.map(mbps)),
        spread(list.map((s) => s.cpuS), 2),
        spread(list.map((s) => (s.cpuS * 1000) / (s.bytes / 1e6)), 2),
        spread(list.map((s) => s.maxRssKiB / 1024)),
        risk.length > 0 ? spread(risk) : "all until done",
      ];
    }),
  );
}

async function rssSection(settings: Settings, server: BenchServer): Promise<void> {
  const sizes = [256 * MiB, settings.size];
  const rows: string[][] = [];
  const data: Record<string, number[]> = {};
  for (const runtime of ["deno", "bun"] as const) {
    const peaks: number[] = [];
    for (const size of sizes) {
      const reused = size === settings.size ? mainPeaks.get(runtime) : undefined;
      if (reused !== undefined) {
        data[`${runtime} ${size}`] = reused;
        peaks.push(median(reused));
        continue;
      }
      const name = `main-${size}.bin`;
      const sha256 = await ensureDataFile(join(www, name), size);
      const samples = await interleave(
        `rss ${runtime} ${(size / MiB).toFixed(0)} MiB`,
        [haulClient(runtime)],
        `${server.url}/${name}`,
        { size, sha256 },
        settings.quick ? 2 : 3,
      );
      const list = samples.get(`haul (${runtime})`)!.map((s) => s.maxRssKiB);
      data[`${runtime} ${size}`] = list;
      peaks.push(median(list));
    }
    const [small, big] = [peaks[0]!, peaks[1]!];
    const growth = (big / small - 1) * 100;
    rows.push([
      runtime,
      mib(small),
      mib(big),
      growth.toFixed(1),
      `< 128 MiB; ≤ 10 %`,
      verdict(big < 128 * 1024 && Math.abs(growth) <= 10),
    ]);
  }
  results["rss"] = data;
  out("## Peak RSS of a haul() process");
  out();
  out(
    "Peak RSS (VmHWM) of the whole process, worker thread included, median of the runs; " +
      "the figures for the main size are those of the main comparison.",
  );
  out();
  table(
    [
      "runtime",
      "256 MiB file: MiB",
      `${(settings.size / MiB).toFixed(0)} MiB file: MiB`,
      "growth %",
      "target",
      "",
    ],
    rows,
  );
}

// ------------------------------------------------------------------- main

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  for (const dir of [www, downloads, scratch]) await mkdir(dir, { recursive: true });
  const slowRate = 50 * 1000 * 1000;
  const server = await startServer({
    www,
    work,
    slowRate,
    kind: settings.server,
    runtime: [DENO, "run", "-A", "--quiet"],
  });
  const versions = {
    deno: run([DENO, "--version"]).split("\n")[0] ?? "",
    bun: `bun ${run([BUN, "--version"]).trim()}`,
    curl: run(["curl", "--version"]).split("\n")[0] ?? "",
    server: server.name,
  };
  out(`# haul benchmark, ${started.toISOString()}`);
  out();
  out(`Command: \`${["bash scripts/bench.sh", ...process.argv.slice(2)].join(" ")}\``);
  out();
  for (const [key, value] of Object.entries({ ...machine(work), ...versions })) {
    out(`- ${key}: ${value}`);
  }
  out(`- CPU time and peak RSS: ${measurementMethod()}`);
  out();
  results["machine"] = {
    ...machine(work),
    ...versions,
    settings: { ...settings, sections: [...settings.sections] },
  };
  try {
    if (settings.sections.has("main")) await mainSection(settings, server);
    if (settings.sections.has("resume")) await resumeSection(settings, server);
    if (settings.sections.has("checkpoint")) await checkpointSection(settings, server);
    if (settings.sections.has("small")) await smallSection(settings, server);
    if (settings.sections.has("slow")) await slowSection(settings, server, slowRate);
    if (settings.sections.has("rss")) await rssSection(settings, server);
  } finally {
    await server.stop();
    if (!settings.keep) await rm(www, { recursive: true, force: true });
    await rm(downloads, { recursive: true, force: true });
  }
  out(`Finished in ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s.`);
  const report = join(work, `report-${started.toISOString().replaceAll(":", "-")}.md`);
  await writeFile(report, `${lines.join("\n")}\n`);
  const json = settings.json ??
    join(work, `results-${started.toISOString().replaceAll(":", "-")}.json`);
  await writeFile(json, JSON.stringify(results, null, 2));
  log(`report: ${report}; raw results: ${json}`);
}

await main();
