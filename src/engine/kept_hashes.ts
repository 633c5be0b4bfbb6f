/**
 * The live hasher of an interrupted attempt, handed to the next attempt of the retry loop that owns
 * it (nothing is shared between calls): it continues the SHA-256 instead of hashing `.part` again.
 *
 * @module
 */

import type { Validators } from "../protocol/plan.ts";
import type { NativeHash } from "../runtime/multi_hash.ts";

/** A hasher (its own copy) of `.part` bytes `[0, hash.length)`, and their representation. */
type KeptHash = { readonly hash: NativeHash } & Pick<Validators, "etag" | "lastModified">;

/** One retry loop's kept hasher, between two attempts. */
export class KeptHasher {
  #entry: KeptHash | null = null;

  /** Keeps the hasher of an interrupted attempt (replacing any earlier one). */
  keep(entry: KeptHash): void {
    this.#entry = entry;
  }

  /**
   * Takes the kept hasher if it fits a resume from `cursor` of the same representation (same ETag
   * and Last-Modified, no byte past `cursor` seen); either way nothing stays kept.
   */
  take(cursor: number, validators: Omit<KeptHash, "hash">): NativeHash | null {
    const entry = this.#entry;
    this.#entry = null;
    const fits = entry !== null && entry.hash.length <= cursor && entry.etag === validators.etag &&
      entry.lastModified === validators.lastModified;
    return fits ? entry.hash : null;
  }

  /** Forgets the kept hasher (the download restarted, completed or went out of order). */
  drop(): void {
    this.#entry = null;
  }
}
