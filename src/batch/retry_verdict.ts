/**
 * Whether `haulWithRetry()` makes another attempt after a failure: the
 * decision alone, apart from the loop.
 *
 * @module
 */

import { filesystemCode, isRetryable } from "../errors.ts";

/**
 * Whether another attempt, made after a short wait, can succeed.
 * {@link isRetryable}, except for two failures that waiting cannot cure: a
 * `TypeError` thrown before any request was made (an invalid URL or
 * destination, not a network failure) and a full disk (`ENOSPC`, `EDQUOT`),
 * which `haul()` reports as retryable for a call made once space is freed.
 *
 * @param error what the attempt threw.
 * @param requestMade whether the attempt called `fetch`.
 * @returns true to wait and try again.
 */
export function shouldRetry(error: unknown, requestMade: boolean): boolean {
  const name = typeof error === "object" && error !== null ? (error as Error).name : "";
  if (name === "TypeError" && !requestMade) return false;
  const fsCode = filesystemCode(error);
  if (fsCode === "ENOSPC" || fsCode === "EDQUOT") return false;
  return isRetryable(error);
}
