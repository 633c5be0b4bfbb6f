/**
 * The durability invariant, enforced in one place:
 *
 * > A checkpoint never counts a byte that no completed `fdatasync` (started
 * > after the byte's write completed) made durable.
 *
 * {@link Durability.sync} notes, when a sync *starts*, how far the completed
 * writes reach; only when it returns do those bytes become
 * {@link Durability.durable}. After a failed sync nothing becomes durable
 * again in this call (it may have lost anything written before it).
 *
 * @module
 */

/**
 * What the bytes of `.part` written by this call have become.
 *
 * @example
 * ```ts
 * import { Durability } from "./durability.ts";
 * const durability = new Durability(0);
 * durability.wrote(4096);
 * await durability.sync(async () => {}); // an fdatasync that started after the write
 * console.log(durability.durable); // 4096
 * ```
 */
export class Durability {
  #written: number;
  #durable: number;
  #poisoned = false;

  /**
   * @param start bytes at the start of `.part` that are durable already
   *   (the resume cursor of a verified checkpoint, or 0).
   */
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

  /**
   * A write ending at `end` completed.
   *
   * @param end the end of the write (writes complete in order).
   */
  wrote(end: number): void {
    if (end > this.#written) this.#written = end;
  }

  /**
   * Runs one `fdatasync`. What it covers is fixed when it starts: the bytes
   * whose writes had completed by then.
   *
   * @param datasync the `fdatasync` of `.part`.
   * @throws what `datasync` threw; the tracker is then poisoned.
   */
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
}
