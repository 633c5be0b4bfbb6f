/**
 * The end of every download that completes (the last byte streamed, or a
 * 416 that says the checkpoint already covers the file), in one place:
 *
 * 1. cut `.part` to the verified length, set its mtime (`remoteTime`), `fsync`;
 * 2. compute the digests and close the file;
 * 3. check `integrity` (a mismatch removes the download);
 * 4. `PartOwner.publish`: check lock and inode, rename onto `dest`, `fsync` the directory;
 * 5. the call's progress says complete.
 *
 * @module
 */

import { IntegrityError } from "../errors.ts";
import { type ExpectedDigests, integrityMismatch } from "../protocol/integrity.ts";
import type { ShimFile } from "../runtime/fs_shim.ts";
import type { Digests } from "../runtime/multi_hash.ts";
import type { PartOwner } from "../store/ownership.ts";
import { parseHttpDate } from "../protocol/headers.ts";
import type { HaulOptions, HaulState } from "../types.ts";

/** A complete `.part` about to be committed. */
interface CompletePart {
  /** `.part`, open. */
  readonly file: ShimFile;
  /** The verified length: `.part` is cut to it. */
  readonly size: number;
  /** The digests (hex) of the first `size` bytes, as the engine hashed them. */
  readonly digest: () => Promise<Digests>;
  /** Closes `.part` (the engine's own bookkeeping). */
  readonly close: () => Promise<void>;
  /** Whether its checkpoint may be on disk (`CheckpointStore.saved`; default yes): removed last. */
  readonly checkpointed?: boolean;
}

/** What the commit checks the file against. */
interface CommitTerms {
  /** The expected digests, or `null`. */
  readonly expected: ExpectedDigests | null;
  /** Whether an existing `dest` may be replaced. */
  readonly overwrite: boolean;
  /** The redacted URL, for messages. */
  readonly url: string;
  /** The call's progress: complete once the file is at `dest`. */
  readonly state: HaulState;
  /** The modification time to give the file (ms), or `null`: see {@link remoteMtime}. */
  readonly mtime: number | null;
}

/**
 * The modification time a finished file gets: its response's (strong)
 * `Last-Modified` when the caller asked for it (`remoteTime` or
 * `revalidate`), else `null` (it keeps the time it was written).
 *
 * @param options the call's options.
 * @param lastModified the download's strong `Last-Modified`, or `null`.
 * @returns milliseconds since the epoch, or `null`.
 *
 * @example
 * ```ts
 * import { remoteMtime } from "./commit.ts";
 * const date = "Tue, 01 Dec 2026 10:00:00 GMT";
 * console.log(remoteMtime({ dest: "a.bin", remoteTime: true }, date)); // 1796119200000
 * console.log(remoteMtime({ dest: "a.bin" }, date)); // null
 * ```
 */
export function remoteMtime(options: HaulOptions, lastModified: string | null): number | null {
  const asked = options.remoteTime === true || options.revalidate === true;
  return asked && lastModified !== null ? parseHttpDate(lastModified) : null;
}

/**
 * Commits a complete `.part` onto `dest`.
 *
 * @param owner the destination's owner.
 * @param part the complete file.
 * @param terms integrity and overwrite.
 * @returns the digests (hex) of the file now at `dest`.
 * @throws {IntegrityError} the digest does not match; the download was removed.
 * @throws {DestinationError} `dest` appeared meanwhile, or this call lost the destination.
 */
export async function commit(
  owner: PartOwner,
  part: CompletePart,
  terms: CommitTerms,
): Promise<Digests> {
  const { file, size } = part;
  if ((await file.size()) !== size) await file.truncate(size);
  if (terms.mtime !== null) await owner.stamp(terms.mtime); // after the last change of its bytes
  await file.sync();
  const digests = await part.digest();
  await part.close();
  const { expected } = terms;
  const mismatch = expected === null ? null : integrityMismatch(expected, digests);
  if (mismatch !== null) {
    await owner.remove();
    throw new IntegrityError(
      `Integrity check failed: ${terms.url}: got ${mismatch.algorithm} ${mismatch.actual}, ` +
        `expected ${mismatch.expected.join(" or ")}; nothing was saved at ${owner.dest}`,
      mismatch,
    );
  }
  await owner.publish(terms.overwrite, part.checkpointed ?? true);
  const { state } = terms;
  state.validLength = size;
  state.reportedLength = size;
  state.isComplete = true;
  return digests;
}
