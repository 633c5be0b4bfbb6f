/**
 * The size check of files already at their destinations, for every such
 * download of a run, a few at a time (`eachLimited()`, as `haulAll()`), each
 * retried like a download (`retrying()`, the loop of `haulWithRetry()`).
 *
 * @module
 */

import type { HaulAllFailure, HaulAllItem } from "../batch/haul_all.ts";
import { eachLimited } from "../batch/pool.ts";
import { type RetryInfo, retrying } from "../batch/retry.ts";
import type { FetchLike } from "../types.ts";
import { ExistingFileError, serverSize } from "./existing.ts";

/** A download whose destination is already a regular file. */
interface ExistingCandidate {
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
 * Checks each existing file against the server's size: a failure (`index` the
 * job's) for each that is not, or could not be shown to be, the download; the
 * others match, or the server gives no size.
 */
export async function checkExisting(
  candidates: readonly ExistingCandidate[],
  options: CheckExistingOptions,
): Promise<HaulAllFailure[]> {
  const failures: HaulAllFailure[] = [];
  await eachLimited(candidates.length, options.concurrency, async (next) => {
    const failure = await checkOne(candidates[next]!, options);
    if (failure !== null) failures.push(failure);
  });
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
  let attempts = 0;
  const attempt = (): Promise<number | null> => {
    attempts++;
    return serverSize(url, options.fetch, headers, options.signal);
  };
  const fail = (error: unknown): HaulAllFailure => ({
    status: "failed",
    index,
    item,
    error,
    attempts,
    received: 0,
    elapsedMs: performance.now() - startedAt,
  });
  try {
    const remote = await retrying(attempt, options, {
      signal: options.signal,
      onRetry: (info) => options.onRetry(index, info),
    });
    if (remote === null || remote === size) return null;
    return fail(new ExistingFileError(String(item.dest), size, remote));
  } catch (error) {
    return fail(error); // the signal's reason when the run was stopped
  }
}
