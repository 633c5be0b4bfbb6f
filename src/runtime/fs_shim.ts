/**
 * The small filesystem surface the engine needs. Each runtime provides one
 * implementation (`deno_fs.ts`, `node_fs.ts` for Bun and Node, `browser/opfs_fs.ts`);
 * tests provide fault-injecting ones. The rest of haul talks only to this interface.
 *
 * @module
 */

/** An open file. Positions are absolute byte offsets; no shared cursor. */
export interface ShimFile {
  /** Writes all of `data` at `position` (loops over short writes). */
  write(data: Uint8Array, position: number): Promise<void>;
  /** Reads up to `buffer.length` bytes at `position`; resolves to the count read (0 at end). */
  read(buffer: Uint8Array, position: number): Promise<number>;
  /** fdatasync(2): file data (and the size) reach stable storage. */
  datasync(): Promise<void>;
  /** fsync(2): data and all metadata reach stable storage. */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  /** Safe to call once. */
  close(): Promise<void>;
  /**
   * Takes an exclusive flock(2) without waiting: `false` when another open file
   * holds it. The kernel drops it when the holder closes the file or dies.
   * Absent where the runtime has none (`node:fs` in Node and Bun).
   */
  tryLock?(): Promise<boolean>;
  /** Device and inode (`"dev:ino"`), as {@link ShimStat.identity} gives; `null` when unknown. */
  identity?(): Promise<string | null>;
}

/**
 * How {@link FsShim.open} opens a path: `read` (must exist), `readwrite` (created 0o666 if missing,
 * never truncated), `create-exclusive` (write only; `EEXIST` if the path exists), `create-truncate`
 * (write only; created or emptied).
 */
export type OpenMode = "read" | "readwrite" | "create-exclusive" | "create-truncate";

/** What a symbolic link leads to, from what following it found (`null`: it failed). */
export function linkTargetOf(
  target: { readonly isFile: boolean; readonly isDirectory: boolean } | null,
): NonNullable<ShimStat["linkTarget"]> {
  if (target === null) return "missing";
  if (target.isFile) return "file";
  return target.isDirectory ? "directory" : "other";
}

/** What `lstat` tells about a path (symlinks are not followed). */
export interface ShimStat {
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  readonly isSymlink: boolean;
  /**
   * For a symbolic link, what it leads to when followed to the end: `"other"`
   * is a fifo, device or socket, `"missing"` dangling or a loop. Absent otherwise.
   */
  readonly linkTarget?: "file" | "directory" | "other" | "missing";
  readonly size: number;
  /** Last modification in ms since the epoch (the lock's lease reads it); absent when unknown. */
  readonly mtimeMs?: number;
  /** Device and inode (`"dev:ino"`): which file the path names; absent when unknown. */
  readonly identity?: string;
  /** How many names the file has (hard links); absent when unknown. */
  readonly links?: number;
}

/** A filesystem failure with an errno-style `code` (`ENOENT`…; see {@link platformErrorCode}) and its path. */
export class FsShimError extends Error {
  readonly code: string;
  readonly path: string;
  constructor(code: string, path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FsShimError";
    this.code = code;
    this.path = path;
  }
}

/** Deno's error class names (`error.name`), then OPFS's `DOMException` ones, and the errno code of each. */
const CODE_BY_ERROR_NAME: ReadonlyMap<string, string> = new Map(Object.entries({
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
  NotFoundError: "ENOENT",
  TypeMismatchError: "EISDIR",
  QuotaExceededError: "ENOSPC",
  NoModificationAllowedError: "EBUSY",
  InvalidModificationError: "EEXIST",
  NotAllowedError: "EACCES",
  SecurityError: "EACCES",
}));

/** A platform error's own `code` (`ENOENT`…), else its class `name`'s, else Deno's codeless EFBIG's, else `"UNKNOWN"`. */
function platformErrorCode(error: unknown): string {
  const { code, name, message } = (error ?? {}) as Record<string, unknown>;
  if (typeof code === "string" && code !== "") return code;
  const known = typeof name === "string" ? CODE_BY_ERROR_NAME.get(name) : undefined;
  return known ?? (/\(os error 27\)/.test(String(message)) ? "EFBIG" : "UNKNOWN");
}

