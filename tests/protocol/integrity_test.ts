import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { integrityMismatch, parseIntegrity } from "../../src/protocol/integrity.ts";

const EMPTY_HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const EMPTY_B64 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
const ABC_HEX = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const ABC_B64 = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
const SHA384_B64 = "OLBgp1GsljhM2TJ+sbHjaiH9txEUvgdDTAzHv2P24donTt6/529l+9Ua0vFImLlb";
const SHA512_B64 =
  "z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==";
const SHA384_HEX = hexOf(SHA384_B64);
const SHA512_HEX = hexOf(SHA512_B64);

function hexOf(base64: string): string {
  return Array.from(atob(base64), (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
}

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
      assert.deepEqual(parseIntegrity(value), { algorithm: "sha256", hex: expected });
    });
  }

  const strongest: [value: string, algorithm: string, expected: string[], why: string][] = [
    [`sha512-${SHA512_B64}`, "sha512", [SHA512_HEX], "an SRI sha512, as npm writes"],
    [`sha384-${SHA384_B64}`, "sha384", [SHA384_HEX], "an SRI sha384"],
    [`sha512:${SHA512_HEX.toUpperCase()}`, "sha512", [SHA512_HEX], "a prefixed hex sha512"],
    [`sha384:${SHA384_HEX}`, "sha384", [SHA384_HEX], "a prefixed hex sha384"],
    [`sha256-${EMPTY_B64} sha512-${SHA512_B64}`, "sha512", [SHA512_HEX], "sha512 beats sha256"],
    [`sha384-${SHA384_B64} sha256-${EMPTY_B64}`, "sha384", [SHA384_HEX], "sha384 beats sha256"],
    [`sha512-${SHA512_B64} sha384-${SHA384_B64}`, "sha512", [SHA512_HEX], "sha512 beats sha384"],
    [
      `sha512-${SHA512_B64} ${EMPTY_HEX} sha512:${"ab".repeat(64)}`,
      "sha512",
      [SHA512_HEX, "ab".repeat(64)],
      "two sha512 digests, SRI and hex, beside a bare sha256",
    ],
    [`md5-AAAA sha512-${SHA512_B64}`, "sha512", [SHA512_HEX], "an unknown algorithm, ignored"],
    [`sha1:${"a".repeat(40)} sha384:${SHA384_HEX}`, "sha384", [SHA384_HEX], "a sha1, ignored"],
  ];
  for (const [value, algorithm, expected, why] of strongest) {
    it(`checks ${JSON.stringify(value.slice(0, 60))} by ${algorithm}: ${why}`, () => {
      assert.deepEqual(parseIntegrity(value), { algorithm, hex: expected });
    });
  }

  const unsupported: [value: string, why: string][] = [
    ["md5-1B2M2Y8AsgTpgAmY7PhCfg==", "only an unknown algorithm is given"],
    [`sha1:${"a".repeat(40)}`, "only a prefixed sha1 is given"],
    [`sha1:${"a".repeat(40)} md5-AAAA`, "two unknown algorithms are given"],
  ];
  for (const [value, why] of unsupported) {
    it(`rejects ${JSON.stringify(value.slice(0, 60))} as unsupported because ${why}`, () => {
      assert.throws(() => parseIntegrity(value), {
        name: "TypeError",
        message: /^Invalid integrity: unsupported algorithm: give sha256, sha384 or sha512: /,
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
    [`sha512-${SHA384_B64}`, "a sha512 token has a sha384-sized digest"],
    [`sha512:${SHA512_HEX.slice(2)}`, "a prefixed sha512 is one byte short"],
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
    assert.deepEqual(parseIntegrity(`sha256-${b64}`), { algorithm: "sha256", hex: [hex] });
  });

  it("agrees with the SHA-384 and SHA-512 node:crypto computes", () => {
    for (const algorithm of ["sha384", "sha512"]) {
      const digest = createHash(algorithm).update("haul").digest();
      const parsed = parseIntegrity(`${algorithm}-${digest.toString("base64")}`);
      assert.deepEqual(parsed, { algorithm, hex: [digest.toString("hex")] });
    }
  });
});

describe("integrityMismatch", () => {
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
    it(`says ${result ? "none" : "a mismatch"} when ${why}`, () => {
      const mismatch = integrityMismatch(expected, { sha256: actual });
      assert.deepEqual(
        mismatch,
        result ? null : { algorithm: "sha256", expected: [EMPTY_HEX, ABC_HEX], actual },
      );
    });
  }

  const sha512 = parseIntegrity(`sha256-${EMPTY_B64} sha512-${SHA512_B64}`);
  it("checks the strongest algorithm only: a matching sha256 beside a wrong sha512 fails", () => {
    assert.deepEqual(integrityMismatch(sha512, { sha256: EMPTY_HEX, sha512: "0".repeat(128) }), {
      algorithm: "sha512",
      expected: [SHA512_HEX],
      actual: "0".repeat(128),
    });
  });
  it("passes a matching sha512 beside a wrong sha256", () => {
    assert.equal(integrityMismatch(sha512, { sha256: ABC_HEX, sha512: SHA512_HEX }), null);
  });
  it("fails when the sha512 was not computed, whatever the sha256", () => {
    assert.equal(integrityMismatch(sha512, { sha256: EMPTY_HEX })?.actual, "");
    assert.equal(integrityMismatch(sha512, { sha256: null })?.actual, "");
  });
});
