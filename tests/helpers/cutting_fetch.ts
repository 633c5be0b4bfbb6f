/**
 * {@link cuttingFetch}: an in-memory `fetch` whose body breaks at a chosen
 * byte, for deterministic cuts (no sockets, no timing); {@link firstCutAfter}:
 * the runtime's `fetch`, its first body broken after a number of bytes.
 *
 * @module
 */

import type { FetchLike } from "../../mod.ts";

/**
 * A `fetch` serving `body` honestly (200, or 206 for `Range: bytes=N-`), in
 * 16 KiB chunks, whose stream breaks with an error when it reaches the
 * absolute offset `cut()` (a cut at or past the end lets the body end
 * normally). Each request's `Range` (or `""`) is appended to `ranges`.
 *
 * @param body the resource.
 * @param cut where the next response's stream breaks (read at each request).
 * @param ranges receives each request's `Range` value.
 * @param etag the strong ETag to send.
 * @returns the fetch.
 */
export function cuttingFetch(
  body: Uint8Array,
  cut: () => number,
  ranges: string[],
  etag: string,
): (request: Request) => Promise<Response> {
  return (request: Request): Promise<Response> => {
    const range = request.headers.get("range");
    ranges.push(range ?? "");
    const start = range === null ? 0 : Number(/^bytes=(\d+)-$/.exec(range)?.[1] ?? 0);
    const end = Math.min(cut(), body.length);
    let position = start;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (position >= end) {
          if (end >= body.length) controller.close();
          else controller.error(new Error("connection reset by the test"));
          return;
        }
        const next = Math.min(position + 16384, end);
        controller.enqueue(body.slice(position, next));
        position = next;
      },
    });
    const headers = new Headers({
      "etag": etag,
      "content-type": "application/octet-stream",
      "content-length": String(body.length - start),
    });
    if (start > 0) headers.set("content-range", `bytes ${start}-${body.length - 1}/${body.length}`);
    return Promise.resolve(new Response(stream, { status: start > 0 ? 206 : 200, headers }));
  };
}

/** A `fetch` whose first response body breaks after `limit` bytes; later ones pass through. */
export function firstCutAfter(limit: number): FetchLike {
  let calls = 0;
  return async (request) => {
    const response = await fetch(request);
    if (calls++ > 0 || response.body === null) return response;
    const reader = response.body.getReader();
    let passed = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (passed >= limit) {
          await reader.cancel().catch(() => {});
          return controller.error(new TypeError(`connection cut after ${limit} bytes`));
        }
        const chunk = await reader.read();
        if (chunk.done) return controller.close();
        const take = chunk.value.subarray(0, Math.min(chunk.value.length, limit - passed));
        passed += take.length;
        controller.enqueue(take);
      },
      cancel: (reason) => reader.cancel(reason),
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
}
