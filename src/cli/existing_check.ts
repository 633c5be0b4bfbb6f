/**
 * The size check of files already at their destinations, for every such
 * download of a run, a few at a time, each retried like a download.
 *
 * @module
 */

import type { HaulAllFailure, HaulAllItem } from "../batch/haul_all.ts";
import type { RetryInfo } from "../batch/retry.ts";
import { shouldRetry } from "../batch/retry_verdict.ts";
import type { FetchLike } from "../types.ts";
import { ExistingFileError, serverSize } from "./existing.ts";

/** A download whose destination is already a regular file. */
export interface ExistingCandidate {
  /** The job's index. */
  readonly index: number;
  /** The file's size on disk. */
  readonly size: number;
  /** The download (its URL, destination and headers). */
  readonly item: HaulAllItem;
}

/** How the checks are made. */
export interface CheckExistingOptions {
  /** Further attempts after a failure that may pass. */
  readonly retries: number;
  /** First backoff ceiling, doubled at each retry. */
  readonly minDelayMs: number;
  /** Largest backoff ceiling. */
  readonly maxDelayMs: number;
  /** Checks at once. */
  readonly concurrency: number;
  /** The `fetch` of the run. */
  readonly fetch: FetchLike;
  /** The run's request headers (each item's are merged over them). */
  readonly headers: Headers;
  /** Stops the checks. */
  readonly signal: AbortSignal;
  /** Told before each retry wait. */
  readonly onRetry: (index: number, info: RetryInfo) => void;
}

/**
 * Checks each existing file against the server's size.
 *
 * @param candidates the downloads whose destination exists.
 * @param options retries, concurrency, fetch, headers, signal.
 * @returns a failure for each file that is not (or could not be shown to be)
 *   the download, with `index` the job's index; the others are complete as
 *   far as can be told (the size matches, or the server does not give one).
 *
 * @example
 * ```ts ignore
 * // Needs a server: ignored offline.
 * const refused = await checkExisting([{ index: 0, size: 1000, item }], options);
 * ```
 */
export async function checkExisting(
  candidates: readonly ExistingCandidate[],
  options: CheckExistingOptions,
): Promise<HaulAllFailure[]> {
  const failures: HaulAllFailure[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < candidates.length) {
      const failure = await checkOne(candidates[next++]!, options);
      if (failure !== null) failures.push(failure);
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < Math.min(options.concurrency, candidates.length); i++) workers.push(worker());
  await Promise.all(workers);
  return failures.sort((a, b) => a.index - b.index);
}

async function checkOne(
  candidate: ExistingCandidate,
  options: CheckExistingOptions,
): Promise<HaulAllFailure | null> {
  const startedAt = performance.now();
  const { index, size, item } = candidate;
  const headers = new Headers(options.headers);
  new Headers(item.headers).forEach((value, name) => headers.set(name, value));
  const url = new URL(item.url);
  const maxAttempts = options.retries + 1;
  const fail = (error: unknown, attempts: number): HaulAllFailure => ({
    status: "failed",
    index,
    item,
    error,
    attempts,
    received: 0,
    elapsedMs: performance.now() - startedAt,
  });
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (options.signal.aborted) return fail(options.signal.reason, attempt - 1);
    try {
      const remote = await serverSize(url, options.fetch, headers, options.signal);
      if (remote === null || remote === size) return null;
      return fail(new ExistingFileError(String(item.dest), size, remote), attempt);
    } catch (error) {
      if (options.signal.aborted) return fail(options.signal.reason, attempt);
      if (attempt >= maxAttempts || !shouldRetry(error, true)) return fail(error, attempt);
      const delayMs = waitBefore(options, attempt, error);
      options.onRetry(index, { attempt, maxAttempts, error, delayMs });
      const slept = await sleep(delayMs, options.signal);
      if (!slept) return fail(options.signal.reason, attempt);
    }
  }
  return null; // unreachable: the last attempt returns
}

/** Full jitter under a doubling ceiling, and at least the server's `Retry-After`. */
function waitBefore(options: CheckExistingOptions, attempt: number, error: unknown): number {
  const ceiling = Math.min(options.maxDelayMs, options.minDelayMs * 2 ** Math.min(attempt - 1, 40));
  const asked = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  const retryAfter = typeof asked === "number" && asked > 0 ? asked : 0;
  return Math.max(Math.floor(Math.random() * ceiling), retryAfter);
}

/** Waits `ms`; false when the signal aborted first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
