/**
 * A destination's path and sidecar names (no runtime path module), the checks before any request
 * that it can hold them, and its failures as {@link DestinationError}s that say what to do.
 *
 * @module
 */

import { DestinationError, HaulError } from "../errors.ts";
import { inCauses } from "../fetch_failure.ts";
import { type FsShim, FsShimError, type ShimStat } from "../runtime/fs_shim.ts";

/** The longest suffix haul appends to the destination's name. */
const LONGEST_SIDECAR_SUFFIX = ".part.ctrl.tmp";

/** The longest file name, and path, (in bytes) Linux accepts: NAME_MAX, PATH_MAX less its NUL. */
const [NAME_MAX, PATH_MAX] = [255, 4095];

/** `dest` (a path, or a `file:` URL of UTF-8 with no encoded "/") as a path; else a `TypeError`. */
export function destToPath(dest: string | URL): string {
  if (dest instanceof URL) {
    if (dest.protocol !== "file:" || /%2f/i.test(dest.pathname)) {
      throw new TypeError(`Invalid dest: want a file: URL, no encoded "/": ${dest.href}`);
    }
    try {
      return destToPath(decodeURIComponent(dest.pathname)); // a NUL is refused there
    } catch (e) {
      throw e instanceof URIError ? new TypeError(`Invalid dest: not UTF-8: ${dest.href}`) : e;
    }
  }
  if (typeof dest !== "string" || dest.length === 0) {
    throw new TypeError("Invalid dest: expected a non-empty path or a file: URL");
  }
  if (dest.startsWith("file:")) return destToPath(new URL(dest));
  if (dest.includes("\0")) throw new TypeError("Invalid dest: the path contains a NUL byte");
  if (!dest.isWellFormed()) throw new TypeError("Invalid dest: the path holds a lone surrogate");
  return dest;
}

/** The directory part of a path (`"."` when there is none). */
export function dirname(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, "");
  const cut = Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\"));
  if (cut < 0) return ".";
  if (cut === 0) return trimmed[0] ?? "/";
  return trimmed.slice(0, cut);
}

/** The last segment of a path. */
export function basename(path: string): string {
  return path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
}

/** The directory and sidecars of a destination path: the data, the checkpoint (and its temp file), the lock. */
export function sidecarPaths(dest: string) {
  return {
    dest,
    dir: dirname(dest), // where every rename happens
    part: `${dest}.part`,
    ctrl: `${dest}.part.ctrl`,
    ctrlTmp: `${dest}.part.ctrl.tmp`,
    lock: `${dest}.part.lock`,
    /** Where a taker writes its lock record, and where a release moves the lock (`lock.ts`). */
    guards: [`${dest}.part.takeover`, `${dest}.part.unlock`],
  };
}

/** The files that live beside a destination while it downloads. */
export type SidecarPaths = Readonly<ReturnType<typeof sidecarPaths>>;

/**
 * What is at `dest` (a file, or a link to one), or `null`; a {@link DestinationError} when the name
 * or path is too long, `dest` is a sidecar of a download there, the parent is missing or no folder
 * (unless `parentKnown`: the lock made in it), or `dest` is (or links to) a folder, fifo, device…
 */
