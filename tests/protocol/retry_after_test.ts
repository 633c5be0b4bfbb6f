import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  parseHttpDate,
  parseRetryAfter,
  RETRY_AFTER_MAX_MS,
} from "../../src/protocol/retry_after.ts";

/** 1994-11-06T08:49:37Z, the RFC 9110 example instant. */
const RFC_EXAMPLE = Date.UTC(1994, 10, 6, 8, 49, 37);
/** A fixed "now" for the tests: 2026-03-01T12:00:00Z. */
const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);

describe("parseHttpDate", () => {
  const valid: [value: string, expected: number, why: string][] = [
    ["Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE, "the IMF-fixdate example"],
    ["Sunday, 06-Nov-94 08:49:37 GMT", RFC_EXAMPLE, "the RFC 850 example"],
    ["Sun Nov  6 08:49:37 1994", RFC_EXAMPLE, "the asctime example"],
    ["Sun Nov 06 08:49:37 1994", RFC_EXAMPLE, "asctime with a two-digit day"],
    [" Sun, 06 Nov 1994 08:49:37 GMT\t", RFC_EXAMPLE, "whitespace around the value"],
    ["Thu, 01 Jan 1970 00:00:00 GMT", 0, "the epoch"],
    ["Wed, 31 Dec 1969 23:59:59 GMT", -1000, "a second before the epoch"],
    ["Thu, 29 Feb 2024 00:00:00 GMT", Date.UTC(2024, 1, 29), "a leap day"],
    ["Tue, 29 Feb 2000 00:00:00 GMT", Date.UTC(2000, 1, 29), "a leap day in a 400th year"],
    ["Fri, 31 Dec 9999 23:59:59 GMT", Date.UTC(9999, 11, 31, 23, 59, 59), "the last year"],
    ["Sat, 31 Dec 2016 23:59:60 GMT", Date.UTC(2017, 0, 1), "a leap second, read as midnight"],
    [
      "Tuesday, 01-Jan-80 00:00:00 GMT",
      Date.UTC(1980, 0, 1),
      "RFC 850 year 80 as 1980, since 2080 is over 50 years ahead",
    ],
    ["Monday, 01-Jan-35 00:00:00 GMT", Date.UTC(2035, 0, 1), "RFC 850 year 35 as 2035"],
  ];
  for (const [value, expected, why] of valid) {
    it(`parses ${JSON.stringify(value)}: ${why}`, () => {
      assert.equal(parseHttpDate(value, NOW), expected);
    });
  }

  const invalid: [value: string, why: string][] = [
    ["", "it is empty"],
    ["Mon, 06 Nov 1994 08:49:37 GMT", "the day name disagrees with the date"],
    ["sun, 06 Nov 1994 08:49:37 GMT", "the day name is lower case"],
    ["SUN, 06 Nov 1994 08:49:37 GMT", "the day name is upper case"],
    ["Sun, 06 nov 1994 08:49:37 GMT", "the month is lower case"],
    ["Sun, 06 Now 1994 08:49:37 GMT", "the month is not a month"],
    ["Xyz, 06 Nov 1994 08:49:37 GMT", "the day name is not a day"],
    ["Sun, 06 Nov 1994 08:49:37 UTC", "the zone is UTC rather than GMT"],
    ["Sun, 06 Nov 1994 08:49:37 gmt", "the zone is lower case"],
    ["Sun, 06 Nov 1994 08:49:37 +0000", "the zone is numeric"],
    ["Sun, 06 Nov 1994 08:49:37", "the zone is missing"],
    ["Sun, 6 Nov 1994 08:49:37 GMT", "the day has one digit"],
    ["Sun, 06 Nov 94 08:49:37 GMT", "the year has two digits"],
    ["Sun,  06 Nov 1994 08:49:37 GMT", "there are two spaces"],
    ["Sun 06 Nov 1994 08:49:37 GMT", "the comma is missing"],
    ["Sun, 06 Nov 1994 8:49:37 GMT", "the hour has one digit"],
    ["Sun, 06 Nov 1994 24:00:00 GMT", "the hour is 24"],
    ["Sun, 06 Nov 1994 08:60:00 GMT", "the minute is 60"],
    ["Sun, 06 Nov 1994 08:49:60 GMT", "the second is 60 outside 23:59"],
    ["Sun, 06 Nov 1994 08:49:61 GMT", "the second is 61"],
    ["Sun, 00 Nov 1994 08:49:37 GMT", "the day is 0"],
    ["Thu, 31 Nov 1994 08:49:37 GMT", "November has no 31st"],
    ["Thu, 29 Feb 2001 00:00:00 GMT", "2001 is not a leap year"],
    ["Tue, 29 Feb 1900 00:00:00 GMT", "1900 is not a leap year"],
    ["Sun, 06 Nov 1994 08:49:37 GMT x", "there is junk after it"],
    ["Sun, 06 Nov 1994 08:49:37 GMT\n", "a newline follows it"],
    ["Sun, 06 Nov 1994 08:49:37.5 GMT", "the seconds have a fraction"],
    ["1994-11-06T08:49:37Z", "it is ISO 8601"],
    ["784111777", "it is a Unix timestamp"],
    ["Sun, 06-Nov-94 08:49:37 GMT", "RFC 850 uses a short day name"],
    ["Sunday, 06-Nov-1994 08:49:37 GMT", "RFC 850 has a four-digit year"],
    ["Sunday, 06 Nov 1994 08:49:37 GMT", "IMF-fixdate uses a long day name"],
    ["sunday, 06-Nov-94 08:49:37 GMT", "the RFC 850 day name is lower case"],
    ["Sun Nov 6 08:49:37 1994", "asctime has a single space before a one-digit day"],
    ["Sun Nov  6 08:49:37 1994 GMT", "asctime has a zone"],
    ["Sun Nov  6 08:49:37 94", "asctime has a two-digit year"],
    ["Mon Nov  6 08:49:37 1994", "the asctime day name disagrees with the date"],
    ["Sun, ０6 Nov 1994 08:49:37 GMT", "a digit is full-width"],
  ];
  for (const [value, why] of invalid) {
    it(`rejects ${JSON.stringify(value)} because ${why}`, () => {
      assert.equal(parseHttpDate(value, NOW), null);
    });
  }

  it("agrees with Date.UTC on every day of several years", () => {
    const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const months = [
      "Jan",
      "Feb",
      "Mar",
      "Apr",
      "May",
      "Jun",
      "Jul",
      "Aug",
      "Sep",
      "Oct",
      "Nov",
      "Dec",
    ];
    for (const year of [1900, 1969, 1970, 1999, 2000, 2024, 2100]) {
      for (let t = Date.UTC(year, 0, 1); t < Date.UTC(year + 1, 0, 1); t += 86_400_000) {
        const d = new Date(t + 45_296_000); // 12:34:56
        const text = `${days[d.getUTCDay()]}, ${String(d.getUTCDate()).padStart(2, "0")} ${
          months[d.getUTCMonth()]
        } ${d.getUTCFullYear()} 12:34:56 GMT`;
        assert.equal(parseHttpDate(text), d.getTime(), text);
      }
    }
  });

  it("reads an RFC 850 year that would be over 50 years ahead as the past century", () => {
    const now = Date.UTC(2026, 0, 1);
    assert.equal(parseHttpDate("Wednesday, 01-Jan-76 00:00:00 GMT", now), Date.UTC(2076, 0, 1));
    assert.equal(parseHttpDate("Saturday, 01-Jan-77 00:00:00 GMT", now), Date.UTC(1977, 0, 1));
  });

  it("returns null for a non-string value instead of throwing", () => {
    assert.equal(parseHttpDate(undefined as unknown as string), null);
  });
});

describe("parseRetryAfter", () => {
  const cases: [value: string | null, expected: number | null, why: string][] = [
    ["0", 0, "zero seconds"],
    ["120", 120_000, "delay-seconds"],
    ["007", 7000, "leading zeros"],
    [" 5\t", 5000, "whitespace around the value"],
    ["86400", RETRY_AFTER_MAX_MS, "exactly the cap"],
    ["86401", RETRY_AFTER_MAX_MS, "just over the cap, clamped"],
    ["999999", RETRY_AFTER_MAX_MS, "a long delay, clamped"],
    ["99999999999999999999999999", RETRY_AFTER_MAX_MS, "a delay too long for a number, clamped"],
    ["Sun, 01 Mar 2026 12:00:30 GMT", 30_000, "a date thirty seconds ahead"],
    ["Sunday, 01-Mar-26 12:00:30 GMT", 30_000, "an RFC 850 date"],
    ["Sun Mar  1 12:00:30 2026", 30_000, "an asctime date"],
    ["Sun, 01 Mar 2026 12:00:00 GMT", 0, "a date equal to now"],
    ["Sat, 28 Feb 2026 12:00:00 GMT", 0, "a date in the past"],
    ["Fri, 31 Dec 9999 23:59:59 GMT", RETRY_AFTER_MAX_MS, "a date far ahead, clamped"],
    [null, null, "an absent header"],
    ["", null, "an empty value"],
    ["-1", null, "a negative delay"],
    ["+5", null, "a signed delay"],
    ["1.5", null, "a fractional delay"],
    ["1e3", null, "an exponent"],
    ["0x10", null, "hexadecimal"],
    ["5 s", null, "a unit"],
    ["5, 6", null, "a list"],
    ["٥", null, "a non-ASCII digit"],
    ["Infinity", null, "Infinity"],
    ["NaN", null, "NaN"],
    ["Mon, 01 Mar 2026 12:00:30 GMT", null, "a date with the wrong day name"],
    ["tomorrow", null, "prose"],
  ];
  for (const [value, expected, why] of cases) {
    it(`returns ${expected} for ${JSON.stringify(value)}: ${why}`, () => {
      assert.equal(parseRetryAfter(value, NOW), expected);
    });
  }

  it("uses the current time when now is not given", () => {
    const inAMinute = new Date(Date.now() + 60_000).toUTCString();
    const wait = parseRetryAfter(inAMinute);
    assert.ok(wait !== null && wait > 55_000 && wait <= 60_000, `waited ${wait}`);
  });

  it("returns null for a date when now is not finite, but still reads delay-seconds", () => {
    assert.equal(parseRetryAfter("Sun, 01 Mar 2026 12:00:30 GMT", Number.NaN), null);
    assert.equal(parseRetryAfter("3", Number.NaN), 3000);
  });

  it("returns whole milliseconds when now has a fraction", () => {
    assert.equal(parseRetryAfter("Sun, 01 Mar 2026 12:00:30 GMT", NOW + 0.25), 30_000);
  });
});
