/**
 * Seeded fuzzing of the header parsers. Reproduce a failure with the seed and
 * case count from its message: `HAUL_FUZZ_SEED=<seed> HAUL_FUZZ_CASES=<n>`.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ContentRange,
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
import { integrityMismatch, parseIntegrity } from "../../src/protocol/integrity.ts";
import { makeRng, type Rng } from "../helpers/prng.ts";
import { fuzzCases, fuzzSeed } from "../helpers/fuzz_config.ts";

const CASES = fuzzCases(20_000);
const SEED = fuzzSeed();
const MAX = Number.MAX_SAFE_INTEGER;

/** A generator per test, derived from the seed so that tests do not depend on each other. */
function rngFor(salt: number): Rng {
  return makeRng((SEED ^ Math.imul(salt, 0x9e3779b1)) >>> 0);
}

/** Fails with the seed, the case and the input when `ok` is false. */
function check(ok: boolean, test: string, index: number, input: unknown, detail = ""): void {
  if (!ok) {
    assert.fail(
      `${test}: property violated (HAUL_FUZZ_SEED=${SEED} case ${index} of ${CASES}) ` +
        `input=${JSON.stringify(input)}${detail ? ` ${detail}` : ""}`,
    );
  }
}

/** Guards against a vacuous run: some generated values must have been accepted. */
function expectSomeAccepted(accepted: number): void {
  if (CASES >= 1000 && accepted === 0) {
    assert.fail(`no generated value was accepted (HAUL_FUZZ_SEED=${SEED}, ${CASES} cases)`);
  }
}

const BOUNDARY_NUMBERS = [
  "0",
  "1",
  "00",
  "-0",
  "-1",
  "+1",
  "9007199254740990",
  "9007199254740991",
  "9007199254740992",
  "9007199254740993",
  "18014398509481984",
  "99999999999999999999999999999999",
  "1e3",
  "0x10",
  "1.5",
  "Infinity",
  "NaN",
  "4294967296",
  "86400",
  "86401",
];

const INTERESTING_CHARS = [
  ..."0123456789-/*, \t=;\"'W/wbytesBYTES:+.eE?_",
  "\u0000",
  "\n",
  "\r",
  "\u007f",
  "\u0080",
  "\u00a0",
  "\u00ff",
  "\u0100",
  "\u2028",
  "\u3000",
  "\ufeff",
  "０",
  "٣",
  "\ud800",
  "\udfff",
  "\u{1f600}",
];

/** One random code point (or lone surrogate) from a range chosen at random. */
function randomChar(rng: Rng): string {
  switch (rng.int(0, 6)) {
    case 0:
      return String.fromCharCode(rng.int(0x20, 0x7e));
    case 1:
      return String.fromCharCode(rng.int(0x00, 0x1f));
    case 2:
      return String.fromCharCode(rng.int(0x80, 0xff));
    case 3:
      return String.fromCharCode(rng.int(0x100, 0xd7ff));
    case 4:
      return String.fromCharCode(rng.int(0xd800, 0xdfff)); // lone surrogate
    case 5:
      return String.fromCodePoint(rng.int(0x10000, 0x10ffff));
    default:
      return rng.pick(INTERESTING_CHARS);
  }
}

function randomAscii(rng: Rng, maxLength: number): string {
  let out = "";
  const length = rng.int(0, maxLength);
  for (let i = 0; i < length; i++) out += String.fromCharCode(rng.int(0, 0x7f));
  return out;
}

function randomUnicode(rng: Rng, maxLength: number): string {
  let out = "";
  const length = rng.int(0, maxLength);
  for (let i = 0; i < length; i++) out += randomChar(rng);
  return out;
}

/** `value` with one to four random edits: insert, delete, replace, splice a number, swap case. */
function mutate(rng: Rng, value: string): string {
  let out = value;
  const edits = rng.int(1, 4);
  for (let e = 0; e < edits; e++) {
    const at = rng.int(0, out.length);
    switch (rng.int(0, 6)) {
      case 0:
        out = out.slice(0, at) + randomChar(rng) + out.slice(at);
        break;
      case 1:
        out = out.slice(0, at) + out.slice(at + rng.int(1, 3));
        break;
      case 2:
        out = out.slice(0, at) + randomChar(rng) + out.slice(at + 1);
        break;
      case 3: {
        // replace a run of digits (or insert) with a boundary number
        const end = at + (out.slice(at).match(/^[0-9]*/)?.[0].length ?? 0);
        out = out.slice(0, at) + rng.pick(BOUNDARY_NUMBERS) + out.slice(end);
        break;
      }
      case 4:
        out = out.slice(0, at) + String.fromCharCode(rng.int(0x30, 0x39)) + out.slice(at);
        break;
      case 5:
        out = out.slice(0, at) + out.slice(at, at + 1).toUpperCase() + out.slice(at + 1);
        break;
      default:
        out = out.slice(0, at) + rng.pick([" ", "\t", "  ", ""]) + out.slice(at);
    }
  }
  return out;
}

