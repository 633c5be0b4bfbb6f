/**
 * {@link cuttingFetch}: an in-memory `fetch` whose body breaks at a chosen
 * byte, for deterministic cuts (no sockets, no timing).
 *
 * @module
 */

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
