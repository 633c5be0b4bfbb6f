/**
 * Whether the answer to one more range of a file may be written into its
 * `.part`, decided without I/O. With several connections, every range after
 * the first is asked with `Range: bytes=start-(end-1)` and `If-Range` (the
 * strong validator the first response gave), and its answer is held to the
 * same standard as a single-connection resume: a 206 whose `Content-Range`
 * starts and ends exactly where asked, with the same total length, the same
 * validator, and no `Content-Encoding`. Anything else either resets the whole
 * download (the bytes are not the ones on disk, or cannot be counted) or just
 * fails this range (a status such as 503 that says nothing about the file).
 *
 * @module
 */

import { parseContentRange } from "./content_range.ts";
import { strongMatch } from "./etag.ts";

/** What the first response established about the file. */
export interface KnownFile {
  /** Total length in bytes. */
  readonly total: number;
  /** The strong ETag, or `null` when the validator is a strong Last-Modified. */
  readonly etag: string | null;
  /** The strong Last-Modified, when there was no ETag. */
  readonly lastModified: string | null;
}

/** The verdict on a range response. */
export type RangeVerdict =
  | { readonly kind: "write" }
  | {
    /** `reset`: progress on disk cannot be trusted with this server's answers; start over. */
    readonly kind: "reset" | "fail";
    /** Why, for messages. */
    readonly reason: string;
  };

/**
 * Decides what to do with the answer to a request for bytes `[start, end)`.
 *
 * @param asked the range that was requested (`end` exclusive).
 * @param file what the first response established.
 * @param status the response status.
 * @param headers the response headers.
 * @returns `write` when the body is exactly the asked bytes of the same file;
 *   `reset` when it is another representation, a whole body, compressed, or
 *   framed wrongly; `fail` when the status says nothing about the file.
 *
 * @example A faithful 206 and a 200 that ignored `If-Range`
 * ```ts
 * import { checkRangeResponse } from "./range_check.ts";
 * const file = { total: 1000, etag: '"v1"', lastModified: null };
 * const asked = { start: 500, end: 1000 };
 * const ok = new Headers({ "content-range": "bytes 500-999/1000", etag: '"v1"' });
 * console.log(checkRangeResponse(asked, file, 206, ok).kind); // "write"
 * console.log(checkRangeResponse(asked, file, 200, new Headers()).kind); // "reset"
 * ```
 */
export function checkRangeResponse(
  asked: { readonly start: number; readonly end: number },
  file: KnownFile,
  status: number,
  headers: Headers,
): RangeVerdict {
  if (status === 200) {
    return reset("the server answered a range request with the whole file (200)");
  }
  if (status !== 206) {
    return status === 416
      ? reset(`the server refused bytes ${asked.start}-${asked.end - 1} (416)`)
      : { kind: "fail", reason: `the server answered a range request with ${status}` };
  }
  const encoding = headers.get("content-encoding")?.trim().toLowerCase() ?? "";
  if (encoding !== "" && encoding !== "identity") {
    return reset(`a range came back with Content-Encoding: ${encoding}`);
  }
  let range;
  try {
    range = parseContentRange(headers.get("content-range"));
  } catch {
    return reset("a 206 came without a valid Content-Range");
  }
  if (range.first !== asked.start || range.last !== asked.end - 1) {
    return reset(
      `asked for bytes ${asked.start}-${asked.end - 1}, got ${range.first}-${range.last}`,
    );
  }
  if (range.complete !== file.total) {
    return reset(`the length was ${file.total}, a range says ${range.complete ?? "unknown"}`);
  }
  const length = headers.get("content-length");
  if (length !== null && length.trim() !== String(asked.end - asked.start)) {
    return reset(`Content-Length ${length.trim()} disagrees with the range asked`);
  }
  const etag = headers.get("etag");
  if (file.etag !== null) {
    if (etag !== null && !strongMatch(file.etag, etag)) {
      return reset(`ETag ${file.etag} is now ${etag.trim()}`);
    }
  } else if (etag !== null) {
    return reset(`an ETag ${etag.trim()} appeared`);
  }
  const modified = headers.get("last-modified");
  if (file.lastModified !== null && modified !== null && modified.trim() !== file.lastModified) {
    return reset(`Last-Modified ${file.lastModified} is now ${modified.trim()}`);
  }
  return { kind: "write" };
}

function reset(reason: string): RangeVerdict {
  return { kind: "reset", reason };
}
