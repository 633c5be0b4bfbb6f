/**
 * File names from URLs and `Content-Disposition` (RFC 6266), safe to create in a directory.
 *
 * @module
 */

/** The name used when a URL's path gives none (e.g. `https://example.com/`). */
export const FALLBACK_NAME = "index.html";

/** The most UTF-8 bytes of a derived name (255 minus room for `.part.ctrl.tmp`). */
export const MAX_NAME_BYTES = 200;

const encoder = new TextEncoder();

/** Control characters, path separators, bidirectional marks (ALM, LRM, RLM) and overrides. */
// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f/\\\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** The last segment of `url`'s path, percent-decoded, as a `safeName()`; the query and fragment are ignored. */
export function nameFromUrl(url: string | URL): string {
  if (!URL.canParse(String(url))) return FALLBACK_NAME;
  const path = new URL(String(url)).pathname;
  return safeName(percentDecode(path.slice(path.lastIndexOf("/") + 1)));
}

/**
 * Any text as one safe file name: separators, controls and bidirectional marks replaced by `_`,
 * runs of dots collapsed, leading dots and surrounding spaces and dots removed, at most
 * {@link MAX_NAME_BYTES} bytes (the extension kept); `fallback` when nothing is left.
 */
function safeName(raw: string, fallback: string = FALLBACK_NAME): string {
  let name = raw.replace(UNSAFE, "_");
  name = name.replace(/\.{2,}/g, ".").trim().replace(/^[. ]+/, "").replace(/[. ]+$/, "");
  return name === "" ? fallback : truncate(name).replace(/[. ]+$/, ""); // no dot or space at a cut
}

/** Each run of `%XX` escapes decoded, or kept as it is when it is not valid UTF-8. */
function percentDecode(segment: string): string {
  return segment.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/** `name` cut to {@link MAX_NAME_BYTES} UTF-8 bytes, whole characters only, its extension kept. */
function truncate(name: string): string {
  if (encoder.encode(name).length <= MAX_NAME_BYTES) return name;
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
  const stem = name.slice(0, name.length - ext.length);
  // encodeInto writes whole characters only, and says how much of `stem` fit.
  const room = new Uint8Array(MAX_NAME_BYTES - encoder.encode(ext).length);
  return stem.slice(0, encoder.encodeInto(stem, room).read) + ext;
}

/** A parameter: `;` (or the start), a name, `=`, then a quoted string or a bare value. */
const PARAMETER = /(?:^|;)\s*([^\s=;"]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;"]*))/g;
/** RFC 8187's ext-value: charset `'` language `'` value (attr-chars and `%XX` only). */
const EXT_VALUE = /^([^']*)'[^']*'((?:[!#$&+\-.^_`|~0-9A-Za-z]|%[0-9A-Fa-f]{2})*)$/;

/**
 * The suggested name of a `Content-Disposition` value: `filename*` (RFC 8187, `UTF-8` or
 * `ISO-8859-1`) unless undecodable or giving no name, else `filename` (raw UTF-8 read as such); a
 * repeated parameter voids the header (RFC 6266 4.1). Reduced (RFC 6266 4.3) to its last path
 * segment, a `safeName()`; `null` when the header gives none.
 */
export function contentDispositionName(header: string | null): string | null {
  const values = new Map<string, string>();
  for (const match of (header ?? "").matchAll(PARAMETER)) {
    const name = match[1]!.toLowerCase();
    if (values.has(name)) return null;
    values.set(name, match[2]?.replace(/\\(.)/g, "$1") ?? match[3]!.trim());
  }
  const plain = values.get("filename") ?? ""; // none: "", which gives no name
  for (const raw of [extValue(values.get("filename*") ?? ""), utf8(latin1Bytes(plain)) ?? plain]) {
    const name = safeName((raw ?? "").replace(/^.*[/\\]/s, ""), ""); // its last path segment
    if (name !== "") return name;
  }
  return null;
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
  if (/[\u0100-\uffff]/.test(text)) return null;
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

function utf8(bytes: Uint8Array | null): string | null {
  try {
    return bytes === null ? null : new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}
