/**
 * Strict parsers for the `Content-Range` response header (RFC 9110 §14.4).
 *
 * Grammar accepted (the `bytes` unit only, matched case-insensitively):
 *
 * ```
 * Content-Range     = range-unit SP ( range-resp / unsatisfied-range )
 * range-resp        = incl-range "/" ( complete-length / "*" )
 * incl-range        = first-pos "-" last-pos
 * unsatisfied-range = "*" "/" complete-length
 * first-pos, last-pos, complete-length = 1*DIGIT
 * ```
 *
 * Optional whitespace (SP / HTAB) only around the whole value; numbers above
 * `Number.MAX_SAFE_INTEGER` are rejected, never rounded; leading zeros pass.
 *
 * @module
 */

import { ContentRangeError } from "../errors.ts";

/** A satisfied byte range from a 206 response: `bytes first-last/complete`. */
export interface ContentRange {
  /** Offset of the first byte in the body (inclusive). */
  readonly first: number;
  /** Offset of the last byte in the body (inclusive); `last >= first`. */
  readonly last: number;
  /** Length of the whole representation, or `null` when the server sent `*`. */
  readonly complete: number | null;
}

/** `bytes first-last/complete-or-*`, whitespace only around the whole value. */
const RANGE_RESP = /^[ \t]*[Bb][Yy][Tt][Ee][Ss] ([0-9]+)-([0-9]+)\/([0-9]+|\*)[ \t]*$/;

/** `bytes *\/complete`, whitespace only around the whole value. */
const UNSATISFIED = /^[ \t]*[Bb][Yy][Tt][Ee][Ss] \*\/([0-9]+)[ \t]*$/;

/** C0 and C1 controls and DEL, escaped in messages so a header cannot forge log lines. */
// deno-lint-ignore no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/** Longest message excerpt of a rejected header value, in code points. */
const MESSAGE_EXCERPT = 100;

/**
 * A decimal digit string as a number, or `null` if it exceeds
 * `Number.MAX_SAFE_INTEGER` (checked before conversion, so nothing is rounded).
 */
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
 * Parses a satisfied `Content-Range` value (`bytes first-last/complete` or
 * `bytes first-last/*`), as sent with a 206 response.
 *
 * Rejects, rather than guesses at, anything outside the RFC 9110 grammar: other
 * units, the unsatisfied form `bytes *\/N`, `last < first`, `last >= complete`,
 * signs, inner whitespace, non-ASCII digits, trailing junk, and numbers beyond
 * `Number.MAX_SAFE_INTEGER`.
 *
 * @param value the header value, or `null` when the header is absent.
 * @returns the range, with `complete` `null` when the length is unknown (`*`).
 * @throws {ContentRangeError} (not retryable) when the value is absent, empty
 *   or malformed; the message is `Malformed Content-Range: <value>`, with the
 *   value cut to about 100 characters.
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

/**
 * Parses the unsatisfied form of `Content-Range`, `bytes *\/N`, which a server
 * sends with 416 (Range Not Satisfiable) to state the representation's length.
 *
 * @param value the header value, or `null` when the header is absent.
 * @returns the complete length `N` (possibly 0), or `null` when the header is
 *   absent, malformed, in another form, or `N` exceeds `Number.MAX_SAFE_INTEGER`.
 *   Never throws.
 */
export function parseUnsatisfiedRange(value: string | null): number | null {
  if (typeof value !== "string") return null;
  const match = UNSATISFIED.exec(value);
  if (match === null) return null;
  return safeInteger(match[1] ?? "");
}
