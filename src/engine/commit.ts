/**
 * The end of every download that completes, whatever its number of
 * connections and however it got there (the last byte streamed, or a 416 that
 * says the checkpoint already covers the file): one sequence, in one place.
 *
 * 1. cut `.part` to the verified length and `fsync` it;
 * 2. compute the digest and close the file;
 * 3. check `integrity` (a mismatch removes the download: nothing is kept);
 * 4. the owner's renames onto `dest` and the directory's `fsync`
 *    (`PartOwner.publish`, which checks the lock and the inode first);
 * 5. the call's progress says complete.
 *
 * @module
 */

import { IntegrityError } from "../errors.ts";
import { digestMatches, type ExpectedDigests } from "../protocol/integrity.ts";
import type { ShimFile } from "../runtime/fs_shim.ts";
import type { PartOwner } from "../store/ownership.ts";
import type { HaulState } from "../types.ts";

/** A complete `.part` about to be committed. */
export interface CompletePart {
  /** `.part`, open. */
  readonly file: ShimFile;
  /** The verified length: `.part` is cut to it. */
  readonly size: number;
  /** The SHA-256 (hex) of the first `size` bytes, as the engine hashed them. */
  readonly digest: () => Promise<string>;
  /** Closes `.part` (the engine's own bookkeeping). */
  readonly close: () => Promise<void>;
  /** Whether its checkpoint may be on disk (`CheckpointStore.saved`; default yes): removed last. */
  readonly checkpointed?: boolean;
}

/** What the commit checks the file against. */
export interface CommitTerms {
  /** The expected digests, or `null`. */
  readonly expected: ExpectedDigests | null;
  /** Whether an existing `dest` may be replaced. */
  readonly overwrite: boolean;
  /** The redacted URL, for messages. */
  readonly url: string;
  /** The call's progress: complete once the file is at `dest`. */
  readonly state: HaulState;
}

/**
 * Commits a complete `.part` onto `dest`.
 *
 * @param owner the destination's owner.
 * @param part the complete file.
 * @param terms integrity and overwrite.
 * @returns the SHA-256 (hex) of the file now at `dest`.
 * @throws {IntegrityError} the digest does not match; the download was removed.
 * @throws {DestinationError} `dest` appeared meanwhile, or this call lost the destination.
 *
 * @example
 * ```ts ignore
 * // engine/download.ts, once every byte is written.
 * const sha256 = await commit(owner, { file, size, digest, close }, terms);
 * ```
 */
export async function commit(
  owner: PartOwner,
  part: CompletePart,
  terms: CommitTerms,
): Promise<string> {
  const { file, size } = part;
  if ((await file.size()) !== size) await file.truncate(size);
  await file.sync();
  const sha256 = await part.digest();
  await part.close();
  const { expected } = terms;
  if (expected !== null && !digestMatches(expected, sha256)) {
    await owner.remove();
    throw new IntegrityError(
      `Integrity check failed: ${terms.url}: got sha256 ${sha256}, expected ` +
        `${expected.sha256.join(" or ")}; nothing was saved at ${owner.dest}`,
      { expected: expected.sha256, actual: sha256 },
    );
  }
  await owner.publish(terms.overwrite, part.checkpointed ?? true);
  const { state } = terms;
  state.validLength = size;
  state.reportedLength = size;
  state.isComplete = true;
  return sha256;
}
