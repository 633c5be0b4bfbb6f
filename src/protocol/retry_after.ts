/**
 * Strict parsers for `Retry-After` and HTTP-date: anything outside the
 * grammar gives `null`.
 *
 * @module
 */

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
export function trimOws(value: string): string {
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
 * Parses an HTTP-date (RFC 9110 §5.6.7): IMF-fixdate (`Sun, 06 Nov 1994
 * 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) or asctime (`Sun
 * Nov  6 08:49:37 1994`). Strict: exact, case-sensitive names; the day exists
 * and its name agrees; 60 seconds only as the leap second 23:59:60 (the next
 * midnight); only SP / HTAB around. `now` places RFC 850 two-digit years.
 * Milliseconds since the epoch, or `null`; never throws.
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
 * Parses `Retry-After` (RFC 9110 §10.2.3): plain ASCII delay-seconds or an
 * HTTP-date (one in the past means 0). Milliseconds to wait, clamped to
 * {@link RETRY_AFTER_MAX_MS}, or `null` when absent or malformed; never throws.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (typeof value !== "string") return null;
  const text = trimOws(value);
  if (/^[0-9]+$/.test(text)) {
    const significant = text.replace(/^0+(?=[0-9])/, "");
    // More than 6 digits is at least 1e6 s, well beyond the cap.
    if (significant.length > 6) return RETRY_AFTER_MAX_MS;
    return Math.min(Number(significant) * 1000, RETRY_AFTER_MAX_MS);
  }
  if (!Number.isFinite(now)) return null;
  const date = parseHttpDate(text, now);
  if (date === null) return null;
  const wait = Math.min(Math.max(0, date - now), RETRY_AFTER_MAX_MS);
  return Number.isFinite(wait) ? Math.ceil(wait) : null;
}
