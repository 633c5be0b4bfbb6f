/**
 * The file name a `Content-Disposition` response header suggests (RFC 6266),
 * reduced to a name that is safe to create in a directory.
 *
 * @module
 */

import { safeName } from "./safe_name.ts";

/** A parameter: `;` (or the start), a name, `=`, then a quoted string or a bare value. */
const PARAMETER = /(?:^|;)\s*([^\s=;"]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;"]*))/g;
/** RFC 8187's ext-value: charset `'` language `'` value (attr-chars and `%XX` only). */
const EXT_VALUE = /^([^']*)'[^']*'((?:[!#$&+\-.^_`|~0-9A-Za-z]|%[0-9A-Fa-f]{2})*)$/;

/**
 * The suggested name of a `Content-Disposition` value: `filename*` (RFC 8187,
 * `UTF-8` or `ISO-8859-1`) before `filename` (raw UTF-8 read as such); one that
 * cannot be decoded gives way to `filename`; a repeated parameter makes the
 * header invalid (RFC 6266 4.1). Reduced as RFC 6266 4.3 asks: the last path
 * segment, then `safeName()`, so it never names a directory, a parent or a
 * hidden file. `null` when the header gives none.
 */
export function contentDispositionName(header: string | null): string | null {
  const values = new Map<string, string>();
  for (const match of (header ?? "").matchAll(PARAMETER)) {
    const name = match[1]!.toLowerCase();
    if (values.has(name)) return null;
    values.set(name, match[2]?.replace(/\\(.)/g, "$1") ?? match[3]!.trim());
  }
  const extended = values.get("filename*");
  const plain = values.get("filename");
  const raw = (extended === undefined ? null : extValue(extended)) ??
    (plain === undefined ? null : utf8(latin1Bytes(plain)) ?? plain);
  if (raw === null) return null;
  return safeName(raw.slice(Math.max(raw.lastIndexOf("/"), raw.lastIndexOf("\\")) + 1), "") ||
    null;
}

/** An RFC 8187 ext-value decoded, or `null`. */
function extValue(value: string): string | null {
  const match = EXT_VALUE.exec(value);
  if (match === null) return null;
  const charset = match[1]!.toLowerCase();
  const text = match[2]!.replace(/%(..)/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
  if (charset === "iso-8859-1") return text;
  return charset === "utf-8" ? utf8(latin1Bytes(text)) : null;
}

/** The bytes of a header value (which `fetch` reads as Latin-1), or `null` beyond U+00FF. */
function latin1Bytes(text: string): Uint8Array | null {
  // deno-lint-ignore no-control-regex
  if (/[^\u0000-\u00ff]/.test(text)) return null;
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

function utf8(bytes: Uint8Array | null): string | null {
  try {
    return bytes === null ? null : new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}
