/**
 * `maxBytesPerSecond`: a body is read no faster than the limit, so the
 * runtime's buffers fill, TCP's receive window closes and the sender slows
 * down (the network is limited, not only the disk writes). Reads come in
 * bursts: a reader reads on until a quarter second of bytes is owed, then
 * waits until they are paid for at the limit's pace ({@link RateLimiter.take}),
 * because each wake-up of the runtime (a timer, a read that waits) costs CPU
 * that a slower pace does not repay (docs/performance.md, "Rate limit"). The
 * time a reader waits is not a stall (`stall.ts` counts only pending reads).
 * One limiter serves every connection of a call, or every call of a
 * `haulAll()` batch.
 *
 * @module
 */

import type { HaulOptions } from "../types.ts";

/** Unused pace a reader may catch up after a slow read or an idle spell: 100 ms of bytes. */
const CREDIT_MS = 100;
/**
 * The burst: a shorter debt is not slept but carried to the next read, so a
 * reader sleeps at most 4 times a second and its reads drain what the
 * runtime and the kernel buffered meanwhile (same pace, fewer wake-ups).
 */
const BURST_MS = 250;

/** The time a limiter reads and waits on (tests give a fake one). */
export interface LimiterClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (it never rejects). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** `performance.now()` and `setTimeout`. */
const REAL_CLOCK: LimiterClock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      if (signal.aborted) done();
    }),
};

/** A pace of bytes per second shared by the readers that take from it. */
export class RateLimiter {
  /** The limit, in bytes per second. */
  readonly bytesPerSecond: number;
  readonly #clock: LimiterClock;
  /** When the bytes taken so far are paid for, at the limit's pace (`NaN`: nothing taken yet). */
  #paidUntil = NaN;

  /**
   * @param bytesPerSecond the limit (a positive finite number).
   * @param clock the time to read and wait on.
   * @throws {RangeError} for any other limit.
   */
  constructor(bytesPerSecond: number, clock: LimiterClock = REAL_CLOCK) {
    if (typeof bytesPerSecond !== "number" || !(bytesPerSecond > 0 && bytesPerSecond < Infinity)) {
      throw new RangeError(
        `Invalid maxBytesPerSecond: ${String(bytesPerSecond)}: use a positive number of bytes`,
      );
    }
    this.bytesPerSecond = bytesPerSecond;
    this.#clock = clock;
  }

  /**
   * Accounts for `bytes` just read at `now`.
   *
   * @param bytes the bytes read.
   * @param now the time, on the limiter's clock.
   * @returns how long to wait before the next read, in ms (0: read at once).
   */
  charge(bytes: number, now: number): number {
    // The first read earns no credit: there was no pace before it to catch up.
    const from = Number.isNaN(this.#paidUntil) ? now : Math.max(this.#paidUntil, now - CREDIT_MS);
    this.#paidUntil = from + (bytes * 1000) / this.bytesPerSecond;
    const wait = this.#paidUntil - now;
    return wait >= BURST_MS ? wait : 0;
  }

  /**
   * Accounts for `bytes` just read, then waits until the next read may start.
   *
   * @param bytes the bytes read.
   * @param signal ends the wait early (the read loop then stops).
   */
  async take(bytes: number, signal: AbortSignal): Promise<void> {
    const wait = this.charge(bytes, this.#clock.now());
    if (wait > 0) await this.#clock.sleep(wait, signal);
  }
}

/**
 * The limiter of a call's (or a batch's) `maxBytesPerSecond`.
 *
 * @param options the call's options.
 * @returns a new limiter, or `null` without a limit.
 * @throws {RangeError} unless the limit is a positive finite number.
 */
export function readRateLimit(
  options: Pick<HaulOptions, "maxBytesPerSecond">,
): RateLimiter | null {
  const limit = options.maxBytesPerSecond;
  return limit === undefined ? null : new RateLimiter(limit);
}
