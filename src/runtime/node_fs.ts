/**
 * The {@link FsShim} over `node:fs/promises`, for Bun and Node (and Deno's `.part` file, see
 * `default_fs.ts`). Reads and writes are positional (`pread`/`pwrite`), so concurrent calls on one
 * file do not interfere. `"readwrite"` is `O_RDWR | O_CREAT`, never `O_APPEND`: Linux ignores
 * `pwrite(2)`'s position on files opened for appending.
 *
 * @module
 */

import * as fsSync from "node:fs";
import { hostname } from "node:os";
import * as fsp from "node:fs/promises";
import process from "node:process";
import {
  type FsShim,
  FsShimError,
  linkTargetOf,
  type OpenMode,
  probeProcess,
  type ShimFile,
  shimIo,
  shimIoOrMissing,
  type ShimStat,
} from "./fs_shim.ts";

const OPEN_FLAGS: Readonly<Record<OpenMode, string | number>> = {
  "read": "r",
  "readwrite": fsSync.constants.O_RDWR | fsSync.constants.O_CREAT,
  "create-exclusive": "wx",
  "create-truncate": "w",
};

function nodeFile(handle: fsp.FileHandle, path: string): ShimFile {
  let closed = false;
  return {
    write: (data, position) =>
      shimIo("write", path, async () => {
        for (let done = 0; done < data.length;) {
          const rest = data.length - done;
          const { bytesWritten } = await handle.write(data, done, rest, position + done);
          if (bytesWritten <= 0) {
            throw new FsShimError("EIO", path, `write '${path}' wrote no bytes`);
          }
          done += bytesWritten;
        }
      }),
    read: (buffer, position) =>
      shimIo("read", path, async () => {
        let done = 0;
        while (done < buffer.length) {
          const rest = buffer.length - done;
          const { bytesRead } = await handle.read(buffer, done, rest, position + done);
          if (bytesRead <= 0) break;
          done += bytesRead;
        }
        return done;
      }),
    datasync: () => shimIo("datasync", path, () => handle.datasync()),
    sync: () => shimIo("sync", path, () => handle.sync()),
    truncate: (length) => shimIo("truncate", path, () => handle.truncate(length)),
    size: () => shimIo("stat", path, () => fsSync.fstatSync(handle.fd).size),
    identity: () =>
      shimIo("stat", path, () => {
        const info = fsSync.fstatSync(handle.fd);
        return `${info.dev}:${info.ino}`;
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      await shimIo("close", path, () => handle.close());
    },
  };
}

/**
 * A process's start time in clock ticks since boot: field 22 of `/proc/<pid>/stat` as `read` gives
 * it (after the command name, which may hold spaces and parentheses); `"exited"` for a zombie (dead,
 * not reaped yet: no record holds that start); `null` off Linux or when unreadable.
 */
export function linuxProcessStart(pid: number, read: (path: string) => string): string | null {
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  try {
    const text = read(`/proc/${pid}/stat`);
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return "exited"; // field 3, the state
    const start = fields[19]; // field 22 of the line; the fields after ")" begin at field 3
    return start !== undefined && /^[0-9]+$/.test(start) ? start : null;
  } catch {
    return null;
  }
}

/** The filesystem shim over `node:fs/promises`; failures keep the platform's `code` (`"UNKNOWN"` if none). */
export const nodeFs: FsShim = {
  name: "node",

  async open(path: string, mode: OpenMode): Promise<ShimFile> {
    const open = () => fsp.open(path, OPEN_FLAGS[mode], 0o666);
    return nodeFile(await shimIo(`open (${mode})`, path, open), path);
  },

  rename(from: string, to: string): Promise<void> {
    return shimIo(`rename to '${to}' from`, from, () => fsSync.renameSync(from, to));
  },

  utime(path: string, mtimeMs: number): Promise<void> {
    return shimIo("utime", path, () => fsp.utimes(path, new Date(), new Date(mtimeMs)));
  },

  remove(path: string): Promise<void> {
    return shimIoOrMissing("remove", path, undefined, () => fsSync.unlinkSync(path));
  },

  stat(path: string): Promise<ShimStat | null> {
    return shimIoOrMissing("lstat", path, null, async () => {
      const info = fsSync.lstatSync(path, { throwIfNoEntry: false });
      if (info === undefined) return null;
      const shown: ShimStat = {
        isFile: info.isFile(),
        isDirectory: info.isDirectory(),
        isSymlink: info.isSymbolicLink(),
        size: info.size,
        mtimeMs: info.mtimeMs,
        identity: `${info.dev}:${info.ino}`,
        links: info.nlink,
      };
      if (!shown.isSymlink) return shown;
      const target = await fsp.stat(path).then(
        (followed) => ({ isFile: followed.isFile(), isDirectory: followed.isDirectory() }),
        () => null,
      );
      return { ...shown, linkTarget: linkTargetOf(target) };
    });
  },

  readFile(path: string): Promise<Uint8Array | null> {
    return shimIoOrMissing("readFile", path, null, () => {
      if (!fsSync.statSync(path).isFile()) {
        throw new FsShimError("EFTYPE", path, `read '${path}': not a regular file`);
      }
      const bytes = fsSync.readFileSync(path);
      // A plain Uint8Array view (not a Buffer), the same type every shim returns.
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    });
  },

  async syncDir(path: string): Promise<void> {
    if (process.platform === "win32") return; // directories cannot be opened there
    const dir = await shimIo("open directory", path, () => fsp.open(path, "r"));
    await shimIo("fsync directory", path, () => dir.sync()).finally(() => dir.close());
  },

  get pid(): number {
    return process.pid;
  },

  /** Asks for a reflink (`COPYFILE_FICLONE`), which falls back to a copy. */
  copyFile(from: string, to: string): Promise<void> {
    const copy = () => fsp.copyFile(from, to, fsSync.constants.COPYFILE_FICLONE);
    return shimIo(`copy to '${to}' from`, from, copy);
  },

  list(dir: string): Promise<string[]> {
    return shimIo("readdir", dir, () => fsp.readdir(dir));
  },

  isProcessAlive(pid: number): boolean | null {
    return probeProcess(pid, () => process.kill(pid, 0));
  },

  processStart(pid: number): string | null {
    return linuxProcessStart(pid, (path) => fsSync.readFileSync(path, "utf8"));
  },

  get processScope(): string | null {
    try {
      const host = `host=${hostname()}`;
      if (process.platform !== "linux") return host;
      const boot = fsSync.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
      return `${host};${fsSync.readlinkSync("/proc/self/ns/pid")};boot=${boot}`;
    } catch {
      return null;
    }
  },
};
