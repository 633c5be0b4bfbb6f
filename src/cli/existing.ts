/**
 * Whether a file already at a destination is the download, before the
 * command line calls it complete: without a digest to check it against, its
 * size is compared with the server's (a `HEAD`, or a `bytes=0-0` `GET` when
 * the `HEAD` tells nothing).
 *
 * @module
 */

import { parseContentRange, parseUnsatisfiedRange } from "../protocol/content_range.ts";
import { parseRetryAfter } from "../protocol/retry_after.ts";
import { UnexpectedStatusError } from "../errors.ts";
import type { FetchLike } from "../types.ts";
import { formatBytes } from "./format.ts";

/**
 * The file at the destination is not the one the server has: its size
 * differs. Nothing was changed; `--overwrite` downloads it again.
 */
export class ExistingFileError extends Error {
  /** The destination. */
  readonly path: string;
  /** Bytes of the file on disk. */
  readonly size: number;
  /** Bytes of the file on the server. */
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

/** What a size probe's response says. */
type SizeAnswer =
  /** The server's size. */
  | { readonly kind: "size"; readonly size: number }
  /** The response is fine but gives no usable size (ask again another way, or accept). */
  | { readonly kind: "unknown" }
  /** The server refuses the request: the status. */
  | { readonly kind: "refused"; readonly status: number };

/** The file's size from a probe's response (`"GET"`: one with `Range: bytes=0-0`). */
function sizeFromResponse(
  method: "HEAD" | "GET",
  status: number,
  headers: Headers,
): SizeAnswer {
  const encoding = headers.get("content-encoding");
  const encoded = encoding !== null && encoding.trim().toLowerCase() !== "identity";
  const length = lengthOf(headers.get("content-length"));
  if (status === 200) {
    return length === null || encoded ? { kind: "unknown" } : { kind: "size", size: length };
  }
  if (method === "GET" && status === 206) {
    try {
      const complete = parseContentRange(headers.get("content-range")).complete;
      return complete === null ? { kind: "unknown" } : { kind: "size", size: complete };
    } catch {
      return { kind: "unknown" };
    }
  }
  if (method === "GET" && status === 416) {
    const complete = parseUnsatisfiedRange(headers.get("content-range"));
    return complete === null ? { kind: "unknown" } : { kind: "size", size: complete };
  }
  if (status >= 200 && status < 300) return { kind: "unknown" };
  return { kind: "refused", status };
}

/**
 * The server's size of the file, or `null` when it does not say: a `HEAD`, then,
 * when that gives no usable length (or is refused, as some servers refuse
 * `HEAD`), a `GET` of its first byte.
 *
 * @throws {UnexpectedStatusError} when the server refuses both requests.
 */
export async function serverSize(
  url: URL,
  fetchFn: FetchLike,
  headers: Headers,
  signal?: AbortSignal,
): Promise<number | null> {
  let refused: { status: number; headers: Headers } | null = null;
  for (const method of ["HEAD", "GET"] as const) {
    const response = await probe(url, fetchFn, headers, method, signal);
    const answer = sizeFromResponse(method, response.status, response.headers);
    if (answer.kind === "size") return answer.size;
    if (answer.kind === "refused") refused = { status: answer.status, headers: response.headers };
    else refused = null;
  }
  if (refused === null) return null;
  throw statusError(url, refused.status, refused.headers);
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

function lengthOf(value: string | null): number | null {
  if (value === null || !/^\s*\d+\s*$/.test(value)) return null;
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : null;
}
