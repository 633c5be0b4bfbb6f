/**
 * The {@link FsShim} over Deno's own APIs. Nothing touches the `Deno` global
 * while the module is evaluated, so importing it elsewhere is harmless;
 * `defaultFs()` loads it only when `globalThis.Deno` exists.
 *
 * - `Deno.FsFile` has a cursor and no positional I/O, so each {@link ShimFile}
 *   tracks its cursor, seeks only when needed, and runs its operations one at a
 *   time (concurrent calls queue instead of racing on the cursor).
 * - `syncDir` fsyncs the directory opened `{ read: true }` (read-only on Unix,
 *   verified on Linux with Deno 2.9), making renames durable; on Windows, nothing.
 * - `isProcessAlive` is `Deno.kill(pid, 0)`, the kill(2) probe that delivers no
 *   signal (checked with strace; Deno accepts it since late 2025, denoland/deno#31153,
 *   before which `process.kill(pid, 0)` makes it). `ESRCH` (`NotFound`) is dead;
 *   success or `EPERM` alive. Without the `run` permission, `null`; permissions
 *   are only queried (`querySync`), never prompted for. See `src/store/lock.ts`.
 * - `processScope` is the host name plus, on Linux, the pid namespace and boot
 *   id; Deno 2.9 reads nothing under `/proc` without `--allow-all`, and the host
 *   name needs `--allow-sys=hostname`: without them it is `null` and lock pids
 *   are not trusted.
 * - A missing permission (`NotCapable`) is `EACCES` here; `deno_permission.ts`
 *   names the flag.
 *
 * @module
 */

import {
  type FsErrorCode,
  type FsShim,
  FsShimError,
  linkTargetOf,
  type OpenMode,
  platformErrorCode,
  type ShimFile,
  type ShimStat,
  toShimError as wrap,
} from "./fs_shim.ts";
import process from "node:process";

/** Deno's error class names (`error.name`) and the errno code each stands for. */
const CODE_BY_ERROR_NAME: Readonly<Record<string, FsErrorCode>> = {
  NotFound: "ENOENT",
  AlreadyExists: "EEXIST",
  IsADirectory: "EISDIR",
  NotADirectory: "ENOTDIR",
  PermissionDenied: "EACCES",
  // Deno's own permission sandbox refused (no --allow-read / --allow-write).
  NotCapable: "EACCES",
  FilesystemLoop: "ELOOP",
  Busy: "EBUSY",
  Interrupted: "EINTR",
  BadResource: "EBADF",
  NotSupported: "ENOTSUP",
  InvalidData: "EINVAL",
  WriteZero: "EIO",
  UnexpectedEof: "EIO",
  TimedOut: "ETIMEDOUT",
};

/** A Deno API error's `code` (Deno sets one for OS errors), else its class's. */
function denoErrorCode(error: unknown): FsErrorCode {
  return platformErrorCode(error, CODE_BY_ERROR_NAME);
}

function toShimError(error: unknown, operation: string, path: string): FsShimError {
  return wrap(error, operation, path, CODE_BY_ERROR_NAME);
}

/** Whether `error` is Deno's "nothing at that path". */
function isNotFound(error: unknown): boolean {
  return denoErrorCode(error) === "ENOENT";
}

/** The `Deno.open` options for each {@link OpenMode}; files are created 0o644. */
function openOptions(mode: OpenMode): Deno.OpenOptions {
  switch (mode) {
    case "read":
      return { read: true };
    case "readwrite":
      return { read: true, write: true, create: true, mode: 0o644 };
    case "create-exclusive":
      return { write: true, createNew: true, mode: 0o644 };
    case "create-truncate":
      return { write: true, create: true, truncate: true, mode: 0o644 };
  }
}

