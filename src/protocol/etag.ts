/**
 * Strict entity-tag parsing and comparison (RFC 9110 §8.8.3), and the
 * strong-`Last-Modified` test that decides whether a date may go in `If-Range`
 * (RFC 9110 §8.8.2.2, §13.1.5).
 *
 * ```
 * entity-tag = [ weak ] opaque-tag
 * weak       = %s"W/"
 * opaque-tag = DQUOTE *etagc DQUOTE
 * etagc      = %x21 / %x23-7E / obs-text   ; obs-text = %x80-FF
 * ```
 *
 * @module
 */

import { parseHttpDate, trimOws } from "./retry_after.ts";

/** A parsed entity-tag. */
interface Etag {
  /** True for a weak tag (`W/"…"`), which must never be used in `If-Range`. */
  readonly weak: boolean;
  /** The opaque-tag, including its double quotes: `"abc"`. */
  readonly opaque: string;
  /** The whole entity-tag as received, without surrounding whitespace: `W/"abc"`. */
  readonly raw: string;
}

/**
 * One entity-tag, nothing else: `W/` is case-sensitive; inside the quotes only
 * `!`, `#`..`~` and obs-text (U+0080..U+00FF, the bytes 0x80-0xFF as `fetch`
 * exposes them). No quotes, backslashes-as-escapes, controls, DEL or SP.
 */
const ENTITY_TAG = /^(W\/)?("[\x21\x23-\x7e\x80-\xff]*")$/;

/**
 * Parses an `ETag` header value (a single entity-tag).
 *
 * Leading and trailing SP / HTAB are ignored; anything else outside the RFC
 * 9110 grammar is rejected: unquoted tags, `*`, lists, lowercase `w/`,
 * embedded quotes, control characters, spaces, and characters above U+00FF.
 *
 * @param value the header value, or `null` when absent.
 * @returns the entity-tag, or `null` when absent or malformed. Never throws.
 */
export function parseEtag(value: string | null): Etag | null {
  if (typeof value !== "string") return null;
  const raw = trimOws(value);
  const match = ENTITY_TAG.exec(raw);
  if (match === null) return null;
  const [, weak, opaque = ""] = match;
  return { weak: weak !== undefined, opaque, raw };
}

/**
 * Whether `value` is a well-formed strong entity-tag, the only kind of
 * entity-tag allowed in `If-Range` (RFC 9110 §13.1.5).
 *
 * @param value the `ETag` header value, or `null` when absent.
 * @returns true for a valid strong entity-tag; false when weak, absent or
 *   malformed.
 */
export function isStrongEtag(value: string | null): boolean {
  const etag = parseEtag(value);
  return etag !== null && !etag.weak;
}

/**
 * Strong comparison (RFC 9110 §8.8.3.2): both entity-tags are strong and their
 * opaque-tags are identical, character for character.
 *
 * @param a an entity-tag header value.
 * @param b another entity-tag header value.
 * @returns whether they match strongly; false if either is absent or malformed.
 */
export function strongMatch(a: string | null, b: string | null): boolean {
  const x = parseEtag(a);
  const y = parseEtag(b);
  return x !== null && y !== null && !x.weak && !y.weak && x.opaque === y.opaque;
}

/**
 * Weak comparison (RFC 9110 §8.8.3.2): the opaque-tags are identical, whether
 * or not either tag is weak.
 *
 * @param a an entity-tag header value.
 * @param b another entity-tag header value.
 * @returns whether they match weakly; false if either is absent or malformed.
 */
export function weakMatch(a: string | null, b: string | null): boolean {
  const x = parseEtag(a);
  const y = parseEtag(b);
  return x !== null && y !== null && x.opaque === y.opaque;
}

/**
 * Whether a `Last-Modified` value is strong enough to use in `If-Range`
 * (RFC 9110 §13.1.5, §8.8.2.2): the response carried a `Date`, both values are
 * valid HTTP-dates, and `Last-Modified` is at least one second before `Date`.
 * Otherwise the date is only a weak validator and a resume must not rely on it.
 *
 * @param lastModified the `Last-Modified` header value, or `null`.
 * @param date the `Date` header value of the same response, or `null`.
 * @returns true only when the rule above holds. Never throws.
 */
export function isStrongLastModified(lastModified: string | null, date: string | null): boolean {
  if (typeof lastModified !== "string" || typeof date !== "string") return false;
  const modifiedAt = parseHttpDate(lastModified);
  const sentAt = parseHttpDate(date);
  return modifiedAt !== null && sentAt !== null && sentAt - modifiedAt >= 1000;
}
