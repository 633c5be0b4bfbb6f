/**
 * Checks, before any request, that a destination can hold its sidecar files.
 *
 * @module
 */

import { DestinationError } from "../errors.ts";
import { type FsShim, FsShimError, type ShimStat } from "../runtime/fs_shim.ts";
import { basename, LONGEST_SIDECAR_SUFFIX, type SidecarPaths } from "./paths.ts";

/** The longest file name (in bytes) common filesystems accept. */
const NAME_MAX = 255;

/**
 * What is at `dest` (a file, or a link to one), or `null`; a
 * {@link DestinationError} when the name is too long, the parent is missing or
 * not a directory (unless `parentKnown`: the lock file was just created in
 * it), or `dest` is (or links to) a directory, a fifo, a device or a socket.
 */
export async function checkDestination(
  fs: FsShim,
  paths: SidecarPaths,
  parentKnown = false,
): Promise<ShimStat | null> {
  const name = basename(paths.dest);
  if (name === "" || name === "." || name === "..") {
    throw new DestinationError(`Invalid destination: ${paths.dest} names a directory`, paths.dest);
  }
  const nameBytes = new TextEncoder().encode(name + LONGEST_SIDECAR_SUFFIX).length;
  if (nameBytes > NAME_MAX) {
    throw new DestinationError(
      `Destination name too long: ${name.slice(0, 40)}…: with "${LONGEST_SIDECAR_SUFFIX}" ` +
        `appended it is ${nameBytes} bytes, over the ${NAME_MAX}-byte limit; choose a shorter name`,
      paths.dest,
    );
  }
  if (!parentKnown) await checkParent(fs, paths);
  const existing = await statOrThrow(fs, paths.dest, paths.dest);
  if (existing?.isDirectory) {
    throw new DestinationError(`Destination is a directory: ${paths.dest}`, paths.dest);
  }
  if (existing?.linkTarget === "directory") {
    throw new DestinationError(
      `Destination is a link to a directory: ${paths.dest}`,
      paths.dest,
    );
  }
  if (
    existing !== null && !existing.isFile &&
    (!existing.isSymlink || existing.linkTarget === "other")
  ) {
    // A fifo, a device or a socket, or a link to one: reading it may block
    // forever, and renaming a download over it is not haul's to do.
    throw new DestinationError(
      `Destination is not a regular file: ${paths.dest} (a fifo, a device or a socket): ` +
        "haul saves to files only; choose another path",
      paths.dest,
    );
  }
  return existing;
}

async function checkParent(fs: FsShim, paths: SidecarPaths): Promise<void> {
  const parent = await statOrThrow(fs, paths.dir, paths.dest);
  if (parent === null) {
    throw new DestinationError(
      `Destination directory does not exist: ${paths.dir}; create it first`,
      paths.dest,
    );
  }
  if (!parent.isDirectory && !parent.isSymlink) {
    throw new DestinationError(
      `Destination's parent is not a directory: ${paths.dir}`,
      paths.dest,
    );
  }
}

async function statOrThrow(fs: FsShim, path: string, dest: string) {
  try {
    return await fs.stat(path);
  } catch (error) {
    throw toDestinationError(error, dest);
  }
}

/**
 * A filesystem failure as a {@link DestinationError} naming the path (other
 * errors unchanged); `resumable`: a checkpoint is on disk, so a full disk says
 * "call again to resume".
 */
export function toDestinationError(error: unknown, dest: string, resumable = true): unknown {
  if (!(error instanceof FsShimError)) return error;
  const advice: Record<string, string> = {
    ENOSPC: resumable
      ? "the disk is full; free space and call again to resume"
      : "the disk is full; nothing could be saved, so the next call starts over from byte 0",
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    EROFS: "the filesystem is read-only",
    ENAMETOOLONG: "the name is too long for the filesystem",
    ENOTDIR: "a parent in the path is not a directory",
    ELOOP: "too many symbolic links",
  };
  return new DestinationError(
    `Cannot use destination: ${error.path}: ${advice[error.code] ?? error.code}`,
    dest,
    { cause: error, retryable: error.code === "ENOSPC" },
  );
}