/** A {@link ShimFile} over a `Deno.FsFile`, emulating positional I/O with a tracked cursor. */
class DenoShimFile implements ShimFile {
  readonly #file: Deno.FsFile;
  readonly #path: string;
  /** Where the OS cursor is, or `undefined` when unknown (after a failure). */
  #cursor: number | undefined = 0;
  /** The tail of the operation queue; never rejects. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(file: Deno.FsFile, path: string) {
    this.#file = file;
    this.#path = path;
  }

  /** Runs `operation` after every earlier one on this file has settled. */
  #serial<T>(operation: string, body: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(body).catch((error: unknown) => {
      throw toShimError(error, operation, this.#path);
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Moves the cursor to `position` unless it is already there. */
  async #seekTo(position: number): Promise<void> {
    if (this.#cursor === position) return;
    this.#cursor = undefined;
    await this.#file.seek(position, Deno.SeekMode.Start);
    this.#cursor = position;
  }

  write(data: Uint8Array, position: number): Promise<void> {
    return this.#serial("write", async () => {
      let done = 0;
      try {
        while (done < data.length) {
          await this.#seekTo(position + done);
          const written = await this.#file.write(data.subarray(done));
          if (written <= 0) {
            throw new FsShimError("EIO", this.#path, `write '${this.#path}' wrote no bytes`);
          }
          done += written;
          this.#cursor = position + done;
        }
      } catch (error) {
        this.#cursor = undefined;
        throw error;
      }
    });
  }

  read(buffer: Uint8Array, position: number): Promise<number> {
    return this.#serial("read", async () => {
      let done = 0;
      try {
        while (done < buffer.length) {
          await this.#seekTo(position + done);
          const count = await this.#file.read(buffer.subarray(done));
          if (count === null || count === 0) break;
          done += count;
          this.#cursor = position + done;
        }
      } catch (error) {
        this.#cursor = undefined;
        throw error;
      }
      return done;
    });
  }

  datasync(): Promise<void> {
    return this.#serial("datasync", () => this.#file.syncData());
  }

  sync(): Promise<void> {
    return this.#serial("sync", () => this.#file.sync());
  }

  truncate(length: number): Promise<void> {
    return this.#serial("truncate", () => this.#file.truncate(length));
  }

  size(): Promise<number> {
    return this.#serial("stat", async () => (await this.#file.stat()).size);
  }

  identity(): Promise<string> {
    return this.#serial("stat", async () => {
      const info = await this.#file.stat();
      return `${info.dev}:${info.ino}`;
    });
  }

  tryLock(): Promise<boolean> {
    return this.#serial("lock", async () => {
      const file = this.#file as Deno.FsFile & { tryLock?(exclusive?: boolean): Promise<boolean> };
      // Deno before 2.7 has no tryLock: then nothing is known (a held lock would mean a live owner).
      if (typeof file.tryLock !== "function") throw new Error("FsFile.tryLock is not available");
      return await file.tryLock(true);
    });
  }

  close(): Promise<void> {
    return this.#serial("close", () => {
      if (!this.#closed) {
        this.#closed = true;
        this.#file.close();
      }
      return Promise.resolve();
    });
  }
}

/** Whether Deno's permission state for `descriptor` is "granted", asking nobody. */
function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

/** See the module notes: kill(pid, 0) with the `run` permission, else `true`. */
function denoIsProcessAlive(pid: number): boolean | null {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (!granted({ name: "run" })) return null; // cannot tell without run
  try {
    Deno.kill(pid, 0);
    return true;
  } catch (error) {
    if (!(error instanceof TypeError)) return livenessFromKillError(error);
  }
  // An older Deno rejects signal 0 with a TypeError; its node:process already
  // made the same kill(2) probe.
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return livenessFromKillError(error);
  }
}

/** kill(pid, 0) failed: ESRCH (Deno: `NotFound`) means dead; EPERM alive; anything else, unknown. */
function livenessFromKillError(error: unknown): boolean | null {
  const code = denoErrorCode(error);
  if (code === "ENOENT" || code === "ESRCH") return false;
  return code === "EPERM" || code === "EACCES" ? true : null;
}

