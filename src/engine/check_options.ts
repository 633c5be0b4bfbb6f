/**
 * The first check of every entry point (`haul()`, `haulWithRetry()`): that a
 * JavaScript caller passed an options object with a `dest`, before anything
 * reads it.
 *
 * @module
 */

import type { HaulOptions } from "../types.ts";

/**
 * Checks that `options` is an object with a `dest` (whether `dest` is a
 * usable path is checked later, by `destToPath()`).
 *
 * @param options what the caller passed.
 * @param call how the call is written in the message.
 * @throws {TypeError} `Invalid options: …` when `options` is not an object or has no `dest`.
 *
 * @example
 * ```ts
 * import { checkOptions } from "./check_options.ts";
 * checkOptions({ dest: "a.bin" }); // fine
 * try {
 *   checkOptions(undefined);
 * } catch (error) {
 *   console.log((error as Error).message); // Invalid options: haul(url, { dest }) needs an options object
 * }
 * ```
 */
export function checkOptions(
  options: unknown,
  call = "haul(url, { dest })",
): asserts options is HaulOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Invalid options: ${call} needs an options object`);
  }
  const { dest } = options as { dest?: unknown };
  if (dest === undefined || dest === null) {
    throw new TypeError(`Invalid options: ${call} needs a dest: a path or a file: URL`);
  }
}
