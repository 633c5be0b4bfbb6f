/**
 * `<dest>.part.ctrl`'s life: opened and borne out by `.part` (else removed and `.part` emptied),
 * saved via `.part.ctrl.tmp` (`fsync`ed, renamed over it, directory synced: old or new), discarded.
 *
 * @module
 */

import { type Checkpoint, durablePrefix, tailStart } from "../protocol/checkpoint.ts";
import { decodeCheckpoint, encodeCheckpoint } from "./control_file.ts";
import { ControlFileError, DestinationError } from "../errors.ts";
import { hasStrongValidator } from "../protocol/headers.ts";
import { digestRange } from "../hashing/file_digest.ts";
import type { FsShim, ShimFile } from "../runtime/fs_shim.ts";
import type { SidecarPaths } from "./destination.ts";
import type { PartOwner } from "./ownership.ts";

/**
 * Reads the checkpoint, opens `.part` (read-write) and checks every range's tail digest before the
 * first request: a range not borne out, or a checkpoint that cannot be resumed, starts the download
 * from byte 0 (`checkpoint: null`). A `ControlFileError` when the checkpoint is unreadable (it is
 * removed first), a `DestinationError` when `.part` is a directory. `proven`: `canResume()`'s.
 */
export async function openPart(
  fs: FsShim,
  paths: SidecarPaths,
  proven = false,
): Promise<{ readonly file: ShimFile; readonly checkpoint: Checkpoint | null }> {
  // A leftover (or planted) temp file, maybe a symlink: no checkpoint is ever written through it.
  await fs.remove(paths.ctrlTmp);
  const partStat = await fs.stat(paths.part);
  if (partStat?.isDirectory) {
    throw new DestinationError(
      `Cannot download: ${paths.part} is a directory; remove it and try again`,
      paths.dest,
    );
  }
  // Never write through a link: a symbolic one, or a hard one (its other name would change too).
  const linked = partStat?.isSymlink === true || (partStat?.links ?? 1) > 1;
  if (linked) await fs.remove(paths.part);
  const ours = partStat?.isFile === true && !linked;
  const checkpoint = ours ? await readCheckpoint(fs, paths) : null;
  // A checkpoint without its data (e.g. a crash right after the final rename): stale.
  if (!ours && (await fs.stat(paths.ctrl)) !== null) await removeCheckpoint(fs, paths);
  const file = await fs.open(paths.part, "readwrite");
  try {
    if (checkpoint !== null && canResume(checkpoint, proven) && await bearsOut(file, checkpoint)) {
      return { file, checkpoint };
    }
    if (checkpoint !== null) await removeCheckpoint(fs, paths);
    if ((await file.size()) !== 0) await file.truncate(0); // a fresh file: no truncate to pay
    return { file, checkpoint: null };
  } catch (error) {
    await file.close();
    if (checkpoint === null) await fs.remove(paths.part).catch(() => {}); // nothing to resume
    throw error;
  }
}

async function removeCheckpoint(fs: FsShim, paths: SidecarPaths): Promise<void> {
  await fs.remove(paths.ctrl);
  await fs.syncDir(paths.dir);
}

/**
 * Resuming needs a strong validator for `If-Range` (unless the call's digest proves the file:
 * mirrors with `integrity`, whose checkpoints record none): else nothing proves the bytes on disk
 * and the server's next bytes are one representation (two of equal length would splice silently).
 * Ranges other than a prefix are asked for one by one, which needs the file's length.
 */
function canResume(checkpoint: Checkpoint, digestProves: boolean): boolean {
  const { etag, lastModified, reportedLength } = checkpoint;
  if (!digestProves && !hasStrongValidator(etag, lastModified)) return false;
  if (checkpoint.ranges.length === 1 && durablePrefix(checkpoint) > 0) return true;
  return checkpoint.ranges.length > 0 && reportedLength !== null && reportedLength > 0;
}

/** Reads and decodes `.part.ctrl`; a corrupt one is removed (durably) and reported. */
async function readCheckpoint(fs: FsShim, paths: SidecarPaths): Promise<Checkpoint | null> {
  const bytes = await fs.readFile(paths.ctrl);
  if (bytes === null) return null;
  try {
    return decodeCheckpoint(bytes);
  } catch (error) {
    await removeCheckpoint(fs, paths); // decodeCheckpoint throws ControlFileErrors only
    throw new ControlFileError(
      `Checkpoint discarded: ${paths.ctrl}: ${(error as ControlFileError).message}; ` +
        "the next call starts from byte 0",
      { cause: error },
    );
  }
}

/** Whether `.part` bears out the tail digest of every range. */
async function bearsOut(file: ShimFile, checkpoint: Checkpoint): Promise<boolean> {
  const size = await file.size();
  for (const range of checkpoint.ranges) {
    if (size < range.end) return false;
    const actual = await digestRange(file, tailStart(range, checkpoint.blockSize), range.end);
    if (actual === null || actual.some((byte, i) => byte !== range.tailDigest[i])) return false;
  }
  return true;
}

/** Who may write the checkpoint: `check()` rejects once this call no longer owns the destination. */
type Owner = Pick<PartOwner, "check">;

/** The checkpoint file of one destination, and whether one is on disk. */
export class CheckpointStore {
  readonly #fs: FsShim;
  readonly #paths: SidecarPaths;
  readonly #owner: Owner | null;
  #saved: boolean;

  /** `saved`: a checkpoint is on disk already; `owner` is checked before each write. */
  constructor(fs: FsShim, paths: SidecarPaths, saved: boolean, owner: Owner | null = null) {
    this.#fs = fs;
    this.#paths = paths;
    this.#saved = saved;
    this.#owner = owner;
  }

  /** Whether a checkpoint this call may resume from is on disk (so `.part` is worth keeping). */
  get saved(): boolean {
    return this.#saved;
  }

  /** Replaces the checkpoint atomically (tmp → fsync → rename → directory fsync). */
  async save(checkpoint: Checkpoint, again = true): Promise<void> {
    const bytes = encodeCheckpoint(checkpoint);
    const { ctrlTmp, ctrl } = this.#paths;
    await this.#owner?.check();
    // Created, never reused: one found there (a woken owner's) goes, if this call still owns.
    const create = () => this.#fs.open(ctrlTmp, "create-exclusive");
    const tmp = await create().catch(async () => {
      await this.#owner?.check();
      await this.#fs.remove(ctrlTmp);
      return await create();
    });
    let written: string | null | undefined;
    try {
      try {
        written = await tmp.identity?.();
        await tmp.write(bytes, 0);
        await tmp.sync();
      } finally {
        await tmp.close();
      }
      await this.#owner?.check();
      await this.#fs.rename(ctrlTmp, ctrl);
    } catch (error) {
      // Not saved (a fault, or lost meanwhile): take back the temp file this call wrote.
      const found = await this.#fs.stat(ctrlTmp).catch(() => null);
      if (written && found?.identity === written) await this.#fs.remove(ctrlTmp).catch(() => {});
      // Gone: a woken former owner's save moved or removed it (architecture.md): once more.
      else if (again && found === null) return await this.save(checkpoint, false);
      throw error;
    }
    this.#saved = true;
    await this.#fs.syncDir(this.#paths.dir); // the rename, and `.part`'s own name, made durable
  }

  /** Removes the checkpoint durably (the next call starts from byte 0). */
  async discard(): Promise<void> {
    await this.#owner?.check();
    await removeCheckpoint(this.#fs, this.#paths);
    this.#saved = false;
  }
}
