/**
 * The request for one more range of a file fetched over several
 * connections: the caller's request and headers, as for the first request,
 * with `Range: bytes=start-(end-1)` and `If-Range` (the strong validator).
 *
 * @module
 */

import { buildRequest } from "./request.ts";

/**
 * Builds the request for bytes `[start, end)`.
 *
 * @param input the caller's URL or `Request`.
 * @param headers the caller's extra headers.
 * @param signal aborts the request and its body.
 * @param span the bytes to ask for (`end` exclusive).
 * @param validator the strong ETag, or the strong Last-Modified, for `If-Range` (`null`: none, when mirrors with a digest are trusted instead).
 * @returns the `Request`.
 *
 * @example
 * ```ts
 * import { buildRangeRequest } from "./range_request.ts";
 * const request = buildRangeRequest("https://example.com/a.bin", undefined, undefined, {
 *   start: 100,
 *   end: 200,
 * }, '"v1"');
 * console.log(request.headers.get("range"), request.headers.get("if-range")); // "bytes=100-199" "\"v1\""
 * ```
 */
export function buildRangeRequest(
  input: string | URL | Request,
  headers: HeadersInit | undefined,
  signal: AbortSignal | undefined,
  span: { readonly start: number; readonly end: number },
  validator: string | null,
): Request {
  const base = buildRequest(input, headers, signal, { cursor: 0, checkpoint: null });
  const merged = new Headers(base.headers);
  merged.set("range", `bytes=${span.start}-${span.end - 1}`);
  if (validator !== null) merged.set("if-range", validator);
  const init: RequestInit = { headers: merged };
  if (signal !== undefined) init.signal = signal;
  return new Request(base, init);
}
