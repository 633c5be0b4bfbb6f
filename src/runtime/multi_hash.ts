/**
 * The hasher the engine feeds: SHA-256 always, and the one other algorithm
 * `integrity` asks for, over the same bytes. Its backend is `native_hash.ts`
 * (`node:crypto`) or, in the browser bundle, `browser/hash.ts` (`@noble/hashes`).
 *
 * @module
 */

/** The digest algorithms haul computes: SHA-256 always, another when `integrity` asks. */
export type DigestAlgorithm = "sha256" | "sha384" | "sha512";

/** Hex digests of one input: SHA-256, and the other algorithm asked, if any. */
export type Digests =
  & { readonly sha256: string }
  & Partial<Readonly<Record<DigestAlgorithm, string>>>;

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

/** One running digest of a backend; `hex()` ends it. */
export interface RunningDigest {
  update(bytes: Uint8Array): void;
  clone(): RunningDigest;
  hex(): string;
}

/** A hasher of SHA-256 and `also` (none when `undefined` or `"sha256"`), each digest opened by `open`. */
export function multiHash(
  open: (algorithm: DigestAlgorithm) => RunningDigest,
  also?: DigestAlgorithm,
): NativeHash {
  const names = new Set<DigestAlgorithm>(["sha256", also ?? "sha256"]);
  return hasher([...names].map((name) => [name, open(name)]), 0);
}

function hasher(running: readonly [DigestAlgorithm, RunningDigest][], length: number): NativeHash {
  return {
    get length(): number {
      return length;
    },
    update(bytes: Uint8Array): void {
      for (const [, digest] of running) digest.update(bytes);
      length += bytes.length;
    },
    copy: () => hasher(running.map(([name, digest]) => [name, digest.clone()]), length),
    digests: () => ({
      sha256: "",
      ...Object.fromEntries(running.map(([name, digest]) => [name, digest.hex()])),
    }),
  };
}
