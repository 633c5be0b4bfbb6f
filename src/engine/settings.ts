/**
 * What a call runs with: its options checked once, before anything is opened, a test's engine
 * hooks, and the context `haulWith()` hands to the download.
 *
 * @module
 */

import type { ExpectedDigests } from "../protocol/integrity.ts";
import type { FsShim } from "../runtime/fs_shim.ts";
import type { LockTiming } from "../store/lock.ts";
import type { PartOwner } from "../store/ownership.ts";
import type { SidecarPaths } from "../store/destination.ts";
import type { FetchLike, HaulOptions, SourceInput } from "../types.ts";
import type { ProgressReporter } from "./progress.ts";
import type { Sources } from "./sources.ts";
import type { CheckpointCadence } from "./checkpoint_schedule.ts";
import type { KeptHasher } from "./kept_hashes.ts";
import { type RateLimiter, readRateLimit } from "./rate_limit.ts";
import { readStallTimeout } from "./stall.ts";

const DEFAULT_BLOCK_SIZE = 1 << 20;
const DEFAULT_CHECKPOINT_BYTES = 64 << 20;
const DEFAULT_CHECKPOINT_MS = 1000;
const WRITE_BUFFER_SIZE = 1 << 20;
const SYNC_EVERY = 16 << 20;
const DEFAULT_RANGE_FLOOR = 4 << 20;
/** The most connections one call opens. */
export const MAX_CONNECTIONS = 32;

/** A call's settings, validated. */
export interface Settings {
  readonly blockSize: number;
  readonly cadence: CheckpointCadence;
  readonly writeBufferSize: number;
  readonly syncEvery: number;
  /** `stallTimeout` in ms (`Infinity`: none). */
  readonly stallTimeout: number;
  /** The retry loop's kept hasher (`null`: a call on its own). */
  readonly kept: KeptHasher | null;
  /** The call's `maxBytesPerSecond`, or its batch's (`null`: no limit). */
  readonly limiter: RateLimiter | null;
  readonly connections: number;
  /** The smallest range worth a connection (`rangeFloor`). */
  readonly floor: number;
}

/** Engine internals a test may replace (documented test hooks; applications call `haul()`). */
export interface EngineHooks {
  /** The filesystem to use (a fault-injecting one in crash tests). */
  fs?: FsShim;
  /** Bytes gathered before each write (small values exercise the write pipeline). */
  writeBufferSize?: number;
  /** Bytes written between two background `fdatasync` calls. */
  syncEvery?: number;
  /** The smallest range worth a connection of its own (with `connections` > 1). */
  rangeFloor?: number;
  /** The lock's lease (tests shorten it). */
  lockTiming?: LockTiming;
  /** A retry loop's hasher, handed from one attempt to the next (`haulWithRetry()`). */
  kept?: KeptHasher;
  /** A retry loop's sources: a failed attempt moves the next one to the next source. */
  sources?: Sources;
  /** The pace shared with other calls (a `haulAll()` batch's), instead of the call's own. */
  limiter?: RateLimiter;
}

/** What a download needs from `haulWith()`. */
export interface CallContext {
  readonly fs: FsShim;
  readonly paths: SidecarPaths;
  readonly settings: Settings;
  readonly fetchFn: FetchLike;
  /** The URL, redacted, for messages. */
  readonly url: string;
  readonly sources: Sources;
  /** The source of the first request, and what it resolved to. */
  readonly first: { readonly index: number; readonly input: SourceInput };
  /** The caller's options (`signal` includes the lock's). */
  readonly options: HaulOptions;
  readonly expected: ExpectedDigests | null;
  readonly progress: ProgressReporter;
  /** When the call started (`performance.now()`). */
  readonly startedAt: number;
  /** The destination's owner: checked before each checkpoint, removal and the commit. */
  readonly owner: PartOwner;
  /** The name the first successful response suggested (`Content-Disposition`), so far. */
  readonly suggestedName: () => string | null;
  /** The mtime (ms) of the `dest` being revalidated (`If-Modified-Since`), or `null`. */
  readonly since: number | null;
}

/**
 * The first check of every entry point: an options object without the removed `worker: true`,
 * with a `dest` if `needsDest` (`destToPath()` checks it), valid `headers`, callbacks, `signal`.
 */
export function checkOptions(
  options: unknown,
  call = "haul(url, { dest })",
  needsDest = true,
): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Invalid options: ${call} needs an options object`);
  }
  const given = options as Record<string, unknown>;
  if (given.worker !== undefined && given.worker !== false) {
    throw new TypeError(
      "Invalid options: worker: true was removed; haul runs on the caller's thread. To run it " +
        'on a thread of your own, see "haul in your own Worker" in docs/api.md',
    );
  }
  if (needsDest && given.dest == null) {
    throw new TypeError(`Invalid options: ${call} needs a dest: a path or a file: URL`);
  }
  checkedHeaders(given.headers);
  for (const name of ["fetch", "onProgress", "onRetry", "onItemDone", "signal"]) {
    const value = given[name]; // typeof, not instanceof: another realm's function (vm, Jest) is one
    const valid = name === "signal" ? value instanceof AbortSignal : typeof value === "function";
    if (value !== undefined && !valid) {
      const kind = name === "signal" ? "an AbortSignal" : "a function";
      throw new TypeError(`Invalid options: ${name} must be ${kind}`);
    }
  }
}

/** `headers` as a `Headers`; a `TypeError` (that does not echo a value: a secret?) if invalid. */
export function checkedHeaders(headers: unknown): Headers {
  try {
    return new Headers(headers as HeadersInit | undefined);
  } catch {
    throw new TypeError("Invalid options: headers hold an invalid name or value (CR, LF?)");
  }
}

/** Reads and checks a call's settings (`RangeError` for an invalid one). */
export function readSettings(options: HaulOptions, hooks: EngineHooks): Settings {
  checkOptions(options);
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isSafeInteger(blockSize) || blockSize < 64 || blockSize % 64 !== 0) {
    throw new RangeError(`Invalid blockSize: ${blockSize}: use a positive multiple of 64`);
  }
  const bytes = options.checkpointEvery?.bytes ?? DEFAULT_CHECKPOINT_BYTES;
  const ms = options.checkpointEvery?.ms ?? DEFAULT_CHECKPOINT_MS;
  if (!(bytes > 0) || !(ms > 0)) {
    throw new RangeError("Invalid checkpointEvery: bytes and ms must be positive");
  }
  return {
    blockSize,
    cadence: { bytes, ms },
    writeBufferSize: hooks.writeBufferSize ?? WRITE_BUFFER_SIZE,
    syncEvery: hooks.syncEvery ?? SYNC_EVERY,
    kept: hooks.kept ?? null,
    stallTimeout: readStallTimeout(options),
    limiter: hooks.limiter ?? readRateLimit(options),
    connections: atLeastOne("connections", options.connections ?? 1, MAX_CONNECTIONS),
    floor: hooks.rangeFloor ?? DEFAULT_RANGE_FLOOR,
  };
}

/** `value` when it is a whole number from 1 to `max`; a `RangeError` naming the option otherwise. */
export function atLeastOne(name: string, value: number, max = Infinity): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    const range = max === Infinity ? "of 1 or more" : `from 1 to ${max}`;
    throw new RangeError(`Invalid ${name}: ${value}: use a whole number ${range}`);
  }
  return value;
}
