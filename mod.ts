/**
 * haul: resumable, crash-safe, verified HTTP downloads for Deno, Bun and Node.
 *
 * `await haul(url, { dest })` makes exactly one request with your `fetch`,
 * streams the body into `<dest>.part`, keeps a binary checkpoint in
 * `<dest>.part.ctrl`, and renames `.part` onto `dest` only when every byte has
 * arrived and been hashed. If anything fails, the next call resumes from the
 * last durable byte (`Range` + `If-Range`). Retries belong to you:
 * {@link isRetryable} says when another call can help.
 *
 * @example Download, retrying while it makes sense
 * ```ts ignore
 * import { haul, isRetryable } from "@haul/haul";
 *
 * for (let attempt = 1; ; attempt++) {
 *   try {
 *     const result = await haul("https://example.com/big.iso", { dest: "big.iso" });
 *     console.log(`done: ${result.size} bytes, sha256 ${result.sha256}`);
 *     break;
 *   } catch (error) {
 *     if (!isRetryable(error) || attempt === 10) throw error;
 *     await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
 *   }
 * }
 * ```
 *
 * @module
 */

export { haul } from "./src/engine/haul.ts";
export {
  type CheckpointInterval,
  type FetchLike,
  type HaulOptions,
  type HaulResult,
  HaulState,
} from "./src/types.ts";
export {
  ContentRangeError,
  ControlFileError,
  DestinationError,
  HaulError,
  type HaulErrorOptions,
  IntegrityError,
  isRetryable,
  PartialHaulError,
  ServerMisconfiguredError,
  type UnexpectedStatusDetails,
  UnexpectedStatusError,
} from "./src/errors.ts";
export {
  haulWithRetry,
  type HaulWithRetryOptions,
  type RetriedError,
  type RetryInfo,
  type RetryOptions,
} from "./src/batch/retry.ts";
export {
  haulAll,
  type HaulAllFailure,
  type HaulAllItem,
  type HaulAllItemProgress,
  type HaulAllOptions,
  type HaulAllPhase,
  type HaulAllProgress,
  type HaulAllReport,
  type HaulAllRetryInfo,
  type HaulAllSuccess,
} from "./src/batch/haul_all.ts";
