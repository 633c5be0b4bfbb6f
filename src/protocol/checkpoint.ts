/**
 * The checkpoint: what `<dest>.part.ctrl` records about a download in
 * progress (encoded by `store/control_file.ts`, see `docs/control-file.md`).
 *
 * @module
 */

/** Bytes `[start, end)` of `.part` that are durable: an `fdatasync` begun after their writes returned. */
export interface DurableRange {
  readonly start: number;
  readonly end: number;
  /** SHA-256 of bytes `[tailStart(range), end)`, which a resume reads back before trusting the range. */
  readonly tailDigest: Uint8Array;
}

/**
 * Everything needed to resume safely (no hash state: a resume hashes the bytes on disk again), one
 * range per span filled; the invariants are {@link checkpointViolation}'s.
 */
export interface Checkpoint {
  /** Verification block size in bytes: the most a resume reads back per range. */
  readonly blockSize: number;
  /** High-water mark of bytes written to `.part` (bytes past the ranges are junk). */
  readonly extent: number;
  /** Total length of the representation as the server reported it, or `null` if unknown. */
  readonly reportedLength: number | null;
  /** The `ETag` the server sent (weak ones keep their `W/`), or `null`. */
  readonly etag: string | null;
  readonly lastModified: string | null;
  readonly contentType: string | null;
  /** The durable ranges of `.part`, ascending, each ending before the next begins. */
  readonly ranges: readonly DurableRange[];
}

/** The most ranges a checkpoint holds. */
export const MAX_RANGES = 64;

/**
 * What is wrong with checkpoint `c` (its types first, then its invariants), or `null`: the control
 * file's encoder and decoder both ask it, so they accept exactly the same values.
 */
export function checkpointViolation(c: Checkpoint): string | null {
  const wrongType = typeViolation(c);
  if (wrongType !== null) return wrongType;
  if (c.blockSize === 0 || c.blockSize % 64 !== 0) {
    return `blockSize ${c.blockSize} is not a positive multiple of 64`;
  }
  if (c.ranges.length === 0) return "there are no ranges";
  if (c.ranges.length > MAX_RANGES) return `${c.ranges.length} ranges, more than ${MAX_RANGES}`;
  let previousEnd = -1;
  for (const [i, range] of c.ranges.entries()) {
    if (range.start >= range.end) return `range ${i} [${range.start}, ${range.end}) is empty`;
    if (range.start <= previousEnd) {
      return `range ${i} starts at ${range.start}, not after the previous range's end ${previousEnd}`;
    }
    if (range.tailDigest.length !== 32) {
      return `range ${i}'s tailDigest has ${range.tailDigest.length} bytes, expected 32`;
    }
    previousEnd = range.end;
  }
  if (c.extent < previousEnd) {
    return `extent ${c.extent} is below the last range's end ${previousEnd}`;
  }
  if (c.reportedLength !== null && previousEnd > c.reportedLength) {
    return `the last range ends at ${previousEnd}, beyond reportedLength ${c.reportedLength}`;
  }
  return null;
}

/** Where a range's tail digest begins: at most one block before its end, never before its start. */
export function tailStart(range: Pick<DurableRange, "start" | "end">, blockSize: number): number {
  return Math.max(range.start, range.end - blockSize);
}

/** The end of the durable range at byte 0 (0 when none): where a single-connection resume continues. */
export function durablePrefix(checkpoint: Pick<Checkpoint, "ranges">): number {
  const first = checkpoint.ranges[0];
  return first !== undefined && first.start === 0 ? first.end : 0;
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function typeViolation(c: Checkpoint): string | null {
  if (typeof c !== "object" || c === null) return "checkpoint is not an object";
  for (const name of ["blockSize", "extent"] as const) {
    if (!isCount(c[name])) return `${name} ${String(c[name])} is not a safe non-negative integer`;
  }
  if (c.reportedLength !== null && !isCount(c.reportedLength)) {
    const shown = String(c.reportedLength);
    return `reportedLength ${shown} is neither null nor a safe non-negative integer`;
  }
  if (!Array.isArray(c.ranges)) return "ranges is not an array";
  for (const [i, range] of (c.ranges as readonly DurableRange[]).entries()) {
    if (typeof range !== "object" || range === null) return `range ${i} is not an object`;
    for (const name of ["start", "end"] as const) {
      if (!isCount(range[name])) {
        return `range ${i}'s ${name} ${String(range[name])} is not a safe non-negative integer`;
      }
    }
    if (!(range.tailDigest instanceof Uint8Array)) {
      return `range ${i}'s tailDigest is not a Uint8Array`;
    }
  }
  for (const name of ["etag", "lastModified", "contentType"] as const) {
    const value: unknown = c[name];
    if (value === null) continue;
    if (typeof value !== "string") return `${name} is neither null nor a string`;
    if (!value.isWellFormed()) return `${name} contains a lone surrogate (not valid Unicode)`;
  }
  return null;
}