export async function checkDestination(
  fs: FsShim,
  paths: SidecarPaths,
  parentKnown = false,
): Promise<ShimStat | null> {
  const { dest, dir } = paths;
  const fail = (message: string) => new DestinationError(message, dest);
  const stat = (path: string) =>
    fs.stat(path).catch((error) => {
      throw toDestinationError(error, dest);
    });
  const name = basename(dest);
  if (["", ".", ".."].includes(name)) throw fail(`Invalid destination: ${dest} names a directory`);
  for (const [what, text, limit] of [["name", name, NAME_MAX], ["path", dest, PATH_MAX]] as const) {
    const bytes = new TextEncoder().encode(text + LONGEST_SIDECAR_SUFFIX).length;
    if (bytes <= limit) continue;
    throw fail(
      `Destination ${what} too long: ${text.slice(0, 40)}…: with "${LONGEST_SIDECAR_SUFFIX}" ` +
        `appended it is ${bytes} bytes, over the ${limit}-byte limit; choose a shorter ${what}`,
    );
  }
  // Another download's `.part`, checkpoint or lock while it is there: not a file, and it would go.
  const stem = /^(.+)\.part(\.ctrl(\.tmp)?|\.lock|\.takeover|\.unlock)?$/s.exec(dest)?.[1];
  if (stem && ((await stat(`${stem}.part.ctrl`)) ?? (await stat(`${stem}.part.lock`)))) {
    throw fail(`Destination ${dest} is where ${stem} keeps its download in progress: use another`);
  }
  if (!parentKnown) {
    const parent = await stat(dir);
    if (parent === null) throw fail(`Destination directory does not exist: ${dir}; create it`);
    if (!parent.isDirectory && !parent.isSymlink) {
      throw fail(`Destination's parent is not a directory: ${dir}`);
    }
  }
  const existing = await stat(dest);
  if (existing?.isDirectory) throw fail(`Destination is a directory: ${dest}`);
  if (existing?.linkTarget === "directory") throw fail(`Destination links to a directory: ${dest}`);
  if (
    existing !== null && !existing.isFile &&
    (!existing.isSymlink || existing.linkTarget === "other")
  ) {
    // Reading a fifo, device or socket may block forever; replacing one is not haul's to do.
    throw fail(
      `Destination is not a regular file: ${dest} (a fifo, a device or a socket): ` +
        "haul saves to files only; choose another path",
    );
  }
  return existing;
}

/**
 * A filesystem failure as a {@link DestinationError} naming the path (other errors unchanged); a
 * full disk says "call again to resume" if `saved`, "starts over" if not, "call again" if unknown.
 */
export function toDestinationError(error: unknown, dest: string, saved?: boolean): unknown {
  if (!(error instanceof FsShimError)) return error;
  const next = saved === false
    ? "nothing could be saved, so the next call starts over from byte 0"
    : `free space and call again${saved ? " to resume" : ""}`;
  const advice: Record<string, string> = {
    ENOSPC: `the disk is full; ${next}`,
    EDQUOT: `the disk quota is exceeded; ${next}`,
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    EROFS: "the filesystem is read-only",
    ENAMETOOLONG: "the name is too long for the filesystem",
    ENOTDIR: "a parent in the path is not a directory",
    ELOOP: "too many symbolic links",
    EFTYPE: "not a regular file; remove it",
    EISDIR: "a directory is in the way; remove it",
    ENOTEMPTY: "a directory is in the way; remove it",
    EFBIG: "too large for the filesystem or this process's file-size limit (ulimit -f)",
    EMFILE: "too many open files; call again, with fewer at once or a higher ulimit -n",
    ERR_ACCESS_DENIED: "Node's --permission refuses it (from Node 24.13 any fsync): run without it",
  };
  return new DestinationError(
    `Cannot use destination: ${error.path}: ${advice[error.code] ?? error.code}`,
    dest,
    { cause: error, retryable: /^(ENOSPC|EDQUOT|EMFILE|ENFILE)$/.test(error.code) },
  );
}

/** What Deno's `NotCapable` says: `Requires read access to "/path"`. */
const REQUIRES = /Requires (\w+) access(?: to "([^"]*)")?/;

/**
 * A failure caused by a missing Deno permission (its `NotCapable` in `error` or a first cause) as a
 * non-retryable error naming the flag that grants it (on `dest`'s directory for read and write;
 * plain `--allow-all` for "all", which Deno asks for paths under /dev): a {@link DestinationError}
 * for the destination's files, a {@link HaulError} otherwise; anything else unchanged.
 */
export function explainMissingPermission(error: unknown, dest: string | URL): unknown {
  const explained = inCauses(error, ({ name, message }) => {
    if (name !== "NotCapable" || typeof message !== "string") return null;
    const path = destToPath(dest);
    const [, kind = "all", target = ""] = REQUIRES.exec(message) ?? [];
    const onDest = kind === "read" || kind === "write" || kind === "all"; // all: e.g. under /dev
    const granted = kind === "all" ? "" : onDest ? dirname(path) : target;
    const flag = granted === "" ? `--allow-${kind}` : `--allow-${kind}=${granted}`;
    const what = target === "" ? kind : `${kind} access to ${target}`;
    const text = `Missing Deno permission: haul needs ${what}; run Deno with ${flag}`;
    const options = { cause: error, retryable: false };
    return onDest ? new DestinationError(text, path, options) : new HaulError(text, options);
  });
  return explained ?? error;
}
