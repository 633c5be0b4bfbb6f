/**
 * The cleaning of sidecars nothing can use. (The commit and the removal of a
 * download: `ownership.ts`, `engine/outcome.ts`.)
 *
 * @module
 */

import type { FsShim } from "../runtime/fs_shim.ts";
import { acquireLock } from "./lock.ts";
import type { SidecarPaths } from "./paths.ts";

/**
 * After a crash right after the final rename, `dest` exists beside a
 * checkpoint with no `.part` (and a dead owner's lock): remove them, under the
 * lock. A `.part` with data is left alone (an `overwrite` download may resume it).
 *
 * @param fs filesystem shim.
 * @param paths the destination's sidecars.
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
