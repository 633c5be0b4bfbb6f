/**
 * Native digests of files and byte ranges on disk: a destination that already
 * exists (SHA-256, and the algorithm `integrity` asks), and the tail a
 * checkpoint vouches for (SHA-256).
 *
 * @module
 */

import { type FsShim, readFully, type ShimFile } from "../runtime/fs_shim.ts";
import {
  createNativeHash,
  type DigestAlgorithm,
  type Digests,
  sha256Bytes,
} from "../runtime/native_hash.ts";

/** Bytes read (and hashed) per step: ~0.6 ms of hashing, then the event loop runs again. */
export const READ_PIECE = 1 << 20;

/**
 * Reads back the next piece of `.part` to hash: up to `buffer.length` bytes
 * at `at`, short of `end` (what is known to be written).
 *
 * @param file `.part`, open for reading.
 * @param buffer where to read (its length is the most read).
 * @param at where the hash stands.
 * @param end the end of the written bytes (> `at`).
 * @returns the bytes read, a view of `buffer`.
 * @throws {Error} when `.part` ends before `end`.
 */
export async function readPiece(
  file: ShimFile,
  buffer: Uint8Array,
  at: number,
  end: number,
): Promise<Uint8Array> {
  const view = buffer.subarray(0, Math.min(buffer.length, end - at));
  const n = await file.read(view, at);
  if (n <= 0) throw new Error(`.part ended at byte ${at}, before the ${end} written`);
  return view.subarray(0, n);
}

/**
 * Hashes a whole file in 1 MiB reads.
 *
 * @param fs filesystem shim.
 * @param path the file.
 * @param also another algorithm to compute beside SHA-256, if any.
 * @returns its size and hex digests.
 */
export async function digestFile(
  fs: FsShim,
  path: string,
  also?: DigestAlgorithm,
): Promise<{ size: number } & Digests> {
  const file = await fs.open(path, "read");
  try {
    const hash = createNativeHash(also);
    const buffer = new Uint8Array(READ_PIECE);
    for (;;) {
      const n = await file.read(buffer, hash.length);
      if (n <= 0) break;
      hash.update(buffer.subarray(0, n));
    }
    return { size: hash.length, ...hash.digests() };
  } finally {
    await file.close();
  }
}

/**
 * The SHA-256 digest of bytes `[from, to)` of an open file (one read; meant
 * for ranges of at most a block).
 *
 * @param file an open file.
 * @param from first byte.
 * @param to end (exclusive).
 * @returns the 32-byte digest, or `null` when the file ends before `to`.
 */
export async function digestRange(
  file: ShimFile,
  from: number,
  to: number,
): Promise<Uint8Array | null> {
  const bytes = new Uint8Array(to - from);
  if (!(await readFully(file, bytes, from))) return null;
  return sha256Bytes(bytes);
}
