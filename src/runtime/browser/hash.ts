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
import type { DigestAlgorithm, Digests, NativeHash } from "../native_hash.ts";

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

class NobleHash implements NativeHash {
  readonly #hashes: readonly (readonly [DigestAlgorithm, Running])[];
  #length: number;

  constructor(hashes: readonly (readonly [DigestAlgorithm, Running])[], length: number) {
    this.#hashes = hashes;
    this.#length = length;
  }

  get length(): number {
    return this.#length;
  }

  update(bytes: Uint8Array): void {
    for (const [, hash] of this.#hashes) hash.update(bytes);
    this.#length += bytes.length;
  }

  copy(): NativeHash {
    return new NobleHash(this.#hashes.map(([name, hash]) => [name, hash.clone()]), this.#length);
  }

  digests(): Digests {
    const digests: { -readonly [A in keyof Digests]: string } = { sha256: "" };
    for (const [name, hash] of this.#hashes) digests[name] = bytesToHex(hash.digest());
    return digests;
  }
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
  const names: DigestAlgorithm[] = also === undefined || also === "sha256"
    ? ["sha256"]
    : ["sha256", also];
  return new NobleHash(names.map((name) => [name, FACTORIES[name]()]), 0);
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
