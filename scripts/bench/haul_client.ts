/**
 * The benchmark's haul child: one process that runs `haul()` (or a batch
 * through `haulAll()`) and prints one JSON line describing what happened.
 * The driver (`main.ts`) starts it under Deno and under Bun and measures the
 * whole process from the outside (wall time, CPU time, peak RSS).
 *
 * Usage (all sizes in bytes):
 *
 * ```sh
 * deno run -A scripts/bench/haul_client.ts --url URL --dest FILE [options]
 * bun scripts/bench/haul_client.ts --url URL --dest FILE [options]
 * ```
 *
 * Options:
 * - `--no-checkpoints`: the test-only hook that never writes checkpoints.
 * - `--checkpoint-bytes N`, `--checkpoint-ms N`: `checkpointEvery`.
 * - `--abort-at N`: abort once `N` bytes are valid (leaves a `.part` and a checkpoint).
 * - `--write-buffer N`: the engine's write buffer size (a test-only hook).
 * - `--sample-durability`: every 50 ms, read the checkpoint on disk and note
 *   how many received bytes it does not cover yet (reported as `atRisk`).
 * - `--first-byte`: abort as soon as the first body byte arrives and report
 *   `firstByteMs`, the time from the call to that byte (the resume start cost).
 * - `--batch FILE --concurrency N`: download every `{url, dest}` of the JSON
 *   array in `FILE` with `haulAll()` instead.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import { haulWith } from "../../src/engine/haul.ts";
import { haulAll } from "../../src/batch/haul_all.ts";
import { HaulState } from "../../src/types.ts";
import type { FetchLike, HaulOptions } from "../../src/types.ts";
import { readFile } from "node:fs/promises";
import process from "node:process";

/** What the child prints (one JSON line on stdout). */
export interface ClientReport {
  /** Whether the download (or every item of the batch) succeeded. */
  readonly ok: boolean;
  /** Bytes in the finished file (summed over a batch). */
  readonly size: number;
  /** Hex SHA-256 haul reported (empty for a batch). */
  readonly sha256: string;
  /** Milliseconds from the call to its end, measured inside the process. */
  readonly elapsedMs: number;
  /** For `--first-byte`: milliseconds from the call to the first body byte. */
  readonly firstByteMs: number | null;
  /** Bytes valid when the call ended (for `--abort-at` and `--first-byte`). */
  readonly validLength: number;
  /** The error's text when `ok` is false and the failure was not the intended abort. */
  readonly error: string | null;
  /**
   * With `--sample-durability`: bytes received but not yet covered by the
   * checkpoint on disk, sampled every 50 ms (what a crash would lose).
   */
  readonly atRisk: { readonly max: number; readonly mean: number; readonly samples: number } | null;
}

/** Parsed command line. */
interface ClientArgs {
  url: string;
  dest: string;
  checkpoints: boolean;
  checkpointBytes: number | null;
  checkpointMs: number | null;
  abortAt: number | null;
  firstByte: boolean;
  batch: string | null;
  concurrency: number;
  writeBuffer: number | null;
  sampleDurability: boolean;
}

function parseArgs(argv: readonly string[]): ClientArgs {
  const args: ClientArgs = {
    url: "",
    dest: "",
    checkpoints: true,
    checkpointBytes: null,
    checkpointMs: null,
    abortAt: null,
    firstByte: false,
    batch: null,
    concurrency: 16,
    writeBuffer: null,
    sampleDurability: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`Missing value after ${flag}`);
      return next;
    };
    switch (flag) {
      case "--url":
        args.url = value();
        break;
      case "--dest":
        args.dest = value();
        break;
      case "--no-checkpoints":
        args.checkpoints = false;
        break;
      case "--checkpoint-bytes":
        args.checkpointBytes = Number(value());
        break;
      case "--checkpoint-ms":
        args.checkpointMs = Number(value());
        break;
      case "--abort-at":
        args.abortAt = Number(value());
        break;
      case "--first-byte":
        args.firstByte = true;
        break;
      case "--sample-durability":
        args.sampleDurability = true;
        break;
      case "--batch":
        args.batch = value();
        break;
      case "--write-buffer":
        args.writeBuffer = Number(value());
        break;
      case "--concurrency":
        args.concurrency = Number(value());
        break;
      default:
        throw new Error(`Unknown option: ${flag}`);
    }
  }
  return args;
}

