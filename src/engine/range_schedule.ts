/**
 * Which bytes each connection fetches next, without I/O: pieces in file order, then half of the
 * open range with the most left (`stealHalf`). A refused range goes back to the pending ones.
 *
 * @module
 */

import { type ByteSpan, gapsOf, mergeSpans, shareGaps, stealHalf } from "./range_split.ts";
import type { PartWriter } from "./part_writer.ts";
import type { Segment } from "./segment.ts";

/** Ranges per connection, in file order, so the prefix the SHA-256 needs grows steadily. */
const PIECES_PER_CONNECTION = 4;

/** The ranges of one call: those started, and the bytes pending. */
export class RangeSchedule {
  /** The ranges started in this call (a refused one leaves). */
  readonly segments: Segment[] = [];
  /** The durable spans verified at the start of the call (none when fresh), and their bytes. */
  readonly base: readonly ByteSpan[];
  readonly baseBytes: number;
  #pending: ByteSpan[];
  readonly #floor: number;
  /** Why the last range was refused under the same validator, if one was. */
  refused: string | null = null;

  /**
   * Pending: the bytes a call still needs, in file order: the gaps between the verified spans, cut
   * in proportion to their size (one open range after the prefix when the length is unknown).
   */
  constructor(
    total: number | null,
    durable: readonly ByteSpan[],
    connections: number,
    floor: number,
  ) {
    const base = this.base = mergeSpans(durable);
    this.baseBytes = base.reduce((sum, span) => sum + span.end - span.start, 0);
    const pieces = connections === 1 ? 1 : connections * PIECES_PER_CONNECTION;
    this.#pending = total === null
      ? [{ start: base[0]?.end ?? 0, end: Infinity }]
      : shareGaps(gapsOf(total, base), pieces, floor);
    this.#floor = floor;
  }

  /** The first pending span, if any is left. */
  get leftOver(): ByteSpan | null {
    return this.#pending[0] ?? null;
  }

  /** The next bytes for a connection: a pending span, else half of an open range, else `null`. */
  next(): ByteSpan | null {
    return this.#pending.shift() ?? this.#steal();
  }

  /** Starts a range at `span`; `asked`: its request is still to be answered. */
  start(span: ByteSpan, writer: PartWriter, asked: boolean): Segment {
    const segment: Segment = {
      ...span,
      writer,
      done: false,
      answer: asked ? Promise.withResolvers<void>() : null,
    };
    this.segments.push(segment);
    return segment;
  }

  /** Half of the open range with the most bytes to come, or `null`. */
  #steal(): ByteSpan | null {
    const open = this.segments.filter((s) => !s.done && s.writer.length < s.end);
    const steal = stealHalf(
      open.map((s) => ({ start: s.start, cursor: s.writer.length, end: s.end })),
      this.#floor,
    );
    if (steal === null) return null;
    open[steal.victim]!.end = steal.at;
    return steal.taken;
  }

  /**
   * A range refused under the same validator, or cut: its bytes not written (its tail may have been
   * taken meanwhile) are pending again, in file order; with none written, it leaves the segments.
   */
  giveBack(segment: Segment, reason: string): void {
    this.refused = `bytes ${segment.start}-${segment.end - 1}: ${reason}`;
    const span = { start: segment.writer.length, end: segment.end };
    if (span.start === segment.start) this.segments.splice(this.segments.indexOf(segment), 1);
    else Object.assign(segment, { end: span.start, done: true });
    if (span.start === span.end) return;
    const at = this.#pending.findIndex((pending) => pending.start > span.start);
    this.#pending.splice(at < 0 ? this.#pending.length : at, 0, span);
  }

  /**
   * Whether a range whose body goes on (up to `limit`) carries on over the pending bytes after it
   * once a range was refused (`segment.end` moves), after waiting for the next range's answer.
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
      if (next !== undefined || this.refused === null) return false;
      const at = this.#pending.findIndex((span) => span.start === segment.end);
      if (at < 0) return false;
      const span = this.#pending[at]!;
      if (span.end > limit) this.#pending[at] = { start: limit, end: span.end };
      else this.#pending.splice(at, 1);
      segment.end = Math.min(span.end, limit);
      return true;
    }
  }

  /** The bytes written so far, verified ones included, merged. */
  written(): ByteSpan[] {
    return mergeSpans([
      ...this.base,
      ...this.segments.map((s) => ({ start: s.start, end: s.writer.durability.written })),
    ]);
  }

  /** End of the bytes written without a hole from byte 0. */
  writtenPrefix(): number {
    const first = this.written()[0];
    return first !== undefined && first.start === 0 ? first.end : 0;
  }
}
