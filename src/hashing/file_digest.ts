/**
 * Native digests of files on disk: a destination that already exists (SHA-256,
 * and the algorithm `integrity` asks), and the tail a checkpoint vouches for.
 *
 * @module
 */

import type { FsShim, ShimFile } from "../runtime/fs_shim.ts";
import type { DigestAlgorithm, Digests } from "../runtime/multi_hash.ts";
import { createNativeHash, sha256Bytes } from "../runtime/native_hash.ts";

/** Bytes read (and hashed) per step, so that the event loop runs between them. */
const READ_PIECE = 1 << 20;

/** A whole file's size and hex digests: SHA-256, and `also` if given. */
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

/** The SHA-256 of bytes `[from, to)` (at most a block), or `null` when the file ends before `to`. */
export async function digestRange(
  file: ShimFile,
  from: number,
  to: number,
): Promise<Uint8Array | null> {
  const bytes = new Uint8Array(to - from);
  for (let done = 0; done < bytes.length;) {
    const n = await file.read(bytes.subarray(done), from + done);
    if (n <= 0) return null;
    done += n;
  }
  return sha256Bytes(bytes);
}
