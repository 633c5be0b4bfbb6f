/**
 * The checkpoint: what `<dest>.part.ctrl` records about a download in
 * progress. The binary encoding lives in `control_file.ts`
 * (see `docs/control-file.md`).
 *
 * @module
 */

/**
 * A SHA-256 computation paused after `length` bytes: the eight chaining words
 * and the `length % 64` bytes not yet compressed. Feeding the remaining bytes
 * into a hasher restored from it yields the digest of the whole input.
 */
export interface Sha256State {
  /** Chaining words H0..H7 (eight unsigned 32-bit values). */
  readonly words: Uint32Array;
  /** Total bytes fed so far. */
  readonly length: number;
  /** The last `length % 64` bytes fed, not yet compressed. */
  readonly pending: Uint8Array;
}

/**
 * Everything needed to resume a download safely.
 *
 * Invariants (the decoder enforces them): `start <= anchor <= cursor`,
 * `cursor - anchor <= blockSize`, `anchor % blockSize === 0`, `blockSize % 64 === 0`,
 * `anchorHash.length === anchor`, `cursorHash.length === cursor`,
 * `extent >= cursor`, and `cursor <= reportedLength` when the length is known.
 */
export interface Checkpoint {
  /** Offset in the representation where `.part` byte 0 belongs. Always 0 in format v1. */
  readonly start: number;
  /** Bytes at the start of `.part` that are durable and correct. */
  readonly cursor: number;
  /** Verification block size in bytes (a multiple of 64). */
  readonly blockSize: number;
  /** High-water mark of bytes written to `.part` (may exceed `cursor`; the excess is junk). */
  readonly extent: number;
  /** Total length of the representation as the server reported it, or `null` if unknown. */
  readonly reportedLength: number | null;
  /** The `ETag` the server sent (weak ones keep their `W/`), or `null`. */
  readonly etag: string | null;
  /** The `Last-Modified` the server sent, or `null`. */
  readonly lastModified: string | null;
  /** The `Content-Type` the server sent, or `null`. */
  readonly contentType: string | null;
  /**
   * The last verified point: a multiple of `blockSize` within one block below
   * `cursor` (haul keeps it strictly below a non-zero cursor, so that a resume
   * always re-reads and checks between 1 and `blockSize` bytes).
   */
  readonly anchor: number;
  /** SHA-256 state after the first `anchor` bytes. */
  readonly anchorHash: Sha256State;
  /** SHA-256 state after the first `cursor` bytes. */
  readonly cursorHash: Sha256State;
}
