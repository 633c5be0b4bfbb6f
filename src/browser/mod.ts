/**
 * haul in the browser: `haul(url, { dest })` downloads into the origin private file system on a
 * dedicated worker, resumes after a reload or a crash, and puts `dest` in place only once the whole
 * file is verified; `haulWithRetry()` retries in the worker. What the browser does not promise, and
 * what haul does about it: `docs/browser.md`.
 *
 * @example
 * ```ts ignore
 * // Runs in a page; the worker is the bundle `haul_worker.js` (scripts/build_browser.ts).
 * import { haul, isRetryable } from "@haul/haul/browser";
 * try {
 *   await haul("https://example.com/model.bin", { dest: "models/model.bin" });
 * } catch (error) {
 *   if (isRetryable(error)) console.log("call again to resume");
 * }
 * ```
 *
 * @module
 */

export { type BrowserHaulOptions, type BrowserRetryOptions, haul, haulWithRetry } from "./page.ts";
export type { RetryInfo, RetryOptions } from "../batch/retry.ts";
export {
  type CheckpointInterval,
  type FetchLike,
  type HaulOptions,
  type HaulResult,
  HaulState,
} from "../types.ts";
export {
  ContentRangeError,
  ControlFileError,
  DestinationError,
  HaulError,
  IntegrityError,
  isRetryable,
  PartialHaulError,
  ServerMisconfiguredError,
  UnexpectedStatusError,
} from "../errors.ts";
