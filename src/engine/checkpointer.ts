/**
 * Checkpoints of one call: each counts only what every range's own {@link Durability} says is
 * durable; in the background on the call's cadence (`checkpoint_schedule.ts`), and a last one in
 * the foreground when the call is interrupted.
 *
 * @module
 */

import { type Checkpoint, type DurableRange, tailStart } from "../protocol/checkpoint.ts";
import type { CheckpointStore } from "../store/checkpoint_store.ts";
import { digestRange } from "../hashing/file_digest.ts";
import { FsShimError, type ShimFile } from "../runtime/fs_shim.ts";
import { type CheckpointCadence, CheckpointSchedule } from "./checkpoint_schedule.ts";
import type { PartWriter } from "./part_writer.ts";
import type { RangeSchedule } from "./range_schedule.ts";
import { type ByteSpan, mergeSpans } from "./range_split.ts";

/** What each checkpoint of the call says besides its ranges (`extent`: its least extent). */
type CheckpointMeta = Omit<Checkpoint, "ranges">;

/** The call's ranges: those verified at its start (`base`), and those it writes. */
type Ranges = Pick<RangeSchedule, "base" | "baseBytes" | "segments">;

/** Records the durable bytes of every range of one call. */
export class Checkpointer {
  readonly #store: CheckpointStore;
  readonly #file: ShimFile;
  readonly #meta: CheckpointMeta;
  readonly #schedule: CheckpointSchedule;
  readonly #ranges: Ranges;
  #recorded: number;
  #lastKey = "";
  /** Tail digests of the newest checkpoint, by `tailStart-end`. */
  #digests = new Map<string, Uint8Array>();

  constructor(
    store: CheckpointStore,
    file: ShimFile,
    meta: CheckpointMeta,
    cadence: CheckpointCadence,
    ranges: Ranges,
  ) {
    this.#store = store;
    this.#file = file;
    this.#meta = meta;
    this.#schedule = new CheckpointSchedule(cadence);
    this.#ranges = ranges;
    this.#recorded = ranges.baseBytes;
    this.#lastKey = keyOf(ranges.base);
  }

  /** Bytes counted by the newest checkpoint on disk (or verified at the start). */
  get recorded(): number {
    return this.#recorded;
  }

  /**
   * After each append of a range (`own`): reports a failed background checkpoint (not one that found
   * no room), and starts one when due, flushing only `own` (the others flush in their own streams).
   */
  async afterAppend(own: PartWriter, accepted: number): Promise<void> {
    const schedule = this.#schedule;
    schedule.throwFailure();
    // Other ranges append while this one flushes: the schedule lets one start at a time.
    if (!schedule.due(accepted)) return;
    await schedule.start(accepted, () => own.flush(), () => this.#syncAndRecord(true));
  }

  /** The last checkpoint of an interrupted call, once every stream stopped. */
  async final(): Promise<void> {
    await this.#schedule.settle();
    const writeFailures: unknown[] = [];
    for (const range of this.#ranges.segments) {
      await range.writer.quiesce().catch((error: unknown) => writeFailures.push(error));
    }
    await this.#syncAndRecord();
    this.#schedule.throwFailure();
    if (writeFailures.length > 0) throw writeFailures[0];
  }

  /** Waits for a background checkpoint, then reports its failure, if any. */
  async drain(): Promise<void> {
    await this.#schedule.drain();
  }

  /** Waits for a background checkpoint; never throws. */
  async close(): Promise<void> {
    await this.#schedule.settle();
  }

  async #syncAndRecord(periodic = false): Promise<void> {
    const ranges = [...this.#ranges.segments];
    // Every range's written bytes made durable at once: their syncs are shared (`sharedDatasync`).
    const synced = await Promise.allSettled(ranges.map((range) => range.writer.syncWritten()));
    for (const outcome of synced) if (outcome.status === "rejected") throw outcome.reason;
    if (ranges.some((range) => range.writer.durability.poisoned)) return;
    const spans = mergeSpans([
      ...this.#ranges.base,
      ...ranges.map((range) => ({ start: range.start, end: range.writer.durability.durable })),
    ]);
    const key = keyOf(spans);
    if (spans.length === 0 || key === this.#lastKey) return;
    const { blockSize } = this.#meta;
    const durable: DurableRange[] = [];
    const digests = new Map<string, Uint8Array>();
    for (const span of spans) {
      // A span whose end did not move has the same tail: no need to read it again.
      const key = `${tailStart(span, blockSize)}-${span.end}`;
      const tailDigest = this.#digests.get(key) ??
        await digestRange(this.#file, tailStart(span, blockSize), span.end);
      if (tailDigest === null) throw new Error(`.part ends before byte ${span.end}`);
      digests.set(key, tailDigest);
      durable.push({ ...span, tailDigest });
    }
    const extent = Math.max(
      this.#meta.extent,
      spans[spans.length - 1]!.end,
      ...ranges.map((range) => range.writer.durability.written),
    );
    try {
      await this.#store.save({ ...this.#meta, extent, ranges: durable });
    } catch (error) {
      // A periodic one without room (a full disk, a quota): the last one holds, the download goes on.
      if (periodic && error instanceof FsShimError && /^(ENOSPC|EDQUOT)$/.test(error.code)) return;
      throw error;
    }
    this.#digests = digests;
    this.#lastKey = key;
    this.#recorded = spans.reduce((sum, span) => sum + span.end - span.start, 0);
  }
}

function keyOf(spans: readonly ByteSpan[]): string {
  return spans.map((span) => `${span.start}-${span.end}`).join(",");
}
