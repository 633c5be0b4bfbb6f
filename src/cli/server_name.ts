/**
 * `-J`: the name each server gives its file (`Content-Disposition`), learned
 * before the download starts, since haul needs the destination first (its
 * lock, `.part` and checkpoint): one `GET` of the first byte, its body
 * cancelled. Not a `HEAD`: a presigned link is signed for `GET` only.
 *
 * @module
 */

import { eachLimited } from "../batch/pool.ts";
import { contentDispositionName } from "../protocol/safe_name.ts";
import type { FetchLike } from "../types.ts";
import type { JobSource } from "./jobs.ts";
import { checkUrl } from "./list.ts";
import { probe, statusError } from "./existing.ts";

/**
 * The safe name the `Content-Disposition` of `url` gives, or `null`.
 *
 * @throws {UnexpectedStatusError} when the server answers neither 2xx nor 416.
 */
export async function askName(
  url: URL,
  fetchFn: FetchLike,
  headers: Headers,
): Promise<string | null> {
  const { ok, status, headers: got } = await probe(url, fetchFn, headers, "GET");
  if (!ok && status !== 416) throw statusError(url, status, got);
  return contentDispositionName(got.get("content-disposition"));
}

/**
 * Names after their server (`nameOf`: {@link askName} with retries), a few at a
 * time, the sources whose name would come from the URL (no path, or one ending
 * in `/`); a name not given stays the URL's, an invalid URL is left for
 * `planJobs()`. On a failure, it is returned and no further request starts.
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
