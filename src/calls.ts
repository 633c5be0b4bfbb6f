/**
 * The three public calls (their options checked first by `checkOptions()`, settings.ts).
 *
 * @module
 */

import { haul as haulHere } from "./engine/haul.ts";
import { haulWithRetry as retryHere, type HaulWithRetryOptions } from "./batch/retry.ts";
import {
  haulAll as haulAllHere,
  type HaulAllItem,
  type HaulAllOptions,
  type HaulAllReport,
} from "./batch/haul_all.ts";
import { type HaulOptions, type HaulResult, type Source, withInputSignal } from "./types.ts";

/**
 * Downloads `input` to `options.dest` with exactly one request (one per range it asks for with
 * `options.connections` > 1), resuming from a previous call's checkpoint when there is one.
 *
 * @param input the URL or `Request` to download, or mirrors of one file.
 * @returns what was downloaded, with its SHA-256 (see {@link HaulResult.sha256}).
 * @throws {PartialHaulError} the body broke early; progress saved; call again to resume.
 * @throws {UnexpectedStatusError} the server answered with a status haul does not download.
 * @throws {ServerMisconfiguredError} the server's bytes cannot be trusted (e.g. compressed).
 * @throws {ContentRangeError} a resume the server answered inconsistently.
 * @throws {ControlFileError} the checkpoint was corrupt; discarded; call again.
 * @throws {DestinationError} the destination cannot be used, or another call holds it.
 * @throws {IntegrityError} the bytes do not match `options.integrity`.
 * @throws {TypeError} no options object, no `dest`, another invalid option, or the removed
 *   `worker: true` (before any request).
 * @throws {RangeError} an invalid `blockSize`, `checkpointEvery`, `connections`, `stallTimeout`
 *   or `maxBytesPerSecond` (before any request).
 *
 * @example Download a file, resuming if an earlier call was cut short
 * ```ts ignore
 * // Not run by `deno test --doc`: it downloads from the network.
 * import { haul } from "./calls.ts";
 * const result = await haul("https://example.com/big.iso", { dest: "big.iso" });
 * console.log(result.size, result.sha256);
 * ```
 */
export async function haul(
  input: Source | readonly Source[],
  options: HaulOptions,
): Promise<HaulResult> {
  return await haulHere(input, withInputSignal(input, options));
}

/**
 * Downloads like `haul()`, calling it again after a retryable failure ({@link isRetryable}). It
 * stops at once on what waiting cannot cure: a status such as 404, an integrity mismatch, a port,
 * scheme or certificate that `fetch` refuses, a missing permission, and a full disk (which `haul()`
 * itself reports as retryable, for a call made once space is freed).
 *
 * Before each retry it waits a random time under a ceiling (full jitter; see
 * {@link RetryOptions}), and at least the `Retry-After` the server asked for. An
 * abort of `options.signal` stops the wait and the download at once.
 *
 * @returns the result of the attempt that succeeded.
 * @throws the last attempt's error, with an `attempts` property (see {@link RetriedError}), when it
 *   is not retryable or the retries are used up; the signal's reason when aborted.
 * @throws {TypeError} no options object, no `dest`, an option of the wrong type, or the removed
 *   `worker: true` (before any attempt).
 * @throws {RangeError} an invalid retry policy, or an invalid option as for `haul()` (before any
 *   request).
 *
 * @example Download with up to 10 retries
 * ```ts ignore
 * // Not run by `deno test --doc`: it downloads from the network.
 * import { haulWithRetry } from "@haul/haul";
 * const result = await haulWithRetry("https://example.com/big.iso", {
 *   dest: "big.iso",
 *   retries: 10,
 * });
 * console.log(result.sha256);
 * ```
 */
export async function haulWithRetry(
  input: Source | readonly Source[],
  options: HaulWithRetryOptions,
): Promise<HaulResult> {
  return await retryHere(input, options);
}

/**
 * Downloads every item with at most `concurrency` running at once. Each item
 * is retried by `haulWithRetry()` and resumable on its own; one whose
 * destination already exists is skipped without a request. One item failing
 * does not stop the others, and the promise never rejects because of it.
 *
 * @param items what to download; give each a distinct `dest`.
 * @param options the pool size, callbacks, and options for every download.
 * @returns one report per item, in input order.
 * @throws {RangeError} for an invalid `concurrency`, `maxConnections`, `connections`, retry policy
 *   or `maxBytesPerSecond` (before any request).
 * @throws {TypeError} when `items` is not an iterable of `{ url, dest }`s, a `dest` is another
 *   item's `.part` (checkpoint, lock) or its `dest` for another `url`, or `options` is no object of
 *   valid callbacks, `fetch`, `signal` and `headers` without `worker: true` (before any request).
 * @throws what `onProgress`, `onItemDone` or `onRetry` threw, once every item has stopped.
 *
 * @example Download three files, two at a time
 * ```ts ignore
 * // Not run by `deno test --doc`: it downloads from the network.
 * import { haulAll } from "@haul/haul";
 * const reports = await haulAll([
 *   { url: "https://example.com/a.bin", dest: "a.bin" },
 *   { url: "https://example.com/b.bin", dest: "b.bin" },
 *   { url: "https://example.com/c.bin", dest: "c.bin", integrity: "sha256:…" },
 * ], { concurrency: 2, retries: 10 });
 * for (const report of reports) {
 *   if (report.status === "failed") console.error(report.item.url, report.error);
 * }
 * ```
 */
export async function haulAll(
  items: Iterable<HaulAllItem>,
  options: HaulAllOptions = {},
): Promise<HaulAllReport[]> {
  return await haulAllHere(items, options);
}
