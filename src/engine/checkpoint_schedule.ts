/**
 * When a checkpoint is written (`checkpointer.ts`): after
 * {@link CheckpointCadence} bytes or milliseconds, one at a time, in the
 * background, its failure reported on the next append. What a checkpoint
 * records is the checkpointer's business.
 *
 * @module
 */

/** How often to checkpoint. */
export interface CheckpointCadence {
  /** After this many new bytes. */
  readonly bytes: number;
  /** After this many milliseconds. */
  readonly ms: number;
}

/** One call's background checkpoints. */
export class CheckpointSchedule {
  readonly #cadence: CheckpointCadence;
  #lastAt = Date.now();
  #lastBytes: number;
  #running: Promise<void> | null = null;
  /** A start is preparing (flushing): no other may begin meanwhile. */
  #starting = false;
  #failure: { error: unknown } | null = null;

  /**
   * @param cadence how often.
   * @param accepted bytes already counted when the call starts.
   */
  constructor(cadence: CheckpointCadence, accepted: number) {
    this.#cadence = cadence;
    this.#lastBytes = accepted;
  }

  /**
   * Whether a checkpoint should start now: none is running or starting, and
   * the cadence has passed since the last one.
   *
   * @param accepted bytes accepted so far.
   * @returns `true` when due.
   */
  due(accepted: number): boolean {
    if (this.#running !== null || this.#starting) return false;
    const fresh = accepted - this.#lastBytes;
    if (fresh <= 0) return false;
    if (fresh >= this.#cadence.bytes) return true;
    return Date.now() - this.#lastAt >= this.#cadence.ms;
  }

  /**
   * Starts a checkpoint: `prepare` runs first (in the foreground: a flush),
   * then, if it says so, `record` in the background.
   *
   * @param accepted bytes accepted so far (the cadence counts from here).
   * @param prepare returns whether to record.
   * @param record writes the checkpoint.
   */
  async start(
    accepted: number,
    prepare: () => Promise<boolean>,
    record: () => Promise<void>,
  ): Promise<void> {
    this.#lastAt = Date.now();
    this.#lastBytes = accepted;
    this.#starting = true;
    let go: boolean;
    try {
      go = await prepare();
    } finally {
      this.#starting = false;
    }
    if (!go) return;
    this.#running = record().then(() => {
      this.#running = null;
    }, (error: unknown) => {
      this.#running = null;
      this.#failure ??= { error };
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
    const running = this.#running;
    if (running !== null) await running;
  }

  /** Waits for the background checkpoint, then reports its failure, if any. */
  async drain(): Promise<void> {
    await this.settle();
    this.throwFailure();
  }
}
