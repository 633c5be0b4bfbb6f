/**
 * Parses the `integrity` option: tokens separated by ASCII whitespace, SRI (`sha256-`, `sha384-`,
 * `sha512-<base64>`, `?options` ignored, either base64 alphabet, padding optional),
 * `<algorithm>:<hex>`, or a bare 64-hex-digit SHA-256. As in SRI, the strongest algorithm present
 * decides and an unknown one is ignored beside a known one.
 *
 * @module
 */

import type { IntegrityError } from "../errors.ts";
import type { DigestAlgorithm } from "../runtime/multi_hash.ts";
import { excerpt } from "./headers.ts";

/** The digests a download may match (any one suffices): lowercase hex of the strongest algorithm given. */
export interface ExpectedDigests {
  readonly algorithm: DigestAlgorithm;
  readonly hex: readonly string[];
}

/** Digest lengths in bytes of the algorithms known, strongest first. */
const DIGEST_BYTES: ReadonlyMap<DigestAlgorithm, number> = new Map([
  ["sha512", 64],
  ["sha384", 48],
  ["sha256", 32],
]);

/** `<alg>-<base64>[?options]`; options are VCHARs (SRI). */
const SRI_TOKEN = /^([A-Za-z0-9]+)-([A-Za-z0-9+/_-]+={0,2})(?:\?[\x21-\x7e]*)?$/;
const PREFIXED_HEX = /^([A-Za-z0-9]+):([0-9A-Fa-f]+)$/;
const BARE_HEX = /^[0-9A-Fa-f]{64}$/;

/** Strict base64 (either alphabet) as hex: padding, if any, exactly right; unused low bits zero. */
function base64Hex(text: string): string | null {
  const body = text.replace(/=+$/, "");
  const padded = body.padEnd(Math.ceil(body.length / 4) * 4, "=");
  if (body.length % 4 === 1 || (text !== body && text !== padded)) return null;
  const standard = padded.replaceAll("-", "+").replaceAll("_", "/");
  const binary = atob(standard);
  if (btoa(binary) !== standard) return null; // non-canonical trailing bits
  return Array.from(binary, (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
}

/**
 * The strongest algorithm given and its digests (deduplicated, in order, never empty); a
 * `TypeError` for an empty or non-string `value`, a malformed token, or no known algorithm.
 */
export function parseIntegrity(value: string): ExpectedDigests {
  if (typeof value !== "string") throw new TypeError("Invalid integrity: expected a string");
  // Split at ASCII whitespace as the SRI and Infra specs define it.
  const tokens = value.split(/[\t\n\f\r ]+/).filter((token) => token !== "");
  if (tokens.length === 0) throw new TypeError("Invalid integrity: empty value");
  const found = new Map<DigestAlgorithm, Set<string>>();
  for (const token of tokens) {
    const sri = SRI_TOKEN.exec(token);
    const prefixed = PREFIXED_HEX.exec(token); // the three forms exclude each other
    if (sri === null && prefixed === null && !BARE_HEX.test(token)) {
      throw new TypeError(`Invalid integrity: malformed token ${excerpt(token)}`);
    }
    const algorithm = (sri?.[1] ?? prefixed?.[1] ?? "sha256").toLowerCase() as DigestAlgorithm;
    const hex = sri !== null ? base64Hex(sri[2]!) : (prefixed?.[2] ?? token).toLowerCase();
    if (hex === null || hex.length % 2 !== 0) {
      const form = hex === null ? "base64" : "hex";
      throw new TypeError(`Invalid integrity: malformed ${form} in ${excerpt(token)}`);
    }
    const expectedBytes = DIGEST_BYTES.get(algorithm);
    if (expectedBytes === undefined) continue; // an algorithm haul does not know: ignored
    if (hex.length !== expectedBytes * 2) {
      throw new TypeError(
        `Invalid integrity: a ${algorithm} digest has ${expectedBytes} bytes, ` +
          `got ${hex.length / 2} in ${excerpt(token)}`,
      );
    }
    found.set(algorithm, (found.get(algorithm) ?? new Set()).add(hex));
  }
  for (const algorithm of DIGEST_BYTES.keys()) {
    const hex = found.get(algorithm);
    if (hex !== undefined) return { algorithm, hex: [...hex] };
  }
  throw new TypeError(
    `Invalid integrity: unsupported algorithm: give sha256, sha384 or sha512: ${excerpt(value)}`,
  );
}

type Mismatch = Pick<IntegrityError, "algorithm" | "expected" | "actual">;

/** `null` when the digest of `expected.algorithm` in `actual` (hex, any case) is one expected. */
export function integrityMismatch(
  expected: ExpectedDigests,
  actual: { readonly [A in DigestAlgorithm]?: string | null },
): Mismatch | null {
  const hex = actual[expected.algorithm] ?? "";
  if (expected.hex.includes(hex.toLowerCase())) return null;
  return { algorithm: expected.algorithm, expected: expected.hex, actual: hex };
}
