/**
 * Building haul's requests: the caller's headers, with `Range`, `If-Range`
 * and `Accept-Encoding` always haul's own.
 *
 * @module
 */

import type { Checkpoint } from "./checkpoint.ts";
import { isStrongEtag } from "./headers.ts";

/** Where a resume starts (`cursor` 0: no `Range`) and the checkpoint that validates it. */
export interface ResumeRequest {
  readonly cursor: number;
  readonly checkpoint: Checkpoint | null;
  /** The mtime (ms) of the `dest` being revalidated: `If-Modified-Since` from byte 0, never beside `Range`. */
  readonly since?: number | null;
}

/**
 * The request for one attempt: the caller's headers, then `Range` from the cursor and `If-Range`
 * (a strong ETag, never a weak one; without ETag, the Last-Modified), or `If-Modified-Since`.
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
    const { etag, lastModified } = resume.checkpoint;
    const validator = etag === null ? lastModified : isStrongEtag(etag) ? etag : null;
    if (validator !== null) merged.set("if-range", validator);
  }
  const init: RequestInit = { headers: merged };
  if (signal !== undefined) init.signal = signal;
  return new Request(input, init);
}

/**
 * The request for bytes `[start, end)` over several connections: {@link buildRequest}'s with
 * `If-Range: validator` (strong ETag or Last-Modified; `null`: mirrors with a digest are trusted).
 */
export function buildRangeRequest(
  input: string | URL | Request,
  headers: HeadersInit | undefined,
  signal: AbortSignal | undefined,
  span: { readonly start: number; readonly end: number },
  validator: string | null,
): Request {
  const request = buildRequest(input, headers, signal, { cursor: 0, checkpoint: null });
  request.headers.set("range", `bytes=${span.start}-${span.end - 1}`);
  if (validator !== null) request.headers.set("if-range", validator);
  return request;
}
