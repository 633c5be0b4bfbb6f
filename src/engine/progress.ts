/**
 * Calling `onProgress` at most every ~100 ms, and once at the end.
 *
 * An `onProgress` that throws while bytes stream is a caller's bug that no
 * retry cures: {@link ProgressReporter.tick} wraps what it threw in a
 * {@link CallbackFailure}, so that the engine (one connection or several)
 * saves what arrived, as for any interruption, and then rejects with the
 * caller's own error instead of a retryable `PartialHaulError`.
 *
 * @module
 */

import type { HaulState } from "../types.ts";

const INTERVAL_MS = 100;

/** What the caller's `onProgress` threw during the stream (`thrown`). */
export class CallbackFailure extends Error {
  /** The caller's own error. */
  readonly thrown: unknown;
  /**
   * Wraps an error thrown by `onProgress`.
   *
   * @param thrown what it threw.
   */
  constructor(thrown: unknown) {
    super("onProgress threw", { cause: thrown });
    this.name = "CallbackFailure";
    this.thrown = thrown;
  }
}

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

  /** Reports the state before the first body byte (what the callback throws is thrown as is). */
  first(): void {
    if (this.#callback === undefined) return;
    this.#last = performance.now();
    this.#callback(this.state);
  }

  /**
   * Reports if ~100 ms passed since the last report.
   *
   * @throws {CallbackFailure} wrapping what the callback threw.
   */
  tick(): void {
    if (this.#callback === undefined) return;
    const now = performance.now();
    if (now - this.#last < INTERVAL_MS) return;
    this.#last = now;
    try {
      this.#callback(this.state);
    } catch (error) {
      throw new CallbackFailure(error);
    }
  }

  /** Reports the final state. */
  done(): void {
    this.#callback?.(this.state);
  }
}
