/**
 * Byte spans of a multi-range download, decided without I/O: the first split into contiguous
 * ranges, work stealing (so the end of the file is never left to one slow connection), and the
 * ledger of a checkpoint (durable spans merged, the gaps a resume still has to fetch).
 *
 * @module
 */

import { MAX_RANGES } from "../protocol/checkpoint.ts";

/** Bytes `[start, end)` of the file. */
export interface ByteSpan {
  readonly start: number;
  readonly end: number;
}

/** A range being fetched: bytes `[start, cursor)` have arrived. */
export interface OpenRange extends ByteSpan {
  readonly cursor: number;
}

/** Cut points are rounded down to this many bytes, so ranges stay page-aligned. */
export const SPLIT_ALIGNMENT = 64 * 1024;

/** `[0, total)` in at most `connections` contiguous ranges of at least `floor` bytes, in order. */
export function splitRanges(total: number, connections: number, floor: number): ByteSpan[] {
  const count = Math.max(1, Math.min(connections, Math.floor(total / floor)));
  const spans: ByteSpan[] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const end = i === count - 1 ? total : cutPoint(start, start + (total - start) / (count - i));
    spans.push({ start, end });
    start = end;
  }
  return spans;
}

/**
 * The range an idle connection takes over: the second half of the open range with the most bytes
 * still to come, if both halves keep `floor` bytes. The caller shortens `open[victim]` to `at`.
 */
export function stealHalf(
  open: readonly OpenRange[],
  floor: number,
): { readonly victim: number; readonly at: number; readonly taken: ByteSpan } | null {
  const left = open.map((range) => range.end - range.cursor);
  const most = Math.max(0, ...left);
  const victim = left.indexOf(most);
  if (most === 0 || most < 2 * floor) return null;
  const range = open[victim]!;
  const at = cutPoint(range.cursor, range.cursor + most / 2);
  if (at - range.cursor < floor || range.end - at < floor) return null;
  return { victim, at, taken: { start: at, end: range.end } };
}

/** `ideal` rounded down to {@link SPLIT_ALIGNMENT}, but never at or below `after`. */
function cutPoint(after: number, ideal: number): number {
  const aligned = Math.floor(ideal / SPLIT_ALIGNMENT) * SPLIT_ALIGNMENT;
  return aligned > after ? aligned : Math.max(after + 1, Math.floor(ideal));
}

/**
 * Spans sorted, empty ones dropped, touching or overlapping ones merged. Past {@link MAX_RANGES},
 * only the largest are kept: a span left out is merely fetched again.
 */
export function mergeSpans(spans: readonly ByteSpan[]): ByteSpan[] {
  const sorted = spans.filter((span) => span.end > span.start).sort((a, b) => a.start - b.start);
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

/** The bytes of `[0, total)` that no span covers; `spans` as {@link mergeSpans} returns them. */
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

/** The gaps cut into about `count` pieces, each in proportion to its size (at least one). */
export function shareGaps(gaps: readonly ByteSpan[], count: number, floor: number): ByteSpan[] {
  const missing = gaps.reduce((sum, gap) => sum + gap.end - gap.start, 0);
  const pieces: ByteSpan[] = [];
  for (const gap of gaps) {
    const length = gap.end - gap.start;
    const share = Math.max(1, Math.round(count * length / missing));
    for (const piece of splitRanges(length, share, floor)) {
      pieces.push({ start: gap.start + piece.start, end: gap.start + piece.end });
    }
  }
  return pieces;
}
