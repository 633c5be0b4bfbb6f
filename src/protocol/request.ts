/**
 * Building haul's one request: the caller's headers, with `Range`,
 * `If-Range` and `Accept-Encoding` always haul's own.
 *
 * @module
 */

import type { Checkpoint } from "./checkpoint.ts";
import { isStrongEtag } from "./etag.ts";

/** Where a resume starts and what validates it. */
export interface ResumeRequest {
  /** Byte to ask from (0: no `Range`). */
  readonly cursor: number;
  /** The checkpoint behind the resume, or `null`. */
  readonly checkpoint: Checkpoint | null;
  /**
   * The modification time (ms) of the `dest` being revalidated: sent as
   * `If-Modified-Since` on a request from byte 0 (RFC 9110 §13.1.3), never
   * beside `Range`.
   */
  readonly since?: number | null;
}

/**
 * The `If-Range` value for a checkpoint: its strong ETag, else its (strong)
 * Last-Modified, else none. A weak ETag is never sent (RFC 9110 §13.1.5).
 *
 * @param checkpoint the saved state.
 * @returns the header value, or `null` to send `Range` alone.
 */
function ifRangeValue(checkpoint: Checkpoint): string | null {
  if (checkpoint.etag !== null) {
    return isStrongEtag(checkpoint.etag) ? checkpoint.etag : null;
  }
  return checkpoint.lastModified;
}

/**
 * Builds the request for one attempt.
 *
 * @param input the caller's URL or `Request`.
 * @param headers the caller's extra headers.
 * @param signal the caller's abort signal.
 * @param resume where to start.
 * @returns the `Request` to pass to `fetch`.
 *
 * @example A fresh download: the caller's headers, and haul's own
 * ```ts
 * import { buildRequest } from "./request.ts";
 * const request = buildRequest(
 *   "https://example.com/a.bin",
 *   { "user-agent": "backup/1.0", range: "bytes=5-" },
 *   undefined,
 *   { cursor: 0, checkpoint: null },
 * );
 * const { headers } = request;
 * console.log(headers.get("user-agent"), headers.get("accept-encoding"), headers.get("range"));
 * // "backup/1.0" "identity" null
 * ```
 *
 * @example Revalidating a file saved with the server's Last-Modified
 * ```ts
 * import { buildRequest } from "./request.ts";
 * const since = Date.UTC(2026, 11, 1, 10);
 * const request = buildRequest("https://example.com/a.bin", undefined, undefined, {
 *   cursor: 0,
 *   checkpoint: null,
 *   since,
 * });
 * console.log(request.headers.get("if-modified-since")); // "Tue, 01 Dec 2026 10:00:00 GMT"
 * ```
 */
export function buildRequest(
  input: string | URL | Request,
  headers: HeadersInit | undefined,
  signal: AbortSignal | undefined,
  resume: ResumeRequest,
): Request {
  const merged = new Headers(input instanceof Request ? input.headers : undefined);
  new Headers(headers).forEach((value, name) => merged.set(name, value));
  merged.delete("range");
  merged.delete("if-range");
  const since = resume.cursor === 0 ? resume.since ?? null : null;
  if (since !== null) merged.set("if-modified-since", new Date(since).toUTCString());
  merged.set("accept-encoding", "identity");
  if (!merged.has("cache-control")) merged.set("cache-control", "no-transform");
  if (resume.cursor > 0 && resume.checkpoint !== null) {
    merged.set("range", `bytes=${resume.cursor}-`);
    const validator = ifRangeValue(resume.checkpoint);
    if (validator !== null) merged.set("if-range", validator);
  }
  const init: RequestInit = { headers: merged };
  if (signal !== undefined) init.signal = signal;
  return new Request(input, init);
}
