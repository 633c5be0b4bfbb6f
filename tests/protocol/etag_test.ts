import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  isStrongEtag,
  isStrongLastModified,
  parseEtag,
  strongMatch,
  weakMatch,
} from "../../src/protocol/etag.ts";

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

describe("isStrongLastModified", () => {
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
      assert.equal(isStrongLastModified(lastModified, date), expected);
    });
  }
});
