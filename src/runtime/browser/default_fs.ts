/**
 * The browser's stand-in for `../default_fs.ts` (which loads the Deno and
 * `node:fs` shims): the OPFS shim over the origin's private file system. The
 * browser bundle (`scripts/build_browser.ts`) substitutes this module for
 * `default_fs.ts`, so the engine does not change.
 *
 * @module
 */

import type { FsShim } from "../fs_shim.ts";
import { type OpfsDirectory, opfsFs, type WebLocks } from "./opfs_fs.ts";

/** What this module uses of `navigator` in a worker. */
interface StorageNavigator {
  readonly storage: { getDirectory(): Promise<OpfsDirectory> };
  readonly locks: WebLocks;
}

/**
 * The OPFS shim, rooted at `root` or else at the origin's private file system.
 *
 * @param root the directory paths are relative to (default: the OPFS root).
 * @returns the shim.
 *
 * @example
 * ```ts ignore
 * // Runs in a browser's dedicated worker only.
 * const fs = await defaultFs();
 * console.log(fs.name); // "opfs"
 * ```
 */
export async function defaultFs(root?: OpfsDirectory): Promise<FsShim> {
  const { storage, locks } = (globalThis as unknown as { navigator: StorageNavigator }).navigator;
  return opfsFs(root ?? await storage.getDirectory(), locks);
}
