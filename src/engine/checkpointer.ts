/**
 * When and what to checkpoint. Every {@link CheckpointCadence.bytes} new
 * bytes or {@link CheckpointCadence.ms} milliseconds a checkpoint starts in
 * the background (the stream goes on): the partial write buffer is written,
 * the completed writes are synced, and a record of the durable bytes (with
 * the digest of their newest block, read back from `.part`) replaces the
 * control file. One at a time; a failure surfaces on the next
 * {@link Checkpointer.afterAppend}. An interruption makes a last one, in the
 * foreground, of every byte received.
 *
 * @module
 */

import type { Checkpoint } from "../protocol/checkpoint.ts";
import { tailStart } from "../protocol/checkpoint.ts";
import type { CheckpointStore } from "../store/checkpoint_store.ts";
import { digestRange } from "../hashing/file_digest.ts";
import type { ShimFile } from "../runtime/fs_shim.ts";
import type { Validators } from "../protocol/plan.ts";
import type { PartWriter } from "./part_writer.ts";
import { type CheckpointCadence, CheckpointSchedule } from "./checkpoint_schedule.ts";

export type { CheckpointCadence } from "./checkpoint_schedule.ts";

/** What a checkpoint says about the representation besides the durable range. */
export interface CheckpointMeta {
  /** Verification block size. */
  readonly blockSize: number;
  /** The representation's validators and type. */
  readonly validators: Validators;
  /** The representation's length, or `null`. */
  readonly total: number | null;
}

/**
 * Records the durable bytes of one call's writer.
 *
 * @example
 * ```ts ignore
 * // Needs a store, an open .part and its writer; engine/download.ts is the real use.
 * const checkpointer = new Checkpointer(store, file, writer, meta, { bytes: 64 << 20, ms: 1000 }, 0);
 * await writer.append(bytes);
 * await checkpointer.afterAppend();
 * ```
 */
export class Checkpointer {
  readonly #store: CheckpointStore;
  readonly #file: ShimFile;
  readonly #writer: PartWriter;
  readonly #meta: CheckpointMeta;
  readonly #schedule: CheckpointSchedule;
  /** Durable end counted by the newest checkpoint on disk (or the start cursor). */
  #recorded: number;

  /**
   * @param store the control file.
   * @param file `.part` (for the tail digest).
   * @param writer the writer whose durable bytes are recorded.
   * @param meta validators, length and block size.
   * @param cadence how often.
   * @param start the resume cursor (already recorded) or 0.
   */
  constructor(
    store: CheckpointStore,
    file: ShimFile,
    writer: PartWriter,
    meta: CheckpointMeta,
    cadence: CheckpointCadence,
    start: number,
  ) {
    this.#store = store;
    this.#file = file;
    this.#writer = writer;
    this.#meta = meta;
    this.#schedule = new CheckpointSchedule(cadence, start);
    this.#recorded = start;
  }

  /** Bytes counted by the newest checkpoint on disk. */
  get recorded(): number {
    return this.#recorded;
  }

  /**
   * Called after each append: reports a failed background checkpoint, and
   * starts one when due.
   */
  async afterAppend(): Promise<void> {
    const schedule = this.#schedule;
    schedule.throwFailure();
    const accepted = this.#writer.length;
    if (!schedule.due(accepted)) return;
    await schedule.start(accepted, async () => {
      if (this.#writer.durability.poisoned) return false;
      await this.#writer.flush();
      return true;
    }, () => this.#syncAndRecord());
  }

  /**
   * The last checkpoint of an interrupted call: writes what is buffered,
   * syncs every byte written and records them.
   */
  async final(): Promise<void> {
    await this.#schedule.settle();
    try {
      await this.#writer.quiesce();
    } finally {
      // Even after a failed write, the bytes written before it are kept.
      await this.#syncAndRecord();
    }
    this.#schedule.throwFailure();
  }

  /** Waits for a background checkpoint, then reports its failure, if any. */
  async drain(): Promise<void> {
    await this.#schedule.drain();
  }

  /** Waits for a background checkpoint; never throws. */
  async close(): Promise<void> {
    await this.#schedule.settle();
  }

  async #syncAndRecord(): Promise<void> {
    await this.#writer.syncWritten();
    const durability = this.#writer.durability;
    if (durability.poisoned) return;
    const end = durability.durable;
    if (end <= this.#recorded) return;
    const { blockSize, validators, total } = this.#meta;
    const range = { start: 0, end };
    const tailDigest = await digestRange(this.#file, tailStart(range, blockSize), end);
    if (tailDigest === null) throw new Error(`.part ends before byte ${end}`);
    const checkpoint: Checkpoint = {
      blockSize,
      extent: Math.max(this.#writer.extent, end),
      reportedLength: total,
      etag: validators.etag,
      lastModified: validators.lastModified,
      contentType: validators.contentType,
      ranges: [{ ...range, tailDigest }],
    };
    await this.#store.save(checkpoint);
    this.#recorded = end;
  }
}
