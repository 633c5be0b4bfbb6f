/**
 * Turning URLs (arguments or a list) into downloads, the whole set validated before any request
 * (URLs, paths, duplicates, `--checksums FILE`), and this machine's share of them (`--shard K/N`).
 *
 * @module
 */

import { type HaulAllItem, sidecarClashes } from "../batch/haul_all.ts";
import { nameFromUrl } from "../protocol/safe_name.ts";
import { redactUnparsed } from "../redact.ts";
import type { CliOptions, Shard } from "./args.ts";
import { VERSION } from "./help.ts";

/** Where a download was asked for (`"list.txt:3"`, `"argument 1"`), and what it says, as written. */
export interface JobSource {
  readonly where: string;
  readonly url: string;
  readonly mirrors?: readonly string[];
  /** `null`: the name comes from the URL. */
  readonly path: string | null;
}

/** One validated download. */
export interface Job {
  readonly where: string;
  readonly url: URL;
  readonly mirrors: readonly URL[];
  readonly dest: string;
  /** The destination relative to the download directory (the checksum and shard key). */
  readonly relative: string;
  /** The expected digest as an `integrity` value. */
  readonly integrity: string | null;
}

/** What shapes every destination: `--dir`, `-o`, `--sha256` (or `--integrity`), `--checksums`. */
type JobSettings = Pick<CliOptions, "dir" | "output" | "integrity"> & {
  readonly checksums: { readonly table: ChecksumTable; readonly name: string } | null;
};

/** Validates every source and builds the downloads, with one message per problem (docs/cli.md, "The list"). */
export function planJobs(
  sources: readonly JobSource[],
  settings: JobSettings,
): { jobs: Job[]; problems: string[] } {
  const jobs: Job[] = [];
  const problems: string[] = [];
  const files = new Map<string, string>(); // relative destination → where it was asked for
  for (const source of sources) {
    const job = planJob(source, settings, files);
    if (typeof job === "string") problems.push(`${source.where}: ${job}`);
    else jobs.push(job);
  }
  problems.push(...clashes(files));
  return { jobs, problems };
}

function planJob(
  source: JobSource,
  settings: JobSettings,
  files: Map<string, string>,
): Job | string {
  const checked = [source.url, ...source.mirrors ?? []].map(checkUrl);
  const bad = checked.find((one) => typeof one === "string");
  if (bad !== undefined) return bad;
  const [url, ...mirrors] = checked as [URL, ...URL[]];
  const chosen = relativeDest(source, url, settings);
  if (typeof chosen === "string") return chosen;
  const relative = chosen.path;
  const first = files.get(relative);
  if (first !== undefined) {
    return `Duplicate destination ${relative} (also ${first}): give each download its own path`;
  }
  files.set(relative, source.where);
  let integrity = settings.integrity;
  if (settings.checksums !== null) {
    integrity = lookupChecksum(settings.checksums.table, relative);
    if (integrity === null) {
      return `No checksum for ${relative} in ${settings.checksums.name}: ` +
        "add a line for it, or drop --checksums";
    }
  }
  const dest = settings.output !== null && settings.dir === null
    ? settings.output
    : joinPath(settings.dir ?? ".", relative);
  return { where: source.where, url, mirrors, dest, relative, integrity };
}

/** The destination relative to `--dir`, or why the list's path is refused (absolute, outside `--dir`, unprintable). */
function relativeDest(
  source: JobSource,
  url: URL,
  settings: JobSettings,
): { path: string } | string {
  if (settings.output !== null) return { path: settings.output.replace(/^(\.\/)+/, "") };
  const raw = source.path;
  if (raw === null) return { path: nameFromUrl(url) };
  if (/\p{Cc}/u.test(raw)) return "Control characters in the path: remove them";
  if (raw.includes("\\")) return "Backslash in the path: use / between directories";
  if (raw.startsWith("/") || /^[A-Za-z]:/.test(raw)) {
    return "Absolute path: write it relative to the download directory (--dir)";
  }
  const segments = raw.split("/").filter((segment) => segment !== "" && segment !== ".");
  if (segments.includes("..")) {
    return "'..' would leave the download directory: write a path inside it (--dir)";
  }
  // A path ending with "/" names a directory: the file's name comes from the URL.
  if (raw.endsWith("/") || segments.length === 0) segments.push(nameFromUrl(url));
  return { path: segments.join("/") };
}

