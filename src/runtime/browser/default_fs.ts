/**
 * The browser bundle's `../default_fs.ts` (`scripts/build_browser.ts` swaps it
 * in, so the engine does not change): the OPFS shim, for a dedicated worker.
 *
 * @module
 */

import type { FsShim } from "../fs_shim.ts";
import { type OpfsDirectory, opfsFs, type WebLocks } from "./opfs_fs.ts";

/** The OPFS shim rooted at `root`, by default the origin's private file system. */
export async function defaultFs(root?: OpfsDirectory): Promise<FsShim> {
  type Opfs = OpfsDirectory & { resolve(dir: OpfsDirectory): Promise<string[] | null> };
  const { storage, locks } = (globalThis as unknown as {
    navigator: { storage: { getDirectory(): Promise<Opfs> }; locks: WebLocks };
  }).navigator;
  const opfs = await storage.getDirectory();
  return opfsFs(root ?? opfs, locks, root === undefined ? [] : await opfs.resolve(root) ?? []);
}
