/**
 * The list format of `haul -i LIST`: one download per line, `URL` or
 * `URL<whitespace>PATH`, with `#` comment lines and blank lines. Several
 * URLs before the path are mirrors of one file.
 *
 * @module
 */

/** One download line of a list. */
interface ListEntry {
  /** 1-based line number. */
  readonly line: number;
  /** The URL as written. */
  readonly url: string;
  /** Further URLs of the same file (mirrors), as written. */
  readonly mirrors: readonly string[];
  /** The path as written (the rest of the line, trimmed), or `null` for a URL alone. */
  readonly path: string | null;
}

/**
 * Splits a list into its download lines (trimmed; blank and `#` lines skipped): a
 * URL, or several (mirrors), then optionally a path (which may contain spaces).
 * A BOM and CRLF are accepted. Nothing is validated here (see `planJobs`).
 */
export function parseList(text: string): ListEntry[] {
  const entries: ListEntry[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    // The URLs come first (a scheme and "//"); the rest of the line is the path.
    const match = /^((?:[a-z][a-z0-9+.-]*:\/\/\S*(?:\s+|$))+)(.*)$/i.exec(line) ??
      /^(\S+)\s*(.*)$/.exec(line)!;
    const [url = line, ...mirrors] = match[1]!.trim().split(/\s+/);
    const path = match[2]!.trim();
    entries.push({ line: index + 1, url, mirrors, path: path === "" ? null : path });
  }
  return entries;
}

/** Checks a URL (parseable, `http:` or `https:`, with a host): parsed, or the reason it is refused. */
export function checkUrl(raw: string): URL | string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `Invalid URL "${shorten(raw)}": write a full URL such as https://example.com/file`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `Unsupported URL scheme ${url.protocol.slice(0, -1)}: use http:// or https://`;
  }
  if (url.hostname === "") return `Invalid URL "${shorten(raw)}": it has no host`;
  return url;
}

function shorten(raw: string): string {
  // Never echo credentials: drop anything between "//" and "@".
  const safe = raw.replace(/\/\/[^/@\s]*@/, "//");
  return safe.length > 100 ? `${safe.slice(0, 100)}…` : safe;
}
