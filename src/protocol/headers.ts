/**
 * Strict parsers of the header values haul acts on: `Content-Range` (the `bytes` unit only),
 * entity-tags, HTTP-dates and `Retry-After` (RFC 9110). Biased to reject: numbers above
 * `Number.MAX_SAFE_INTEGER` are refused, never rounded; only SP / HTAB around a value.
 *
 * @module
 */

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

/** A decimal digit string as a number, or `null` beyond `Number.MAX_SAFE_INTEGER` (never rounded). */
function safeInteger(digits: string): number | null {
  const significant = digits.replace(/^0+(?=[0-9])/, "");
  if (significant.length > 16) return null; // MAX_SAFE_INTEGER has 16 digits
  const value = Number(significant);
  return Number.isSafeInteger(value) ? value : null;
}

/** A value for an error message: at most 100 code points, control characters escaped. */
export function excerpt(value: string): string {
  const chars = Array.from(value);
  const cut = chars.length > 100 ? chars.slice(0, 100).join("") + "…" : value;
  const escaped = (c: string) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  return cut.replace(CONTROL_CHARACTERS, escaped);
}

/**
 * Parses a satisfied `Content-Range` (`bytes first-last/complete` or `bytes first-last/*`,
 * `complete` then `null`), as sent with a 206; `null` for anything else: absent, other units,
 * `bytes *\/N`, `last < first`, `last >= complete`, signs, junk. Never throws.
 */
export function parseContentRange(value: string | null): ContentRange | null {
  if (typeof value !== "string") return null;
  const match = RANGE_RESP.exec(value);
  if (match === null) return null;
  const [, firstDigits = "", lastDigits = "", completeText = ""] = match;
  const first = safeInteger(firstDigits);
  const last = safeInteger(lastDigits);
  const complete = completeText === "*" ? null : safeInteger(completeText);
  if (first === null || last === null || (completeText !== "*" && complete === null)) return null;
  if (last < first || (complete !== null && last >= complete)) return null;
  return { first, last, complete };
}

/** Why a body is not the file's bytes as they stand (`"Name: value"`): coded (but chunked), or in parts. */
export function foreignBody(headers: Headers): string | null {
  const type = headers.get("content-type")?.trim() ?? "";
  if (/^multipart\/byteranges\b/i.test(type)) return `Content-Type: ${excerpt(type)}`;
  const name = ["Content-Encoding", "Transfer-Encoding"].find((name) =>
    headers.get(name)?.split(",").some((coding) => !/^\s*(identity|chunked)?\s*$/i.test(coding))
  );
  return name === undefined ? null : `${name}: ${excerpt(headers.get(name)!.trim())}`;
}

/** The length `N` of the unsatisfied form `bytes *\/N` (sent with a 416), or `null`. Never throws. */
export function parseUnsatisfiedRange(value: string | null): number | null {
  if (typeof value !== "string") return null;
  const match = UNSATISFIED.exec(value);
  return match === null ? null : safeInteger(match[1] ?? "");
}

/** A parsed entity-tag (RFC 9110 §8.8.3). */
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

/** Parses an `ETag` value (one entity-tag, SP / HTAB around it), or `null` when absent, malformed or over-long. */
export function parseEtag(value: string | null): Etag | null {
  if (typeof value !== "string") return null;
  const raw = trimOws(value);
  const match = ENTITY_TAG.exec(raw);
  if (match === null || keepable(raw) === null) return null;
  const [, weak, opaque = ""] = match;
  return { weak: weak !== undefined, opaque, raw };
}

/** `value`, or `null` when absent or longer than a checkpoint keeps (4096 UTF-8 bytes, control-file.md). */
export function keepable(value: string | null): string | null {
  return value !== null && new TextEncoder().encode(value).length <= 4096 ? value : null;
}

/** Whether `value` is a well-formed strong entity-tag, the only kind allowed in `If-Range`. */
export function isStrongEtag(value: string | null): boolean {
  return parseEtag(value)?.weak === false;
}

/** Whether validators name one version: a strong ETag or, without an ETag, a Last-Modified. */
export function hasStrongValidator(etag: string | null, lastModified: string | null): boolean {
  return etag !== null ? isStrongEtag(etag) : lastModified !== null;
}

/** Strong comparison (RFC 9110 §8.8.3.2): both strong, the opaque-tags identical. */
export function strongMatch(a: string | null, b: string | null): boolean {
  return isStrongEtag(a) && isStrongEtag(b) && weakMatch(a, b);
}

/**
 * How an answer's validators, read as sent (a weak or malformed one counts), show another version
 * than the `saved` ones; `null` when they do not. An absent validator shows nothing here.
 */
export function validatorChange(
  saved: { readonly etag: string | null; readonly lastModified: string | null },
  headers: Headers,
): string | null {
  const [etag, modified] = ["etag", "last-modified"].map((name) => headers.get(name)?.trim());
  if (saved.etag === null && parseEtag(etag ?? null) !== null) return `an ETag ${etag} appeared`;
  if (saved.etag !== null && etag !== undefined && !strongMatch(saved.etag, etag)) {
    return `ETag ${saved.etag} is now ${excerpt(etag)}`;
  }
  if (saved.lastModified !== null && modified !== undefined && saved.lastModified !== modified) {
    return `Last-Modified ${saved.lastModified} is now ${excerpt(modified)}`;
  }
  return null;
}

/** Weak comparison (RFC 9110 §8.8.3.2): the opaque-tags identical, weak or not. */
export function weakMatch(a: string | null, b: string | null): boolean {
  const x = parseEtag(a);
  return x !== null && x.opaque === parseEtag(b)?.opaque;
}

