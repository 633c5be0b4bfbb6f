/**
 * What every benchmark section shares: the settings (full or quick sizes),
 * the paths under `.bench/`, the runtimes' command lines, and running one
 * client process and reading the JSON line it prints.
 *
 * @module
 */

import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { measure, type Measurement, run } from "./proc.ts";

/** Bytes in a KiB, MiB, GiB (sizes here are binary). */
export const MiB = 1024 * 1024;
/** Bytes in a GiB. */
export const GiB = 1024 * MiB;

/** The two runtimes haul is measured on. */
export type Runtime = "deno" | "bun";
/** Both runtimes, in a fixed order. */
export const RUNTIMES: readonly Runtime[] = ["deno", "bun"];

/** Where the benchmark lives and what it runs. */
export interface Context {
  /** `--quick`: smaller sizes, fewer rounds. */
  readonly quick: boolean;
  /** The repository checkout whose haul is measured. */
  readonly root: string;
  /** `.bench/`: generated files, downloads, reports. */
  readonly work: string;
  /** Served files. */
  readonly www: string;
  /** Downloads land here. */
  readonly downloads: string;
  /** GNU time's output files. */
  readonly scratch: string;
  /** The Deno and Bun binaries. */
  readonly bin: Readonly<Record<Runtime, string>>;
}

/** Builds the context for the checkout that holds this script. */
export function makeContext(quick: boolean): Context {
  const root = join(dirname(new URL(import.meta.url).pathname), "..", "..");
  const tools = join(root, "tools", "node_modules", ".bin");
  const work = join(root, ".bench");
  return {
    quick,
    root,
    work,
    www: join(work, "www"),
    downloads: join(work, "dl"),
    scratch: join(work, "scratch"),
    bin: {
      deno: process.env["HAUL_DENO"] ?? join(tools, "deno"),
      bun: process.env["HAUL_BUN"] ?? join(tools, "bun"),
    },
  };
}

/** The command line that runs `script` (a file of scripts/bench/) under `runtime`. */
export function runtimeCommand(
  context: Context,
  runtime: Runtime,
  script: string,
  args: readonly string[],
): string[] {
  const path = join(context.root, "scripts", "bench", script);
  return runtime === "deno"
    ? [context.bin.deno, "run", "-A", "--quiet", path, ...args]
    : [context.bin.bun, path, ...args];
}

/** A measured child and the JSON report it printed last. */
export interface ClientRun {
  readonly measurement: Measurement;
  readonly report: Record<string, unknown>;
}

/**
 * Runs a client that prints one JSON line, measured from the outside.
 *
 * @throws {Error} when it exits non-zero or prints no JSON, with its output.
 */
export async function runClient(context: Context, command: string[]): Promise<ClientRun> {
  const measurement = await measure(command, { scratch: context.scratch });
  const line = measurement.stdout.trim().split("\n").pop() ?? "";
  let report: Record<string, unknown> | null = null;
  try {
    report = JSON.parse(line) as Record<string, unknown>;
  } catch {
    report = null;
  }
  if (measurement.exitCode !== 0 || report === null) {
    throw new Error(
      `Benchmark client failed (exit ${measurement.exitCode}): ${command.join(" ")}\n` +
        `${measurement.stderr.slice(-2000)}\n${measurement.stdout.slice(-1000)}`,
    );
  }
  return { measurement, report };
}

/** CPU seconds (user + system) of a measured process tree. */
export function cpuSeconds(measurement: Measurement): number {
  return measurement.userS + measurement.sysS;
}

/** Removes `dest` and every sidecar haul may leave beside it. */
export async function clean(dest: string): Promise<void> {
  for (const suffix of ["", ".part", ".part.ctrl", ".part.ctrl.tmp"]) {
    await rm(`${dest}${suffix}`, { force: true });
  }
  await rm(`${dest}.part.lock`, { force: true, recursive: true });
}

/** Writes back all dirty data, so no run pays for the previous one's. */
export function settle(): void {
  run(["sync"]);
}

/** Progress on stderr with seconds since `since`. */
export function log(since: number, text: string): void {
  const seconds = ((performance.now() - since) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${seconds}s] ${text}\n`);
}

/**
 * `items` in a different order each round (a seeded shuffle): a run right
 * after another that left gigabytes of page cache to free is slower, so no
 * client should always follow the same one.
 */
export function shuffled<T>(items: readonly T[], round: number): T[] {
  const copy = [...items];
  let seed = (round * 2654435761) >>> 0;
  for (let i = copy.length - 1; i > 0; i--) {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    const j = seed % (i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** `n` bytes as MiB (or GiB when whole), for labels. */
export function sizeLabel(bytes: number): string {
  return bytes >= GiB && bytes % GiB === 0
    ? `${bytes / GiB} GiB`
    : `${Math.round(bytes / MiB)} MiB`;
}
