/**
 * Opening `.part` for a call: trusting exactly what the checkpoint proves.
 * A fresh start truncates any orphaned `.part`; a resume reads back the
 * newest durable bytes (at most one block) and checks them against the
 * checkpoint's tail digest before its first request, and starts over from
 * byte 0 when they do not match.
 *
 * @module
 */

import { type Checkpoint, durablePrefix, tailStart } from "../protocol/checkpoint.ts";
import { decodeCheckpoint } from "./control_file.ts";
import { ControlFileError, DestinationError } from "../errors.ts";
import { isStrongEtag } from "../protocol/etag.ts";
import { digestRange } from "../hashing/file_digest.ts";
import type { FsShim, ShimFile } from "../runtime/fs_shim.ts";
import type { SidecarPaths } from "./paths.ts";

/** Where writing starts, and the state that proves the bytes before it. */
export interface StartPoint {
  /** `.part`, open for reading and writing. */
  readonly file: ShimFile;
  /** Verified bytes at the start of `.part`. */
  readonly cursor: number;
  /** The checkpoint these bytes belong to (its one range is `[0, cursor)`), or null when fresh. */
  readonly checkpoint: Checkpoint | null;
}

/**
 * Reads the checkpoint and opens `.part` accordingly.
 *
 * @param fs filesystem shim.
 * @param paths the destination's sidecars.
 * @returns the open `.part` and where to resume.
 * @throws {ControlFileError} when the checkpoint is unreadable (it is removed first).
 * @throws {DestinationError} when `.part` is a directory.
 */
export async function openPart(fs: FsShim, paths: SidecarPaths): Promise<StartPoint> {
  const { file, checkpoint } = await openPartWithCheckpoint(fs, paths);
  try {
    if (checkpoint === null || !canResume(checkpoint)) {
      await fresh(fs, paths, file, checkpoint !== null);
      return { file, cursor: 0, checkpoint: null };
    }
    const verified = await verifyTail(file, checkpoint);
    if (verified === null) {
      await fresh(fs, paths, file, true);
      return { file, cursor: 0, checkpoint: null };
    }
    return { file, cursor: durablePrefix(verified), checkpoint: verified };
  } catch (error) {
    await file.close();
    throw error;
  }
}

/**
 * The first step of every resume, with one range or several: clears the
 * sidecars that cannot be trusted, reads the checkpoint (not yet checked
 * against `.part`) and opens `.part` read-write.
 *
 * @param fs filesystem shim.
 * @param paths the destination's sidecars.
 * @returns the open `.part` and the checkpoint, or `null` when there is none.
 * @throws {ControlFileError} when the checkpoint is unreadable (it is removed first).
 * @throws {DestinationError} when `.part` is a directory.
 *
 * @example
 * ```ts ignore
 * // Needs a locked destination: openPart() and openPartRanges() start with it.
 * const { file, checkpoint } = await openPartWithCheckpoint(fs, paths);
 * ```
 */
export async function openPartWithCheckpoint(
  fs: FsShim,
  paths: SidecarPaths,
): Promise<{ readonly file: ShimFile; readonly checkpoint: Checkpoint | null }> {
  // A leftover (or planted) checkpoint temp file, possibly a symlink: unlink it
  // so that writing the next checkpoint never follows a link out of the directory.
  await fs.remove(paths.ctrlTmp);
  const partStat = await fs.stat(paths.part);
  if (partStat?.isDirectory) {
    throw new DestinationError(
      `Cannot download: ${paths.part} is a directory; remove it and try again`,
      paths.dest,
    );
  }
  if (partStat?.isSymlink) await fs.remove(paths.part); // never write through a link
  let checkpoint: Checkpoint | null = null;
  if (partStat?.isFile) {
    checkpoint = await readCheckpoint(fs, paths);
  } else if (await fs.stat(paths.ctrl) !== null) {
    // A checkpoint without its data (e.g. a crash right after the final rename): stale.
    await fs.remove(paths.ctrl);
    await fs.syncDir(paths.dir);
  }
  return { file: await fs.open(paths.part, "readwrite"), checkpoint };
}

/** Discards any checkpoint (durably) and empties `.part`. */
export async function fresh(
  fs: FsShim,
  paths: SidecarPaths,
  file: ShimFile,
  hadCheckpoint: boolean,
): Promise<void> {
  if (hadCheckpoint) {
    await fs.remove(paths.ctrl);
    await fs.syncDir(paths.dir);
  }
  await file.truncate(0);
}

/**
 * Resuming needs a strong validator to send in `If-Range`: a strong ETag, or a
 * strong Last-Modified (only those are kept). With a weak ETag or none, no
 * HTTP mechanism can prove that the bytes on disk and the server's next bytes
 * belong to one representation (two versions of equal length would splice
 * silently), so haul starts over from byte 0 instead.
 */
function canResume(checkpoint: Checkpoint): boolean {
  return durablePrefix(checkpoint) > 0 &&
    (isStrongEtag(checkpoint.etag) ||
      (checkpoint.etag === null && checkpoint.lastModified !== null));
}

/**
 * Reads and decodes `.part.ctrl`; a corrupt one is removed (durably) and
 * reported, so the next call starts from byte 0.
 *
 * @param fs filesystem shim.
 * @param paths the destination's sidecars.
 * @returns the checkpoint, or `null` when there is none.
 * @throws {ControlFileError} when it could not be decoded (it is gone by then).
 *
 * @example
 * ```ts ignore
 * // Needs a destination's sidecar paths: openPart and openRanges use it.
 * const checkpoint = await readCheckpoint(fs, sidecarPaths("data.bin"));
 * ```
 */
export async function readCheckpoint(
  fs: FsShim,
  paths: SidecarPaths,
): Promise<Checkpoint | null> {
  const bytes = await fs.readFile(paths.ctrl);
  if (bytes === null) return null;
  try {
    return decodeCheckpoint(bytes);
  } catch (error) {
    await fs.remove(paths.ctrl);
    await fs.syncDir(paths.dir);
    if (error instanceof ControlFileError) {
      throw new ControlFileError(
        `Checkpoint discarded: ${paths.ctrl}: ${error.message}; the next call starts from byte 0`,
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * Checks the newest durable bytes of the range that starts at byte 0,
 * `[tailStart, cursor)` (at most one block), against its tail digest.
 * Returns the checkpoint narrowed to that range, or `null` when `.part` does
 * not bear it out (then nothing on disk is trusted).
 */
async function verifyTail(file: ShimFile, checkpoint: Checkpoint): Promise<Checkpoint | null> {
  const range = checkpoint.ranges[0];
  if (range === undefined || range.start !== 0) return null;
  if ((await file.size()) < range.end) return null;
  const actual = await digestRange(file, tailStart(range, checkpoint.blockSize), range.end);
  const expected = range.tailDigest;
  if (actual === null || actual.length !== expected.length) return null;
  for (let i = 0; i < expected.length; i++) if (actual[i] !== expected[i]) return null;
  return { ...checkpoint, ranges: [range] };
}