/** See the module notes: host name, pid namespace and boot id, or `null` without the permissions. */
function denoProcessScope(): string | null {
  if (!granted({ name: "sys", kind: "hostname" })) return null;
  try {
    const host = `host=${Deno.hostname()}`;
    if (Deno.build.os !== "linux") return host;
    const nsPath = "/proc/self/ns/pid";
    if (!granted({ name: "read", path: nsPath })) return null;
    const boot = Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
    return `${host};${Deno.readLinkSync(nsPath)};boot=${boot}`;
  } catch {
    return null; // e.g. NotCapable under /proc without --allow-all
  }
}

/**
 * The filesystem shim for Deno. Failures reject with an {@link FsShimError}
 * whose `code` is the Deno error's, or its class's ({@link CODE_BY_ERROR_NAME}).
 * Needs `--allow-read` and `--allow-write` for the paths used (see the module
 * notes for `isProcessAlive` and `processScope`).
 *
 * @example Writing at an offset and reading it back
 * ```ts
 * import { denoFs } from "./deno_fs.ts";
 * const path = await Deno.makeTempFile();
 * const file = await denoFs.open(path, "readwrite");
 * await file.write(new TextEncoder().encode("hello"), 4);
 * await file.datasync();
 * console.log(await file.size()); // 9
 * await file.close();
 * await denoFs.remove(path);
 * ```
 */
export const denoFs: FsShim = {
  name: "deno",

  async open(path: string, mode: OpenMode): Promise<ShimFile> {
    try {
      return new DenoShimFile(await Deno.open(path, openOptions(mode)), path);
    } catch (error) {
      throw toShimError(error, `open (${mode})`, path);
    }
  },

  rename(from: string, to: string): Promise<void> {
    return Deno.rename(from, to).catch((error: unknown) => {
      throw toShimError(error, `rename to '${to}' from`, from);
    });
  },

  utime(path: string, mtimeMs: number): Promise<void> {
    return Deno.utime(path, new Date(), new Date(mtimeMs)).catch((error: unknown) => {
      throw toShimError(error, "utime", path);
    });
  },

  async remove(path: string): Promise<void> {
    try {
      await Deno.remove(path);
    } catch (error) {
      if (isNotFound(error)) return;
      throw toShimError(error, "remove", path);
    }
  },

  async stat(path: string): Promise<ShimStat | null> {
    try {
      const info = await Deno.lstat(path);
      const shown: ShimStat = {
        isFile: info.isFile,
        isDirectory: info.isDirectory,
        isSymlink: info.isSymlink,
        size: info.size,
        ...(info.mtime === null ? {} : { mtimeMs: info.mtime.getTime() }),
        ...(info.ino === null ? {} : { identity: `${info.dev}:${info.ino}` }),
      };
      if (!shown.isSymlink) return shown;
      const target = await Deno.stat(path).catch(() => null);
      return { ...shown, linkTarget: linkTargetOf(target) };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw toShimError(error, "lstat", path);
    }
  },

  async readFile(path: string): Promise<Uint8Array | null> {
    try {
      return await Deno.readFile(path);
    } catch (error) {
      if (isNotFound(error)) return null;
      throw toShimError(error, "readFile", path);
    }
  },

  async syncDir(path: string): Promise<void> {
    if (Deno.build.os === "windows") return;
    let dir: Deno.FsFile;
    try {
      dir = await Deno.open(path, { read: true });
    } catch (error) {
      throw toShimError(error, "open directory", path);
    }
    try {
      await dir.sync();
    } catch (error) {
      throw toShimError(error, "fsync directory", path);
    } finally {
      dir.close();
    }
  },

  get pid(): number {
    return Deno.pid;
  },

  isProcessAlive(pid: number): boolean | null {
    return denoIsProcessAlive(pid);
  },

  get processScope(): string | null {
    return denoProcessScope();
  },
};
