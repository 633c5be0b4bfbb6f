/**
 * A filesystem shim that forwards to a real one and records every operation,
 * so tests can check the order of writes, syncs and renames.
 *
 * @module
 */

import type { FsShim, OpenMode, ShimFile } from "../../src/fs/fs_shim.ts";

/** One recorded operation: its kind and the path it touched. */
export interface RecordedOp {
  /** Operation name: open, write, datasync, sync, truncate, close, rename, remove, syncDir. */
  readonly op: string;
  /** The path (for rename: the source). */
  readonly path: string;
  /** Rename target, when the op is a rename. */
  readonly to?: string;
}

/**
 * Wraps `inner`, appending every operation to `log`.
 *
 * @param inner the real shim.
 * @param log where operations are recorded.
 * @returns the recording shim.
 */
export function recordingFs(inner: FsShim, log: RecordedOp[]): FsShim {
  const wrapFile = (file: ShimFile, path: string): ShimFile => ({
    write: async (data, position) => {
      log.push({ op: "write", path });
      await file.write(data, position);
    },
    read: (buffer, position) => file.read(buffer, position),
    datasync: async () => {
      log.push({ op: "datasync", path });
      await file.datasync();
    },
    sync: async () => {
      log.push({ op: "sync", path });
      await file.sync();
    },
    truncate: async (length) => {
      log.push({ op: "truncate", path });
      await file.truncate(length);
    },
    size: () => file.size(),
    close: async () => {
      log.push({ op: "close", path });
      await file.close();
    },
  });
  return {
    name: `recording(${inner.name})`,
    pid: inner.pid,
    isProcessAlive: (pid) => inner.isProcessAlive(pid),
    open: async (path: string, mode: OpenMode) => {
      const file = await inner.open(path, mode);
      log.push({ op: "open", path });
      return wrapFile(file, path);
    },
    rename: async (from, to) => {
      log.push({ op: "rename", path: from, to });
      await inner.rename(from, to);
    },
    remove: async (path) => {
      log.push({ op: "remove", path });
      await inner.remove(path);
    },
    stat: (path) => inner.stat(path),
    readFile: (path) => inner.readFile(path),
    syncDir: async (path) => {
      log.push({ op: "syncDir", path });
      await inner.syncDir(path);
    },
  };
}
