/**
 * The benchmark's fallback file server, for machines without nginx: serves
 * the files of one directory over HTTP/1.1 on 127.0.0.1 with `node:http`
 * (which Deno and Bun both provide), with single `Range` requests, strong
 * ETags, keep-alive, throttled twins of every file under `/slow/` and `/link/`, and a
 * cutting twin under `/cut/<N>/` that closes the connection after `N` bytes
 * of every response's body (a link that drops every `N` bytes). The
 * benchmark uses it for the cuts, and for everything when nginx is missing.
 *
 * Usage:
 *
 * ```sh
 * deno run -A scripts/bench/builtin_server.ts --root DIR --port N --slow-rate BYTES_PER_SECOND --link-rate BYTES_PER_SECOND
 * ```
 *
 * Prints `listening <port>` once ready; runs until killed.
 *
 * @module
 */

import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { join, normalize } from "node:path";
import process from "node:process";
import { Transform, type TransformCallback } from "node:stream";

const MiB = 1024 * 1024;

function option(name: string, fallback: string): string {
  const argv = process.argv;
  const index = argv.indexOf(name);
  return index >= 0 ? argv[index + 1] ?? fallback : fallback;
}

const root = option("--root", ".");
const port = Number(option("--port", "0"));
const slowRate = Number(option("--slow-rate", String(64 * 1000 * 1000)));
const linkRate = Number(option("--link-rate", String(100 * MiB)));

/** Passes bytes through no faster than `rate` bytes per second. */
class Throttle extends Transform {
  readonly #rate: number;
  readonly #started = performance.now();
  #sent = 0;

  constructor(rate: number) {
    super({ highWaterMark: 64 * 1024 });
    this.#rate = rate;
  }

  override _transform(chunk: Uint8Array, _encoding: string, done: TransformCallback): void {
    this.#sent += chunk.length;
    const due = (this.#sent / this.#rate) * 1000 - (performance.now() - this.#started);
    if (due <= 0) done(null, chunk);
    else setTimeout(() => done(null, chunk), due);
  }
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? "/", "http://localhost");
  const twin = /^\/(slow|link)\//.exec(url.pathname)?.[1];
  const slow = twin !== undefined;
  const cutMatch = /^\/cut\/(\d+)(\/.*)$/.exec(url.pathname);
  const cut = cutMatch === null ? Infinity : Number(cutMatch[1]);
  const pathname = cutMatch !== null ? cutMatch[2]! : slow ? url.pathname.slice(5) : url.pathname;
  const relative = normalize(decodeURIComponent(pathname));
  if (relative.includes("..")) {
    response.writeHead(400).end();
    return;
  }
  const path = join(root, relative);
  const info = await stat(path).catch(() => null);
  if (info === null || !info.isFile()) {
    response.writeHead(404, { "content-length": "0" }).end();
    return;
  }
  const size = info.size;
  const etag = `"${info.mtimeMs.toString(16)}-${size.toString(16)}"`;
  let start = 0;
  let end = size - 1;
  let status = 200;
  const range = request.headers.range;
  const ifRange = request.headers["if-range"];
  const match = typeof range === "string" ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
  if (match !== null && (ifRange === undefined || ifRange === etag)) {
    start = Number(match[1]);
    if (match[2] !== undefined && match[2] !== "") end = Math.min(Number(match[2]), size - 1);
    if (start >= size) {
      response.writeHead(416, { "content-range": `bytes */${size}`, "content-length": "0" });
      response.end();
      return;
    }
    status = 206;
  }
  const headers: Record<string, string> = {
    "content-type": "application/octet-stream",
    "content-length": String(end - start + 1),
    "accept-ranges": "bytes",
    etag,
    "last-modified": new Date(info.mtimeMs).toUTCString(),
  };
  if (status === 206) headers["content-range"] = `bytes ${start}-${end}/${size}`;
  response.writeHead(status, headers);
  if (request.method === "HEAD" || end < start) {
    response.end();
    return;
  }
  if (cut < end - start + 1) {
    const stream = createReadStream(path, { start, end: start + cut - 1, highWaterMark: MiB });
    stream.pipe(response, { end: false });
    stream.once("end", () => response.socket?.end());
    return;
  }
  const stream = createReadStream(path, { start, end, highWaterMark: MiB });
  if (slow) stream.pipe(new Throttle(twin === "link" ? linkRate : slowRate)).pipe(response);
  else stream.pipe(response);
}

const server = createServer((request, response) => {
  handle(request, response).catch(() => response.destroy());
});
server.keepAliveTimeout = 30_000;
server.listen(port, "127.0.0.1", () => {
  const address = server.address();
  const bound = typeof address === "object" && address !== null ? address.port : port;
  process.stdout.write(`listening ${bound}\n`);
});
