/**
 * SHA-256 of a file already on disk (for a destination that exists).
 *
 * @module
 */

import type { FsShim } from "./fs/fs_shim.ts";
import { Sha256 } from "./sha256.ts";

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
    const hasher = new Sha256();
    const buffer = new Uint8Array(1 << 20);
    let position = 0;
    for (;;) {
      const n = await file.read(buffer, position);
      if (n === 0) break;
      hasher.update(buffer.subarray(0, n));
      position += n;
    }
    return { size: position, sha256: hasher.hex() };
  } finally {
    await file.close();
  }
}
