/**
 * The {@link FsShim} over `node:fs/promises`, for Bun and Node (it also works
 * in Deno through Deno's Node compatibility layer).
 *
 * Decisions worth knowing:
 *
 * - `"readwrite"` opens with the numeric flags `O_RDWR | O_CREAT`: create if
 *   missing, never truncate, and not `O_APPEND` (Linux ignores the position of
 *   `pwrite(2)` on files opened for appending, so `"a+"` would be wrong).
 * - Writes and reads are positional (`pwrite`/`pread` through
 *   `FileHandle.write`/`read` with a position), so there is no shared cursor
 *   and concurrent calls on one file do not interfere.
 * - `syncDir` opens the directory with `"r"` and calls `FileHandle.sync()`
 *   (fsync(2)); on Windows, where directories cannot be opened that way, it
 *   does nothing.
 * - `isProcessAlive` uses `process.kill(pid, 0)`, which sends no signal:
 *   `ESRCH` means dead; success or `EPERM` (the process exists but belongs to
 *   another user) mean alive; any other failure means "cannot tell" (`null`).
 * - `processScope` is `os.hostname()` plus, on Linux, the pid namespace read
 *   from `/proc/self/ns/pid` and the boot id (`null` when they cannot be
 *   read): two processes with the same scope see the same pids.
 * - `processStart` reads the start time from `/proc/<pid>/stat` (Linux).
 * - `copyFile` asks for a reflink (`COPYFILE_FICLONE`) and falls back to a copy.
 *
 * @module
 */

