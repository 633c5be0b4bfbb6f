/**
 * File names derived from URLs, safe to create in a directory.
 *
 * @module
 */

/** The name used when a URL's path gives none (e.g. `https://example.com/`). */
export const FALLBACK_NAME = "index.html";

/** The most UTF-8 bytes of a derived name (255 minus room for `.part.ctrl.tmp`). */
export const MAX_NAME_BYTES = 200;

const encoder = new TextEncoder();

/** Control characters, path separators and bidirectional overrides. */
// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f/\\\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** The last segment of `url`'s path, percent-decoded, as a `safeName()`; the query and fragment are ignored. */
export function nameFromUrl(url: string | URL): string {
  let path: string;
  try {
    path = new URL(String(url)).pathname;
  } catch {
    return FALLBACK_NAME;
  }
  const segment = path.slice(path.lastIndexOf("/") + 1);
  return safeName(percentDecode(segment));
}

/**
 * Any text as one safe file name: separators, control characters and
 * bidirectional overrides replaced by `_`, runs of dots collapsed (never
 * `..`), leading dots (hidden files) and surrounding spaces and dots removed,
 * at most {@link MAX_NAME_BYTES} bytes (the extension kept); `fallback` when
 * nothing is left.
 */
export function safeName(raw: string, fallback: string = FALLBACK_NAME): string {
  let name = raw.replace(UNSAFE, "_");
  name = name.replace(/\.{2,}/g, ".").trim().replace(/^[. ]+/, "").replace(/[. ]+$/, "");
  if (name === "") return fallback;
  return truncate(name);
}

function percentDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    // Malformed escapes: decode the valid ones one by one.
    return segment.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

function truncate(name: string): string {
  if (encoder.encode(name).length <= MAX_NAME_BYTES) return name;
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
  const stem = [...name.slice(0, name.length - ext.length)];
  const budget = MAX_NAME_BYTES - encoder.encode(ext).length;
  let out = "";
  let bytes = 0;
  for (const char of stem) {
    const size = encoder.encode(char).length;
    if (bytes + size > budget) break;
    out += char;
    bytes += size;
  }
  return out + ext;
}
