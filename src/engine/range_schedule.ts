/**
 * Which bytes each connection fetches next, without I/O: pieces in file
 * order, then half of the open range with the most left (`stealHalf`). A
 * refused range goes back to the pending ones.
 *
 * @module
 */

import { type ByteSpan, gapsOf, mergeSpans, shareGaps, stealHalf } from "./range_split.ts";
import type { PartWriter } from "./part_writer.ts";
import type { Segment } from "./segment.ts";

/**
 * Ranges per connection, taken in file order, so that the contiguous prefix
 * (which the in-order SHA-256 needs) grows steadily.
 */
const PIECES_PER_CONNECTION = 4;

/**
 * The ranges of one call: those started, and the bytes pending.
 *
 * @example
 * ```ts
 * import { RangeSchedule } from "./range_schedule.ts";
 * const schedule = RangeSchedule.of(64 << 20, [], 4, 1 << 20);
 * console.log(schedule.next()); // { start: 0, end: 4194304 }
 * console.log(RangeSchedule.of(null, [{ start: 0, end: 10 }], 1, 1).next()); // { start: 10, end: Infinity }
 * ```
 */
export class RangeSchedule {
  /** The ranges started in this call (a refused one leaves). */
  readonly segments: Segment[] = [];
  /** The durable spans verified at the start of the call (none when fresh). */
  readonly base: readonly ByteSpan[];
  /** Bytes in {@link RangeSchedule.base}. */
  readonly baseBytes: number;
  #pending: ByteSpan[];
  readonly #floor: number;
  /** Why the last range was refused under the same validator, if one was. */
  #refused: string | null = null;

  /**
   * @param base the durable spans verified at the start of the call, merged.
   * @param pending the bytes still to fetch, ascending.
   * @param floor the smallest range worth a connection.
   */
  constructor(base: readonly ByteSpan[], pending: ByteSpan[], floor: number) {
    this.base = base;
    this.baseBytes = base.reduce((sum, span) => sum + span.end - span.start, 0);
    this.#pending = pending;
    this.#floor = floor;
  }

  /**
   * The bytes a call still needs, in file order: the gaps between the
   * verified spans, cut in proportion to their size (one open range after
   * the prefix when the length is unknown).
   *
   * @param total the file's length, or `null`.
   * @param durable the spans verified on disk.
   * @param connections connections that fetch them (1: no split).
   * @param floor the smallest range worth a connection.
   * @returns the schedule.
   */
  static of(
    total: number | null,
    durable: readonly ByteSpan[],
    connections: number,
    floor: number,
  ): RangeSchedule {
    const base = mergeSpans(durable);
    if (total === null) {
      return new RangeSchedule(base, [{ start: base[0]?.end ?? 0, end: Infinity }], floor);
    }
    const pieces = connections === 1 ? 1 : connections * PIECES_PER_CONNECTION;
    return new RangeSchedule(
      base,
      shareGaps(gapsOf(total, base), pieces, floor),
      floor,
    );
  }

  /** Why the last range was refused under the same validator, if one was. */
  get refused(): string | null {
    return this.#refused;
  }

  /** The first pending span, if any is left. */
  get leftOver(): ByteSpan | null {
    return this.#pending[0] ?? null;
  }

  /**
   * The next bytes for a connection: a pending span, else half of an open
   * range; `null` when no work is left.
   *
   * @returns the span, or `null`.
   */
  next(): ByteSpan | null {
    return this.#pending.shift() ?? this.#steal();
  }

  /**
   * Starts a range at `span`.
   *
   * @param span its bytes.
   * @param writer its writer, at `span.start`.
   * @param asked whether its request is still to be answered.
   * @returns the range.
   */
  start(span: ByteSpan, writer: PartWriter, asked: boolean): Segment {
    const segment: Segment = {
      start: span.start,
      end: span.end,
      writer,
      settled: null,
      done: false,
      answer: asked ? Promise.withResolvers<void>() : null,
    };
    this.segments.push(segment);
    return segment;
  }

  /** Half of the open range with the most bytes to come, or `null`. */
  #steal(): ByteSpan | null {
    const open = this.segments.filter((s) =>
      !s.done && s.writer !== null && s.writer.length < s.end
    );
    const steal = stealHalf(
      open.map((s) => ({ start: s.start, cursor: s.writer!.length, end: s.end })),
      this.#floor,
    );
    if (steal === null) return null;
    open[steal.victim]!.end = steal.at;
    return steal.taken;
  }

  /**
   * A range refused under the same validator: nothing of it was written; it
   * leaves the segments and its bytes (its tail may have been taken
   * meanwhile) are pending again, in file order.
   *
   * @param segment the range.
   * @param reason why it was refused.
   */
  giveBack(segment: Segment, reason: string): void {
    this.#refused = `bytes ${segment.start}-${segment.end - 1}: ${reason}`;
    this.segments.splice(this.segments.indexOf(segment), 1);
    const span = { start: segment.start, end: segment.end };
    const at = this.#pending.findIndex((pending) => pending.start > span.start);
    this.#pending.splice(at < 0 ? this.#pending.length : at, 0, span);
  }

  /**
   * At the end of a range whose body goes on (the first response runs to
   * the end of the file; another range may have lost its tail): whether it
   * goes on over the bytes that follow, up to `limit`. It does over pending
   * bytes once a range was refused; it waits for the answer to a range that
   * follows and is still unanswered (refused, that range becomes pending).
   * `false`: the bytes that follow are another connection's, or none.
   *
   * @param segment the range.
   * @param limit the end of the bytes its body carries.
   * @param stop aborted when every range stops.
   * @returns whether it goes on (`segment.end` has moved).
   */
  async carriesOn(segment: Segment, limit: number, stop: AbortSignal): Promise<boolean> {
    if (segment.end >= limit) return false;
    for (;;) {
      if (stop.aborted) return false;
      const next = this.segments.find((s) => s !== segment && s.start === segment.end);
      if (next?.answer) {
        await next.answer.promise;
        continue;
      }
      if (next !== undefined || this.#refused === null) return false;
      const at = this.#pending.findIndex((span) => span.start === segment.end);
      if (at < 0) return false;
      const span = this.#pending[at]!;
      if (span.end > limit) this.#pending[at] = { start: limit, end: span.end };
      else this.#pending.splice(at, 1);
      segment.end = Math.min(span.end, limit);
      return true;
    }
  }

  /**
   * The bytes written so far, verified ones included.
   *
   * @returns disjoint spans, ascending.
   */
  written(): ByteSpan[] {
    return mergeSpans([
      ...this.base,
      ...this.segments.map((s) => ({
        start: s.start,
        end: (s.writer?.durability ?? s.settled!.durability).written,
      })),
    ]);
  }

  /**
   * End of the bytes written without a hole from byte 0.
   *
   * @returns the end.
   */
  writtenPrefix(): number {
    const first = this.written()[0];
    return first !== undefined && first.start === 0 ? first.end : 0;
  }
}
