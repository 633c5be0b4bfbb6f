/**
 * Native SHA-256 (`node:crypto`) of files and byte ranges on disk: a
 * destination that already exists, the tail a checkpoint vouches for, and
 * `.part` again when the digest worker failed.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { type FsShim, readFully, type ShimFile } from "../runtime/fs_shim.ts";

const READ_PIECE = 1 << 20;

/**
 * Hashes a whole file in 1 MiB reads.
 *
 * @param fs filesystem shim.
 * @param path the file.
 * @returns its size and hex SHA-256.
 */
export async function digestFile(
  fs: FsShim,
  path: string,
): Promise<{ size: number; sha256: string }> {
  const file = await fs.open(path, "read");
  try {
    return await digestPrefix(file, null);
  } finally {
    await file.close();
  }
}

/**
 * Hashes the first `length` bytes of an open file, or all of it.
 *
 * @param file an open file.
 * @param length bytes to hash, or `null` for everything up to the end.
 * @returns the bytes hashed and the hex SHA-256.
 * @throws {Error} when the file ends before `length` bytes.
 */
export async function digestPrefix(
  file: ShimFile,
  length: number | null,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  const buffer = new Uint8Array(READ_PIECE);
  let position = 0;
  while (length === null || position < length) {
    const want = length === null ? buffer.length : Math.min(buffer.length, length - position);
    const n = await file.read(buffer.subarray(0, want), position);
    if (n <= 0) {
      if (length === null) break;
      throw new Error(`file ended at byte ${position}, expected ${length}`);
    }
    hash.update(buffer.subarray(0, n));
    position += n;
  }
  return { size: position, sha256: hash.digest("hex") };
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
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}
