/**
 * A small seeded pseudo-random generator (mulberry32) for reproducible fuzz
 * tests. Not for cryptography.
 *
 * @module
 */

/** A deterministic random source. */
export interface Rng {
  /** The seed this generator started from (unsigned 32-bit). */
  readonly seed: number;
  /** A float in `[0, 1)`. */
  next(): number;
  /** An integer in `[lo, hi]` (both inclusive; `hi - lo` below 2^32). */
  int(lo: number, hi: number): number;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** True with probability `p`. */
  chance(p: number): boolean;
}

/**
 * A mulberry32 generator started from `seed`.
 *
 * @param seed any number; its low 32 bits are used.
 * @returns the generator.
 * @throws {RangeError} from `int` when `hi < lo`, or from `pick` on an empty array.
 *
 * @example
 * ```ts
 * import { makeRng } from "./prng.ts";
 * const rng = makeRng(42);
 * console.log(rng.int(1, 6), rng.pick(["a", "b"]));
 * ```
 */
export function makeRng(seed: number): Rng {
  const start = seed >>> 0;
  let state = start;
  const nextUint32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const next = (): number => nextUint32() / 0x1_0000_0000;
  return {
    seed: start,
    next,
    int(lo: number, hi: number): number {
      if (!(hi >= lo)) throw new RangeError(`int(${lo}, ${hi}): empty range`);
      return lo + Math.floor(next() * (hi - lo + 1));
    },
    bytes(n: number): Uint8Array {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = nextUint32() & 0xff;
      return out;
    },
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new RangeError("pick() from an empty array");
      return items[Math.floor(next() * items.length)] as T;
    },
    chance(p: number): boolean {
      return next() < p;
    },
  };
}
