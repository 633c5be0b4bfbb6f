/**
 * Calling `onProgress` at most every ~100 ms, and once at the end.
 *
 * @module
 */

import type { HaulState } from "../types.ts";

const INTERVAL_MS = 100;

/**
 * What the caller's `onProgress` threw during the stream (its `cause`): a bug no retry cures, so
 * the call saves what arrived and rejects with the caller's own error (`outcome.ts`).
 */
export class CallbackFailure extends Error {
  override name = "CallbackFailure";
}

/** Throttles progress callbacks for one call. */
export class ProgressReporter {
  readonly state: HaulState;
  readonly #callback: ((state: HaulState) => void) | undefined;
  #last = 0;

  constructor(state: HaulState, callback: ((state: HaulState) => void) | undefined) {
    this.state = state;
    this.#callback = callback;
  }

  /** Reports the state before the first body byte (what the callback throws is thrown as is). */
  first(): void {
    if (this.#callback === undefined) return;
    this.#last = performance.now();
    this.#callback(this.state);
  }

  /** Reports if ~100 ms passed since the last report; what the callback throws is wrapped. */
  tick(): void {
    if (this.#callback === undefined) return;
    const now = performance.now();
    if (now - this.#last < INTERVAL_MS) return;
    this.#last = now;
    try {
      this.#callback(this.state);
    } catch (error) {
      throw new CallbackFailure("onProgress threw", { cause: error });
    }
  }

  /** Marks the file complete at `size` bytes and reports it: the file is at `dest`, so a throw is ignored. */
  done(size: number): void {
    Object.assign(this.state, { validLength: size, reportedLength: size, isComplete: true });
    try {
      this.#callback?.(this.state);
    } catch { /* the call resolves: its download did not fail */ }
  }
}
