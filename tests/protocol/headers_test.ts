import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  hasStrongValidator,
  isStrongEtag,
  modifiedLately,
  parseContentRange,
  parseEtag,
  parseHttpDate,
  parseRetryAfter,
  parseUnsatisfiedRange,
  RETRY_AFTER_MAX_MS,
  strongMatch,
  weakMatch,
} from "../../src/protocol/headers.ts";

const MAX = Number.MAX_SAFE_INTEGER; // 9007199254740991

describe("parseContentRange", () => {
  const valid: [
    value: string,
    first: number,
    last: number,
    complete: number | null,
    why: string,
  ][] = [
    ["bytes 0-4/5", 0, 4, 5, "the whole of a five-byte body"],
    ["bytes 0-4/*", 0, 4, null, "an unknown complete length"],
    ["bytes 100-199/1000", 100, 199, 1000, "a middle slice"],
    ["bytes 0-0/1", 0, 0, 1, "a one-byte body"],
    ["bytes 999-999/1000", 999, 999, 1000, "the last byte"],
    ["BYTES 0-1/2", 0, 1, 2, "an upper-case unit"],
    ["Bytes 0-1/2", 0, 1, 2, "a mixed-case unit"],
    ["  bytes 0-1/2", 0, 1, 2, "leading spaces around the value"],
    ["bytes 0-1/2 \t", 0, 1, 2, "trailing whitespace around the value"],
    ["\tbytes 0-1/*\t", 0, 1, null, "tabs around the value"],
    ["bytes 00-01/0002", 0, 1, 2, "leading zeros, which the grammar allows"],
    [`bytes 0-${MAX - 1}/${MAX}`, 0, MAX - 1, MAX, "the largest safe complete length"],
    [`bytes ${MAX}-${MAX}/*`, MAX, MAX, null, "the largest safe positions"],
    [`bytes 0-1/000000000000000000000${MAX}`, 0, 1, MAX, "many leading zeros on a safe number"],
  ];
  for (const [value, first, last, complete, why] of valid) {
    it(`accepts ${JSON.stringify(value)}: ${why}`, () => {
      assert.deepEqual(parseContentRange(value), { first, last, complete });
    });
  }

  const invalid: [value: string | null, why: string][] = [
    [null, "the header is absent"],
    ["", "the value is empty"],
    ["   ", "the value is only whitespace"],
    ["bytes 9-3/10", "last is before first"],
    ["bytes x-y/z", "the positions are not numbers"],
    ["bytes -1-5/10", "first is negative"],
    ["bytes 0--5/10", "last is negative"],
    ["bytes 0-5/-10", "the complete length is negative"],
    ["bytes 0-5/5", "last equals the complete length"],
    ["bytes 0-5/3", "last exceeds the complete length"],
    ["bytes 0-0/0", "nothing fits in an empty representation"],
    [`bytes 0-9007199254740993/9007199254740994`, "the numbers are beyond 2^53"],
    [`bytes 0-${MAX}/${MAX + 1}`, "the complete length is 2^53"],
    [`bytes ${MAX + 1}-${MAX + 1}/*`, "the positions are 2^53"],
    ["bytes 0-1/99999999999999999999999", "the complete length is far beyond 2^53"],
    ["bytes */10", "it is the unsatisfied form"],
    ["bytes */*", "it is a malformed unsatisfied form"],
    ["items 0-1/2", "the unit is not bytes"],
    ["byte 0-1/2", "the unit is misspelt"],
    ["bytes=0-1/2", "it uses the Range request syntax"],
    ["bytes0-1/2", "the space after the unit is missing"],
    ["bytes  0-1/2", "there are two spaces after the unit"],
    ["bytes\t0-1/2", "a tab separates the unit"],
    ["bytes 0 -1/2", "there is whitespace inside the range"],
    ["bytes 0- 1/2", "there is whitespace after the dash"],
    ["bytes 0-1 /2", "there is whitespace before the slash"],
    ["bytes 0-1/ 2", "there is whitespace after the slash"],
    ["bytes 1 0-20/30", "there is whitespace inside a number"],
    ["bytes +0-1/2", "first has a plus sign"],
    ["bytes 0-+1/2", "last has a plus sign"],
    ["bytes 0-1/+2", "the complete length has a plus sign"],
    ["bytes 0-1/2x", "there is junk after the length"],
    ["bytes 0-1/2;q=1", "there are parameters after the length"],
    ["bytes 0-1/2, bytes 3-4/5", "there are two ranges"],
    ["bytes 0-1", "the complete length is missing"],
    ["bytes 0-1/", "the complete length is empty"],
    ["bytes -1/2", "first is missing"],
    ["bytes 1-/2", "last is missing"],
    ["bytes 0-1/**", "the star is doubled"],
    ["bytes 0x0-0x1/0x2", "the numbers are hexadecimal"],
    ["bytes 1e2-2e2/1e3", "the numbers use exponents"],
    ["bytes 0.0-1/2", "first has a fraction"],
    ["bytes ０-１/２", "the digits are full-width"],
    ["bytes ٠-١/٢", "the digits are Arabic-Indic"],
    ["bytes\u00a00-1/2", "a no-break space separates the unit"],
    ["\u00a0bytes 0-1/2", "a no-break space precedes the value"],
    ["bytes 0-1/2\n", "a newline follows the value"],
    ["\r\nbytes 0-1/2", "a line break precedes the value"],
    ["bytes 0-1/2\u0000", "a NUL follows the value"],
  ];
  for (const [value, why] of invalid) {
    it(`rejects ${JSON.stringify(value)} because ${why}`, () => {
      assert.equal(parseContentRange(value), null);
    });
  }

  it("rejects a very long value", () => {
    assert.equal(parseContentRange("bytes 0-1/" + "9".repeat(10_000)), null);
  });

  it("rejects a non-string value", () => {
    assert.equal(parseContentRange(42 as unknown as string), null);
  });
});

