/**
 * When a large download opens its further connections, decided without I/O.
 *
 * Several connections pay off only where each one is held back on its own
 * (a per-connection rate limit, a long round trip). Where one connection
 * already takes all the link or all the CPU can handle, further ones only
 * add requests, a read-back pass for the digest and CPU. So a download of at
 * least {@link RAMP_FROM} bytes starts with one connection and measures it:
 *
 * - slower than {@link RAMP_FAST_MBPS}, the rest are opened at once: at
 *   such a rate CPU is plentiful, and a slow first connection is the very
 *   case several connections are for;
 * - faster, it is measured until it stops speeding up ({@link speedingUp});
 *   then a second connection probes for two windows: only if the two
 *   together (over two windows, against the first's last two alone) are at
 *   least {@link RAMP_GAIN} times as fast as the first alone are the rest
 *   opened; else the first goes on alone.
 *
 * A smaller download opens all its connections at once: the probe would
 * cost more than it could save.
 *
 * @module
 */

/** Bytes left to fetch from which a download ramps up instead of opening every connection at once. */
export const RAMP_FROM = 64 << 20;

/** Length of each measuring window, in milliseconds. */
export const RAMP_WINDOW_MS = 40;

/** How much faster two connections must be than one for the rest to be opened. */
export const RAMP_GAIN = 1.5;

/**
 * The share of its pace the first connection must keep beside the probe:
 * below it, the probe's bytes were taken from the first, not added to it.
 */
export const RAMP_LEAD_KEPT = 0.85;

/** A first connection slower than this (MB/s, 10^6 bytes) opens the rest without a probe. */
export const RAMP_FAST_MBPS = 200;

/** How a download ramps up; {@link DEFAULT_RAMP} unless a test changes it. */
export interface RampSettings {
  /** Bytes left from which a download ramps up (below: every connection at once). */
  readonly from: number;
  /** Length of each measuring window, in milliseconds (the first looks take half). */
  readonly windowMs: number;
  /** A first connection slower than this (MB/s) opens the rest without a probe. */
  readonly fastMbps: number;
}

/** The ramp of every call. */
export const DEFAULT_RAMP: RampSettings = {
  from: RAMP_FROM,
  windowMs: RAMP_WINDOW_MS,
  fastMbps: RAMP_FAST_MBPS,
};

/** A measured rate: bytes accepted over a time. */
export interface RateSample {
  /** Bytes accepted during the window, by every connection. */
  readonly bytes: number;
  /** How long the window lasted, in milliseconds. */
  readonly ms: number;
  /** Of `bytes`, those the probing second connection brought (0 before it opens). */
  readonly probeBytes?: number;
}

/**
 * Whether every connection should be opened at once for `remaining` bytes.
 *
 * @param remaining bytes still to fetch.
 * @param connections connections allowed.
 * @param ramp the ramp's settings.
 * @returns `true` to open them all now, `false` to ramp up.
 *
 * @example
 * ```ts
 * import { DEFAULT_RAMP, opensAllAtOnce } from "./ramp.ts";
 * console.log(opensAllAtOnce(16 << 20, 8, DEFAULT_RAMP), opensAllAtOnce(1 << 30, 8, DEFAULT_RAMP)); // true false
 * ```
 */
export function opensAllAtOnce(
  remaining: number,
  connections: number,
  ramp: RampSettings,
): boolean {
  return connections <= 2 || remaining < ramp.from;
}

/**
 * The rate of a sample in MB/s (10^6 bytes per second); 0 for an empty window.
 *
 * @param sample the sample.
 * @returns its rate.
 *
 * @example
 * ```ts
 * import { mbps } from "./ramp.ts";
 * console.log(mbps({ bytes: 4e6, ms: 40 })); // 100
 * ```
 */
export function mbps(sample: RateSample): number {
  return sample.ms > 0 ? sample.bytes / sample.ms / 1000 : 0;
}

