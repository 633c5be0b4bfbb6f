/**
 * Turning URLs (from the arguments or a list) into downloads, validating the
 * whole set before any request: URLs, paths, duplicates, checksums.
 *
 * @module
 */

import { type ChecksumTable, lookupChecksum } from "./checksums.ts";
import { checkRelativePath, joinPath } from "./dest_path.ts";
import { checkUrl } from "./list.ts";
import { nameFromUrl } from "../protocol/safe_name.ts";

/** Where a download was asked for, and what it says. */
export interface JobSource {
  /** For messages: `"list.txt:3"` or `"argument 1"`. */
  readonly where: string;
  /** The URL as written. */
  readonly url: string;
  /** Mirrors of the same file, as written (none when absent). */
  readonly mirrors?: readonly string[];
  /** The path as written, or `null` to derive a name from the URL. */
  readonly path: string | null;
}

/** One validated download. */
export interface Job {
  /** For messages: `"list.txt:3"` or `"argument 1"`. */
  readonly where: string;
  /** The URL. */
  readonly url: URL;
  /** Mirrors of the same file, tried after `url`. */
  readonly mirrors: readonly URL[];
  /** The destination path. */
  readonly dest: string;
  /** The destination relative to the download directory (the checksum lookup key). */
  readonly relative: string;
  /** The expected digest as an `integrity` value, or `null`. */
  readonly integrity: string | null;
}

/** Settings that shape every destination. */
interface JobSettings {
  /** `--dir`, or `null`. */
  readonly dir: string | null;
  /** `-o` (a single download only), or `null`. */
  readonly output: string | null;
  /** `--sha256`/`--integrity` (a single download only), or `null`. */
  readonly integrity: string | null;
  /** The parsed `--checksums` file and its name, or `null`. */
  readonly checksums: { readonly table: ChecksumTable; readonly name: string } | null;
}

/**
 * Validates every source and builds the downloads, with one message per problem.
 * Refused: malformed or non-HTTP URLs, absolute paths, `..`, control characters,
 * two downloads to one destination, a destination another uses as a directory,
 * and (with `--checksums`) a destination with no checksum.
 */
export function planJobs(
  sources: readonly JobSource[],
  settings: JobSettings,
): { jobs: Job[]; problems: string[] } {
  const jobs: Job[] = [];
  const problems: string[] = [];
  const files = new Map<string, string>();
  for (const source of sources) {
    const checked = [source.url, ...source.mirrors ?? []].map(checkUrl);
    const bad = checked.find((one) => typeof one === "string");
    if (bad !== undefined) {
      problems.push(`${source.where}: ${bad}`);
      continue;
    }
    const [url, ...mirrors] = checked as [URL, ...URL[]];
    const chosen = relativeDest(source, url, settings);
    if (!chosen.ok) {
      problems.push(`${source.where}: ${chosen.reason}`);
      continue;
    }
    const relative = chosen.path;
    const first = files.get(relative);
    if (first !== undefined) {
      problems.push(
        `${source.where}: Duplicate destination ${relative} (also ${first}): ` +
          "give each download its own path",
      );
      continue;
    }
    files.set(relative, source.where);
    let integrity = settings.integrity;
    if (settings.checksums !== null) {
      const found = lookupChecksum(settings.checksums.table, relative);
      if (found === null) {
        problems.push(
          `${source.where}: No checksum for ${relative} in ${settings.checksums.name}: ` +
            "add a line for it, or drop --checksums",
        );
        continue;
      }
      integrity = found;
    }
    const dest = settings.output !== null && settings.dir === null
      ? settings.output
      : joinPath(settings.dir ?? ".", relative);
    jobs.push({ where: source.where, url, mirrors, dest, relative, integrity });
  }
  problems.push(...directoryClashes(files));
  return { jobs, problems };
}

/** A destination chosen for a source, or the reason it is refused. */
type ChosenDest = { readonly ok: true; readonly path: string } | {
  readonly ok: false;
  readonly reason: string;
};

/** The destination relative to `--dir`, or the reason it is refused. */
function relativeDest(source: JobSource, url: URL, settings: JobSettings): ChosenDest {
  if (settings.output !== null) {
    return { ok: true, path: settings.output.replace(/^(\.\/)+/, "") };
  }
  if (source.path === null) return { ok: true, path: nameFromUrl(url) };
  const checked = checkRelativePath(source.path);
  if (typeof checked === "string") return { ok: false, reason: checked };
  if (!checked.isDirectory) return { ok: true, path: checked.path };
  const name = nameFromUrl(url);
  return { ok: true, path: checked.path === "" ? name : `${checked.path}/${name}` };
}

/** Destinations that another destination needs as a directory. */
function directoryClashes(files: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  for (const [path, where] of files) {
    const segments = path.split("/");
    for (let depth = 1; depth < segments.length; depth++) {
      const prefix = segments.slice(0, depth).join("/");
      const other = files.get(prefix);
      if (other !== undefined) {
        problems.push(
          `${where}: Destination ${path} needs ${prefix} as a directory, but ${other} ` +
            "downloads a file there: give them different paths",
        );
      }
    }
  }
  return problems;
}