/** Wraps what a runtime API threw as an {@link FsShimError} (code: {@link platformErrorCode}; the original as `cause`). */
export function toShimError(error: unknown, operation: string, path: string): FsShimError {
  if (error instanceof FsShimError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  const code = platformErrorCode(error);
  return new FsShimError(code, path, `${operation} '${path}' failed: ${detail}`, { cause: error });
}

/** Runs `body`, rethrowing what it throws through {@link toShimError}. */
export async function shimIo<T>(
  operation: string,
  path: string,
  body: () => Promise<T> | T,
): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw toShimError(error, operation, path);
  }
}

/** {@link shimIo}, but resolving to `missing` when nothing is at `path` (`ENOENT`, wrapped in nothing). */
export async function shimIoOrMissing<T, M>(
  operation: string,
  path: string,
  missing: M,
  body: () => Promise<T> | T,
): Promise<T | M> {
  try {
    return await body();
  } catch (error) {
    if (platformErrorCode(error) === "ENOENT") return missing;
    throw toShimError(error, operation, path);
  }
}

/**
 * Whether process `pid` is alive, by `kill(pid, 0)` (the kill(2) probe that delivers no signal):
 * success or `EPERM` alive, `ESRCH` (Deno: `NotFound`) dead, anything else (no permission) `null`.
 */
export function probeProcess(pid: number, kill: () => void): boolean | null {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    kill();
    return true;
  } catch (error) {
    const code = platformErrorCode(error);
    if (code === "ENOENT" || code === "ESRCH") return false;
    return code === "EPERM" || code === "EACCES" ? true : null;
  }
}

/**
 * The per-runtime filesystem capabilities. All failures reject with {@link FsShimError}. The
 * runtimes' shims make `stat`, `rename`, `remove`, `readFile` and `node_fs.ts`'s `fstat`
 * synchronously (a lookup or a small sidecar costs microseconds, a thread-pool round trip tens:
 * docs/performance.md, "Small files"); opening, reading, writing and syncing stay asynchronous.
 */
export interface FsShim {
  /** A short name for reports: `"deno"`, `"node"` or a test shim's name. */
  readonly name: string;
  open(path: string, mode: OpenMode): Promise<ShimFile>;
  /** rename(2): atomically replaces `to` with `from` (same filesystem). */
  rename(from: string, to: string): Promise<void>;
  /** unlink(2): removes a file, never a directory (`EISDIR`); resolves if nothing is there. */
  remove(path: string): Promise<void>;
  /** lstat(2), or `null` if nothing is at `path`. */
  stat(path: string): Promise<ShimStat | null>;
  /** A whole small file, or `null` if none; `EFTYPE` if not a regular file (a FIFO would block). */
  readFile(path: string): Promise<Uint8Array | null>;
  /** fsync(2) on a directory, making renames and unlinks in it durable. */
  syncDir(path: string): Promise<void>;
  /** This process's id (written into lock files). */
  readonly pid: number;
  /** Whether a process with this id is alive; `null` when the shim cannot tell (Deno without `--allow-run`). */
  isProcessAlive(pid: number): boolean | null;
  /**
   * When the process with this id started, as an opaque string (Linux: from `/proc/<pid>/stat`), or
   * `null` when unknown. A lock records its owner's, so a reused pid is not taken for the owner.
   */
  processStart?(pid: number): string | null;
  /** Copies a file (a reflink where the filesystem has them), replacing `to`. */
  copyFile?(from: string, to: string): Promise<void>;
  /**
   * utimes(2): sets the file's modification time to `mtimeMs` and its access time to now; an
   * `fsync` of the file makes it durable. Absent where a shim cannot (the file then keeps its times).
   */
  utime?(path: string, mtimeMs: number): Promise<void>;
  /** The names in a directory (readdir(3)). */
  list?(dir: string): Promise<string[]>;
  /**
   * Where this process's pids mean something: two processes with the same string see the same
   * process table (host name and, on Linux, pid namespace and boot). `null` or absent when unknown;
   * then a lock's pid is never trusted, only its lease.
   */
  readonly processScope?: string | null;
}
