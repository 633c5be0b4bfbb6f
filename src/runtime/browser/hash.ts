/**
 * The browser bundle's `../native_hash.ts`: the same exports over
 * `@noble/hashes`, an audited streaming SHA-2 in plain JavaScript (WebCrypto's
 * `digest()` only hashes a whole buffer, so it cannot follow a download).
 *
 * @module
 */

import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { bytesToHex, type Hash } from "@noble/hashes/utils.js";
import {
  type DigestAlgorithm,
  multiHash,
  type NativeHash,
  type RunningDigest,
} from "../multi_hash.ts";

function running<T extends Hash<T>>(hash: T): RunningDigest {
  return {
    update: (bytes) => void hash.update(bytes),
    clone: () => running(hash.clone()),
    hex: () => bytesToHex(hash.digest()),
  };
}

/** A new SHA-256 hasher, which also computes `also` over the same bytes. */
export function createNativeHash(also?: DigestAlgorithm): NativeHash {
  return multiHash((name) => running({ sha256, sha384, sha512 }[name].create()), also);
}

/** The 32-byte SHA-256 digest of `bytes`, in one call. */
export function sha256Bytes(bytes: Uint8Array): Uint8Array {
  return sha256(bytes);
}
