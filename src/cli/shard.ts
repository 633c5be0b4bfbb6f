/**
 * `--shard K/N`: a stable share of a list for one of N machines with no coordinator (the
 * how and why: docs/cli.md). The shard of a destination is the FNV-1a hash of its path
 * relative to the download directory (UTF-8, `/` separators), modulo N, plus one: K counts
 * from 1, as in Jest, Vitest and Playwright.
 *
 * @module
 */

/** One machine's share: shard `index` (1 to `count`) of `count`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** The most shards accepted: far beyond any fleet, small enough to stay exact. */
const MAX_SHARDS = 1_000_000;

/** Reads `K/N` (`"3/8"`): the shard, or a message saying what is wrong. */
export function parseShard(text: string): Shard | string {
  const match = /^\s*(\d{1,7})\s*\/\s*(\d{1,7})\s*$/.exec(text);
  if (match === null) return `--shard needs K/N, e.g. --shard 1/4 (got "${text.slice(0, 40)}")`;
  const index = Number(match[1]);
  const count = Number(match[2]);
  if (count < 1 || count > MAX_SHARDS) return `--shard ${text}: N must be from 1 to ${MAX_SHARDS}`;
  if (index < 1 || index > count) {
    return `--shard ${text}: K counts from 1, so it must be from 1 to N (1 to ${count})`;
  }
  return { index, count };
}

/** A destination's bucket from 0 to `count - 1`, the same on every machine (shard `K` holds bucket `K - 1`). */
export function shardOf(relative: string, count: number): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(relative)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % count;
}

/** Whether a destination (relative to the download directory) falls in `shard`. */
export function inShard(relative: string, shard: Shard): boolean {
  return shardOf(relative, shard.count) === shard.index - 1;
}
