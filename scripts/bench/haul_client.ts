/**
 * The benchmark's haul child: one `haul()` (or `haulWithRetry()`) call in a
 * process of its own, through the public API of `mod.ts` only, then one JSON
 * line on stdout. The driver measures the whole process from the outside
 * (wall, CPU, peak RSS); the line adds what only the process sees.
 *
 * ```sh
 * deno run -A scripts/bench/haul_client.ts --url URL --dest FILE [options]
 * bun scripts/bench/haul_client.ts --url URL --dest FILE [options]
 * ```
 *
 * Options:
 * - `--abort-at N`: abort the call once `N` bytes are valid (leaves `.part`
 *   and a checkpoint, as an interrupted download does).
 * - `--first-byte`: abort when the first body byte arrives; report
 *   `firstByteMs`, the time from the call to that byte.
 * - `--retries N`: `haulWithRetry()` with `N` retries and ~no delay between them.
 * - `--connections N`: fetch over up to `N` connections (the `connections` option).
 * - `--integrity VALUE`: the `integrity` option (e.g. `sha512:<hex>`: SHA-512 computed too).
 * - `--max-bytes-per-second N`: the `maxBytesPerSecond` option.
 * - `--checkpoint-ms N`: `checkpointEvery: { ms: N }` (a checkpoint at most every `N` ms).
 * - `--sources function|mirrors`: the URL as a function called for every
 *   request, or as two mirrors (the URL twice, the second with `?mirror=2`).
 *
 * @module
 */

import process from "node:process";
import { haul, HaulState, haulWithRetry } from "../../mod.ts";
import type { FetchLike, HaulOptions } from "../../mod.ts";

/** What the child prints. */
export interface ClientReport {
  /** Whether the file reached `dest`. */
  readonly ok: boolean;
  /** Hex SHA-256 haul reported (empty when not done). */
  readonly sha256: string;
  /** Milliseconds the call took, measured inside the process. */
  readonly elapsedMs: number;
  /** CPU milliseconds (user + system) of the process during the call. */
  readonly cpuMs: number;
  /** With `--first-byte`: milliseconds from the call to the first body byte. */
  readonly firstByteMs: number | null;
  /** Bytes valid when the call ended. */
  readonly validLength: number;
  /** Attempts `haulWithRetry()` made (1 for `haul()`). */
  readonly attempts: number;
  /** The error's name and message when the call failed other than by the intended abort. */
  readonly error: string | null;
  /** Connections the download used (`HaulResult.connections`; 0 when it did not finish). */
  readonly connections: number;
}

interface Args {
  url: string;
  dest: string;
  abortAt: number | null;
  firstByte: boolean;
  retries: number | null;
  connections: number | null;
  integrity: string | null;
  sources: "function" | "mirrors" | null;
  maxBytesPerSecond: number | null;
  checkpointMs: number | null;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    url: "",
    dest: "",
    abortAt: null,
    firstByte: false,
    retries: null,
    connections: null,
    integrity: null,
    sources: null,
    maxBytesPerSecond: null,
    checkpointMs: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`Missing value after ${flag}`);
      return next;
    };
    if (flag === "--url") args.url = value();
    else if (flag === "--dest") args.dest = value();
    else if (flag === "--abort-at") args.abortAt = Number(value());
    else if (flag === "--first-byte") args.firstByte = true;
    else if (flag === "--retries") args.retries = Number(value());
    else if (flag === "--connections") args.connections = Number(value());
    else if (flag === "--integrity") args.integrity = value();
    else if (flag === "--sources") args.sources = value() === "function" ? "function" : "mirrors";
    else if (flag === "--max-bytes-per-second") args.maxBytesPerSecond = Number(value());
    else if (flag === "--checkpoint-ms") args.checkpointMs = Number(value());
    else throw new Error(`Unknown option: ${flag}`);
  }
  if (args.url === "" || args.dest === "") throw new Error("Pass --url and --dest");
  return args;
}

/** A fetch that calls `onFirst` at the first body byte, then aborts the call. */
function firstByteFetch(controller: AbortController, onFirst: () => void): FetchLike {
  return async (request, init) => {
    const response = await globalThis.fetch(request, init);
    if (response.body === null) return response;
    let seen = false;
    const body = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, sink): void {
          sink.enqueue(chunk);
          if (!seen && chunk.length > 0) {
            seen = true;
            onFirst();
            controller.abort(new Error("bench: first byte seen"));
          }
        },
      }),
    );
    return new Response(body, { status: response.status, headers: response.headers });
  };
}

function cpuMsNow(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

async function main(args: Args): Promise<ClientReport> {
  const state = new HaulState();
  const controller = new AbortController();
  let firstByteAt: number | null = null;
  let attempts = 1;
  const options: HaulOptions = {
    dest: args.dest,
    overwrite: true,
    state,
    signal: controller.signal,
  };
  if (args.connections !== null) options.connections = args.connections;
  if (args.integrity !== null) options.integrity = args.integrity;
  if (args.maxBytesPerSecond !== null) options.maxBytesPerSecond = args.maxBytesPerSecond;
  if (args.checkpointMs !== null) options.checkpointEvery = { ms: args.checkpointMs };
  const abortAt = args.abortAt;
  if (abortAt !== null) {
    options.onProgress = (progress) => {
      if (progress.validLength >= abortAt) controller.abort(new Error("bench: abort-at reached"));
    };
  }
  const started = performance.now();
  const cpuStarted = cpuMsNow();
  if (args.firstByte) {
    options.fetch = firstByteFetch(controller, () => {
      firstByteAt = performance.now();
    });
  }
  let connections = 0;
  const end = (sha256: string, error: string | null): ClientReport => ({
    ok: sha256 !== "",
    sha256,
    elapsedMs: performance.now() - started,
    cpuMs: cpuMsNow() - cpuStarted,
    firstByteMs: firstByteAt === null ? null : firstByteAt - started,
    validLength: state.validLength,
    attempts,
    error,
    connections,
  });
  try {
    const url = args.url;
    const source = args.sources === null
      ? url
      : args.sources === "function"
      ? () => url
      : [url, `${url}?mirror=2`];
    const result = args.retries === null
      ? await haul(source, options)
      : await haulWithRetry(source, {
        ...options,
        retries: args.retries,
        minDelayMs: 1,
        maxDelayMs: 5,
        onRetry: (info) => {
          attempts = info.attempt + 1;
        },
      });
    connections = result.connections;
    return end(result.sha256 ?? "", null); // never null: overwrite is set
  } catch (error) {
    if (controller.signal.aborted) return end("", null);
    return end("", error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  }
}

process.stdout.write(`${JSON.stringify(await main(parseArgs(process.argv.slice(2))))}\n`);
