/**
 * The runtime's native SHA-2 (`node:crypto`, which Deno, Bun and Node all provide), the only module
 * that imports it; fast enough to hash on the download's own thread (docs/performance.md). The
 * browser bundle swaps in `browser/hash.ts`, which has the same exports.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { multiHash } from "./multi_hash.ts";
import type { DigestAlgorithm, NativeHash, RunningDigest } from "./multi_hash.ts";

function running(hash: Hash): RunningDigest {
  return {
    update: (bytes) => void hash.update(bytes),
    clone: () => running(hash.copy()),
    hex: () => hash.digest("hex"),
  };
}

/** A new SHA-256 hasher, which also computes `also` over the same bytes. */
export function createNativeHash(also?: DigestAlgorithm): NativeHash {
  return multiHash((name) => running(createHash(name)), also);
}

/** The 32-byte SHA-256 digest of `bytes`, in one call, as a new array. */
export function sha256Bytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}
