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
  /** Sets the file's length. */
  truncate(length: number): Promise<void>;
  /** The file's current length in bytes. */
  size(): Promise<number>;
  /** Closes the handle. Safe to call once. */
  close(): Promise<void>;
  /**
   * Takes an exclusive advisory lock (flock(2)) without waiting: `true` when
   * taken, `false` when another open file holds it. The kernel drops it when
   * the holder closes the file or dies. Absent where the runtime has none
   * (`node:fs` in Node and Bun).
   */
  tryLock?(): Promise<boolean>;
  /** Device and inode (`"dev:ino"`), as {@link ShimStat.identity} gives; absent when unknown. */
  identity?(): Promise<string>;
}

/** How {@link FsShim.open} opens a path. */
export type OpenMode =
  /** Read only; the file must exist. */
  | "read"
  /** Read and write; created (mode 0o644) if missing; never truncated. */
  | "readwrite"
  /** Write only; created; fails with code `EEXIST` if the path exists. */
  | "create-exclusive"
  /** Write only; created or truncated to 0. */
  | "create-truncate";

/** What a symbolic link leads to; see {@link ShimStat.linkTarget}. */
type LinkTarget = "file" | "directory" | "other" | "missing";

/** What a symbolic link leads to, from what following it found (`null`: it failed). */
export function linkTargetOf(
  target: { readonly isFile: boolean; readonly isDirectory: boolean } | null,
): LinkTarget {
  if (target === null) return "missing";
  if (target.isFile) return "file";
  return target.isDirectory ? "directory" : "other";
}

/** What `lstat` tells about a path (symlinks are not followed). */
export interface ShimStat {
  /** A regular file. */
  readonly isFile: boolean;
  /** A directory. */
  readonly isDirectory: boolean;
  /** A symbolic link (not followed). */
  readonly isSymlink: boolean;
  /**
   * For a symbolic link, what it leads to when followed to the end: `"other"`
   * is a fifo, device or socket, `"missing"` dangling or a loop. Absent otherwise.
   */
  readonly linkTarget?: LinkTarget;
  /** Size in bytes. */
  readonly size: number;
  /** Last modification in ms since the epoch (the lock's lease reads it); absent when unknown. */
  readonly mtimeMs?: number;
  /** Device and inode (`"dev:ino"`): which file the path names; absent when unknown. */
  readonly identity?: string;
}

/**
 * Error codes the shims normalise platform errors to. Any other failure keeps
 * the platform's code string (for example `EIO`) in {@link FsShimError.code}.
 */
export type FsErrorCode =
  | "ENOENT"
  | "EEXIST"
  | "EISDIR"
  | "ENOTDIR"
  | "EACCES"
  | "EPERM"
  | "ENAMETOOLONG"
  | "ENOSPC"
  | "EROFS"
  | "ELOOP"
  | "EBUSY"
  | (string & Record<never, never>);

/** A filesystem failure with a normalised errno-style `code` and the path it was on. */
export class FsShimError extends Error {
  /** errno-style code, such as `ENOENT`. */
  readonly code: FsErrorCode;
  /** The path the operation was on. */
  readonly path: string;
  constructor(code: FsErrorCode, path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FsShimError";
    this.code = code;
    this.path = path;
  }
}

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

/** A platform error's own `code` (`ENOENT`…), else the one its Deno class `name` stands for, else `"UNKNOWN"`. */
export function platformErrorCode(error: unknown): FsErrorCode {
  if (typeof error === "object" && error !== null) {
    const { code, name } = error as { code?: unknown; name?: unknown };
    if (typeof code === "string" && code !== "") return code;
    const mapped = typeof name === "string" ? CODE_BY_ERROR_NAME[name] : undefined;
    if (mapped !== undefined) return mapped;
  }
  return "UNKNOWN";
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
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw toShimError(error, operation, path);
  }
}

/** {@link shimIo}, but resolving to `missing` when nothing is at `path` (`ENOENT`). */
export async function shimIoOrMissing<T, M>(
  operation: string,
  path: string,
  missing: M,
  body: () => Promise<T>,
): Promise<T | M> {
  try {
    return await body();
  } catch (error) {
    if (platformErrorCode(error) === "ENOENT") return missing;
    throw toShimError(error, operation, path);
  }
}

/** The per-runtime filesystem capabilities. All failures reject with {@link FsShimError}. */
export interface FsShim {
  /** A short name for reports: `"deno"`, `"node"` or a test shim's name. */
  readonly name: string;
  /** Opens `path` in `mode`. */
  open(path: string, mode: OpenMode): Promise<ShimFile>;
  /** rename(2): atomically replaces `to` with `from` (same filesystem). */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; resolves without error if it does not exist. */
  remove(path: string): Promise<void>;
  /** lstat(2), or `null` if nothing is at `path`. */
  stat(path: string): Promise<ShimStat | null>;
  /** Reads a whole (small) file, or `null` if it does not exist. */
  readFile(path: string): Promise<Uint8Array | null>;
  /** fsync(2) on a directory, making renames and unlinks in it durable. */
  syncDir(path: string): Promise<void>;
  /** This process's id (written into lock files). */
  readonly pid: number;
  /** Whether a process with this id is alive; `null` when the shim cannot tell (Deno without `--allow-run`). */
  isProcessAlive(pid: number): boolean | null;
  /**
   * When the process with this id started, as an opaque string (Linux: from
   * `/proc/<pid>/stat`), or `null` when unknown. A lock records its owner's,
   * so a reused pid is not taken for the owner.
   */
  processStart?(pid: number): string | null;
  /** Copies a file (a reflink where the filesystem has them), replacing `to`. */
  copyFile?(from: string, to: string): Promise<void>;
  /**
   * utimes(2): sets the file's modification time to `mtimeMs` and its access
   * time to now; an `fsync` of the file makes it durable. Absent where a shim
   * cannot (the file then keeps its times).
   */
  utime?(path: string, mtimeMs: number): Promise<void>;
  /** The names in a directory (readdir(3)). */
  list?(dir: string): Promise<string[]>;
  /**
   * Where this process's pids mean something: two processes with the same
   * string see the same process table (host name and, on Linux, pid namespace
   * and boot). `null` or absent when unknown; then a lock's pid is never
   * trusted, only its lease.
   */
  readonly processScope?: string | null;
}

/** Fills `buffer` from `file` at `position`, looping over short reads: `false` when the file ended first. */
export async function readFully(
  file: ShimFile,
  buffer: Uint8Array,
  position: number,
): Promise<boolean> {
  let done = 0;
  while (done < buffer.length) {
    const n = await file.read(buffer.subarray(done), position + done);
    if (n <= 0) return false;
    done += n;
  }
  return true;
}
