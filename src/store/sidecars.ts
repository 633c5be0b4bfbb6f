/**
 * The end of a call on disk: the final rename of `.part` onto `dest`, the
 * removal of a download that must not be kept, and the cleaning of sidecars
 * nothing can use.
 *
 * @module
 */

import { DestinationError } from "../errors.ts";
import type { FsShim } from "../runtime/fs_shim.ts";
import { acquireLock } from "./lock.ts";
import type { SidecarPaths } from "./paths.ts";

/**
 * Renames the complete, synced `.part` onto `dest`, makes the rename durable
 * and removes the checkpoint.
 *
 * @param fs filesystem shim.
 * @param paths the destination's sidecars.
 * @param overwrite whether an existing `dest` may be replaced.
 * @throws {DestinationError} when `dest` appeared meanwhile and `overwrite` is not set.
 *
 * @example
 * ```ts ignore
 * // Needs a filesystem shim and a complete, synced .part; engine/haul.ts is the real use.
 * await commitPart(fs, sidecarPaths("/data/x.iso"), false);
 * ```
 */
export async function commitPart(
  fs: FsShim,
  paths: SidecarPaths,
  overwrite: boolean,
): Promise<void> {
  if (!overwrite && (await fs.stat(paths.dest)) !== null) {
    throw new DestinationError(
      `Destination appeared during the download: ${paths.dest}; not replaced`,
      paths.dest,
    );
  }
  await fs.rename(paths.part, paths.dest);
  await fs.syncDir(paths.dir);
  await fs.remove(paths.ctrl);
}

/**
 * Removes `.part`, its checkpoint and any checkpoint temp file: a download
 * whose bytes must not be kept (an integrity mismatch, a body longer than
 * declared), or one that nothing could resume (no checkpoint on disk).
 *
 * @param fs filesystem shim.
 * @param paths the destination's sidecars.
 *
 * @example
 * ```ts ignore
 * // Needs a filesystem shim; engine/haul.ts calls it after an integrity mismatch.
 * await removeDownload(fs, sidecarPaths("/data/x.iso"));
 * ```
 */
export async function removeDownload(fs: FsShim, paths: SidecarPaths): Promise<void> {
  await fs.remove(paths.part);
  await fs.remove(paths.ctrl);
  await fs.remove(paths.ctrlTmp);
}

/**
 * After a crash right after the final rename, `dest` exists beside a
 * checkpoint with no `.part` (and a dead owner's lock): remove them, under the
 * lock. A `.part` with data is left alone (an `overwrite` download may resume it).
 *
 * @param fs filesystem shim.
 * @param paths the destination's sidecars.
 *
 * @example
 * ```ts ignore
 * // Needs a filesystem shim; engine/haul.ts calls it when dest already exists.
 * await removeStaleSidecars(fs, sidecarPaths("/data/x.iso"));
 * ```
 */
export async function removeStaleSidecars(fs: FsShim, paths: SidecarPaths): Promise<void> {
  const leftovers = await Promise.all(
    [paths.ctrl, paths.ctrlTmp, paths.lock].map((path) => fs.stat(path)),
  );
  if (leftovers.every((stat) => stat === null)) return;
  if ((await fs.stat(paths.part)) !== null) return;
  let lock;
  try {
    lock = await acquireLock(fs, paths.lock, paths.dest);
  } catch {
    return; // another call is working here: its business
  }
  try {
    await fs.remove(paths.ctrl);
    await fs.remove(paths.ctrlTmp);
  } finally {
    await lock.release().catch(() => {});
  }
}
