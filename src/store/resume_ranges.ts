/**
 * Opening `.part` for a download over several ranges: every durable range of
 * the checkpoint is checked against its tail digest (its newest bytes, at
 * most one block, read back) before it is trusted. When any range is not
 * borne out, or the checkpoint cannot be resumed (no strong validator, no
 * known length), nothing on disk is trusted and the download starts from
 * byte 0, as with one range (`resume.ts`).
 *
 * @module
 */

import { type Checkpoint, tailStart } from "../protocol/checkpoint.ts";
import { decodeCheckpoint } from "./control_file.ts";
import { isStrongEtag } from "../protocol/etag.ts";
import { digestRange } from "../hashing/file_digest.ts";
import type { FsShim, ShimFile } from "../runtime/fs_shim.ts";
import type { SidecarPaths } from "./paths.ts";
import { fresh, openPartWithCheckpoint } from "./resume.ts";

/** `.part`, open, and the checkpoint whose every range it bears out (or `null`: fresh). */
export interface RangesStart {
  /** `.part`, open for reading and writing. */
  readonly file: ShimFile;
  /** The verified checkpoint, or `null` when `.part` was emptied. */
  readonly checkpoint: Checkpoint | null;
}

/**
 * The checkpoint on disk, read without changing anything; `null` when there
 * is none, no `.part` beside it, or it cannot be decoded (the ordinary open
 * deals with those).
 *
 * @param fs filesystem shim.
 * @param paths the destination's sidecars.
 * @returns the decoded checkpoint, or `null`.
 *
 * @example
 * ```ts ignore
 * // Needs a filesystem shim and a destination's sidecar paths.
 * const saved = await peekCheckpoint(fs, paths);
 * ```
 */
export async function peekCheckpoint(fs: FsShim, paths: SidecarPaths): Promise<Checkpoint | null> {
  try {
    const partStat = await fs.stat(paths.part);
    if (partStat?.isFile !== true) return null;
    const bytes = await fs.readFile(paths.ctrl);
    return bytes === null ? null : decodeCheckpoint(bytes);
  } catch {
    return null;
  }
}

/**
 * Whether a checkpoint can only be resumed range by range: it holds more
 * than one range, or one that does not start at byte 0.
 *
 * @param checkpoint the checkpoint.
 * @returns true for a multi-range checkpoint.
 *
 * @example
 * ```ts
 * import { isMultiRange } from "./resume_ranges.ts";
 * const tailDigest = new Uint8Array(32);
 * console.log(isMultiRange({ ranges: [{ start: 0, end: 10, tailDigest }] })); // false
 * console.log(isMultiRange({ ranges: [{ start: 5, end: 10, tailDigest }] })); // true
 * ```
 */
export function isMultiRange(checkpoint: Pick<Checkpoint, "ranges">): boolean {
  return checkpoint.ranges.length > 1 || checkpoint.ranges[0]?.start !== 0;
}

/**
 * Whether ranges of the checkpoint's file may be asked for: a known length
 * and a strong validator to send in `If-Range`.
 *
 * @param checkpoint the checkpoint.
 * @returns true when its ranges can be resumed.
 *
 * @example
 * ```ts
 * import { canResumeRanges } from "./resume_ranges.ts";
 * const tailDigest = new Uint8Array(32);
 * const saved = { reportedLength: 10, etag: '"v1"', lastModified: null, ranges: [] };
 * console.log(canResumeRanges(saved)); // true
 * console.log(canResumeRanges({ ...saved, etag: 'W/"v1"' })); // false
 * ```
 */
export function canResumeRanges(
  checkpoint: Pick<Checkpoint, "reportedLength" | "etag" | "lastModified">,
): boolean {
  return checkpoint.reportedLength !== null && checkpoint.reportedLength > 0 &&
    (isStrongEtag(checkpoint.etag) ||
      (checkpoint.etag === null && checkpoint.lastModified !== null));
}

/**
 * Reads the checkpoint, opens `.part` and checks every range.
 *
 * @param fs filesystem shim.
 * @param paths the destination's sidecars.
 * @returns the open `.part` and the verified checkpoint (or `null`: start from byte 0).
 * @throws {ControlFileError} when the checkpoint is unreadable (it is removed first).
 * @throws {DestinationError} when `.part` is a directory.
 *
 * @example
 * ```ts ignore
 * // Needs a filesystem shim and a destination's sidecar paths.
 * const { file, checkpoint } = await openPartRanges(fs, paths);
 * ```
 */
export async function openPartRanges(fs: FsShim, paths: SidecarPaths): Promise<RangesStart> {
  const { file, checkpoint } = await openPartWithCheckpoint(fs, paths);
  try {
    if (
      checkpoint === null || !canResumeRanges(checkpoint) || !(await verifyAll(file, checkpoint))
    ) {
      await fresh(fs, paths, file, checkpoint !== null);
      return { file, checkpoint: null };
    }
    return { file, checkpoint };
  } catch (error) {
    await file.close();
    throw error;
  }
}

/** Whether `.part` bears out the tail digest of every range. */
async function verifyAll(file: ShimFile, checkpoint: Checkpoint): Promise<boolean> {
  const size = await file.size();
  for (const range of checkpoint.ranges) {
    if (size < range.end) return false;
    const actual = await digestRange(file, tailStart(range, checkpoint.blockSize), range.end);
    const expected = range.tailDigest;
    if (actual === null || actual.length !== expected.length) return false;
    for (let i = 0; i < expected.length; i++) if (actual[i] !== expected[i]) return false;
  }
  return true;
}
