/**
 * Destination paths of the command line: checking a list's relative paths
 * and joining them to `--dir`, without a runtime's path module.
 *
 * @module
 */

/** A relative path that passed {@link checkRelativePath}. */
interface RelativePath {
  /** The path with `.` and empty segments removed, `/`-separated (empty when only a directory was given). */
  readonly path: string;
  /** True when the path ended with `/`: a directory, the name comes from the URL. */
  readonly isDirectory: boolean;
}

/** Checks a path written in a list (relative, inside `--dir`, printable): normalized, or the reason it is refused. */
export function checkRelativePath(raw: string): RelativePath | string {
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(raw)) {
    return "Control characters in the path: remove them";
  }
  if (raw.includes("\\")) return "Backslash in the path: use / between directories";
  if (raw.startsWith("/") || /^[A-Za-z]:/.test(raw)) {
    return "Absolute path: write it relative to the download directory (--dir)";
  }
  const segments = raw.split("/").filter((segment) => segment !== "" && segment !== ".");
  if (segments.includes("..")) {
    return "'..' would leave the download directory: write a path inside it (--dir)";
  }
  return { path: segments.join("/"), isDirectory: raw.endsWith("/") || segments.length === 0 };
}

/** Joins a directory (`"."` or `""`: the current one) and a relative path with `/`. */
export function joinPath(dir: string, relative: string): string {
  if (dir === "" || dir === ".") return relative;
  return dir.endsWith("/") || dir.endsWith("\\") ? dir + relative : `${dir}/${relative}`;
}

/**
 * Whether a path is absolute (POSIX `/…`, or a Windows drive or UNC path).
 *
 * @example
 * ```ts
 * import { isAbsolute } from "./dest_path.ts";
 * console.log(isAbsolute("/data/a.bin"), isAbsolute("C:\\a.bin"), isAbsolute("a.bin")); // true true false
 * ```
 */
export function isAbsolute(path: string): boolean {
  return path.startsWith("/") || path.startsWith("\\") || /^[A-Za-z]:/.test(path);
}
