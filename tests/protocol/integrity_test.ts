import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { digestMatches, parseIntegrity } from "../../src/protocol/integrity.ts";

const EMPTY_HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const EMPTY_B64 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
const ABC_HEX = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const ABC_B64 = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
const SHA384_B64 = "OLBgp1GsljhM2TJ+sbHjaiH9txEUvgdDTAzHv2P24donTt6/529l+9Ua0vFImLlb";
const SHA512_B64 =
  "z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==";

describe("parseIntegrity", () => {
  const valid: [value: string, expected: string[], why: string][] = [
    [`sha256-${EMPTY_B64}`, [EMPTY_HEX], "an SRI hash"],
    [`sha256-${EMPTY_B64.slice(0, -1)}`, [EMPTY_HEX], "an SRI hash without padding"],
    ["sha256-47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", [EMPTY_HEX], "URL-safe base64"],
    [`SHA256-${EMPTY_B64}`, [EMPTY_HEX], "an upper-case algorithm name"],
    [`sha256-${EMPTY_B64}?foo=bar`, [EMPTY_HEX], "an options suffix, ignored"],
    [`sha256-${EMPTY_B64}?`, [EMPTY_HEX], "an empty options suffix"],
    [`sha256-${EMPTY_B64} sha256-${ABC_B64}`, [EMPTY_HEX, ABC_HEX], "two SRI hashes"],
    [`\t sha256-${EMPTY_B64}\n sha256-${ABC_B64}\r\n`, [EMPTY_HEX, ABC_HEX], "ASCII whitespace"],
    [`sha256-${EMPTY_B64} sha256-${EMPTY_B64}`, [EMPTY_HEX], "a duplicate, dropped"],
    [`sha384-${SHA384_B64} sha256-${EMPTY_B64}`, [EMPTY_HEX], "a sha384 beside a sha256"],
    [`sha512-${SHA512_B64} sha256-${ABC_B64}`, [ABC_HEX], "a sha512 beside a sha256"],
    [`md5-AAAA sha256-${EMPTY_B64}`, [EMPTY_HEX], "an unknown algorithm beside a sha256"],
    [`sha256:${EMPTY_HEX}`, [EMPTY_HEX], "a prefixed hex digest"],
    [`SHA256:${EMPTY_HEX.toUpperCase()}`, [EMPTY_HEX], "an upper-case prefixed hex digest"],
    [EMPTY_HEX, [EMPTY_HEX], "a bare hex digest"],
    [ABC_HEX.toUpperCase(), [ABC_HEX], "an upper-case bare hex digest"],
    [`  ${EMPTY_HEX}  `, [EMPTY_HEX], "a bare hex digest with whitespace around"],
    [`${EMPTY_HEX} sha256-${ABC_B64}`, [EMPTY_HEX, ABC_HEX], "hex and SRI forms mixed"],
  ];
  for (const [value, expected, why] of valid) {
    it(`accepts ${JSON.stringify(value.slice(0, 60))}: ${why}`, () => {
      assert.deepEqual(parseIntegrity(value), { sha256: expected });
    });
  }

  const unsupported: [value: string, why: string][] = [
    [`sha384-${SHA384_B64}`, "only a sha384 hash is given"],
    [`sha512-${SHA512_B64}`, "only a sha512 hash is given"],
    [`sha384-${SHA384_B64} sha512-${SHA512_B64}`, "neither hash is sha256"],
    ["md5-1B2M2Y8AsgTpgAmY7PhCfg==", "only an unknown algorithm is given"],
    [`sha1:${"a".repeat(40)}`, "only a prefixed sha1 is given"],
  ];
  for (const [value, why] of unsupported) {
    it(`rejects ${JSON.stringify(value.slice(0, 60))} as unsupported because ${why}`, () => {
      assert.throws(() => parseIntegrity(value), {
        name: "TypeError",
        message: /^Unsupported integrity algorithm: only sha256 is supported: /,
      });
    });
  }

  const malformed: [value: string, why: string][] = [
    ["", "it is empty"],
    [" \t\n", "it is only whitespace"],
    ["sha256-", "the digest is missing"],
    [`sha256-${EMPTY_B64.slice(0, -2)}`, "the base64 is one character short"],
    [`sha256-${EMPTY_B64}=`, "the padding is too long"],
    [`sha256-${EMPTY_B64.slice(0, -2)}V=`, "the unused base64 bits are not zero"],
    [`sha256-${EMPTY_B64.replace("+", "*")}`, "the base64 has a foreign character"],
    [`sha256-${EMPTY_B64.replace("=", "")}A`, "the digest is 33 bytes"],
    [`sha256-${SHA512_B64}`, "a sha512-sized digest is labelled sha256"],
    [`sha384-${EMPTY_B64} sha256-${ABC_B64}`, "a sha384 token has a sha256-sized digest"],
    [`sha256-${EMPTY_B64} sha256-!!!`, "the second token is malformed"],
    [`sha256-${EMPTY_B64}?caf\u00e9`, "the options contain non-ASCII"],
    [`sha256 -${EMPTY_B64}`, "a space splits the token"],
    [`sha256_${EMPTY_B64}`, "the separator is wrong"],
    [`sha-256-${EMPTY_B64}`, "the algorithm name has a dash"],
    [`sha256:${EMPTY_HEX.slice(1)}`, "the hex digest is 63 digits"],
    [`sha256:${EMPTY_HEX}0`, "the hex digest is 65 digits"],
    [`sha256:${EMPTY_HEX}00`, "the hex digest is 33 bytes"],
    [`sha256:${EMPTY_HEX.replace("e", "g")}`, "the hex digest has a non-hex digit"],
    [`sha256: ${EMPTY_HEX}`, "a space follows the colon"],
    [EMPTY_HEX.slice(2), "a bare hex digest is too short"],
    [`${EMPTY_HEX}00`, "a bare hex digest is too long"],
    [`0x${EMPTY_HEX}`, "a bare hex digest has a 0x prefix"],
    [EMPTY_B64, "a bare base64 digest lacks its algorithm"],
    [`sha256-${EMPTY_B64}\u00a0`, "a no-break space follows the token"],
    [`sha256-${EMPTY_B64}\u3000sha256-${ABC_B64}`, "an ideographic space separates tokens"],
    ["sha256=abc", "it is not any accepted form"],
  ];
  for (const [value, why] of malformed) {
    it(`rejects ${JSON.stringify(value.slice(0, 60))} with a TypeError because ${why}`, () => {
      assert.throws(() => parseIntegrity(value), TypeError);
    });
  }

  it("rejects a non-string value with a TypeError", () => {
    assert.throws(() => parseIntegrity(null as unknown as string), TypeError);
  });

  it("agrees with the SHA-256 the runtime computes", async () => {
    const data = new TextEncoder().encode("haul");
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    const b64 = btoa(String.fromCharCode(...digest));
    assert.deepEqual(parseIntegrity(`sha256-${b64}`), { sha256: [hex] });
  });
});

describe("digestMatches", () => {
  const expected = parseIntegrity(`sha256-${EMPTY_B64} ${ABC_HEX}`);
  const cases: [actual: string, result: boolean, why: string][] = [
    [EMPTY_HEX, true, "the first digest matches"],
    [ABC_HEX, true, "the second digest matches"],
    [EMPTY_HEX.toUpperCase(), true, "an upper-case digest matches"],
    ["0".repeat(64), false, "another digest does not match"],
    [EMPTY_HEX.slice(1), false, "a truncated digest does not match"],
    [` ${EMPTY_HEX}`, false, "a digest with whitespace does not match"],
    ["", false, "an empty string does not match"],
  ];
  for (const [actual, result, why] of cases) {
    it(`returns ${result} when ${why}`, () => {
      assert.equal(digestMatches(expected, actual), result);
    });
  }
});
