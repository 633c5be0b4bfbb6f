/**
 * Fuzz settings from the environment, readable under both Deno and Bun:
 * `HAUL_FUZZ_CASES` (cases per parser), `HAUL_SERVER_FUZZ_CASES` (drawn servers per mode of
 * tests/engine/server_fuzz_test.ts, which are far slower) and `HAUL_FUZZ_SEED`.
 *
 * @module
 */

/** The seed used when `HAUL_FUZZ_SEED` is unset. */
export const DEFAULT_FUZZ_SEED = 0x5eed_4a01;

/** An environment variable, or `undefined` (also when access is not permitted). */
function readEnv(name: string): string | undefined {
  const g = globalThis as {
    process?: { env?: Record<string, string | undefined> };
    Deno?: { env?: { get(key: string): string | undefined } };
  };
  try {
    const fromProcess = g.process?.env?.[name];
    if (fromProcess !== undefined) return fromProcess;
    return g.Deno?.env?.get(name);
  } catch {
    return undefined;
  }
}

/** A non-negative integer from an env var (decimal, or hex with `0x`), else throws. */
function readUint(name: string, max: number): number | undefined {
  const text = readEnv(name)?.trim();
  if (text === undefined || text === "") return undefined;
  const value = /^0x[0-9a-f]+$/i.test(text)
    ? Number.parseInt(text.slice(2), 16)
    : /^[0-9]+$/.test(text)
    ? Number(text)
    : NaN;
  if (!Number.isSafeInteger(value) || value > max) {
    throw new RangeError(
      `${name} must be an integer from 0 to ${max}, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/**
 * How many fuzz cases to run per parser.
 *
 * @param defaultCount the count when the variable is unset or empty.
 * @param variable the environment variable to read.
 * @returns the count from `variable`, or `defaultCount`.
 * @throws {RangeError} when the variable is not a non-negative integer.
 *
 * @example
 * ```ts
 * import { fuzzCases } from "./fuzz_config.ts";
 * console.log(fuzzCases(20_000));
 * ```
 */
export function fuzzCases(defaultCount: number, variable = "HAUL_FUZZ_CASES"): number {
  return readUint(variable, 1e9) ?? defaultCount;
}

/**
 * The fuzz seed.
 *
 * @returns `HAUL_FUZZ_SEED` (decimal or `0x` hex, 32-bit), or {@link DEFAULT_FUZZ_SEED}.
 * @throws {RangeError} when `HAUL_FUZZ_SEED` is malformed or above 2^32 - 1.
 *
 * @example
 * ```ts
 * import { fuzzSeed } from "./fuzz_config.ts";
 * console.log(fuzzSeed().toString(16));
 * ```
 */
export function fuzzSeed(): number {
  return readUint("HAUL_FUZZ_SEED", 0xffff_ffff) ?? DEFAULT_FUZZ_SEED;
}