/** A uniformly random safe integer in `[lo, hi]` (both safe, `lo <= hi`). */
function safeIntBetween(rng: Rng, lo: number, hi: number): number {
  const span = hi - lo + 1; // at most 2^53, exact
  const raw = rng.int(0, 0x1f_ffff) * 0x1_0000_0000 + rng.int(0, 0xffff_ffff);
  return lo + (raw % span);
}

/** A safe integer biased towards small values and the boundaries. */
function interestingInt(rng: Rng, lo: number, hi: number): number {
  switch (rng.int(0, 4)) {
    case 0:
      return Math.min(hi, lo + rng.int(0, 10));
    case 1:
      return Math.max(lo, hi - rng.int(0, 10));
    case 2:
      return Math.min(hi, lo + rng.int(0, 1_000_000));
    default:
      return safeIntBetween(rng, lo, hi);
  }
}

function randomContentRange(rng: Rng): ContentRange {
  const known = rng.chance(0.8);
  const first = interestingInt(rng, 0, known ? MAX - 1 : MAX);
  const last = interestingInt(rng, first, known ? MAX - 1 : MAX);
  const complete = known ? interestingInt(rng, last + 1, MAX) : null;
  return { first, last, complete };
}

function randomCase(rng: Rng, text: string): string {
  return Array.from(text, (c) => (rng.chance(0.5) ? c.toUpperCase() : c)).join("");
}

function ows(rng: Rng): string {
  return rng.pick(["", "", "", " ", "\t", "  ", " \t "]);
}

function zeros(rng: Rng): string {
  return rng.chance(0.1) ? "0".repeat(rng.int(1, 20)) : "";
}

function formatContentRange(rng: Rng, range: ContentRange): string {
  return `${ows(rng)}${randomCase(rng, "bytes")} ${zeros(rng)}${range.first}-${
    zeros(rng)
  }${range.last}/${range.complete === null ? "*" : zeros(rng) + range.complete}${ows(rng)}`;
}

/** A candidate header value: a mutated valid one, random ASCII, or random Unicode. */
function candidate(rng: Rng, valid: () => string): string {
  const kind = rng.int(0, 9);
  if (kind < 6) return mutate(rng, valid());
  if (kind < 8) return randomAscii(rng, 40);
  return randomUnicode(rng, 40);
}

describe("fuzzing parseContentRange and parseUnsatisfiedRange", () => {
  it("round-trips every random valid range through its text form", () => {
    const rng = rngFor(1);
    for (let i = 0; i < CASES; i++) {
      const range = randomContentRange(rng);
      const text = formatContentRange(rng, range);
      let parsed: ContentRange | null | undefined;
      try {
        parsed = parseContentRange(text);
      } catch (error) {
        check(false, "round-trip", i, text, String(error));
      }
      check(
        parsed !== undefined && parsed !== null && parsed.first === range.first &&
          parsed.last === range.last &&
          parsed.complete === range.complete,
        "round-trip",
        i,
        text,
        JSON.stringify(parsed),
      );
    }
  });

  it("never throws, and accepts only consistent safe ranges", () => {
    const rng = rngFor(2);
    const valid = (): string =>
      rng.chance(0.2)
        ? `bytes */${interestingInt(rng, 0, MAX)}`
        : formatContentRange(rng, randomContentRange(rng));
    let accepted = 0;
    for (let i = 0; i < CASES; i++) {
      const value = candidate(rng, valid);
      let range: ContentRange | null = null;
      try {
        range = parseContentRange(value);
      } catch (error) {
        check(false, "parseContentRange threw", i, value, String(error));
      }
      const unsatisfied = (() => {
        try {
          return parseUnsatisfiedRange(value);
        } catch (error) {
          check(false, "parseUnsatisfiedRange threw", i, value, String(error));
          return null;
        }
      })();
      check(
        unsatisfied === null || (Number.isSafeInteger(unsatisfied) && unsatisfied >= 0),
        "parseUnsatisfiedRange result",
        i,
        value,
        String(unsatisfied),
      );
      check(!(range !== null && unsatisfied !== null), "both forms accepted", i, value);
      if (range === null) continue;
      accepted++;
      const { first, last, complete } = range;
      check(
        Number.isSafeInteger(first) && Number.isSafeInteger(last) && 0 <= first &&
          first <= last &&
          (complete === null || (Number.isSafeInteger(complete) && last < complete)),
        "accepted range invariants",
        i,
        value,
        JSON.stringify(range),
      );
      // No rounding: the digits in the text are exactly the numbers returned.
      const digits = value.match(/[0-9]+/g) ?? [];
      const expected = [first, last, ...(complete === null ? [] : [complete])].map(BigInt);
      check(
        digits.length === expected.length && digits.every((d, k) => BigInt(d) === expected[k]),
        "accepted numbers match the text exactly",
        i,
        value,
        JSON.stringify(range),
      );
    }
    expectSomeAccepted(accepted);
  });
});

