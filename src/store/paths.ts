/**
 * Destination path handling: the sidecar names and the small path helpers the
 * engine needs, without depending on a runtime's path module.
 *
 * @module
 */

/** The files that live beside a destination while it downloads (see {@link sidecarPaths}). */
export interface SidecarPaths {
  readonly dest: string;
  /** Its directory (where every rename happens). */
  readonly dir: string;
  readonly part: string;
  readonly ctrl: string;
  readonly ctrlTmp: string;
  readonly lock: string;
}

/** The longest suffix haul appends to the destination's name. */
export const LONGEST_SIDECAR_SUFFIX = ".part.ctrl.tmp";

/** `dest` (a path or a `file:` URL) as a non-empty path; a `TypeError` for anything else. */
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
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return path.slice(cut + 1);
}

/** The directory and sidecars of a destination path: the data, the checkpoint (and its temp file), the lock. */
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