/** A fetch that notes when the first body byte arrives and then aborts the call. */
function firstByteFetch(controller: AbortController, onFirst: () => void): FetchLike {
  return async (request: Request): Promise<Response> => {
    const response = await globalThis.fetch(request);
    if (response.body === null) return response;
    let seen = false;
    const body = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, sink): void {
          if (!seen && chunk.length > 0) {
            seen = true;
            onFirst();
            sink.enqueue(chunk);
            controller.abort(new Error("bench: first byte seen"));
            return;
          }
          sink.enqueue(chunk);
        },
      }),
    );
    return new Response(body, { status: response.status, headers: response.headers });
  };
}

async function runOne(args: ClientArgs): Promise<ClientReport> {
  const state = new HaulState();
  const controller = new AbortController();
  let firstByteAt: number | null = null;
  const options: HaulOptions = {
    dest: args.dest,
    overwrite: true,
    state,
    signal: controller.signal,
  };
  if (args.checkpointBytes !== null || args.checkpointMs !== null) {
    options.checkpointEvery = {
      ...(args.checkpointBytes !== null ? { bytes: args.checkpointBytes } : {}),
      ...(args.checkpointMs !== null ? { ms: args.checkpointMs } : {}),
    };
  }
  const abortAt = args.abortAt;
  if (abortAt !== null) {
    options.onProgress = (progress) => {
      if (progress.validLength >= abortAt) controller.abort(new Error("bench: abort-at reached"));
    };
  }
  const samples: number[] = [];
  const sampler = args.sampleDurability
    ? setInterval(() => {
      let cursor = 0;
      try {
        cursor = decodeCheckpoint(new Uint8Array(readFileSync(`${args.dest}.part.ctrl`))).cursor;
      } catch {
        // No checkpoint yet (or between two): nothing is covered.
      }
      if (state.bytesRead > 0) samples.push(Math.max(0, state.validLength - cursor));
    }, 50)
    : null;
  const atRisk = (): ClientReport["atRisk"] => {
    if (sampler !== null) clearInterval(sampler);
    if (samples.length === 0) return null;
    const sum = samples.reduce((a, b) => a + b, 0);
    return { max: Math.max(...samples), mean: sum / samples.length, samples: samples.length };
  };
  const started = performance.now();
  if (args.firstByte) {
    options.fetch = firstByteFetch(controller, () => {
      firstByteAt = performance.now();
    });
  }
  try {
    const result = await haulWith(args.url, options, {
      disableCheckpoints: !args.checkpoints,
      ...(args.writeBuffer !== null ? { writeBufferSize: args.writeBuffer } : {}),
    });
    return {
      ok: true,
      size: result.size,
      sha256: result.sha256,
      elapsedMs: performance.now() - started,
      firstByteMs: firstByteAt === null ? null : firstByteAt - started,
      validLength: state.validLength,
      error: null,
      atRisk: atRisk(),
    };
  } catch (error) {
    const intended = controller.signal.aborted;
    return {
      ok: false,
      size: 0,
      sha256: "",
      elapsedMs: performance.now() - started,
      firstByteMs: firstByteAt === null ? null : firstByteAt - started,
      validLength: state.validLength,
      error: intended ? null : String(error),
      atRisk: atRisk(),
    };
  }
}

async function runBatch(args: ClientArgs, listFile: string): Promise<ClientReport> {
  const items = JSON.parse(await readFile(listFile, "utf8")) as { url: string; dest: string }[];
  const started = performance.now();
  const reports = await haulAll(items, { concurrency: args.concurrency, retries: 0 });
  let size = 0;
  let failure: string | null = null;
  for (const report of reports) {
    if (report.status === "failed") failure ??= String(report.error);
    else size += report.result.size;
  }
  return {
    ok: failure === null,
    size,
    sha256: "",
    elapsedMs: performance.now() - started,
    firstByteMs: null,
    validLength: size,
    error: failure,
    atRisk: null,
  };
}

const args = parseArgs(process.argv.slice(2));
const report = args.batch !== null ? await runBatch(args, args.batch) : await runOne(args);
process.stdout.write(`${JSON.stringify(report)}\n`);
