/**
 * The durability invariant (`docs/architecture.md`), enforced in one place: {@link Durability}.
 *
 * @module
 */

/**
 * What the bytes of `.part` written by this call have become: durable once a sync *started* after
 * their write completed has returned; after a failed sync, nothing more (it may have lost them).
 */
export class Durability {
  #written: number;
  #durable: number;
  #poisoned = false;

  /** `start`: durable bytes at the start of `.part` (a verified resume cursor, or 0). */
  constructor(start: number) {
    this.#written = start;
    this.#durable = start;
  }

  /** End of the completed writes (writes are sequential, so `[start, written)` is on the file). */
  get written(): number {
    return this.#written;
  }

  /** End of the bytes a checkpoint may count. */
  get durable(): number {
    return this.#durable;
  }

  /** Whether a sync failed: then nothing more may be counted in this call. */
  get poisoned(): boolean {
    return this.#poisoned;
  }

  /** A write ending at `end` completed (writes complete in order). */
  wrote(end: number): void {
    if (end > this.#written) this.#written = end;
  }

  /** Runs one `fdatasync`: it covers the writes completed when it starts; a failure poisons. */
  async sync(datasync: () => Promise<void>): Promise<void> {
    const covers = this.#written;
    try {
      await datasync();
    } catch (error) {
      this.#poisoned = true;
      throw error;
    }
    if (!this.#poisoned && covers > this.#durable) this.#durable = covers;
  }

  /** {@link Durability.sync} when some completed writes are not durable yet (and none failed). */
  async syncWritten(datasync: () => Promise<void>): Promise<void> {
    if (!this.#poisoned && this.#durable < this.#written) await this.sync(datasync);
  }
}

/**
 * Shares the `fdatasync` of several writers of one `.part`: calls made while a sync runs share the
 * next one, which starts after them (as {@link Durability} requires): eight ranges cost one or two.
 */
export function sharedDatasync(datasync: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let next: Promise<void> | null = null;
  const start = (): Promise<void> => {
    const sync: Promise<void> = datasync().finally(() => {
      if (running === sync) running = null;
    });
    running = sync;
    return sync;
  };
  return () => {
    const current = running;
    if (current === null) return start();
    next ??= current.catch(() => {}).then(() => {
      next = null;
      return start();
    });
    return next;
  };
}