import { constants, readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";
import * as fsp from "node:fs/promises";
import process from "node:process";
import {
  type FsShim,
  FsShimError,
  linkTargetOf,
  type OpenMode,
  platformErrorCode as nodeErrorCode,
  type ShimFile,
  type ShimStat,
  toShimError,
} from "./fs_shim.ts";

/** The `open(2)` flags for each {@link OpenMode}. */
function openFlags(mode: OpenMode): string | number {
  switch (mode) {
    case "read":
      return "r";
    case "readwrite":
      return constants.O_RDWR | constants.O_CREAT;
    case "create-exclusive":
      return "wx";
    case "create-truncate":
      return "w";
  }
}

/** A {@link ShimFile} over a `node:fs/promises` `FileHandle`, with positional I/O. */
class NodeShimFile implements ShimFile {
  readonly #handle: fsp.FileHandle;
  readonly #path: string;
  #closed = false;

  constructor(handle: fsp.FileHandle, path: string) {
    this.#handle = handle;
    this.#path = path;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    let done = 0;
    try {
      while (done < data.length) {
        const { bytesWritten } = await this.#handle.write(
          data,
          done,
          data.length - done,
          position + done,
        );
        if (bytesWritten <= 0) {
          throw new FsShimError("EIO", this.#path, `write '${this.#path}' wrote no bytes`);
        }
        done += bytesWritten;
      }
    } catch (error) {
      throw toShimError(error, "write", this.#path);
    }
  }

  async read(buffer: Uint8Array, position: number): Promise<number> {
    let done = 0;
    try {
      while (done < buffer.length) {
        const { bytesRead } = await this.#handle.read(
          buffer,
          done,
          buffer.length - done,
          position + done,
        );
        if (bytesRead <= 0) break;
        done += bytesRead;
      }
    } catch (error) {
      throw toShimError(error, "read", this.#path);
    }
    return done;
  }

  async datasync(): Promise<void> {
    try {
      await this.#handle.datasync();
    } catch (error) {
      throw toShimError(error, "datasync", this.#path);
    }
  }

  async sync(): Promise<void> {
    try {
      await this.#handle.sync();
    } catch (error) {
      throw toShimError(error, "sync", this.#path);
    }
  }

  async truncate(length: number): Promise<void> {
    try {
      await this.#handle.truncate(length);
    } catch (error) {
      throw toShimError(error, "truncate", this.#path);
    }
  }

  async size(): Promise<number> {
    try {
      return (await this.#handle.stat()).size;
    } catch (error) {
      throw toShimError(error, "stat", this.#path);
    }
  }

  async identity(): Promise<string> {
    try {
      const info = await this.#handle.stat();
      return `${info.dev}:${info.ino}`;
    } catch (error) {
      throw toShimError(error, "stat", this.#path);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#handle.close();
    } catch (error) {
      throw toShimError(error, "close", this.#path);
    }
  }
}

/**
 * A process's start time in clock ticks since boot, from `/proc/<pid>/stat`
 * (field 22, after the parenthesized command name) as `read` (which may throw)
 * gives it; `null` off Linux or when unreadable.
 *
 * @example
 * ```ts
 * import { linuxProcessStart } from "./node_fs.ts";
 * const stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 9 0 0 0 0 0 0 0 20 0 1 0 777 1 2";
 * console.log(linuxProcessStart(42, () => stat)); // "777"
 * ```
 */
export function linuxProcessStart(pid: number, read: (path: string) => string): string | null {
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  try {
    const text = read(`/proc/${pid}/stat`);
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const start = fields[19]; // field 22 of the line; the fields after ")" begin at field 3
    return start !== undefined && /^[0-9]+$/.test(start) ? start : null;
  } catch {
    return null;
  }
}

/** See the module notes: host name and, on Linux, the pid namespace and boot id. */
function nodeProcessScope(): string | null {
  try {
    const host = `host=${hostname()}`;
    if (process.platform !== "linux") return host;
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    return `${host};${readlinkSync("/proc/self/ns/pid")};boot=${boot}`;
  } catch {
    return null;
  }
}

/**
 * The filesystem shim over `node:fs/promises`, used in Bun and Node. Failures
 * reject with an {@link FsShimError} keeping the platform's `code` (`"UNKNOWN"` if none).
 *
 * @example Writing at an offset and reading it back
 * ```ts
 * import { nodeFs } from "./node_fs.ts";
 * import { mkdtemp, rmdir } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * const dir = await mkdtemp(join(tmpdir(), "haul-example-"));
 * const path = join(dir, "example.bin");
 * const file = await nodeFs.open(path, "readwrite");
 * await file.write(new TextEncoder().encode("hello"), 4);
 * await file.datasync();
 * console.log(await file.size()); // 9
 * await file.close();
 * await nodeFs.remove(path);
 * await rmdir(dir);
 * ```
 */
export const nodeFs: FsShim = {
  name: "node",

  async open(path: string, mode: OpenMode): Promise<ShimFile> {
    try {
      return new NodeShimFile(await fsp.open(path, openFlags(mode), 0o644), path);
    } catch (error) {
      throw toShimError(error, `open (${mode})`, path);
    }
  },

  async rename(from: string, to: string): Promise<void> {
    try {
      await fsp.rename(from, to);
    } catch (error) {
      throw toShimError(error, `rename to '${to}' from`, from);
    }
  },

  async utime(path: string, mtimeMs: number): Promise<void> {
    try {
      await fsp.utimes(path, new Date(), new Date(mtimeMs));
    } catch (error) {
      throw toShimError(error, "utime", path);
    }
  },

  async remove(path: string): Promise<void> {
    try {
      await fsp.unlink(path);
    } catch (error) {
      if (nodeErrorCode(error) === "ENOENT") return;
      throw toShimError(error, "remove", path);
    }
  },

  async stat(path: string): Promise<ShimStat | null> {
    try {
      const info = await fsp.lstat(path);
      const shown: ShimStat = {
        isFile: info.isFile(),
        isDirectory: info.isDirectory(),
        isSymlink: info.isSymbolicLink(),
        size: info.size,
        mtimeMs: info.mtimeMs,
        identity: `${info.dev}:${info.ino}`,
      };
      if (!shown.isSymlink) return shown;
      const target = await fsp.stat(path).then(
        (followed) => ({ isFile: followed.isFile(), isDirectory: followed.isDirectory() }),
        () => null,
      );
      return { ...shown, linkTarget: linkTargetOf(target) };
    } catch (error) {
      if (nodeErrorCode(error) === "ENOENT") return null;
      throw toShimError(error, "lstat", path);
    }
  },

  async readFile(path: string): Promise<Uint8Array | null> {
    try {
      const bytes = await fsp.readFile(path);
      // A plain Uint8Array view (not a Buffer), the same type every shim returns.
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      if (nodeErrorCode(error) === "ENOENT") return null;
      throw toShimError(error, "readFile", path);
    }
  },

  async syncDir(path: string): Promise<void> {
    if (process.platform === "win32") return;
    let dir: fsp.FileHandle;
    try {
      dir = await fsp.open(path, "r");
    } catch (error) {
      throw toShimError(error, "open directory", path);
    }
    try {
      await dir.sync();
    } catch (error) {
      throw toShimError(error, "fsync directory", path);
    } finally {
      await dir.close();
    }
  },

  get pid(): number {
    return process.pid;
  },

  async copyFile(from: string, to: string): Promise<void> {
    try {
      await fsp.copyFile(from, to, constants.COPYFILE_FICLONE);
    } catch (error) {
      throw toShimError(error, `copy to '${to}' from`, from);
    }
  },

  async list(dir: string): Promise<string[]> {
    try {
      return await fsp.readdir(dir);
    } catch (error) {
      throw toShimError(error, "readdir", dir);
    }
  },

  isProcessAlive(pid: number): boolean | null {
    if (!Number.isSafeInteger(pid) || pid <= 0) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      // ESRCH: no such process. EPERM: it exists but belongs to someone else.
      // Anything else (say Deno's compat layer without --allow-run) cannot tell.
      const code = nodeErrorCode(error);
      return code === "ESRCH" ? false : code === "EPERM" ? true : null;
    }
  },

  processStart(pid: number): string | null {
    return linuxProcessStart(pid, (path) => readFileSync(path, "utf8"));
  },

  get processScope(): string | null {
    return nodeProcessScope();
  },
};