const ETAG_CHARS = [
  "!",
  ..."#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
  "\u0080",
  "\u00e9",
  "\u00ff",
];

function randomEtag(rng: Rng): string {
  let opaque = '"';
  const length = rng.int(0, 24);
  for (let i = 0; i < length; i++) opaque += rng.pick(ETAG_CHARS);
  return `${rng.chance(0.3) ? "W/" : ""}${opaque}"`;
}

describe("fuzzing the entity-tag functions", () => {
  it("round-trips every random valid entity-tag", () => {
    const rng = rngFor(3);
    for (let i = 0; i < CASES; i++) {
      const tag = randomEtag(rng);
      const value = `${ows(rng)}${tag}${ows(rng)}`;
      const parsed = parseEtag(value);
      check(
        parsed !== null && parsed.raw === tag && parsed.weak === tag.startsWith("W/") &&
          parsed.opaque === tag.replace(/^W\//, ""),
        "etag round-trip",
        i,
        value,
        JSON.stringify(parsed),
      );
    }
  });

  it("never throws and accepts only well-formed entity-tags", () => {
    const rng = rngFor(4);
    const lastModified = "Sun, 06 Nov 1994 08:49:37 GMT";
    let accepted = 0;
    for (let i = 0; i < CASES; i++) {
      const value = candidate(rng, () => randomEtag(rng));
      // Often a near relative of `value`, so that matches actually happen.
      const other = rng.chance(0.5)
        ? rng.pick([value, `W/${value.trim()}`, value.trim().replace(/^W\//, ""), ` ${value}`])
        : candidate(rng, () => randomEtag(rng));
      let parsed: ReturnType<typeof parseEtag> = null;
      const results: boolean[] = [];
      try {
        parsed = parseEtag(value);
        results.push(
          isStrongEtag(value),
          strongMatch(value, value),
          weakMatch(value, value),
          strongMatch(value, other),
          strongMatch(other, value),
          weakMatch(value, other),
          weakMatch(other, value),
          modifiedLately(value, other) === false,
          modifiedLately(lastModified, value) === false,
        );
      } catch (error) {
        check(false, "etag functions threw", i, [value, other], String(error));
      }
      const [strong, selfStrong, selfWeak, strongAB, strongBA, weakAB, weakBA] = results;
      const pair = [value, other];
      check(strong === (parsed !== null && !parsed.weak), "isStrongEtag agrees", i, value);
      check(selfStrong === strong, "strongMatch is reflexive for strong tags", i, value);
      check(selfWeak === (parsed !== null), "weakMatch is reflexive for valid tags", i, value);
      check(strongAB === strongBA && weakAB === weakBA, "matching is symmetric", i, pair);
      check(!strongAB || weakAB === true, "a strong match is also a weak match", i, pair);
      if (parsed === null) continue;
      accepted++;
      const inner = parsed.opaque.slice(1, -1);
      check(
        /^"[^"]*"$/.test(parsed.opaque) &&
          Array.from(inner).every((c) => {
            const code = c.codePointAt(0) ?? -1;
            return code === 0x21 || (code >= 0x23 && code <= 0x7e) ||
              (code >= 0x80 && code <= 0xff);
          }) &&
          parsed.raw === (parsed.weak ? "W/" : "") + parsed.opaque &&
          value.replace(/^[ \t]+|[ \t]+$/g, "") === parsed.raw,
        "accepted entity-tag is well-formed",
        i,
        value,
        JSON.stringify(parsed),
      );
    }
    expectSomeAccepted(accepted);
  });
});

const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const LONG_DAY_NAMES = [
  "Sunday",
  "Monday",
  "Tuesday",
  "Wednesday",
  "Thursday",
  "Friday",
  "Saturday",
];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);
const two = (n: number): string => String(n).padStart(2, "0");

/** A random whole-second instant in years 0001..9999. */
function randomInstant(rng: Rng): number {
  const lo = -62_135_596_800; // 0001-01-01T00:00:00Z, in seconds
  const hi = 253_402_300_799; // 9999-12-31T23:59:59Z
  const seconds = rng.chance(0.5)
    ? safeIntBetween(rng, lo, hi)
    : safeIntBetween(rng, NOW / 1000 - 3 * 86_400, NOW / 1000 + 3 * 86_400);
  return seconds * 1000;
}

function formatDate(rng: Rng, ms: number, form: number): string {
  const d = new Date(ms);
  const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  const year = d.getUTCFullYear();
  if (form === 0) {
    return `${DAY_NAMES[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${
      String(year).padStart(4, "0")
    } ${time} GMT`;
  }
  if (form === 1) {
    return `${LONG_DAY_NAMES[d.getUTCDay()]}, ${two(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${
      two(year % 100)
    } ${time} GMT`;
  }
  const day = rng.chance(0.5) ? String(d.getUTCDate()).padStart(2, " ") : two(d.getUTCDate());
  return `${DAY_NAMES[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${day} ${time} ${
    String(year).padStart(4, "0")
  }`;
}

describe("fuzzing parseHttpDate and parseRetryAfter", () => {
  it("round-trips every random instant through all three HTTP-date forms", () => {
    const rng = rngFor(5);
    for (let i = 0; i < CASES; i++) {
      const ms = randomInstant(rng);
      const year = new Date(ms).getUTCFullYear();
      // RFC 850 names a year only within 50 years of now.
      const form = Math.abs(year - 2026) < 49 ? rng.int(0, 2) : rng.pick([0, 2]);
      const text = formatDate(rng, ms, form);
      check(
        parseHttpDate(text, NOW) === ms,
        "HTTP-date round-trip",
        i,
        text,
        String(parseHttpDate(text, NOW)),
      );
    }
  });

  it("never throws, and returns only whole, finite, capped delays", () => {
    const rng = rngFor(6);
    const valid = (): string =>
      rng.chance(0.3)
        ? String(rng.int(0, 200_000))
        : formatDate(rng, randomInstant(rng), rng.int(0, 2));
    let accepted = 0;
    for (let i = 0; i < CASES; i++) {
      const value = candidate(rng, valid);
      let date: number | null = null;
      let wait: number | null = null;
      try {
        date = parseHttpDate(value, NOW);
        wait = parseRetryAfter(value, NOW);
        parseRetryAfter(value);
      } catch (error) {
        check(false, "date parsers threw", i, value, String(error));
      }
      check(
        wait === null || (Number.isInteger(wait) && wait >= 0 && wait <= RETRY_AFTER_MAX_MS),
        "Retry-After result in [0, cap]",
        i,
        value,
        String(wait),
      );
      check(date === null || Number.isInteger(date), "HTTP-date result is an integer", i, value);
      if (date === null) continue;
      accepted++;
      check(
        wait === Math.min(Math.max(0, date - NOW), RETRY_AFTER_MAX_MS),
        "Retry-After agrees with parseHttpDate",
        i,
        value,
        `${date} ${wait}`,
      );
      // Differential check against the engine: an accepted IMF-fixdate prints back identically.
      const text = value.replace(/^[ \t]+|[ \t]+$/g, "");
      const d = new Date(date);
      if (
        text.endsWith(" GMT") && text.includes(",") && !text.includes("-") &&
        d.getUTCFullYear() >= 1000 && !text.includes(":60 ")
      ) {
        check(
          d.toUTCString() === text,
          "accepted IMF-fixdate matches Date#toUTCString",
          i,
          value,
          d.toUTCString(),
        );
      }
    }
    expectSomeAccepted(accepted);
  });
});

const HEX = "0123456789abcdef";
const toHex = (bytes: Uint8Array): string =>
  Array.from(bytes, (b) => HEX[b >> 4]! + HEX[b & 15]!).join("");
const toBase64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes));

