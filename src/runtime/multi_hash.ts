/**
 * The hasher the engine feeds, whatever computes the digests: SHA-256
 * always, and the one other algorithm `integrity` asks for, fed the same
 * bytes. `native_hash.ts` backs it with `node:crypto`, the browser build's
 * `browser/hash.ts` with `@noble/hashes`; this module imports neither.
 *
 * @module
 */

/** The digest algorithms haul computes: SHA-256 always, another when `integrity` asks. */
export type DigestAlgorithm = "sha256" | "sha384" | "sha512";

/** Hex digests of one input: SHA-256, and the other algorithm asked, if any. */
export interface Digests {
  /** SHA-256, always. */
  readonly sha256: string;
  /** SHA-384, when asked. */
  readonly sha384?: string;
  /** SHA-512, when asked. */
  readonly sha512?: string;
}

/** A running SHA-256 (and the other algorithm asked) over bytes fed in order. */
export interface NativeHash {
  /** Bytes fed so far. */
  readonly length: number;
  /** Feeds the next bytes (not retained after the call). */
  update(bytes: Uint8Array): void;
  /** An independent hasher in the same state (this one keeps going). */
  copy(): NativeHash;
  /** Hex digests of everything fed; the hasher cannot be used afterwards. */
  digests(): Digests;
}

/** One running digest of a backend. */
export interface RunningDigest {
  /** Feeds bytes. */
  update(bytes: Uint8Array): void;
  /** An independent digest in the same state. */
  clone(): RunningDigest;
  /** The hex digest; the digest cannot be used afterwards. */
  hex(): string;
}

class MultiHash implements NativeHash {
  readonly #running: readonly (readonly [DigestAlgorithm, RunningDigest])[];
  #length: number;

  constructor(running: readonly (readonly [DigestAlgorithm, RunningDigest])[], length: number) {
    this.#running = running;
    this.#length = length;
  }

  get length(): number {
    return this.#length;
  }

  update(bytes: Uint8Array): void {
    for (const [, digest] of this.#running) digest.update(bytes);
    this.#length += bytes.length;
  }

  copy(): NativeHash {
    return new MultiHash(this.#running.map(([name, d]) => [name, d.clone()]), this.#length);
  }

  digests(): Digests {
    const digests: { -readonly [A in keyof Digests]: string } = { sha256: "" };
    for (const [name, digest] of this.#running) digests[name] = digest.hex();
    return digests;
  }
}

/**
 * A hasher of SHA-256 and `also` (`undefined` or `"sha256"`: nothing more),
 * each opened by `open`.
 *
 * @param open starts a running digest of an algorithm.
 * @param also the other algorithm asked, if any.
 * @returns a hasher that has seen no bytes.
 *
 * @example
 * ```ts
 * import { multiHash } from "./multi_hash.ts";
 * let fed = 0;
 * const open = () => ({ update: (b: Uint8Array) => void (fed += b.length), clone: open, hex: () => String(fed) });
 * const hash = multiHash(open);
 * hash.update(new Uint8Array(3));
 * console.log(hash.length, hash.digests()); // 3 { sha256: "3" }
 * ```
 */
export function multiHash(
  open: (algorithm: DigestAlgorithm) => RunningDigest,
  also?: DigestAlgorithm,
): NativeHash {
  const names: DigestAlgorithm[] = also === undefined || also === "sha256"
    ? ["sha256"]
    : ["sha256", also];
  return new MultiHash(names.map((name) => [name, open(name)]), 0);
}
