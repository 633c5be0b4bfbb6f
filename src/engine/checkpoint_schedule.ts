/**
 * When a checkpoint is written (what it records: `checkpointer.ts`): after the cadence's bytes or
 * milliseconds, one at a time, in the background, its failure reported on the next append.
 *
 * @module
 */

import type { CheckpointInterval } from "../types.ts";

/** How often to checkpoint, every field set. */
export type CheckpointCadence = Readonly<Required<CheckpointInterval>>;

/** One call's background checkpoints. */
export class CheckpointSchedule {
  readonly #cadence: CheckpointCadence;
  #lastAt = Date.now();
  #lastBytes = 0;
  #running: Promise<void> | null = null;
  /** A start is preparing (flushing): no other may begin meanwhile. */
  #starting = false;
  #failure: { error: unknown } | null = null;

  constructor(cadence: CheckpointCadence) {
    this.#cadence = cadence;
  }

  /** Whether to start a checkpoint: none is running or starting, and the cadence has passed. */
  due(accepted: number): boolean {
    if (this.#running !== null || this.#starting) return false;
    const fresh = accepted - this.#lastBytes;
    if (fresh <= 0) return false;
    return fresh >= this.#cadence.bytes || Date.now() - this.#lastAt >= this.#cadence.ms;
  }

  /** Starts a checkpoint at `accepted`: `prepare` (a flush) now, `record` in the background. */
  async start(
    accepted: number,
    prepare: () => Promise<void>,
    record: () => Promise<void>,
  ): Promise<void> {
    this.#lastAt = Date.now();
    this.#lastBytes = accepted;
    this.#starting = true;
    try {
      await prepare();
    } finally {
      this.#starting = false;
    }
    this.#running = record().catch((error: unknown) => {
      this.#failure ??= { error };
    }).finally(() => {
      this.#running = null;
    });
  }

  /** Throws (once) the failure of a background checkpoint, if any. */
  throwFailure(): void {
    const failure = this.#failure;
    if (failure === null) return;
    this.#failure = null;
    throw failure.error;
  }

  /** Waits for the background checkpoint, if any; never throws. */
  async settle(): Promise<void> {
    await this.#running;
  }

  /** Waits for the background checkpoint, then reports its failure, if any. */
  async drain(): Promise<void> {
    await this.settle();
    this.throwFailure();
  }
}
