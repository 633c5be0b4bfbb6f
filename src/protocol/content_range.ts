/**
 * Strict parsers for `Content-Range` (RFC 9110 §14.4), the `bytes` unit only
 * (case-insensitive). Whitespace only around the whole value; numbers above
 * `Number.MAX_SAFE_INTEGER` are rejected, never rounded; leading zeros pass.
 *
 * @module
 */

import { ContentRangeError } from "../errors.ts";

/** A satisfied byte range from a 206 response: `bytes first-last/complete`. */
export interface ContentRange {
  /** Offset of the body's first byte. */
  readonly first: number;
  /** Offset of the body's last byte (inclusive); `last >= first`. */
  readonly last: number;
  /** Length of the whole representation, or `null` when the server sent `*`. */
  readonly complete: number | null;
}

/** `bytes first-last/complete-or-*` */
const RANGE_RESP = /^[ \t]*[Bb][Yy][Tt][Ee][Ss] ([0-9]+)-([0-9]+)\/([0-9]+|\*)[ \t]*$/;

/** `bytes *\/complete` */
const UNSATISFIED = /^[ \t]*[Bb][Yy][Tt][Ee][Ss] \*\/([0-9]+)[ \t]*$/;

/** C0 and C1 controls and DEL, escaped in messages so a header cannot forge log lines. */
// deno-lint-ignore no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/** Longest message excerpt of a rejected header value, in code points. */
const MESSAGE_EXCERPT = 100;

/** A decimal digit string as a number, or `null` beyond `Number.MAX_SAFE_INTEGER` (never rounded). */
function safeInteger(digits: string): number | null {
  const significant = digits.replace(/^0+(?=[0-9])/, "");
  if (significant.length > 16) return null; // MAX_SAFE_INTEGER has 16 digits
  const value = Number(significant);
  return Number.isSafeInteger(value) ? value : null;
}

/** The value for an error message: control characters escaped, long values cut. */
function excerpt(value: string | null): string {
  if (value === null) return "(absent)";
  const chars = Array.from(value);
  const cut = chars.length > MESSAGE_EXCERPT
    ? chars.slice(0, MESSAGE_EXCERPT).join("") + "…"
    : value;
  return cut.replace(
    CONTROL_CHARACTERS,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

function malformed(value: string | null): ContentRangeError {
  return new ContentRangeError(`Malformed Content-Range: ${excerpt(value)}`, {
    retryable: false,
  });
}

/**
 * Parses a satisfied `Content-Range` (`bytes first-last/complete` or
 * `bytes first-last/*`, `complete` then `null`), as sent with a 206.
 *
 * @throws {ContentRangeError} (not retryable) for anything else: absent, other
 *   units, `bytes *\/N`, `last < first`, `last >= complete`, signs, junk.
 */
export function parseContentRange(value: string | null): ContentRange {
  if (typeof value !== "string") throw malformed(null);
  const match = RANGE_RESP.exec(value);
  if (match === null) throw malformed(value);
  const [, firstDigits = "", lastDigits = "", completeText = ""] = match;
  const first = safeInteger(firstDigits);
  const last = safeInteger(lastDigits);
  const complete = completeText === "*" ? null : safeInteger(completeText);
  if (first === null || last === null || (completeText !== "*" && complete === null)) {
    throw malformed(value);
  }
  if (last < first) throw malformed(value);
  if (complete !== null && last >= complete) throw malformed(value);
  return { first, last, complete };
}

/** The length `N` of the unsatisfied form `bytes *\/N` (sent with a 416), or `null`. Never throws. */
export function parseUnsatisfiedRange(value: string | null): number | null {
  if (typeof value !== "string") return null;
  const match = UNSATISFIED.exec(value);
  if (match === null) return null;
  return safeInteger(match[1] ?? "");
}
