/**
 * Measured whole-process downloads: the clients compared (haul on Deno and
 * on Bun, curl, curl then `sync -d`, `dd oflag=direct` of the served file),
 * one checked download, and interleaved rounds of them.
 *
 * @module
 */

import { stat } from "node:fs/promises";
import { join } from "node:path";
import {
  clean,
  type Context,
  cpuSeconds,
  type Runtime,
  runtimeCommand,
  settle,
  shuffled,
} from "./context.ts";
import { measure } from "./proc.ts";
import type { Bench, DataFile } from "./section.ts";

/** One kind of measured client. */
export interface Client {
  /** Row label. */
  readonly name: string;
  /** Whether it prints a JSON report with the SHA-256 (haul). */
  readonly reports: boolean;
  /** The command line that puts `file` (served at `url`) at `dest`. */
  command(url: string, dest: string, file: DataFile): string[];
}

/**
 * `haul()` under `runtime`, in a process of its own; a `variant` passes
 * `haul_client.ts` more arguments (an `integrity`, sources), `label` naming
 * it in the row.
 */
export function haulClient(
  context: Context,
  runtime: Runtime,
  variant?: { readonly args: readonly string[]; readonly label: string },
): Client {
  const extra = variant?.args ?? [];
  return {
    name: variant === undefined ? `haul (${runtime})` : `haul (${runtime}, ${variant.label})`,
    reports: true,
    command: (url, dest) =>
      runtimeCommand(context, runtime, "haul_client.ts", ["--url", url, "--dest", dest, ...extra]),
  };
}

/**
 * The least a verified, durable download costs under `runtime` (fetch, native
 * SHA-256, 1 MiB writes, one `fdatasync`): `floor_client.ts`.
 */
export function floorClient(context: Context, runtime: Runtime): Client {
  return {
    name: `floor loop (${runtime})`,
    reports: true,
    command: (url, dest) =>
      runtimeCommand(context, runtime, "floor_client.ts", ["--url", url, "--dest", dest]),
  };
}

/** `curl -o F`. */
export const curl: Client = {
  name: "curl -o",
  reports: false,
  command: (url, dest) => ["curl", "-sSf", "-o", dest, url],
};

/** `curl -o F && sync -d F`: the durable reference. */
export const curlSync: Client = {
  name: "curl -o && sync -d",
  reports: false,
  command: (url, dest) => ["sh", "-c", 'curl -sSf -o "$1" "$2" && sync -d "$1"', "sh", dest, url],
};

/** `dd if=F of=G oflag=direct bs=1M` of the served file: the disk's limit. */
export const ddDirect: Client = {
  name: "dd oflag=direct",
  reports: false,
  command: (
    _url,
    dest,
    file,
  ) => ["dd", `if=${file.path}`, `of=${dest}`, "oflag=direct", "bs=1M", "status=none"],
};

/** One measured download. */
export interface Sample {
  readonly client: string;
  readonly round: number;
  readonly bytes: number;
  readonly wallMs: number;
  readonly cpuS: number;
  readonly maxRssKiB: number;
}

/** MB/s (10^6 bytes per second) of a sample. */
export function mbps(sample: Sample): number {
  return sample.bytes / 1e6 / (sample.wallMs / 1000);
}

/**
 * Puts `file` at a fresh `dest` with `client`, checks size and SHA-256, and
 * returns the measurement.
 *
 * @throws {Error} when the client fails or leaves other bytes.
 */
export async function download(
  bench: Bench,
  client: Client,
  url: string,
  file: DataFile,
  round: number,
): Promise<Sample> {
  const dest = join(bench.context.downloads, "download.bin");
  await clean(dest);
  settle();
  const measurement = await measure(client.command(url, dest, file), {
    scratch: bench.context.scratch,
  });
  const line = measurement.stdout.trim().split("\n").pop() ?? "";
  const report = client.reports
    ? JSON.parse(line || "{}") as { ok?: boolean; sha256?: string; error?: string }
    : null;
  if (measurement.exitCode !== 0 || (report !== null && report.ok !== true)) {
    throw new Error(
      `${client.name} failed (exit ${measurement.exitCode}): ${report?.error ?? ""} ${
        measurement.stderr.slice(-2000)
      }`,
    );
  }
  const size = (await stat(dest)).size;
  if (size !== file.size) {
    throw new Error(`${client.name} wrote ${size} bytes, expected ${file.size}`);
  }
  if (report !== null && report.sha256 !== file.sha256) {
    throw new Error(`${client.name} reported sha256 ${report.sha256}, expected ${file.sha256}`);
  }
  await clean(dest);
  return {
    client: client.name,
    round,
    bytes: file.size,
    wallMs: measurement.wallMs,
    cpuS: cpuSeconds(measurement),
    maxRssKiB: measurement.maxRssKiB,
  };
}

/**
 * Runs every client once per round, in a shuffled order, after an untimed
 * warm-up round when asked; returns the samples by client name.
 */
export async function interleave(
  bench: Bench,
  label: string,
  clients: readonly Client[],
  url: string,
  file: DataFile,
  rounds: number,
  warmUp: boolean,
): Promise<Map<string, Sample[]>> {
  const byClient = new Map<string, Sample[]>(clients.map((client) => [client.name, []]));
  if (warmUp) {
    bench.log(`${label}: warm-up round`);
    for (const client of clients) await download(bench, client, url, file, 0);
  }
  for (let round = 1; round <= rounds; round++) {
    const parts: string[] = [];
    for (const client of shuffled(clients, round)) {
      const sample = await download(bench, client, url, file, round);
      byClient.get(client.name)!.push(sample);
      parts.push(`${client.name} ${mbps(sample).toFixed(0)} MB/s ${sample.cpuS.toFixed(2)} s CPU`);
    }
    bench.log(`${label}: round ${round}/${rounds}: ${parts.join(", ")}`);
  }
  return byClient;
}

/** Ratios `f(a) / f(b)` pair by pair over the rounds both have. */
export function pairRatios(
  a: readonly Sample[],
  b: readonly Sample[],
  f: (sample: Sample) => number,
): number[] {
  const ratios: number[] = [];
  for (const sample of a) {
    const other = b.find((candidate) => candidate.round === sample.round);
    if (other !== undefined) ratios.push(f(sample) / f(other));
  }
  return ratios;
}