/** Whether `Last-Modified` is less than a second before `Date`; `null`: either is absent or malformed. */
export function modifiedLately(lastModified: string | null, date: string | null): boolean | null {
  const modifiedAt = typeof lastModified === "string" ? parseHttpDate(lastModified) : null;
  const sentAt = typeof date === "string" ? parseHttpDate(date) : null;
  return modifiedAt === null || sentAt === null ? null : sentAt - modifiedAt < 1000;
}

/** The longest wait {@link parseRetryAfter} returns (24 h): a typo or a hostile header cannot park a download for months. */
export const RETRY_AFTER_MAX_MS: number = 24 * 60 * 60 * 1000;

const DAY_NAMES = "Sun Mon Tue Wed Thu Fri Sat".split(" ");
const LONG_DAY_NAMES = "Sunday Monday Tuesday Wednesday Thursday Friday Saturday".split(" ");
const MONTH_NAMES = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");

/** `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF_FIXDATE = /^([A-Za-z]{3}), ([0-9]{2}) ([A-Za-z]{3}) ([0-9]{4}) ([0-9:]{8}) GMT$/;
/** `Sunday, 06-Nov-94 08:49:37 GMT` */
const RFC850_DATE = /^([A-Za-z]{6,9}), ([0-9]{2})-([A-Za-z]{3})-([0-9]{2}) ([0-9:]{8}) GMT$/;
/** `Sun Nov  6 08:49:37 1994` */
const ASCTIME_DATE = /^([A-Za-z]{3}) ([A-Za-z]{3}) ([0-9]{2}| [0-9]) ([0-9:]{8}) ([0-9]{4})$/;
/** The `hh:mm:ss` of all three. */
const TIME = /^([0-9]{2}):([0-9]{2}):([0-9]{2})$/;

/** `value` without leading and trailing SP / HTAB (linear time, unlike a regex). */
function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value[start] === " " || value[start] === "\t")) start++;
  while (end > start && (value[end - 1] === " " || value[end - 1] === "\t")) end--;
  return value.slice(start, end);
}

/**
 * Milliseconds since the epoch, or `null` when a field is out of range or the
 * `weekday` (0 = Sunday) disagrees with the date.
 */
function toEpochMs(weekday: number, year: number, month: string, day: number, time: string) {
  const [, hour = NaN, minute = NaN, second = NaN] = TIME.exec(time)?.map(Number) ?? [];
  const monthIndex = MONTH_NAMES.indexOf(month);
  if (monthIndex < 0 || !(hour <= 23 && minute <= 59)) return null;
  // 23:59:60 is a leap second (RFC 9110 §5.6.7); nothing else may reach 60.
  if (second > 60 || (second === 60 && (hour !== 23 || minute !== 59))) return null;
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, day); // not Date.UTC, which reads years 0-99 as 19xx
  if (date.getUTCDate() !== day || date.getUTCDay() !== weekday) return null; // no such day
  return date.getTime() + hour * 3_600_000 + minute * 60_000 + second * 1000;
}

/** The year ending in an RFC 850 year's two digits from 49 years before to 50 after `now`'s. */
function resolveTwoDigitYear(twoDigits: number, now: number): number {
  const currentYear = new Date(now).getUTCFullYear();
  let year = Math.floor(currentYear / 100) * 100 + twoDigits;
  if (year > currentYear + 50) year -= 100;
  else if (year <= currentYear - 50) year += 100;
  return year;
}

/**
 * Parses an HTTP-date (RFC 9110 §5.6.7) of the three forms above, strictly (the day exists, its
 * name agrees, 60 s only at 23:59:60): ms since the epoch, or `null`; `now` places RFC 850 years.
 */
export function parseHttpDate(value: string, now: number = Date.now()): number | null {
  if (typeof value !== "string") return null;
  const text = trimOws(value);
  const match = IMF_FIXDATE.exec(text) ?? RFC850_DATE.exec(text);
  if (match !== null) {
    const [, dayName = "", day, month = "", year = "", time = ""] = match;
    const rfc850 = year.length === 2;
    if (rfc850 && !Number.isFinite(now)) return null;
    const weekday = (rfc850 ? LONG_DAY_NAMES : DAY_NAMES).indexOf(dayName);
    const fullYear = rfc850 ? resolveTwoDigitYear(Number(year), now) : Number(year);
    return toEpochMs(weekday, fullYear, month, Number(day), time);
  }
  const asctime = ASCTIME_DATE.exec(text);
  if (asctime === null) return null;
  const [, dayName = "", month = "", day, time = "", year] = asctime;
  return toEpochMs(DAY_NAMES.indexOf(dayName), Number(year), month, Number(day), time);
}

/**
 * Parses `Retry-After` (RFC 9110 §10.2.3), delay-seconds or an HTTP-date (a past one: 0): the ms to
 * wait, at most {@link RETRY_AFTER_MAX_MS}, or `null` when absent or malformed; never throws.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (typeof value !== "string") return null;
  const text = trimOws(value);
  if (/^[0-9]+$/.test(text)) {
    return Math.min((safeInteger(text) ?? Infinity) * 1000, RETRY_AFTER_MAX_MS);
  }
  if (!Number.isFinite(now)) return null;
  const date = parseHttpDate(text, now);
  if (date === null) return null;
  const wait = Math.min(Math.max(0, date - now), RETRY_AFTER_MAX_MS);
  return Number.isFinite(wait) ? Math.ceil(wait) : null;
}