/** Bytes of a digest of each algorithm `integrity` knows, strongest first. */
const DIGEST_BYTES = { sha512: 64, sha384: 48, sha256: 32 } as const;
type Algorithm = keyof typeof DIGEST_BYTES;

/** A random token in one of the accepted forms, and what it stands for (`null`: unknown). */
function randomIntegrityToken(
  rng: Rng,
): { token: string; algorithm: Algorithm | null; hex: string } {
  const algorithm = rng.pick(["sha256", "sha256", "sha384", "sha512"] as const);
  const digest = rng.bytes(DIGEST_BYTES[algorithm]);
  const b64 = toBase64(digest);
  const hex = toHex(digest);
  const known = (token: string) => ({ token, algorithm, hex });
  const form = rng.int(0, 11); // 5 forms twice over, then 2 unknown algorithms
  if (form === 10) return { token: `md5-${toBase64(rng.bytes(16))}`, algorithm: null, hex: "" };
  if (form === 11) return { token: `sha1:${toHex(rng.bytes(20))}`, algorithm: null, hex: "" };
  switch (form % 5) {
    case 0:
      return known(`${algorithm}-${b64}`);
    case 1:
      return known(`${algorithm.toUpperCase()}-${b64.replace(/=+$/, "")}`);
    case 2:
      return known(`${algorithm}-${b64.replaceAll("+", "-").replaceAll("/", "_")}?opt`);
    case 3:
      return known(`${algorithm}:${rng.int(0, 2) === 0 ? hex : hex.toUpperCase()}`);
    default:
      return algorithm === "sha256" ? known(hex.toUpperCase()) : known(`${algorithm}:${hex}`);
  }
}