describe("parseUnsatisfiedRange", () => {
  const cases: [value: string | null, expected: number | null, why: string][] = [
    ["bytes */10", 10, "a plain length"],
    ["bytes */0", 0, "an empty representation"],
    ["BYTES */5", 5, "an upper-case unit"],
    [" bytes */5\t", 5, "whitespace around the value"],
    ["bytes */007", 7, "leading zeros"],
    [`bytes */${MAX}`, MAX, "the largest safe length"],
    [`bytes */${MAX + 1}`, null, "a length of 2^53"],
    ["bytes */99999999999999999999", null, "a length far beyond 2^53"],
    [null, null, "an absent header"],
    ["", null, "an empty value"],
    ["bytes */", null, "a missing length"],
    ["bytes */-1", null, "a negative length"],
    ["bytes */+1", null, "a signed length"],
    ["bytes */*", null, "a star for a length"],
    ["bytes * /5", null, "whitespace inside"],
    ["bytes  */5", null, "two spaces after the unit"],
    ["bytes 0-1/2", null, "a satisfied range"],
    ["items */5", null, "another unit"],
    ["bytes */5x", null, "trailing junk"],
    ["bytes */1.5", null, "a fraction"],
  ];
  for (const [value, expected, why] of cases) {
    it(`returns ${expected} for ${JSON.stringify(value)}: ${why}`, () => {
      assert.equal(parseUnsatisfiedRange(value), expected);
    });
  }

  it("returns null instead of throwing for a non-string value", () => {
    assert.equal(parseUnsatisfiedRange({} as unknown as string), null);
  });
});

describe("parseEtag", () => {
  const valid: [value: string, weak: boolean, opaque: string, raw: string, why: string][] = [
    ['"xyzzy"', false, '"xyzzy"', '"xyzzy"', "a strong tag"],
    ['W/"xyzzy"', true, '"xyzzy"', 'W/"xyzzy"', "a weak tag"],
    ['""', false, '""', '""', "an empty opaque-tag"],
    ['W/""', true, '""', 'W/""', "an empty weak tag"],
    ['"5d8c72a5-1a3f"', false, '"5d8c72a5-1a3f"', '"5d8c72a5-1a3f"', "a typical server tag"],
    [
      '"!#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~"',
      false,
      '"!#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~"',
      '"!#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~"',
      "every punctuation etagc allows",
    ],
    [
      '"caf\u00e9\u00ff\u0080"',
      false,
      '"caf\u00e9\u00ff\u0080"',
      '"caf\u00e9\u00ff\u0080"',
      "obs-text bytes",
    ],
    ['  "a"\t', false, '"a"', '"a"', "whitespace around the value"],
  ];
  for (const [value, weak, opaque, raw, why] of valid) {
    it(`accepts ${JSON.stringify(value)}: ${why}`, () => {
      assert.deepEqual(parseEtag(value), { weak, opaque, raw });
    });
  }

  const invalid: [value: string | null, why: string][] = [
    [null, "the header is absent"],
    ["", "the value is empty"],
    ["xyzzy", "the tag is unquoted"],
    ["*", "it is a wildcard"],
    ['"abc', "the closing quote is missing"],
    ['abc"', "the opening quote is missing"],
    ['"', "it is a lone quote"],
    ['"a"b"', "a quote is embedded"],
    ['"a\\"b"', "a backslash does not escape a quote"],
    ['"a" "b"', "there are two tags"],
    ['"a", "b"', "it is a list"],
    ['w/"a"', "the weak prefix is lower case"],
    ['W/ "a"', "a space follows the weak prefix"],
    ['W"a"', "the slash of the weak prefix is missing"],
    ["W/a", "the weak tag is unquoted"],
    ['"a b"', "it contains a space"],
    ['"a\tb"', "it contains a tab"],
    ['"a\u0000b"', "it contains NUL"],
    ['"a\nb"', "it contains a newline"],
    ['"a\u007fb"', "it contains DEL"],
    ['"a\u0100"', "it contains a character above U+00FF"],
    ['"\u{1f600}"', "it contains an emoji"],
    ["'a'", "it uses single quotes"],
    ["\u201ca\u201d", "it uses typographic quotes"],
    ['"a"x', "there is junk after the tag"],
    ['\u00a0"a"', "a no-break space precedes it"],
  ];
  for (const [value, why] of invalid) {
    it(`returns null for ${JSON.stringify(value)} because ${why}`, () => {
      assert.equal(parseEtag(value), null);
    });
  }
});

