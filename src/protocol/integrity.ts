/**
 * Parses the `integrity` option: the SHA-256 digests a download must match.
 *
 * Accepted, as tokens separated by ASCII whitespace (forms may be mixed):
 *
 * - Subresource Integrity (W3C SRI) hash expressions, `sha256-<base64>`, with
 *   any `?options` suffix ignored. Standard (`+/`) and URL-safe (`-_`) base64
 *   alphabets are accepted, `=` padding optional, as in the CSP grammar SRI
 *   uses. `sha384-…` and `sha512-…` tokens are checked and then ignored.
 * - `sha256:<64 hex digits>` (any case).
 * - A bare 64-hex-digit SHA-256 (any case).
 *
 * Anything else is a `TypeError`: a malformed token, a digest of the wrong
 * length, non-canonical base64 (non-zero unused bits), or no SHA-256 at all.
 *
 * @module
 */

/** The digests a download may match: any one of them suffices. */
export interface ExpectedDigests {
  /** Accepted SHA-256 digests, 64 lowercase hex digits each, without duplicates. */
  readonly sha256: readonly string[];
}

/** Digest lengths in bytes of the algorithms recognised (only sha256 is used). */
const DIGEST_BYTES: ReadonlyMap<string, number> = new Map([
  ["sha256", 32],
  ["sha384", 48],
  ["sha512", 64],
]);

/** `<alg>-<base64>[?options]`; options are VCHARs (SRI). */
const SRI_TOKEN = /^([A-Za-z0-9]+)-([A-Za-z0-9+/_-]+={0,2})(?:\?[\x21-\x7e]*)?$/;
/** `<alg>:<hex>` */
const PREFIXED_HEX = /^([A-Za-z0-9]+):([0-9A-Fa-f]+)$/;
/** A bare SHA-256 in hex. */
const BARE_HEX = /^[0-9A-Fa-f]{64}$/;

/** ASCII whitespace as the SRI and Infra specs define it. */
const ASCII_WHITESPACE = /[\t\n\f\r ]+/;

const BASE64_VALUES: ReadonlyMap<string, number> = new Map(
  [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"]
    .map((c, i): [string, number] => [c, i])
    .concat([["-", 62], ["_", 63]]),
);

/** Shows at most ~100 characters of the caller's value in a message. */
function excerpt(value: string): string {
  const chars = Array.from(value);
  return chars.length > 100 ? chars.slice(0, 100).join("") + "…" : value;
}

/**
 * Strict base64 (either alphabet) to bytes: padding, if present, must be
 * exactly right, and the unused low bits of the last character must be zero.
 */
function decodeBase64(text: string): Uint8Array | null {
  const body = text.replace(/=+$/, "");
  const padding = text.length - body.length;
  const remainder = body.length % 4;
  if (remainder === 1) return null;
  if (padding !== 0 && (body.length + padding) % 4 !== 0) return null;
  const bytes = new Uint8Array(Math.floor((body.length * 6) / 8));
  let buffer = 0;
  let bits = 0;
  let out = 0;
  for (const char of body) {
    const sextet = BASE64_VALUES.get(char);
    if (sextet === undefined) return null;
    buffer = ((buffer << 6) | sextet) & 0xfff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[out++] = (buffer >> bits) & 0xff;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) return null; // non-canonical trailing bits
  return bytes;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Parses an integrity value into the SHA-256 digests to accept.
 *
 * @param value SRI metadata (`sha256-<base64>`, several tokens allowed,
 *   `?options` ignored), `sha256:<hex>`, or a bare 64-digit hex SHA-256.
 * @returns the accepted SHA-256 digests (lowercase hex, deduplicated, in the
 *   order given); never empty.
 * @throws {TypeError} when `value` is empty or not a string, when a token is
 *   malformed (bad base64 or hex, wrong digest length, unknown form), or when
 *   there is no SHA-256 digest among otherwise valid tokens ("Unsupported
 *   integrity algorithm: only sha256 is supported: …").
 *
 * @example The three forms
 * ```ts
 * import { parseIntegrity } from "./integrity.ts";
 * const hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
 * const sri = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
 * console.log(parseIntegrity(sri).sha256[0] === hex);
 * console.log(parseIntegrity(`sha256:${hex}`).sha256[0] === hex);
 * console.log(parseIntegrity(hex.toUpperCase()).sha256[0] === hex); // all true
 * ```
 */
export function parseIntegrity(value: string): ExpectedDigests {
  if (typeof value !== "string") {
    throw new TypeError("Invalid integrity: expected a string");
  }
  const tokens = value.split(ASCII_WHITESPACE).filter((token) => token !== "");
  if (tokens.length === 0) throw new TypeError("Invalid integrity: empty value");
  const sha256 = new Set<string>();
  for (const token of tokens) {
    let algorithm: string;
    let hex: string;
    const sri = SRI_TOKEN.exec(token);
    const prefixed = sri === null ? PREFIXED_HEX.exec(token) : null;
    if (sri !== null) {
      algorithm = (sri[1] ?? "").toLowerCase();
      const bytes = decodeBase64(sri[2] ?? "");
      if (bytes === null) {
        throw new TypeError(`Invalid integrity: malformed base64 in ${excerpt(token)}`);
      }
      hex = toHex(bytes);
    } else if (prefixed !== null) {
      algorithm = (prefixed[1] ?? "").toLowerCase();
      hex = (prefixed[2] ?? "").toLowerCase();
      if (hex.length % 2 !== 0) {
        throw new TypeError(`Invalid integrity: malformed hex in ${excerpt(token)}`);
      }
    } else if (BARE_HEX.test(token)) {
      algorithm = "sha256";
      hex = token.toLowerCase();
    } else {
      throw new TypeError(`Invalid integrity: malformed token ${excerpt(token)}`);
    }
    const expectedBytes = DIGEST_BYTES.get(algorithm);
    if (expectedBytes === undefined) continue; // an algorithm SRI does not know: ignored
    if (hex.length !== expectedBytes * 2) {
      throw new TypeError(
        `Invalid integrity: a ${algorithm} digest has ${expectedBytes} bytes, ` +
          `got ${hex.length / 2} in ${excerpt(token)}`,
      );
    }
    if (algorithm === "sha256") sha256.add(hex);
  }
  if (sha256.size === 0) {
    throw new TypeError(
      `Unsupported integrity algorithm: only sha256 is supported: ${excerpt(value)}`,
    );
  }
  return { sha256: [...sha256] };
}

/**
 * Whether a computed SHA-256 matches any expected digest.
 *
 * @param expected the result of {@link parseIntegrity}.
 * @param actualHex the SHA-256 of the downloaded bytes, hex (any case).
 * @returns true when `actualHex` is a 64-digit hex string equal to one of
 *   `expected.sha256`; false otherwise, including for malformed `actualHex`.
 *
 * @example
 * ```ts
 * import { digestMatches, parseIntegrity } from "./integrity.ts";
 * const hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
 * console.log(digestMatches(parseIntegrity(hex), hex.toUpperCase())); // true
 * ```
 */
export function digestMatches(expected: ExpectedDigests, actualHex: string): boolean {
  if (typeof actualHex !== "string" || !BARE_HEX.test(actualHex)) return false;
  return expected.sha256.includes(actualHex.toLowerCase());
}
