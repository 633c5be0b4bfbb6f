/**
 * Whether a file already at a destination is the download, before the
 * command line calls it complete: without a digest to check it against, its
 * size is compared with the server's (a `HEAD`, or a `bytes=0-0` `GET` when
 * the `HEAD` tells nothing). Every such file of a run is checked a few at a
 * time (`eachLimited()`, as `haulAll()`), each retried like a download
 * (`retrying()`, the loop of `haulWithRetry()`).
 *
 * @module
 */

import type { HaulAllFailure, HaulAllItem } from "../batch/haul_all.ts";
import { eachLimited } from "../batch/pool.ts";
import { type RetryInfo, retrying } from "../batch/retry.ts";
import { parseContentRange, parseRetryAfter, parseUnsatisfiedRange } from "../protocol/headers.ts";
import { UnexpectedStatusError } from "../errors.ts";
import type { FetchLike } from "../types.ts";
import { formatBytes } from "./format.ts";

/**
 * The file at the destination is not the one the server has: its size
 * differs. Nothing was changed; `--overwrite` downloads it again.
 */
export class ExistingFileError extends Error {
  /** The destination, its size on disk and on the server. */
  readonly path: string;
  readonly size: number;
  readonly serverSize: number;
  /** Never retryable: the same command finds the same file. */
  readonly retryable: boolean = false;

  constructor(path: string, size: number, serverSize: number) {
    super(
      `Existing ${path} is ${formatBytes(size)} but the server's file is ` +
        `${formatBytes(serverSize)}: it is another file, or was cut short; ` +
        "use --overwrite to download it again",
    );
    this.name = "ExistingFileError";
    this.path = path;
    this.size = size;
    this.serverSize = serverSize;
  }
}

/**
 * The server's size of the file, or `null` when it does not say: a `HEAD`, then, when that
 * gives no usable length (or is refused, as some servers refuse `HEAD`), a `GET` of its first
 * byte. Throws `UnexpectedStatusError` when the server refuses both.
 */
async function serverSize(
  url: URL,
  fetchFn: FetchLike,
  headers: Headers,
  signal?: AbortSignal,
): Promise<number | null> {
  let refused: Response | null = null;
  for (const method of ["HEAD", "GET"] as const) {
    const response = await probe(url, fetchFn, headers, method, signal);
    const size = sizeOf(method, response);
    if (typeof size === "number") return size;
    refused = size === "refused" ? response : null;
  }
  if (refused === null) return null;
  throw statusError(url, refused.status, refused.headers);
}

/** The size a probe's response gives (`"GET"`: of `bytes=0-0`): `null` when none usable, or a refusal. */
function sizeOf(method: "HEAD" | "GET", { status, headers }: Response): number | null | "refused" {
  if (status === 200) {
    const encoding = headers.get("content-encoding")?.trim().toLowerCase() ?? "identity";
    const length = headers.get("content-length") ?? "";
    if (encoding !== "identity" || !/^\s*\d+\s*$/.test(length)) return null;
    return Number.isSafeInteger(Number(length)) ? Number(length) : null;
  }
  if (method === "GET" && status === 206) {
    try {
      return parseContentRange(headers.get("content-range")).complete;
    } catch {
      return null;
    }
  }
  if (method === "GET" && status === 416) {
    return parseUnsatisfiedRange(headers.get("content-range"));
  }
  return status >= 200 && status < 300 ? null : "refused";
}

/** A request for the headers only (`GET`: of the first byte), identity-encoded, its body cancelled unread. */
export async function probe(
  url: URL,
  fetchFn: FetchLike,
  headers: Headers,
  method: "HEAD" | "GET",
  signal?: AbortSignal,
): Promise<Response> {
  const sent = new Headers(headers);
  sent.set("accept-encoding", "identity");
  if (method === "GET") sent.set("range", "bytes=0-0");
  const init: RequestInit = { method, headers: sent, redirect: "follow" };
  if (signal !== undefined) init.signal = signal;
  const response = await fetchFn(new Request(url, init));
  await response.body?.cancel().catch(() => {});
  return response;
}

/** The error for a probe the server refused. */
export function statusError(url: URL, status: number, headers: Headers): UnexpectedStatusError {
  const retryAfterMs = parseRetryAfter(headers.get("retry-after"));
  return new UnexpectedStatusError({ status, headers, url, retryAfterMs });
}

/** How the checks are made: the run's retry policy, `fetch` and headers (each item's over them). */
export interface CheckExistingOptions {
  readonly retries: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Checks at once. */
  readonly concurrency: number;
  readonly fetch: FetchLike;
  readonly headers: Headers;
  readonly signal: AbortSignal;
  /** Told before each retry wait. */
  readonly onRetry: (index: number, info: RetryInfo) => void;
}

/**
 * Checks each existing file (job `index`, `size` bytes on disk) against the server's size: a
 * failure for each that is not, or could not be shown to be, the download; the others match,
 * or the server gives no size.
 */
export async function checkExisting(
  candidates: readonly { index: number; size: number; item: HaulAllItem }[],
  options: CheckExistingOptions,
): Promise<HaulAllFailure[]> {
  const failures: HaulAllFailure[] = [];
  await eachLimited(candidates.length, options.concurrency, async (next) => {
    const startedAt = performance.now();
    const { index, size, item } = candidates[next]!;
    const headers = new Headers(options.headers);
    const first = item.urls?.[0]; // the URL's own headers (its credentials), when it has mirrors
    if (first instanceof Request) first.headers.forEach((value, name) => headers.set(name, value));
    new Headers(item.headers).forEach((value, name) => headers.set(name, value));
    const url = new URL(item.url);
    let attempts = 0;
    const attempt = (): Promise<number | null> => {
      attempts++;
      return serverSize(url, options.fetch, headers, options.signal);
    };
    const fail = (error: unknown): void => {
      const elapsedMs = performance.now() - startedAt;
      failures.push({ status: "failed", index, item, error, attempts, received: 0, elapsedMs });
    };
    try {
      const remote = await retrying(attempt, options, {
        signal: options.signal,
        onRetry: (info) => options.onRetry(index, info),
      });
      if (remote !== null && remote !== size) {
        fail(new ExistingFileError(String(item.dest), size, remote));
      }
    } catch (error) {
      fail(error); // the signal's reason when the run was stopped
    }
  });
  return failures.sort((a, b) => a.index - b.index);
}
