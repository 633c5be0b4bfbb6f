/**
 * Calling `onProgress` at most every ~100 ms, and once at the end.
 *
 * @module
 */

import type { HaulState } from "../types.ts";

const INTERVAL_MS = 100;

/** Throttles progress callbacks for one call. */
export class ProgressReporter {
  /** The state object the callback receives. */
  readonly state: HaulState;
  readonly #callback: ((state: HaulState) => void) | undefined;
  #last = 0;

  /**
   * @param state the state object the callback receives.
   * @param callback the caller's `onProgress`, if any.
   */
  constructor(state: HaulState, callback: ((state: HaulState) => void) | undefined) {
    this.state = state;
    this.#callback = callback;
  }

  /** Reports if ~100 ms passed since the last report. */
  tick(): void {
    if (this.#callback === undefined) return;
    const now = performance.now();
    if (now - this.#last < INTERVAL_MS) return;
    this.#last = now;
    this.#callback(this.state);
  }

  /** Reports the final state. */
  done(): void {
    this.#callback?.(this.state);
  }
}