describe("fuzzing parseIntegrity", () => {
  it("round-trips random sha256, sha384 and sha512 digests in every accepted form", () => {
    const rng = rngFor(7);
    for (let i = 0; i < CASES; i++) {
      const tokens = Array.from({ length: rng.int(1, 4) }, () => randomIntegrityToken(rng));
      const separator = rng.pick([" ", "\t", "\n", "  "]);
      const value = `${ows(rng)}${tokens.map((t) => t.token).join(separator)}${ows(rng)}`;
      const strongest = (Object.keys(DIGEST_BYTES) as Algorithm[])
        .find((algorithm) => tokens.some((t) => t.algorithm === algorithm));
      if (strongest === undefined) {
        check(
          (() => {
            try {
              parseIntegrity(value);
              return false;
            } catch (error) {
              return error instanceof TypeError &&
                error.message.startsWith("Invalid integrity: unsupported algorithm");
            }
          })(),
          "integrity without a known algorithm is unsupported",
          i,
          value,
        );
        continue;
      }
      const expected = {
        algorithm: strongest,
        hex: [...new Set(tokens.filter((t) => t.algorithm === strongest).map((t) => t.hex))],
      };
      let parsed: ReturnType<typeof parseIntegrity> | undefined;
      try {
        parsed = parseIntegrity(value);
      } catch (error) {
        check(false, "integrity round-trip threw", i, value, String(error));
      }
      check(
        JSON.stringify(parsed) === JSON.stringify(expected),
        "integrity round-trip",
        i,
        value,
        JSON.stringify(parsed),
      );
    }
  });

  it("throws only TypeError and returns only distinct lowercase hex digests", () => {
    const rng = rngFor(8);
    const valid = (): string => randomIntegrityToken(rng).token;
    let accepted = 0;
    for (let i = 0; i < CASES; i++) {
      const value = candidate(rng, valid);
      let expected: ReturnType<typeof parseIntegrity> | null = null;
      try {
        expected = parseIntegrity(value);
      } catch (error) {
        check(
          error instanceof TypeError,
          "parseIntegrity threw a non-TypeError",
          i,
          value,
          String(error),
        );
      }
      if (expected === null) continue;
      accepted++;
      const { algorithm, hex: digests } = expected;
      const size = DIGEST_BYTES[algorithm];
      const stranger = toHex(rng.bytes(size));
      const matches = (hex: string) => integrityMismatch(expected!, { [algorithm]: hex }) === null;
      check(
        digests.every((d) => matches(d) && matches(d.toUpperCase())) &&
          matches(stranger) === digests.includes(stranger),
        "integrityMismatch accepts exactly the parsed digests",
        i,
        value,
      );
      check(
        digests.length > 0 && digests.every((d) => new RegExp(`^[0-9a-f]{${size * 2}}$`).test(d)) &&
          new Set(digests).size === digests.length,
        "accepted digests are distinct lowercase hex of the algorithm's length",
        i,
        value,
        JSON.stringify(digests),
      );
    }
    expectSomeAccepted(accepted);
  });
});
