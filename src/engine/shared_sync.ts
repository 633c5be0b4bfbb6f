/**
 * One `.part` written by several writers at once: their `fdatasync` calls
 * are shared. A call made while no sync runs starts one; calls made while
 * one runs wait for the next, which starts once it returns and serves all of
 * them. So every call is answered by a sync that started after it was made
 * (what `Durability` in `durability.ts` requires of the syncs it counts), and eight
 * ranges syncing together cost one or two syncs, not eight.
 *
 * @module
 */

import type { ShimFile } from "../runtime/fs_shim.ts";

/**
 * Shares the `fdatasync` calls made through it.
 *
 * @param datasync the real `fdatasync`.
 * @returns a `datasync` whose every call is answered by a sync started after the call.
 */
export function sharedDatasync(datasync: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let next: Promise<void> | null = null;
  const start = (): Promise<void> => {
    const sync: Promise<void> = datasync().finally(() => {
      if (running === sync) running = null;
    });
    running = sync;
    return sync;
  };
  return () => {
    const current = running;
    if (current === null) return start();
    next ??= current.catch(() => {}).then(() => {
      next = null;
      return start();
    });
    return next;
  };
}

/**
 * `.part` with its `fdatasync` shared among the writers of several ranges.
 *
 * @param file `.part`, open.
 * @returns the same file, whose `datasync` is {@link sharedDatasync}'s.
 */
export function withSharedSync(file: ShimFile): ShimFile {
  const datasync = sharedDatasync(() => file.datasync());
  return {
    write: (data, position) => file.write(data, position),
    read: (buffer, position) => file.read(buffer, position),
    datasync,
    sync: () => file.sync(),
    truncate: (length) => file.truncate(length),
    size: () => file.size(),
    close: () => file.close(),
  };
}
