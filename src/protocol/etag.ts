/**
 * Strict entity-tags (RFC 9110 §8.8.3) and the strong-`Last-Modified` test
 * that decides whether a date may go in `If-Range` (§8.8.2.2, §13.1.5).
 *
 * @module
 */

import { parseHttpDate, trimOws } from "./retry_after.ts";

/** A parsed entity-tag. */
interface Etag {
  /** A weak tag (`W/"…"`) must never be used in `If-Range`. */
  readonly weak: boolean;
  /** The opaque-tag, with its double quotes: `"abc"`. */
  readonly opaque: string;
  /** The whole entity-tag without surrounding whitespace: `W/"abc"`. */
  readonly raw: string;
}

/**
 * One entity-tag: `W/` is case-sensitive; inside the quotes only `!`,
 * `#`..`~` and obs-text (the bytes 0x80-0xFF as `fetch` exposes them).
 */
const ENTITY_TAG = /^(W\/)?("[\x21\x23-\x7e\x80-\xff]*")$/;

/** Parses an `ETag` value (one entity-tag, SP / HTAB around it), or `null` when absent or malformed. */
export function parseEtag(value: string | null): Etag | null {
  if (typeof value !== "string") return null;
  const raw = trimOws(value);
  const match = ENTITY_TAG.exec(raw);
  if (match === null) return null;
  const [, weak, opaque = ""] = match;
  return { weak: weak !== undefined, opaque, raw };
}

/** Whether `value` is a well-formed strong entity-tag, the only kind allowed in `If-Range`. */
export function isStrongEtag(value: string | null): boolean {
  const etag = parseEtag(value);
  return etag !== null && !etag.weak;
}

/** Strong comparison (RFC 9110 §8.8.3.2): both strong, the opaque-tags identical. */
export function strongMatch(a: string | null, b: string | null): boolean {
  const x = parseEtag(a);
  const y = parseEtag(b);
  return x !== null && y !== null && !x.weak && !y.weak && x.opaque === y.opaque;
}

/** Weak comparison (RFC 9110 §8.8.3.2): the opaque-tags identical, weak or not. */
export function weakMatch(a: string | null, b: string | null): boolean {
  const x = parseEtag(a);
  const y = parseEtag(b);
  return x !== null && y !== null && x.opaque === y.opaque;
}

/**
 * Whether a `Last-Modified` may go in `If-Range`: the response carried a valid
 * `Date` and `Last-Modified` is at least one second before it; otherwise it is
 * only a weak validator.
 */
export function isStrongLastModified(lastModified: string | null, date: string | null): boolean {
  if (typeof lastModified !== "string" || typeof date !== "string") return false;
  const modifiedAt = parseHttpDate(lastModified);
  const sentAt = parseHttpDate(date);
  return modifiedAt !== null && sentAt !== null && sentAt - modifiedAt >= 1000;
}