/** Destinations that another one needs as a directory, or as its `.part`, checkpoint or lock. */
function clashes(files: ReadonlyMap<string, string>): string[] {
  const problems = sidecarClashes(files);
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

/** Joins a directory (`"."` or `""`: the current one) and a relative path with `/`. */
function joinPath(dir: string, relative: string): string {
  if (dir === "" || dir === ".") return relative;
  return dir.endsWith("/") || dir.endsWith("\\") ? dir + relative : `${dir}/${relative}`;
}

/** The download lines of list `name` (docs/cli.md, "The list"), as written: {@link planJobs} validates them. */
export function parseList(text: string, name: string): JobSource[] {
  const entries: JobSource[] = [];
  for (const [index, raw] of text.replace(/^\uFEFF/, "").split(/\r\n?|\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    // The URLs come first (a scheme and "//"); the rest of the line, whatever it holds, is the path.
    const match = /^((?:[a-z][a-z0-9+.-]*:\/\/\S*(?:\s+|$))+)(.*)$/is.exec(line) ??
      /^(\S+)\s*(.*)$/s.exec(line)!;
    const [url = line, ...mirrors] = match[1]!.trim().split(/\s+/);
    const path = match[2]!.trim();
    entries.push({ where: `${name}:${index + 1}`, url, mirrors, path: path === "" ? null : path });
  }
  return entries;
}

/** Checks a URL (parseable, `http:` or `https:`, which always have a host): parsed, or why it is refused. */
export function checkUrl(raw: string): URL | string {
  const safe = redactUnparsed(raw);
  const shown = safe.length > 100 ? `${safe.slice(0, 100)}…` : safe;
  if (!URL.canParse(raw)) {
    return `Invalid URL "${shown}": write a full URL such as https://example.com/file`;
  }
  const url = new URL(raw);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `Unsupported URL scheme ${url.protocol.slice(0, -1)}: use http:// or https://`;
  }
  return url;
}

/** A job's `haulAll` item: credentials in its URL (`fetch` refuses them) go as `Authorization: Basic`, never printed. */
export function batchItem(
  job: Pick<Job, "url" | "dest" | "integrity"> & Partial<Job>,
): HaulAllItem {
  const item: HaulAllItem = { url: job.url, dest: job.dest };
  if (job.integrity !== null) item.integrity = job.integrity;
  const mirrors = job.mirrors ?? [];
  if (job.url.username === "" && job.url.password === "") {
    if (mirrors.length > 0) item.urls = [job.url, ...mirrors];
    return item;
  }
  // To this URL only (a mirror is another host); %XX is a byte, any other % itself (curl's).
  const url = new URL(job.url);
  const bytes = `${url.username}:${url.password}`
    .replace(/%([0-9a-f]{2})/gi, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
  url.username = url.password = "";
  item.url = url;
  const headers = { authorization: `Basic ${btoa(bytes)}` };
  if (mirrors.length === 0) item.headers = headers;
  else item.urls = [new Request(url, { headers }), ...mirrors];
  return item;
}

/** The run's request headers, and `item`'s over them. */
export function requestHeaders(options: CliOptions, item?: HaulAllItem): Headers {
  const headers = new Headers();
  for (const [name, value] of options.headers) headers.append(name, value);
  if (options.userAgent !== null) headers.set("user-agent", options.userAgent);
  else if (!headers.has("user-agent")) headers.set("user-agent", `haul/${VERSION}`);
  new Headers(item?.headers).forEach((value, name) => headers.set(name, value));
  return headers;
}

/** A destination's bucket, the same on every machine (docs/cli.md): FNV-1a of its relative path, modulo `count`. */
export function shardOf(relative: string, count: number): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(relative)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % count;
}

/** Whether a destination (relative to the download directory) falls in `shard`. */
export function inShard(relative: string, shard: Shard): boolean {
  return shardOf(relative, shard.count) === shard.index - 1;
}

/** A parsed checksums file: an `integrity` value by name (`./` removed), and problems by 1-based line. */
export interface ChecksumTable {
  /** `sha256:<hex>`, `sha512:<hex>`, or both when a name has a line of each. */
  readonly byName: ReadonlyMap<string, string>;
  readonly problems: readonly { line: number; message: string }[];
}

const MALFORMED_CHECKSUM =
  "Malformed checksum line: write the hex digest (64 digits for SHA-256, " +
  "128 for SHA-512), two spaces, then the file name";

/** Parses a checksums file (docs/cli.md, "Checksum files"); a `HEX`'s length tells its algorithm. */
export function parseChecksums(text: string): ChecksumTable {
  const byName = new Map<string, string>();
  const problems: { line: number; message: string }[] = [];
  for (const [index, line] of text.replace(/^\uFEFF/, "").split(/\r?\n/).entries()) {
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const parsed = parseLine(line);
    if (parsed === null) {
      problems.push({ line: index + 1, message: MALFORMED_CHECKSUM });
      continue;
    }
    const name = normalizeName(parsed.name);
    const token = `${parsed.algorithm}:${parsed.hex}`;
    const previous = byName.get(name)?.split(" ") ?? [];
    if (previous.some((t) => t.startsWith(`${parsed.algorithm}:`) && t !== token)) {
      problems.push({ line: index + 1, message: `Two different checksums for ${name}` });
      continue;
    }
    // A line of another algorithm for the same name: `integrity` checks the strongest.
    if (!previous.includes(token)) byName.set(name, [...previous, token].join(" "));
  }
  return { byName, problems };
}

/** A destination's `integrity` value: by its path relative to `--dir`, else by a base name only one entry has. */
export function lookupChecksum(table: ChecksumTable, relative: string): string | null {
  const key = normalizeName(relative);
  const exact = table.byName.get(key);
  if (exact !== undefined) return exact;
  const baseName = (name: string) => name.slice(name.lastIndexOf("/") + 1);
  const found = [...table.byName].filter(([name]) => baseName(name) === baseName(key));
  return found.length === 1 ? found[0]![1] : null;
}

/** The algorithm by the number of hex digits of its digest. */
const BY_DIGITS: Readonly<Record<number, string>> = { 64: "sha256", 96: "sha384", 128: "sha512" };

function parseLine(line: string): { algorithm: string; hex: string; name: string } | null {
  const bsd = /^(SHA256|SHA384|SHA512) \((.+)\) = ([0-9a-fA-F]+)\s*$/.exec(line);
  if (bsd !== null) {
    const algorithm = bsd[1]!.toLowerCase();
    const hex = bsd[3]!.toLowerCase();
    return BY_DIGITS[hex.length] === algorithm ? { algorithm, hex, name: bsd[2]! } : null;
  }
  const escaped = line.startsWith("\\");
  const gnu = /^([0-9a-fA-F]+) [ *](.+)$/.exec(escaped ? line.slice(1) : line);
  const algorithm = BY_DIGITS[gnu?.[1]?.length ?? 0];
  if (gnu === null || algorithm === undefined) return null;
  const rawName = gnu[2]!.replace(/\r$/, "");
  const name = escaped ? unescapeName(rawName) : rawName;
  return name === "" ? null : { algorithm, hex: gnu[1]!.toLowerCase(), name };
}

/** Undoes `sha256sum`'s escaping: `\\n` for a newline, `\\r`, and `\\\\` for a backslash. */
function unescapeName(name: string): string {
  const unescaped = (_: string, char: string) => char === "n" ? "\n" : char === "r" ? "\r" : char;
  return name.replace(/\\(.)/g, unescaped);
}

function normalizeName(name: string): string {
  return name.split("/").filter((segment) => segment !== "" && segment !== ".").join("/");
}
