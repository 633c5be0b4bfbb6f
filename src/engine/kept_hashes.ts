/**
 * The live hashers of interrupted calls, kept in this process so that the
 * next call on the same destination (a retry by `haulWithRetry`, `haulAll`
 * or the CLI) continues the SHA-256 instead of hashing `.part` again from
 * byte 0. Bounded: the oldest entries go first.
 *
 * Keyed by the path of `.part` as the call spelled it: two spellings of one
 * file only miss each other. A kept hasher is used only when the verified
 * checkpoint belongs to the same representation (same ETag and
 * Last-Modified) and covers at least the bytes the hasher has seen; so a
 * wrong key could only pair a hasher with the same representation's bytes.
 *
 * @module
 */

import type { NativeHash } from "../runtime/native_hash.ts";

/** A hasher of `.part` bytes `[0, hash.length)` and the representation they belong to. */
export interface KeptHash {
  /** The hasher (its own copy: nothing else feeds it). */
  readonly hash: NativeHash;
  /** The representation's ETag, or `null`. */
  readonly etag: string | null;
  /** The representation's Last-Modified, or `null`. */
  readonly lastModified: string | null;
}

/** Interrupted downloads whose hashers are kept at most (each holds a few hundred bytes). */
const MAX_KEPT = 64;
const kept = new Map<string, KeptHash>();

/**
 * Keeps the hasher of an interrupted call.
 *
 * @param key the `.part` path.
 * @param entry the hasher and its representation.
 *
 * @example
 * ```ts
 * import { keepHash, takeHash } from "./kept_hashes.ts";
 * import { createNativeHash } from "../runtime/native_hash.ts";
 * const hash = createNativeHash();
 * hash.update(new Uint8Array(100));
 * keepHash("/tmp/a.bin.part", { hash, etag: '"v1"', lastModified: null });
 * const fits = takeHash("/tmp/a.bin.part", 4096, { etag: '"v1"', lastModified: null });
 * console.log(fits?.length); // 100
 * ```
 */
export function keepHash(key: string, entry: KeptHash): void {
  kept.delete(key);
  kept.set(key, entry);
  while (kept.size > MAX_KEPT) {
    const oldest = kept.keys().next().value;
    if (oldest === undefined) break;
    kept.delete(oldest);
  }
}

/**
 * Takes (removes and returns) the kept hasher for `key` if it can continue
 * a download resumed at `cursor` with these validators.
 *
 * @param key the `.part` path.
 * @param cursor the verified resume cursor.
 * @param validators the checkpoint's ETag and Last-Modified.
 * @returns the hasher, or `null` (nothing kept, or it does not fit).
 *
 * @example
 * ```ts
 * import { takeHash } from "./kept_hashes.ts";
 * console.log(takeHash("/tmp/none.part", 0, { etag: null, lastModified: null })); // null
 * ```
 */
export function takeHash(
  key: string,
  cursor: number,
  validators: { etag: string | null; lastModified: string | null },
): NativeHash | null {
  const entry = kept.get(key);
  if (entry === undefined) return null;
  kept.delete(key);
  const fits = entry.hash.length <= cursor && entry.etag === validators.etag &&
    entry.lastModified === validators.lastModified;
  return fits ? entry.hash : null;
}

/**
 * Forgets the hasher kept for `key` (the download completed, restarted or was discarded).
 *
 * @param key the `.part` path.
 *
 * @example
 * ```ts
 * import { dropHash } from "./kept_hashes.ts";
 * dropHash("/tmp/a.bin.part");
 * ```
 */
export function dropHash(key: string): void {
  kept.delete(key);
}
