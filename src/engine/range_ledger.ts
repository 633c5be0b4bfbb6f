/**
 * Which bytes of a multi-range download are on disk, decided without I/O:
 * the durable spans to record in a checkpoint (sorted, adjacent ones merged,
 * at most {@link MAX_RANGES}), and the gaps a resume still has to fetch.
 *
 * @module
 */

import { MAX_RANGES } from "../protocol/checkpoint.ts";
import type { ByteSpan } from "./range_split.ts";

/**
 * Sorts spans, drops empty ones and merges those that touch or overlap. When
 * more than {@link MAX_RANGES} remain, only the largest are kept (a span left
 * out is merely fetched again: forgetting durable bytes is always safe).
 *
 * @param spans durable spans, in any order.
 * @returns disjoint, non-adjacent spans in ascending order.
 */
export function mergeSpans(spans: readonly ByteSpan[]): ByteSpan[] {
  const sorted = spans.filter((span) => span.end > span.start)
    .sort((a, b) => a.start - b.start);
  const merged: ByteSpan[] = [];
  for (const span of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && span.start <= last.end) {
      if (span.end > last.end) merged[merged.length - 1] = { start: last.start, end: span.end };
    } else {
      merged.push({ start: span.start, end: span.end });
    }
  }
  if (merged.length <= MAX_RANGES) return merged;
  return merged.map((span, index) => ({ span, index }))
    .sort((a, b) => (b.span.end - b.span.start) - (a.span.end - a.span.start) || a.index - b.index)
    .slice(0, MAX_RANGES)
    .sort((a, b) => a.index - b.index)
    .map((entry) => entry.span);
}

/**
 * The bytes of `[0, total)` that no span covers.
 *
 * @param total the file's length.
 * @param spans disjoint spans in ascending order (as {@link mergeSpans} returns).
 * @returns the gaps, ascending.
 */
export function gapsOf(total: number, spans: readonly ByteSpan[]): ByteSpan[] {
  const gaps: ByteSpan[] = [];
  let at = 0;
  for (const span of spans) {
    if (span.start > at) gaps.push({ start: at, end: Math.min(span.start, total) });
    at = Math.max(at, span.end);
  }
  if (at < total) gaps.push({ start: at, end: total });
  return gaps.filter((gap) => gap.end > gap.start);
}

/**
 * Shares gaps out among connections: each gap gets a number of pieces
 * proportional to its size (at least one), each piece at least `floor`
 * bytes when the gap allows.
 *
 * @param gaps the bytes to fetch.
 * @param connections how many connections there are.
 * @param floor the smallest piece worth a connection.
 * @param split the first split (`splitRanges`).
 * @returns the pieces, ascending.
 */
export function shareGaps(
  gaps: readonly ByteSpan[],
  connections: number,
  floor: number,
  split: (total: number, connections: number, floor: number) => ByteSpan[],
): ByteSpan[] {
  const missing = gaps.reduce((sum, gap) => sum + gap.end - gap.start, 0);
  const pieces: ByteSpan[] = [];
  for (const gap of gaps) {
    const length = gap.end - gap.start;
    const share = Math.max(1, Math.round(connections * length / missing));
    for (const piece of split(length, share, floor)) {
      pieces.push({ start: gap.start + piece.start, end: gap.start + piece.end });
    }
  }
  return pieces;
}
