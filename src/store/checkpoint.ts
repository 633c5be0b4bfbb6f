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
 * Two lengths matter. `cursor` is how many bytes at the start of `.part` are
 * durable (synced before this checkpoint was written): a resume asks the
 * server for the bytes after it. `hash.length` is how many of those bytes the
 * resumable hash has covered; it may trail `cursor` (the hash follows the file
 * on another thread and may fall behind on a fast link), and a resume hashes
 * the bytes in between again, from disk. `tailDigest` lets a resume check the
 * newest durable bytes, which the hash state does not cover.
 *
 * Invariants (the decoder enforces them): `start <= anchor <= hash.length <= cursor`,
 * `hash.length - anchor <= blockSize`, `anchor % blockSize === 0`,
 * `blockSize % 64 === 0`, `anchorHash.length === anchor`, `extent >= cursor`,
 * `cursor <= reportedLength` when the length is known, and `tailDigest` is
 * `null` exactly when {@link tailStart} equals `cursor`.
 */
export interface Checkpoint {
  /** Offset in the representation where `.part` byte 0 belongs. Always 0 in format v2. */
  readonly start: number;
  /** Bytes at the start of `.part` that are durable: where a resume continues. */
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
   * `hash.length` (haul keeps it strictly below a non-zero `hash.length`, so
   * that a resume always re-reads and checks between 1 and `blockSize` bytes).
   */
  readonly anchor: number;
  /** SHA-256 state after the first `anchor` bytes. */
  readonly anchorHash: Sha256State;
  /** SHA-256 state after the first `hash.length` bytes (`hash.length <= cursor`). */
  readonly hash: Sha256State;
  /**
   * SHA-256 digest (32 bytes) of `.part` bytes `[tailStart(c), cursor)`, or
   * `null` when that range is empty (the hash covers every durable byte).
   */
  readonly tailDigest: Uint8Array | null;
}

/**
 * Where the range covered by {@link Checkpoint.tailDigest} begins: after the
 * hashed bytes, and at most one block before the cursor.
 *
 * @param checkpoint the checkpoint.
 * @returns `max(hash.length, cursor - blockSize)`.
 *
 * @example
 * ```ts
 * import { tailStart } from "./checkpoint.ts";
 * const hash = { words: new Uint32Array(8), length: 100, pending: new Uint8Array(36) };
 * console.log(tailStart({ cursor: 5000, blockSize: 1024, hash })); // 3976
 * ```
 */
export function tailStart(
  checkpoint: Pick<Checkpoint, "cursor" | "blockSize" | "hash">,
): number {
  return Math.max(checkpoint.hash.length, checkpoint.cursor - checkpoint.blockSize);
}
