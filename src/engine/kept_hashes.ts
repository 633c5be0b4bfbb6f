/**
 * The live hasher of an interrupted attempt, handed to the next attempt of
 * the same retry loop (`haulWithRetry()`, and so `haulAll()` and the CLI), so
 * that it continues the SHA-256 instead of hashing `.part` again from byte 0.
 * Each loop owns one; nothing is shared between calls.
 *
 * A kept hasher is used only when the verified checkpoint belongs to the same
 * representation (same ETag and Last-Modified) and covers at least the bytes
 * the hasher has seen.
 *
 * @module
 */

import type { NativeHash } from "../runtime/multi_hash.ts";

/** A hasher of `.part` bytes `[0, hash.length)` and the representation they belong to. */
interface KeptHash {
  /** The hasher (its own copy: nothing else feeds it). */
  readonly hash: NativeHash;
  /** The representation's ETag, or `null`. */
  readonly etag: string | null;
  /** The representation's Last-Modified, or `null`. */
  readonly lastModified: string | null;
}

/** One retry loop's kept hasher, between two attempts. */
export class KeptHasher {
  #entry: KeptHash | null = null;

  /**
   * Keeps the hasher of an interrupted attempt (replacing any earlier one).
   *
   * @param entry the hasher and its representation.
   */
  keep(entry: KeptHash): void {
    this.#entry = entry;
  }

  /**
   * Takes the kept hasher if it fits a resume from `cursor` of this
   * representation; either way nothing stays kept.
   *
   * @param cursor the verified checkpoint's cursor.
   * @param validators the checkpoint's representation.
   * @returns the hasher, or `null`.
   */
  take(
    cursor: number,
    validators: { etag: string | null; lastModified: string | null },
  ): NativeHash | null {
    const entry = this.#entry;
    this.#entry = null;
    if (entry === null) return null;
    const fits = entry.hash.length <= cursor && entry.etag === validators.etag &&
      entry.lastModified === validators.lastModified;
    return fits ? entry.hash : null;
  }

  /** Forgets the kept hasher (the download restarted, completed or went out of order). */
  drop(): void {
    this.#entry = null;
  }
}
