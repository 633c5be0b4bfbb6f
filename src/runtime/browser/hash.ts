/**
 * The browser's stand-in for `../native_hash.ts` (which imports `node:crypto`):
 * the same exports, backed by `@noble/hashes`, an audited streaming SHA-2 in
 * plain JavaScript. WebCrypto's `digest()` hashes one whole buffer and has no
 * incremental form, so it cannot follow a download. The browser bundle
 * (`scripts/build_browser.ts`) substitutes this module for `native_hash.ts`;
 * the engine does not change.
 *
 * @module
 */

import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import {
  type DigestAlgorithm,
  type Digests,
  multiHash,
  type NativeHash,
  type RunningDigest,
} from "../multi_hash.ts";

export type { DigestAlgorithm, Digests, NativeHash };

/** One running hash of `@noble/hashes`: what this module uses of it. */
interface Running {
  update(bytes: Uint8Array): unknown;
  clone(): Running;
  digest(): Uint8Array;
}

const FACTORIES: Readonly<Record<DigestAlgorithm, () => Running>> = {
  sha256: () => sha256.create(),
  sha384: () => sha384.create(),
  sha512: () => sha512.create(),
};

/** A `@noble/hashes` hash as a running digest. */
function running(hash: Running): RunningDigest {
  return {
    update: (bytes) => void hash.update(bytes),
    clone: () => running(hash.clone()),
    hex: () => bytesToHex(hash.digest()),
  };
}

/**
 * A new streaming SHA-256 hasher, which also computes `also` when given.
 *
 * @param also another algorithm over the same bytes (`undefined` or `"sha256"`: none).
 * @returns a hasher that has seen no bytes.
 *
 * @example
 * ```ts
 * import { createNativeHash } from "./hash.ts";
 * const hash = createNativeHash("sha512");
 * hash.update(new TextEncoder().encode("abc"));
 * const { sha256, sha512 } = hash.digests();
 * console.log(sha256.slice(0, 8), sha512?.slice(0, 8)); // "ba7816bf" "ddaf35a1"
 * ```
 */
export function createNativeHash(also?: DigestAlgorithm): NativeHash {
  return multiHash((name) => running(FACTORIES[name]()), also);
}

/**
 * The 32-byte SHA-256 digest of `bytes`, in one call.
 *
 * @param bytes the input.
 * @returns a new 32-byte array.
 *
 * @example
 * ```ts
 * import { sha256Bytes } from "./hash.ts";
 * console.log(sha256Bytes(new Uint8Array(0))[0]); // 227 (0xe3)
 * ```
 */
export function sha256Bytes(bytes: Uint8Array): Uint8Array {
  return sha256(bytes);
}
