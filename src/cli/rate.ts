/**
 * Transfer rates: measured over a sliding window, for progress bars and ETAs,
 * and asked for by `--limit-rate`.
 *
 * @module
 */

/** Measures the rate of a growing byte count over the last few seconds. */
export class RateMeter {
  readonly #windowMs: number;
  #samples: { at: number; bytes: number }[] = [];

  constructor(windowMs = 3000) {
    this.#windowMs = windowMs;
  }

  /** Records the cumulative (never decreasing) byte count at a time in ms on a monotonic clock. */
  add(at: number, bytes: number): void {
    const last = this.#samples.at(-1);
    if (last !== undefined && last.bytes === bytes && at - last.at < 250) return;
    this.#samples.push({ at, bytes });
    const horizon = at - this.#windowMs;
    let drop = 0;
    while (drop < this.#samples.length - 2 && this.#samples[drop + 1]!.at <= horizon) drop++;
    if (drop > 0) this.#samples.splice(0, drop);
  }

  /** Bytes per second over the window (decaying while the count stands still), `null` before 200 ms of samples. */
  rate(now: number): number | null {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (first === undefined || last === undefined) return null;
    const span = Math.max(now, last.at) - first.at;
    if (span < 200) return null;
    return ((last.bytes - first.bytes) / span) * 1000;
  }
}

/** `--limit-rate`'s suffixes: 1024-based, as curl's. */
const UNITS: Readonly<Record<string, number>> = { "": 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 };

/**
 * `--limit-rate RATE` as curl reads it: bytes per second (1 or more), with an
 * optional `K`, `M` or `G` (1024s, either case) and decimals (`1.5M`); else a message.
 *
 * @example
 * ```ts
 * import { parseRate } from "./rate.ts";
 * console.log(parseRate("500K"), parseRate("10M")); // 512000 10485760
 * console.log(typeof parseRate("0")); // "string": a limit of nothing is refused
 * ```
 */
export function parseRate(text: string): number | string {
  const match = /^(\d{1,12}(?:\.\d{1,12})?)([kmg]?)$/i.exec(text);
  const rate = match === null ? NaN : Number(match[1]) * UNITS[match[2]!.toLowerCase()]!;
  if (rate >= 1) return rate;
  return `Invalid --limit-rate "${text.slice(0, 40)}": give bytes per second of 1 or more, ` +
    "e.g. 500K, 10M or 1G (K = 1024 bytes)";
}
