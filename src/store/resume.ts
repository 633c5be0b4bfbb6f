/**
 * Opening `.part` for a call: trusting exactly what the checkpoint proves.
 * A fresh start truncates any orphaned `.part`; a resume checks the newest
 * durable bytes against the tail digest and re-reads the bytes after the
 * last verified point (at most one block each) against the saved hash state,
 * falling back to what still checks out.
 *
 * @module
 */

import { type Checkpoint, type Sha256State, tailStart } from "./checkpoint.ts";
import { decodeCheckpoint } from "./control_file.ts";
import { ControlFileError, DestinationError } from "../errors.ts";
import { isStrongEtag } from "../protocol/etag.ts";
import { digestRange } from "../hashing/file_digest.ts";
import { type FsShim, readFully, type ShimFile } from "../runtime/fs_shim.ts";
import type { SidecarPaths } from "./paths.ts";
import { Sha256 } from "../hashing/sha256.ts";

/** Where writing starts, and the state that proves the bytes before it. */
export interface StartPoint {
  /** `.part`, open for reading and writing. */
  readonly file: ShimFile;
  /** Verified bytes at the start of `.part`. */
  readonly cursor: number;
  /** The checkpoint these bytes belong to (rewound if the tail failed), or null when fresh. */
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
  const file = await fs.open(paths.part, "readwrite");
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
    return { file, cursor: verified.cursor, checkpoint: verified };
  } catch (error) {
    await file.close();
    throw error;
  }
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
  return checkpoint.cursor > 0 &&
    (isStrongEtag(checkpoint.etag) ||
      (checkpoint.etag === null && checkpoint.lastModified !== null));
}

async function readCheckpoint(fs: FsShim, paths: SidecarPaths): Promise<Checkpoint | null> {
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
 * Checks what the checkpoint says about `.part` before trusting it:
 *
 * 1. the newest durable bytes the hash state does not cover, against the
 *    tail digest (`[tailStart, cursor)`, at most one block);
 * 2. the bytes after the anchor, `[anchor, hash.length)`, against the hash
 *    state (at most one block).
 *
 * A failed tail check falls back to the hashed length; a failed hash check
 * rewinds to the anchor. Returns the checkpoint to continue from, or `null`
 * when nothing on disk can be trusted.
 */
async function verifyTail(file: ShimFile, checkpoint: Checkpoint): Promise<Checkpoint | null> {
  const size = await file.size();
  let trusted = checkpoint;
  if (checkpoint.tailDigest !== null && !(await tailMatches(file, size, checkpoint))) {
    trusted = { ...checkpoint, cursor: checkpoint.hash.length, tailDigest: null };
  }
  const { anchor } = trusted;
  const hashed = trusted.hash.length;
  if (size >= hashed) {
    const tail = new Uint8Array(hashed - anchor);
    if (await readFully(file, tail, anchor)) {
      const hasher = new Sha256(trusted.anchorHash).update(tail);
      if (sameState(hasher.snapshot(), trusted.hash)) return trusted.cursor === 0 ? null : trusted;
    }
  }
  if (anchor === 0 || size < anchor) return null;
  return { ...trusted, cursor: anchor, hash: trusted.anchorHash, tailDigest: null };
}

/** Whether `.part` bytes `[tailStart, cursor)` match the checkpoint's tail digest. */
async function tailMatches(file: ShimFile, size: number, checkpoint: Checkpoint): Promise<boolean> {
  const expected = checkpoint.tailDigest;
  if (expected === null) return true;
  if (size < checkpoint.cursor) return false;
  const actual = await digestRange(file, tailStart(checkpoint), checkpoint.cursor);
  if (actual === null || actual.length !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) if (actual[i] !== expected[i]) return false;
  return true;
}

function sameState(a: Sha256State, b: Sha256State): boolean {
  if (a.length !== b.length || a.pending.length !== b.pending.length) return false;
  for (let i = 0; i < 8; i++) if (a.words[i] !== b.words[i]) return false;
  for (let i = 0; i < a.pending.length; i++) if (a.pending[i] !== b.pending[i]) return false;
  return true;
}