describe("hasStrongValidator", () => {
  const date = "Tue, 01 Dec 2026 10:00:00 GMT";
  it("takes a strong ETag, and a Last-Modified only without an ETag", () => {
    assert.equal(hasStrongValidator('"a"', null), true);
    assert.equal(hasStrongValidator(null, date), true);
    assert.equal(hasStrongValidator('W/"a"', date), false);
    assert.equal(hasStrongValidator(null, null), false);
  });
});

describe("isStrongEtag", () => {
  it("is true for a strong tag", () => assert.equal(isStrongEtag('"a"'), true));
  it("is false for a weak tag", () => assert.equal(isStrongEtag('W/"a"'), false));
  it("is false for an absent tag", () => assert.equal(isStrongEtag(null), false));
  it("is false for a malformed tag", () => assert.equal(isStrongEtag("a"), false));
});

describe("strongMatch and weakMatch", () => {
  // RFC 9110 §8.8.3.2, the comparison table.
  const table: [a: string | null, b: string | null, strong: boolean, weak: boolean][] = [
    ['W/"1"', 'W/"1"', false, true],
    ['W/"1"', 'W/"2"', false, false],
    ['W/"1"', '"1"', false, true],
    ['"1"', '"1"', true, true],
    ['"1"', '"2"', false, false],
    ['"1"', ' "1" ', true, true],
    ['"a"', '"A"', false, false],
    ['""', '""', true, true],
    [null, '"1"', false, false],
    ['"1"', null, false, false],
    [null, null, false, false],
    ["1", "1", false, false],
    ["*", "*", false, false],
    ['"1"', '"1",', false, false],
  ];
  for (const [a, b, strong, weak] of table) {
    it(
      `compares ${JSON.stringify(a)} with ${JSON.stringify(b)} as ${
        strong ? "a strong" : weak ? "only a weak" : "no"
      } match`,
      () => {
        assert.equal(strongMatch(a, b), strong);
        assert.equal(strongMatch(b, a), strong);
        assert.equal(weakMatch(a, b), weak);
        assert.equal(weakMatch(b, a), weak);
      },
    );
  }
});

// A strong Last-Modified (RFC 9110 §8.8.2.2: it may go in If-Range) is one not modified lately.
describe("modifiedLately: false for a strong Last-Modified", () => {
  const lm = "Sun, 06 Nov 1994 08:49:37 GMT";
  const cases: [
    lastModified: string | null,
    date: string | null,
    expected: boolean,
    why: string,
  ][] = [
    [lm, "Sun, 06 Nov 1994 08:49:38 GMT", true, "the Date is exactly one second later"],
    [lm, "Mon, 07 Nov 1994 08:49:37 GMT", true, "the Date is a day later"],
    [lm, lm, false, "the Date equals Last-Modified"],
    [lm, "Sun, 06 Nov 1994 08:49:36 GMT", false, "the Date is earlier"],
    [lm, null, false, "there is no Date"],
    [null, lm, false, "there is no Last-Modified"],
    [null, null, false, "neither header is present"],
    [lm, "yesterday", false, "the Date is malformed"],
    [
      "Sun, 06 Nov 1994 08:49:37",
      "Mon, 07 Nov 1994 08:49:37 GMT",
      false,
      "Last-Modified lacks GMT",
    ],
    [
      "Sunday, 06-Nov-94 08:49:37 GMT",
      "Sun Nov  6 08:49:38 1994",
      true,
      "obsolete forms are compared by instant",
    ],
    [lm, "Sun, 06 Nov 1994 08:49:37 GMT ", false, "the Date differs only by trailing whitespace"],
  ];
  for (const [lastModified, date, expected, why] of cases) {
    it(`is ${expected} when ${why}`, () => {
      assert.equal(modifiedLately(lastModified, date) === false, expected);
    });
  }
});

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
