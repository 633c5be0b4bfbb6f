/**
 * The {@link FsShim} over Deno's own APIs (`Deno.open`, `Deno.FsFile`,
 * `Deno.rename`, `Deno.remove`, `Deno.lstat`, `Deno.readFile`, `Deno.utime`).
 *
 * Nothing here touches the `Deno` global while the module is evaluated, so
 * importing this file outside Deno (Bun, Node) is harmless; only calling the
 * shim there fails. `defaultFs()` (in `default_fs.ts`) loads it with a dynamic
 * `import()`, and only when `globalThis.Deno` exists.
 *
 * Decisions worth knowing:
 *
 * - `Deno.FsFile` has a cursor and no positional I/O, so each {@link ShimFile}
 *   remembers where its cursor is, seeks only when a call asks for another
 *   position, and runs its operations one at a time (concurrent calls on one
 *   file queue up instead of racing on the cursor).
 * - `syncDir` opens the directory with `{ read: true }` and calls `sync()`:
 *   Deno opens a directory read-only on Unix (verified on Linux with Deno
 *   2.9), and fsync(2) on that descriptor makes renames durable. On
 *   Windows, where a directory cannot be opened this way, it does nothing.
 * - `isProcessAlive` never sends a real signal: it uses `Deno.kill(pid, 0)`,
 *   the kill(2) existence probe (no signal is delivered; checked with strace),
 *   which Deno accepts since late 2025 (denoland/deno#31153; an older Deno
 *   throws a TypeError, and then `process.kill(pid, 0)` from `node:process`
 *   makes the same probe). `ESRCH` (Deno's `NotFound`) means dead;
 *   success or `EPERM` (another user's process) mean alive. Both need the
 *   `run` permission. Without it the answer is `null` ("cannot tell"); the
 *   permission is only queried (`Deno.permissions.querySync`), so no prompt
 *   appears. What the lock makes of each answer: `src/store/lock.ts`.
 * - `processScope` is the host name plus, on Linux, the pid namespace
 *   (`/proc/self/ns/pid`) and the boot id. Deno 2.9 reads nothing under `/proc` without
 *   `--allow-all` and the host name needs `--allow-sys=hostname`; without
 *   them it is `null` and pids in lock files are not trusted. Both are
 *   queried first, never prompted for.
 * - A missing permission surfaces as Deno's `NotCapable` error, mapped to
 *   `EACCES` here; `src/runtime/deno_permission.ts` turns it into a message
 *   naming the flag.
 *
 * @module
 */

import {
  type FsErrorCode,
  type FsShim,
  FsShimError,
  linkTargetOf,
  type OpenMode,
  type ShimFile,
  type ShimStat,
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

/**
 * The errno-style code for an error thrown by a Deno API: `error.code` when
 * Deno set one (it does for OS errors, e.g. `ENAMETOOLONG`, `ENOSPC`), else a
 * code derived from the error class (`Deno.errors.NotFound` → `ENOENT`, …),
 * else `"UNKNOWN"`.
 */
function denoErrorCode(error: unknown): FsErrorCode {
  if (typeof error === "object" && error !== null) {
    const { code, name } = error as { code?: unknown; name?: unknown };
    if (typeof code === "string" && code !== "") return code;
    if (typeof name === "string") {
      const mapped = CODE_BY_ERROR_NAME[name];
      if (mapped !== undefined) return mapped;
    }
  }
  return "UNKNOWN";
}

/** Wraps anything a Deno API threw as an {@link FsShimError} (the original as `cause`). */
function toShimError(error: unknown, operation: string, path: string): FsShimError {
  if (error instanceof FsShimError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new FsShimError(
    denoErrorCode(error),
    path,
    `${operation} '${path}' failed: ${detail}`,
    { cause: error },
  );
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
 * The filesystem shim for Deno, over `Deno.open` / `Deno.FsFile` and friends.
 * Every failure rejects with an {@link FsShimError} whose `code` comes from
 * the Deno error's `code` (`ENOENT`, `ENAMETOOLONG`, …) or, failing that, its
 * class (`Deno.errors.NotFound` → `ENOENT`, `AlreadyExists` → `EEXIST`,
 * `IsADirectory` → `EISDIR`, `NotADirectory` → `ENOTDIR`, `PermissionDenied`
 * and `NotCapable` → `EACCES`, `FilesystemLoop` → `ELOOP`, `Busy` → `EBUSY`).
 *
 * Needs `--allow-read` and `--allow-write` for the paths used; see the module
 * notes for what `isProcessAlive` and `processScope` need.
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