/**
 * Whether the first connection alone is fast enough for a probe to decide
 * (see the module); when not, the rest are opened at once.
 *
 * @param alone the first connection alone.
 * @param ramp the ramp's settings.
 * @returns `true` to probe with a second connection.
 *
 * @example
 * ```ts
 * import { DEFAULT_RAMP, worthProbing } from "./ramp.ts";
 * const slow = { bytes: 2e6, ms: 40 }; // 50 MB/s
 * const fast = { bytes: 30e6, ms: 40 }; // 750 MB/s
 * console.log(worthProbing(slow, DEFAULT_RAMP), worthProbing(fast, DEFAULT_RAMP)); // false true
 * ```
 */
export function worthProbing(alone: RateSample, ramp: RampSettings): boolean {
  return mbps(alone) >= ramp.fastMbps;
}

/**
 * Two consecutive windows as one. Each side of the comparison is measured
 * over two windows, so that a stall in one, or the burst that makes up for
 * it (a busy machine, a pause for garbage collection), sways the decision
 * less.
 *
 * @param a one window.
 * @param b the next.
 * @returns their bytes over their time.
 *
 * @example
 * ```ts
 * import { combined, mbps } from "./ramp.ts";
 * console.log(mbps(combined({ bytes: 1e6, ms: 40 }, { bytes: 3e6, ms: 40 }))); // 50
 * ```
 */
export function combined(a: RateSample, b: RateSample): RateSample {
  return {
    bytes: a.bytes + b.bytes,
    ms: a.ms + b.ms,
    probeBytes: (a.probeBytes ?? 0) + (b.probeBytes ?? 0),
  };
}

/** The most windows the first connection is measured alone, while it still speeds up. */
export const RAMP_ALONE_WINDOWS = 6;

/**
 * The most windows the probe may take to receive its first bytes (its
 * request's round trip, a server slow to answer); the windows that measure
 * it start from there. A probe silent that long counts as no gain.
 */
export const RAMP_PROBE_WAIT_WINDOWS = 25;

/**
 * Whether a connection is still speeding up (a process warming up, TCP
 * growing its window): its latest window was more than 10 % faster than
 * the one before. The first connection is measured alone until it is not,
 * so that the probe is compared with its real pace.
 *
 * @param previous the window before.
 * @param latest the latest window.
 * @returns `true` to measure again.
 *
 * @example
 * ```ts
 * import { speedingUp } from "./ramp.ts";
 * console.log(speedingUp({ bytes: 8e6, ms: 40 }, { bytes: 16e6, ms: 40 })); // true
 * console.log(speedingUp({ bytes: 16e6, ms: 40 }, { bytes: 16.5e6, ms: 40 })); // false
 * ```
 */
export function speedingUp(previous: RateSample, latest: RateSample): boolean {
  return mbps(latest) > 1.1 * mbps(previous);
}

/**
 * Whether a second connection paid off: the two together were at least
 * {@link RAMP_GAIN} times as fast as the first alone, and the first kept at
 * least {@link RAMP_LEAD_KEPT} of its pace (on a link or a CPU both share,
 * the probe only takes the first one's bytes). A window that measured
 * nothing (no time, or the first alone received nothing) counts as a gain,
 * so that a doubt opens connections rather than holding them back.
 *
 * @param alone the first connection alone.
 * @param together both connections.
 * @returns `true` to open the rest.
 *
 * @example
 * ```ts
 * import { secondPaidOff } from "./ramp.ts";
 * // A link limited per connection: two carry twice as much.
 * console.log(secondPaidOff({ bytes: 2e6, ms: 40 }, { bytes: 4e6, ms: 40 })); // true
 * // A link one connection fills: two carry the same.
 * console.log(secondPaidOff({ bytes: 30e6, ms: 40 }, { bytes: 31e6, ms: 41 })); // false
 * // Faster together, but the probe's bytes were mostly the first one's.
 * const shared = { bytes: 48e6, ms: 40, probeBytes: 30e6 };
 * console.log(secondPaidOff({ bytes: 30e6, ms: 40 }, shared)); // false
 * ```
 */
export function secondPaidOff(alone: RateSample, together: RateSample): boolean {
  if (!(alone.ms > 0) || !(together.ms > 0) || alone.bytes <= 0) return true;
  const pace = alone.bytes / alone.ms;
  const lead = together.bytes - (together.probeBytes ?? 0);
  return together.bytes / together.ms >= RAMP_GAIN * pace &&
    lead / together.ms >= RAMP_LEAD_KEPT * pace;
}
