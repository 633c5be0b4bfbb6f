/**
 * Destination path handling: the sidecar names and the small path helpers the
 * engine needs, without depending on a runtime's path module.
 *
 * @module
 */

/** The files that live beside a destination while it downloads. */
export interface SidecarPaths {
  /** The destination itself. */
  readonly dest: string;
  /** Its directory (where every rename happens). */
  readonly dir: string;
  /** `<dest>.part`: the data. */
  readonly part: string;
  /** `<dest>.part.ctrl`: the checkpoint. */
  readonly ctrl: string;
  /** `<dest>.part.ctrl.tmp`: the checkpoint being written. */
  readonly ctrlTmp: string;
  /** `<dest>.part.lock`: held while a call works on this destination. */
  readonly lock: string;
}

/** The longest suffix haul appends to the destination's name. */
export const LONGEST_SIDECAR_SUFFIX = ".part.ctrl.tmp";

/**
 * Turns `dest` (a path or a `file:` URL) into a path string.
 *
 * @param dest the caller's destination.
 * @returns a non-empty path.
 * @throws {TypeError} for an empty path or a non-`file:` URL.
 */
export function destToPath(dest: string | URL): string {
  if (dest instanceof URL) {
    if (dest.protocol !== "file:") {
      throw new TypeError(`Invalid dest: only file: URLs are accepted, got ${dest.protocol}`);
    }
    return decodeURIComponent(dest.pathname);
  }
  if (typeof dest !== "string" || dest.length === 0) {
    throw new TypeError("Invalid dest: expected a non-empty path or a file: URL");
  }
  if (dest.startsWith("file:")) return destToPath(new URL(dest));
  if (dest.includes("\0")) throw new TypeError("Invalid dest: the path contains a NUL byte");
  return dest;
}

/**
 * The directory part of a path (`"."` when there is none).
 *
 * @param path a file path.
 * @returns its parent directory.
 */
export function dirname(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, "");
  const cut = Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\"));
  if (cut < 0) return ".";
  if (cut === 0) return trimmed[0] ?? "/";
  return trimmed.slice(0, cut);
}

/**
 * The last segment of a path.
 *
 * @param path a file path.
 * @returns the name after the last separator.
 */
export function basename(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return path.slice(cut + 1);
}

/**
 * The sidecar paths of a destination path.
 *
 * @param dest the destination path.
 * @returns the destination, its directory and its sidecars.
 */
export function sidecarPaths(dest: string): SidecarPaths {
  return {
    dest,
    dir: dirname(dest),
    part: `${dest}.part`,
    ctrl: `${dest}.part.ctrl`,
    ctrlTmp: `${dest}.part.ctrl.tmp`,
    lock: `${dest}.part.lock`,
  };
}
