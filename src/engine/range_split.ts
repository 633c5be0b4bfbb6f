/**
 * How a file is shared out among several connections, decided without I/O:
 * the first split into contiguous ranges, and work stealing (a connection
 * that finishes takes over the second half of the range with the most bytes
 * still to come), so the end of the file is never left to one slow connection.
 *
 * Offsets are byte positions in the file; a range is half-open, `[start, end)`.
 *
 * @module
 */

/** A part of the file one connection fetches: bytes `[start, end)`. */
export interface ByteSpan {
  /** First byte of the range. */
  readonly start: number;
  /** One past the last byte of the range. */
  readonly end: number;
}

/** A range being fetched: where it stands now. */
export interface OpenRange extends ByteSpan {
  /** Bytes `[start, cursor)` have arrived; `start <= cursor <= end`. */
  readonly cursor: number;
}

/** The outcome of a steal: which range gives up its tail, and where it is cut. */
interface Steal {
  /** Index, in the list given, of the range that is shortened. */
  readonly victim: number;
  /** The victim's new end, and the start of the new range. */
  readonly at: number;
  /** The new range for the idle connection: `[at, victim's old end)`. */
  readonly taken: ByteSpan;
}

/** Cut points are rounded down to this many bytes, so ranges stay page-aligned. */
export const SPLIT_ALIGNMENT = 64 * 1024;

/**
 * Splits `[0, total)` into at most `connections` contiguous ranges of at
 * least `floor` bytes each (the last may be longer), in file order. Fewer
 * ranges when the file is too small to give each its floor; one range when
 * `total` is below `2 * floor`.
 *
 * @param total the file's length in bytes (> 0).
 * @param connections how many ranges are wanted (>= 1).
 * @param floor the smallest range worth a connection (> 0).
 * @returns the ranges, covering `[0, total)` without gaps or overlaps.
 */
export function splitRanges(total: number, connections: number, floor: number): ByteSpan[] {
  if (!Number.isSafeInteger(total) || total <= 0) {
    throw new RangeError(`Invalid total: ${total}: a positive byte count is needed`);
  }
  if (!Number.isSafeInteger(connections) || connections < 1) {
    throw new RangeError(`Invalid connections: ${connections}: use a whole number from 1`);
  }
  if (!(floor > 0)) throw new RangeError(`Invalid floor: ${floor}: use a positive byte count`);
  const count = Math.max(1, Math.min(connections, Math.floor(total / floor)));
  const spans: ByteSpan[] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const remaining = count - i;
    const end = i === count - 1 ? total : cutPoint(start, start + (total - start) / remaining);
    spans.push({ start, end });
    start = end;
  }
  return spans;
}

/**
 * Chooses the range an idle connection takes over: the open range with the
 * most bytes still to come gives up its second half, if both halves keep at
 * least `floor` bytes. Pure: the caller applies the result (shortens the
 * victim to `at`, starts a connection for `taken`).
 *
 * @param open the ranges still being fetched.
 * @param floor the smallest range worth a connection (> 0).
 * @returns the steal, or `null` when no range is worth splitting.
 */
export function stealHalf(open: readonly OpenRange[], floor: number): Steal | null {
  const victim = mostLeft(open);
  if (victim < 0) return null;
  const range = open[victim]!;
  const most = range.end - range.cursor;
  if (most < 2 * floor) return null;
  const at = cutPoint(range.cursor, range.cursor + most / 2);
  if (at - range.cursor < floor || range.end - at < floor) return null;
  return { victim, at, taken: { start: at, end: range.end } };
}

/** Index of the open range with the most bytes still to come; -1 when none has any. */
function mostLeft(open: readonly OpenRange[]): number {
  let index = -1;
  let most = 0;
  for (let i = 0; i < open.length; i++) {
    const left = open[i]!.end - open[i]!.cursor;
    if (left > most) {
      most = left;
      index = i;
    }
  }
  return index;
}

/** `ideal` rounded down to {@link SPLIT_ALIGNMENT}, but never at or below `after`. */
function cutPoint(after: number, ideal: number): number {
  const aligned = Math.floor(ideal / SPLIT_ALIGNMENT) * SPLIT_ALIGNMENT;
  return aligned > after ? aligned : Math.max(after + 1, Math.floor(ideal));
}
