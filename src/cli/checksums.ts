/**
 * Reading `sha256sum`/`sha512sum`-format checksum files for `--checksums FILE`.
 *
 * @module
 */

/** A parsed checksums file: an `integrity` value by name (`./` removed), and problems by 1-based line. */
export interface ChecksumTable {
  /** `sha256:<hex>`, `sha512:<hex>`, or both when a name has a line of each. */
  readonly byName: ReadonlyMap<string, string>;
  readonly problems: readonly { line: number; message: string }[];
}

/**
 * Parses `HEX  NAME`/`HEX *NAME` lines of `sha256sum`, `sha384sum`, `sha512sum`
 * (`\`-escaped names too; the length of `HEX` tells the algorithm, per line) or
 * BSD `SHA256 (NAME) = HEX` lines; blank lines and `#` comments are skipped.
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
        message: "Malformed checksum line: write the hex digest (64 digits for SHA-256, 128 " +
          "for SHA-512), two spaces, then the file name",
      });
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
  const base = key.slice(key.lastIndexOf("/") + 1);
  let found: string | null = null;
  let count = 0;
  for (const [name, digest] of table.byName) {
    if (name.slice(name.lastIndexOf("/") + 1) === base) {
      found = digest;
      count++;
    }
  }
  return count === 1 ? found : null;
}

/** The algorithm by the number of hex digits of its digest. */
const BY_DIGITS: ReadonlyMap<number, string> = new Map([
  [64, "sha256"],
  [96, "sha384"],
  [128, "sha512"],
]);

function parseLine(line: string): { algorithm: string; hex: string; name: string } | null {
  const bsd = /^(SHA256|SHA384|SHA512) \((.+)\) = ([0-9a-fA-F]+)\s*$/.exec(line);
  if (bsd !== null) {
    const algorithm = bsd[1]!.toLowerCase();
    const hex = bsd[3]!.toLowerCase();
    return BY_DIGITS.get(hex.length) === algorithm ? { algorithm, hex, name: bsd[2]! } : null;
  }
  const escaped = line.startsWith("\\");
  const gnu = /^([0-9a-fA-F]+) [ *](.+)$/.exec(escaped ? line.slice(1) : line);
  const algorithm = BY_DIGITS.get(gnu?.[1]?.length ?? 0);
  if (gnu === null || algorithm === undefined) return null;
  const rawName = gnu[2]!.replace(/\r$/, "");
  const name = escaped ? unescapeName(rawName) : rawName;
  return name === "" ? null : { algorithm, hex: gnu[1]!.toLowerCase(), name };
}

/** Undoes `sha256sum`'s escaping: `\\n` for a newline, `\\r`, and `\\\\` for a backslash. */
function unescapeName(name: string): string {
  return name.replace(
    /\\(.)/g,
    (_, char: string) => char === "n" ? "\n" : char === "r" ? "\r" : char,
  );
}

function normalizeName(name: string): string {
  return name.split("/").filter((segment) => segment !== "" && segment !== ".").join("/");
}
