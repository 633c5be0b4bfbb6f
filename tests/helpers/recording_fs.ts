/**
 * A filesystem shim that forwards to a real one and records every operation,
 * so tests can check the order of writes, syncs and renames.
 *
 * @module
 */

import type { FsShim, OpenMode, ShimFile } from "../../src/runtime/fs_shim.ts";

/** One recorded operation: its kind and the path it touched. */
export interface RecordedOp {
  /**
   * Operation name: open, write, datasync, sync, truncate, close, rename,
   * remove, syncDir, utime (logged when called), write-done, datasync-done,
   * sync-done (logged when the call resolved; `id` pairs them), and read
   * (logged when it resolved, with the bytes it returned as `length`).
   */
  readonly op: string;
  /** The path (for rename: the source). */
  readonly path: string;
  /** Rename target, when the op is a rename. */
  readonly to?: string;
  /** Pairs a write or sync with its `-done` entry. */
  readonly id?: number;
  /** Where a write starts. */
  readonly position?: number;
  /** A copy of the bytes of a write to a `.ctrl.tmp` file (checkpoints), to decode. */
  readonly data?: Uint8Array;
  /** Bytes written (or read). */
  readonly length?: number;
}

/**
 * Wraps `inner`, appending every operation to `log`.
 *
 * @param inner the real shim.
 * @param log where operations are recorded.
 * @returns the recording shim.
 */
export function recordingFs(inner: FsShim, log: RecordedOp[]): FsShim {
  let ids = 0;
  const wrapFile = (file: ShimFile, path: string): ShimFile => ({
    write: async (data, position) => {
      const id = ids++;
      const copy = path.endsWith(".tmp") ? { data: data.slice() } : {};
      log.push({ op: "write", path, id, position, length: data.length, ...copy });
      await file.write(data, position);
      log.push({ op: "write-done", path, id });
    },
    read: async (buffer, position) => {
      const n = await file.read(buffer, position);
      log.push({ op: "read", path, position, length: n });
      return n;
    },
    datasync: async () => {
      const id = ids++;
      log.push({ op: "datasync", path, id });
      await file.datasync();
      log.push({ op: "datasync-done", path, id });
    },
    sync: async () => {
      const id = ids++;
      log.push({ op: "sync", path, id });
      await file.sync();
      log.push({ op: "sync-done", path, id });
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
    ...(inner.utime === undefined ? {} : {
      utime: async (path: string, mtimeMs: number) => {
        log.push({ op: "utime", path });
        await inner.utime!(path, mtimeMs);
      },
    }),
  };
}
