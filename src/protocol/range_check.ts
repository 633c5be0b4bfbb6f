/**
 * Whether the answer to one more range may be written into `.part`, without I/O: held to a
 * resume's standard (exactly the asked bytes, as they stand, under the same total and validator).
 *
 * @module
 */

import { foreignBody, parseContentRange, validatorChange, weakMatch } from "./headers.ts";

/** What the first response established about the file: its length and strong validator. */
export interface KnownFile {
  readonly total: number;
  /** The strong ETag, or `null` when the validator is a strong Last-Modified. */
  readonly etag: string | null;
  readonly lastModified: string | null;
}

/**
 * `write`: the body is exactly the asked bytes of the same file. `reset`: a validator shows another
 * version; start over. `refuse`: the same file, but not the bytes asked (a whole body, a 416,
 * compressed, framed wrongly); fetch them another way. `fail`: a status that says nothing of it.
 */
export type RangeVerdict =
  | { readonly kind: "write" }
  | { readonly kind: "reset" | "refuse" | "fail"; readonly reason: string };

/** Judges the answer to a request for bytes `[asked.start, asked.end)`. */
export function checkRangeResponse(
  asked: { readonly start: number; readonly end: number },
  file: KnownFile,
  status: number,
  headers: Headers,
): RangeVerdict {
  if (status !== 200 && status !== 206 && status !== 416) {
    return { kind: "fail", reason: `the server answered a range request with ${status}` };
  }
  const changed = validatorChange(file, headers);
  // The weak form of the file's tag (a proxy's) names no other version, and proves no bytes.
  const weaker = weakMatch(file.etag, headers.get("etag"));
  if (changed !== null) return { kind: weaker ? "refuse" : "reset", reason: changed };
  if (status === 200) {
    return refuse("the server answered a range request with the whole file (200)");
  }
  if (status === 416) {
    return refuse(`the server refused bytes ${asked.start}-${asked.end - 1} (416)`);
  }
  const foreign = foreignBody(headers);
  if (foreign !== null) return refuse(`a range came back with ${foreign}`);
  const range = parseContentRange(headers.get("content-range"));
  if (range === null) return refuse("a 206 came without a valid Content-Range");
  if (range.first !== asked.start || range.last !== asked.end - 1) {
    return refuse(
      `asked for bytes ${asked.start}-${asked.end - 1}, got ${range.first}-${range.last}`,
    );
  }
  if (range.complete !== file.total) {
    return refuse(`the length was ${file.total}, a range says ${range.complete ?? "unknown"}`);
  }
  const length = headers.get("content-length");
  if (length !== null && length.trim() !== String(asked.end - asked.start)) {
    return refuse(`Content-Length ${length.trim()} disagrees with the range asked`);
  }
  const kept = file.etag !== null ? "ETag" : file.lastModified !== null ? "Last-Modified" : null;
  if (kept !== null && !headers.has(kept)) return refuse(`a 206 came without its ${kept}`);
  return { kind: "write" };
}

function refuse(reason: string): RangeVerdict {
  return { kind: "refuse", reason };
}
