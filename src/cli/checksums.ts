/**
 * Reading `sha256sum`-format checksum files for `--checksums FILE`.
 *
 * @module
 */

/** A parsed checksums file. */
export interface ChecksumTable {
  /** Hex SHA-256 by the name as written (a leading `./` removed). */
  readonly byName: ReadonlyMap<string, string>;
  /** Problems found, by 1-based line number. */
  readonly problems: readonly { line: number; message: string }[];
}

/**
 * Parses a checksums file: `HEX  NAME` or `HEX *NAME` lines as written by
 * `sha256sum` (including its `\`-escaped names), or BSD-style
 * `SHA256 (NAME) = HEX` lines; blank lines and `#` comments are skipped.
 *
 * @param text the file's content.
 * @returns the digests by name, and the malformed lines.
 *
 * @example
 * ```ts
 * import { parseChecksums } from "./checksums.ts";
 * const table = parseChecksums(`${"ab".repeat(32)}  ./data/a.bin\n`);
 * console.log(table.byName.get("data/a.bin")?.slice(0, 4)); // "abab"
 * ```
 */
export function parseChecksums(text: string): ChecksumTable {
  const byName = new Map<string, string>();
  const problems: { line: number; message: string }[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const parsed = parseLine(line);
    if (parsed === null) {
      problems.push({
        line: index + 1,
        message: "Malformed checksum line: write 64 hex digits, two spaces, then the file name",
      });
      continue;
    }
    const name = normalizeName(parsed.name);
    const previous = byName.get(name);
    if (previous !== undefined && previous !== parsed.hex) {
      problems.push({ line: index + 1, message: `Two different checksums for ${name}` });
      continue;
    }
    byName.set(name, parsed.hex);
  }
  return { byName, problems };
}

/**
 * Finds the digest for a destination: by its path relative to `--dir`, else
 * by its base name when exactly one entry has that base name.
 *
 * @param table a parsed checksums file.
 * @param relative the destination relative to `--dir` (`/`-separated).
 * @returns the hex digest, or `null` when there is none.
 *
 * @example
 * ```ts
 * import { lookupChecksum, parseChecksums } from "./checksums.ts";
 * const table = parseChecksums(`${"ab".repeat(32)}  a.bin\n`);
 * console.log(lookupChecksum(table, "data/a.bin") !== null); // true
 * ```
 */
export function lookupChecksum(table: ChecksumTable, relative: string): string | null {
  const key = normalizeName(relative);
  const exact = table.byName.get(key);
  if (exact !== undefined) return exact;
  const base = key.slice(key.lastIndexOf("/") + 1);
  let found: string | null = null;
  let count = 0;
  for (const [name, hex] of table.byName) {
    if (name.slice(name.lastIndexOf("/") + 1) === base) {
      found = hex;
      count++;
    }
  }
  return count === 1 ? found : null;
}

function parseLine(line: string): { hex: string; name: string } | null {
  const bsd = /^SHA256 \((.+)\) = ([0-9a-fA-F]{64})\s*$/.exec(line);
  if (bsd !== null) return { hex: bsd[2]!.toLowerCase(), name: bsd[1]! };
  const escaped = line.startsWith("\\");
  const gnu = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(escaped ? line.slice(1) : line);
  if (gnu === null) return null;
  const rawName = gnu[2]!.replace(/\r$/, "");
  const name = escaped ? unescapeName(rawName) : rawName;
  return name === "" ? null : { hex: gnu[1]!.toLowerCase(), name };
}

/** Undoes `sha256sum`'s escaping: `\\n` for a newline, `\\r`, and `\\\\` for a backslash. */
function unescapeName(name: string): string {
  return name.replace(/\\(.)/g, (_, char: string) => {
    if (char === "n") return "\n";
    if (char === "r") return "\r";
    return char;
  });
}

function normalizeName(name: string): string {
  return name.split("/").filter((segment) => segment !== "" && segment !== ".").join("/");
}
