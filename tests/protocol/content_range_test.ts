import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseContentRange, parseUnsatisfiedRange } from "../../src/protocol/content_range.ts";
import { ContentRangeError } from "../../src/errors.ts";

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
      assert.throws(() => parseContentRange(value), (error: unknown) => {
        assert.ok(error instanceof ContentRangeError, `not a ContentRangeError: ${error}`);
        assert.equal(error.name, "ContentRangeError");
        assert.equal(error.retryable, false);
        assert.match(error.message, /^Malformed Content-Range: /);
        return true;
      });
    });
  }

  it("names the rejected value in the message", () => {
    assert.throws(() => parseContentRange("bytes 9-3/10"), {
      name: "ContentRangeError",
      message: "Malformed Content-Range: bytes 9-3/10",
    });
  });

  it("cuts a very long rejected value in the message to about 100 characters", () => {
    const value = "bytes 0-1/" + "9".repeat(10_000);
    assert.throws(() => parseContentRange(value), (error: unknown) => {
      assert.ok(error instanceof ContentRangeError);
      assert.ok(error.message.length < 130, `message is ${error.message.length} characters`);
      assert.ok(error.message.startsWith("Malformed Content-Range: bytes 0-1/999"));
      return true;
    });
  });

  it("escapes control characters of the rejected value in the message", () => {
    assert.throws(() => parseContentRange("bytes 0-1/2\r\nX-Evil: 1"), {
      message: "Malformed Content-Range: bytes 0-1/2\\x0d\\x0aX-Evil: 1",
    });
  });

  it("rejects a non-string value with a ContentRangeError", () => {
    assert.throws(() => parseContentRange(42 as unknown as string), ContentRangeError);
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
