/**
 * A call's options checked once, before anything is opened: that there is a `dest`, then the
 * tuning (verification block, checkpoint cadence, write pipeline, stall timeout, pace).
 *
 * @module
 */

import type { HaulOptions } from "../types.ts";
import type { CheckpointCadence } from "./checkpoint_schedule.ts";
import type { KeptHasher } from "./kept_hashes.ts";
import { type RateLimiter, readRateLimit } from "./rate_limit.ts";
import { readStallTimeout } from "./stall.ts";

/** Default verification block: the most a resume reads back before its request. */
const DEFAULT_BLOCK_SIZE = 1 << 20;
/** Default checkpoint cadence by bytes. */
const DEFAULT_CHECKPOINT_BYTES = 64 << 20;
/** Default checkpoint cadence by time. */
const DEFAULT_CHECKPOINT_MS = 1000;
/** Bytes gathered before each write. */
const WRITE_BUFFER_SIZE = 1 << 20;
/** Bytes written between two background `fdatasync` calls. */
const SYNC_EVERY = 16 << 20;
/** Default smallest range worth a connection of its own. */
export const DEFAULT_RANGE_FLOOR = 4 << 20;
/** The most connections one call opens. */
export const MAX_CONNECTIONS = 32;

/** A call's settings, validated. */
export interface Settings {
  /** The verification block (a positive multiple of 64). */
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
}

/**
 * The first check of every entry point: a JavaScript caller passed an object with a `dest`
 * (whether it is a usable path, `destToPath()` says later).
 */
export function checkOptions(
  options: unknown,
  call = "haul(url, { dest })",
): asserts options is HaulOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Invalid options: ${call} needs an options object`);
  }
  const { dest } = options as { dest?: unknown };
  if (dest === undefined || dest === null) {
    throw new TypeError(`Invalid options: ${call} needs a dest: a path or a file: URL`);
  }
}

/** Reads and checks a call's settings (`RangeError` for an invalid one). */
export function readSettings(
  options: HaulOptions,
  hooks: {
    readonly writeBufferSize?: number;
    readonly syncEvery?: number;
    readonly kept?: KeptHasher;
    readonly limiter?: RateLimiter;
  },
): Settings {
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
  };
}

/** `options.connections`, checked: from 1 to {@link MAX_CONNECTIONS}. */
export function readConnections(options: Pick<HaulOptions, "connections">): number {
  const connections = options.connections ?? 1;
  if (!Number.isSafeInteger(connections) || connections < 1 || connections > MAX_CONNECTIONS) {
    throw new RangeError(
      `Invalid connections: ${connections}: use a whole number from 1 to ${MAX_CONNECTIONS}`,
    );
  }
  return connections;
}
