/**
 * `maxBytesPerSecond`: a body is read no faster than the limit, so TCP's receive window closes and
 * the sender slows down (not only the disk writes), in bursts (docs/performance.md, "Rate limit");
 * a reader's wait is not a stall. One limiter serves every connection of a call, or all of a batch.
 *
 * @module
 */

import type { HaulOptions } from "../types.ts";

/** Unused pace a reader may catch up after a slow read or an idle spell: 100 ms of bytes. */
const CREDIT_MS = 100;

/** The time a limiter reads and waits on (tests give a fake one). */
export interface LimiterClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (it never rejects). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** Resolves after `ms` (at most about 24.8 days), or as soon as `signal` aborts (never rejects). */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.min(ms, 2 ** 31 - 1)); // beyond, it fires at once
    signal?.addEventListener("abort", done, { once: true });
    if (signal?.aborted) done();
  });
}

const REAL_CLOCK: LimiterClock = { now: () => performance.now(), sleep };

/** A pace of bytes per second shared by the readers that take from it. */
export class RateLimiter {
  readonly #bytesPerSecond: number;
  readonly #burstMs: number;
  readonly #clock: LimiterClock;
  /** When the bytes taken so far are paid for, at the limit's pace (`NaN`: nothing taken yet). */
  #paidUntil = NaN;

  /** Throws a `RangeError` unless `bytesPerSecond` is a positive finite number. */
  constructor(bytesPerSecond: number, clock: LimiterClock = REAL_CLOCK) {
    if (typeof bytesPerSecond !== "number" || !(bytesPerSecond > 0 && bytesPerSecond < Infinity)) {
      throw new RangeError(
        `Invalid maxBytesPerSecond: ${String(bytesPerSecond)}: use a positive number of bytes`,
      );
    }
    this.#bytesPerSecond = bytesPerSecond;
    // A debt under a burst is carried to the next read, not slept (each wake-up costs CPU). A
    // burst: 250 ms of bytes, or 512 KiB if that is longer, up to 500 ms.
    this.#burstMs = Math.min(500, Math.max(250, (2 ** 19 * 1000) / bytesPerSecond));
    this.#clock = clock;
  }

  /** The most bytes a read should take at once: a burst's worth, so no wait is much longer. */
  get burst(): number {
    return Math.max(1, Math.floor((this.#bytesPerSecond * this.#burstMs) / 1000));
  }

  /** Accounts for `bytes` read at `now`; returns the ms to wait before the next read (0: none). */
  charge(bytes: number, now: number): number {
    // The first read earns no credit: there was no pace before it to catch up.
    const from = Number.isNaN(this.#paidUntil) ? now : Math.max(this.#paidUntil, now - CREDIT_MS);
    this.#paidUntil = from + (bytes * 1000) / this.#bytesPerSecond;
    const wait = this.#paidUntil - now;
    return wait >= this.#burstMs ? wait : 0;
  }

  /** Accounts for `bytes` just read, then waits until the next read may start (or `signal`). */
  async take(bytes: number, signal: AbortSignal): Promise<void> {
    const wait = this.charge(bytes, this.#clock.now());
    if (wait > 0) await this.#clock.sleep(wait, signal);
  }
}

/** The limiter of a call's (or a batch's) `maxBytesPerSecond`; `null` without one. */
export function readRateLimit(options: Pick<HaulOptions, "maxBytesPerSecond">): RateLimiter | null {
  const limit = options.maxBytesPerSecond;
  return limit === undefined ? null : new RateLimiter(limit);
}
