/**
 * `-J`: the name each server gives its file (`Content-Disposition`), learned
 * before the download starts, since haul needs the destination first (its
 * lock, `.part` and checkpoint): one `GET` of the first byte, its body
 * cancelled. Not a `HEAD`: a presigned link is signed for `GET` only.
 *
 * @module
 */

import { eachLimited } from "../batch/pool.ts";
import { UnexpectedStatusError } from "../errors.ts";
import { contentDispositionName } from "../protocol/content_disposition.ts";
import { parseRetryAfter } from "../protocol/retry_after.ts";
import type { FetchLike } from "../types.ts";
import type { JobSource } from "./jobs.ts";
import { checkUrl } from "./list.ts";

/**
 * Asks the server of `url` for the name of its file: a `GET` with
 * `Range: bytes=0-0`, whose body is cancelled unread.
 *
 * @param url the file.
 * @param fetchFn the `fetch` to use.
 * @param headers the download's request headers (authorization, user agent…).
 * @returns the safe name `Content-Disposition` gives, or `null` when it gives none.
 * @throws {UnexpectedStatusError} when the server answers neither 2xx nor 416.
 */
export async function askName(
  url: URL,
  fetchFn: FetchLike,
  headers: Headers,
): Promise<string | null> {
  const sent = new Headers(headers);
  sent.set("range", "bytes=0-0");
  sent.set("accept-encoding", "identity");
  const response = await fetchFn(new Request(url, { headers: sent, redirect: "follow" }));
  await response.body?.cancel().catch(() => {});
  const { status, headers: got } = response;
  if (!response.ok && status !== 416) {
    throw new UnexpectedStatusError({
      status,
      headers: got,
      url,
      retryAfterMs: parseRetryAfter(got.get("retry-after")),
    });
  }
  return contentDispositionName(got.get("content-disposition"));
}

/**
 * Names after their server each source whose name would come from its URL
 * (no path, or a directory path ending in `/`), a few at a time; a name the
 * server does not give stays the URL's. Sources with an invalid URL are left
 * for `planJobs()` to refuse.
 *
 * @param sources what was asked for.
 * @param nameOf asks one URL's server ({@link askName} with retries).
 * @param concurrency requests at once.
 * @returns the sources with their paths, or the first failure (no further request is started).
 *
 * @example
 * ```ts
 * import { withServerNames } from "./server_name.ts";
 * const sources = [{ where: "argument", url: "https://example.com/dl?id=7", path: null }];
 * const named = await withServerNames(sources, () => Promise.resolve("report.pdf"), 4);
 * console.log(Array.isArray(named) && named[0]?.path); // "report.pdf"
 * ```
 */
export async function withServerNames(
  sources: readonly JobSource[],
  nameOf: (url: URL) => Promise<string | null>,
  concurrency: number,
): Promise<JobSource[] | { source: JobSource; url: URL; error: unknown }> {
  const named = [...sources];
  let failure: { source: JobSource; url: URL; error: unknown } | null = null;
  await eachLimited(sources.length, concurrency, async (index) => {
    const source = sources[index]!;
    const url = checkUrl(source.url);
    const fromUrl = source.path === null || source.path.endsWith("/");
    if (failure !== null || typeof url === "string" || !fromUrl) return;
    const name = await nameOf(url).catch((error: unknown) => {
      failure ??= { source, url, error };
      return null;
    });
    if (name !== null) named[index] = { ...source, path: (source.path ?? "") + name };
  });
  return failure ?? named;
}
