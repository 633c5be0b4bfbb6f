/**
 * A loopback HTTP/1.1 server, on plain `node:net` sockets, whose every
 * response is scripted by the test: status line, headers (verbatim, in order,
 * lies included), framing, and how the body is delivered (paced, cut short,
 * stalled). It runs the same under `deno test` and `bun test`.
 *
 * On top of it, {@link honestReply} and {@link startResourceServer} give "an
 * honest server with a twist": a correct Range / If-Range implementation whose
 * replies a test may bend before they are sent.
 *
 * @example An honest server that forgets to send the last 10 bytes
 * ```ts
 * import { startResourceServer } from "./script_server.ts";
 * const body = new Uint8Array(1000);
 * const server = await startResourceServer({ body }, (_req, honest) => ({
 *   ...honest,
 *   cutAfter: 990,
 * }));
 * try {
 *   const response = await fetch(server.url, { headers: { "accept-encoding": "identity" } });
 *   await response.arrayBuffer().catch(() => undefined); // the stream breaks
 *   console.log(server.requests[0]?.method); // "GET"
 * } finally {
 *   await server.close();
 * }
 * ```
 *
 * @module
 */

import { Buffer } from "node:buffer";
import * as net from "node:net";

/** One request as the server parsed it, recorded before any reply is sent. */
export interface RecordedRequest {
  /** 0-based number of the request on this server, in arrival order. */
  readonly index: number;
  /** 0-based number of the TCP connection it arrived on (equal numbers: same connection). */
  readonly connection: number;
  /** The request method as sent, e.g. `"GET"` or `"HEAD"`. */
  readonly method: string;
  /** The request target as sent, e.g. `"/file.bin?x=1"`. */
  readonly path: string;
  /** The protocol version from the request line, e.g. `"HTTP/1.1"`. */
  readonly version: string;
  /** Header fields by lower-case name; repeated fields are joined with `", "`. */
  readonly headers: Readonly<Record<string, string>>;
  /** The request head exactly as received (latin1), up to and including the blank line. */
  readonly raw: string;
}

/** How the body of a {@link Reply} is delimited on the wire. */
export type Framing =
  /** Adds `Content-Length: <body bytes>` unless the headers already have a `content-length` (which may lie). */
  | "length"
  /** Adds `Transfer-Encoding: chunked` (unless present) and sends the body as chunks of `chunkSize`. */
  | "chunked"
  /** Adds nothing; the end of the body is signalled by closing the connection (FIN). */
  | "close";

/**
 * One scripted response. Nothing is added to what is listed here except the
 * framing header that {@link Reply.framing} names. Body bytes are never sent
 * for `HEAD` requests or for 1xx, 204 and 304 statuses (no framing header is
 * added for those statuses either); the body options below then act on an
 * empty body, so e.g. `cutAfter` cuts right after the head.
 */
export interface Reply {
  /** The status code. */
  status: number;
  /** The reason phrase; defaults to the standard phrase for `status`. */
  reason?: string;
  /** Header fields sent verbatim, in order, with their case as given. */
  headers?: Record<string, string> | [string, string][];
  /** The body; a string is sent as UTF-8. A `Uint8Array` is sent in slices without copying. */
  body?: Uint8Array | string;
  /** See {@link Framing}. Default `"length"`. */
  framing?: Framing;
  /**
   * Chunk payload size for `"chunked"` (default 64 KiB) and the slice size of
   * each socket write otherwise (default 256 KiB, or about 1/10 s of data when
   * `bytesPerSecond` is set).
   */
  chunkSize?: number;
  /**
   * Destroy the socket once this many body bytes (for chunked: payload bytes)
   * have been handed to the kernel. The client receives exactly
   * `min(cutAfter, body length)` body bytes, then the connection closes
   * without a final chunk. A cut inside a chunk leaves that chunk unfinished.
   * The close is a FIN (not a reset): with `"length"` or `"chunked"` framing
   * clients see a premature end; with `"close"` framing a cut is
   * indistinguishable from the end of the body.
   */
  cutAfter?: number;
  /**
   * For a premature close (`cutAfter`, `omitFinalChunk`): how long to wait
   * between the last byte being flushed and the close. Default 20 ms.
   *
   * Why: Bun's `fetch` discards body bytes that it reads together with the
   * connection's end, so with 0 a Bun client usually sees fewer bytes than
   * were sent (often none of the last write); Deno's `fetch` and raw sockets
   * see them all. The pause lets the last bytes arrive on their own first. It
   * is a mitigation, not a guarantee: a Bun client starved of CPU can still
   * lose the tail. Raise it (e.g. 100-200 ms) where a test asserts exact
   * counts through Bun's `fetch`.
   */
  cutLingerMs?: number;
  /** Chunked only: after the last chunk, end the connection (FIN) without the `0` chunk. */
  omitFinalChunk?: boolean;
  /**
   * After this many body bytes, send nothing more but keep the connection open
   * until the client goes away or the server is closed. When both are set,
   * whichever of `cutAfter` and `stallAfter` comes first wins (a tie cuts).
   */
  stallAfter?: number;
  /** Wait this long before sending the status line. */
  delayMs?: number;
  /**
   * Close the connection as soon as the request is read, sending nothing (the
   * other fields are ignored): the client's `fetch` fails with a network
   * error, as at a reset.
   */
  hangUp?: boolean;
  /** Throttle the body to about this many bytes per second. */
  bytesPerSecond?: number;
}

/** Computes the reply to one request; may be async; may throw (the client then gets a 500). */
export type Script = (req: RecordedRequest) => Reply | Promise<Reply>;

/** A running script server. */
export interface ScriptServer {
  /** `http://127.0.0.1:PORT` (same as {@link ScriptServer.origin}; append a path as needed). */
  readonly url: string;
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  /** The TCP port the server listens on. */
  readonly port: number;
  /** Every request received so far, in order (`requests[i].index === i`). */
  readonly requests: RecordedRequest[];
  /** Errors thrown by the script (each also answered with a 500). Client disconnects are not errors. */
  readonly errors: unknown[];
  /**
   * Stops listening, destroys every open connection (stalled and delayed ones
   * included) and clears every timer. Resolves once the listener is closed.
   * Safe to call more than once.
   */
  close(): Promise<void>;
}

const DEFAULT_SLICE = 256 * 1024;
const DEFAULT_CHUNK = 64 * 1024;
const MAX_HEAD = 64 * 1024;
const DEFAULT_CUT_LINGER_MS = 20;

const REASONS: Readonly<Record<number, string>> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  410: "Gone",
  412: "Precondition Failed",
  416: "Range Not Satisfiable",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

const encoder = new TextEncoder();

/** Thrown inside a connection's reply loop when its socket is gone; never escapes. */
class SocketGone extends Error {
  constructor() {
    super("socket closed");
    this.name = "SocketGone";
  }
}

/** One accepted connection: buffered input, awaitable writes, cancellable sleeps. */
class Connection {
  readonly id: number;
  readonly socket: net.Socket;
  /** Resolves when the socket has closed (for any reason). */
  readonly closed: Promise<void>;
  /** Resolves when the client has ended its side, or the socket has closed. */
  readonly peerGone: Promise<void>;
  isClosed = false;
  peerEnded = false;
  input: Buffer = Buffer.alloc(0);
  busy = false;
  #lastFlush: Promise<void> = Promise.resolve();
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #wakers = new Set<() => void>();

  constructor(id: number, socket: net.Socket) {
    this.id = id;
    this.socket = socket;
    let resolveClosed: () => void = () => {};
    this.closed = new Promise<void>((resolve) => (resolveClosed = resolve));
    let resolvePeerGone: () => void = () => {};
    this.peerGone = new Promise<void>((resolve) => (resolvePeerGone = resolve));
    socket.once("end", () => {
      this.peerEnded = true;
      resolvePeerGone();
    });
    socket.once("close", () => {
      resolvePeerGone();
      this.isClosed = true;
      for (const timer of this.#timers) clearTimeout(timer);
      this.#timers.clear();
      for (const wake of this.#wakers) wake();
      this.#wakers.clear();
      resolveClosed();
    });
  }

  get gone(): boolean {
    return this.isClosed || this.socket.destroyed || this.socket.writableEnded;
  }

  /** Waits for `event` on the socket, or for the socket to close; then checks it is alive. */
  #waitFor(register: (done: () => void) => () => void): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.isClosed) return resolve();
      let unregister: () => void = () => {};
      const done = (): void => {
        this.#wakers.delete(done);
        unregister();
        resolve();
      };
      this.#wakers.add(done);
      unregister = register(done);
    });
  }

  /** Writes with backpressure: resolves once the socket can take more. */
  async write(data: Uint8Array): Promise<void> {
    if (this.gone) throw new SocketGone();
    let flushed: () => void = () => {};
    this.#lastFlush = new Promise<void>((resolve) => (flushed = resolve));
    let ok: boolean;
    try {
      ok = this.socket.write(data, () => flushed());
    } catch {
      throw new SocketGone();
    }
    if (!ok) {
      await this.#waitFor((done) => {
        this.socket.once("drain", done);
        return () => this.socket.off("drain", done);
      });
    }
    if (this.gone) throw new SocketGone();
  }

  /** Resolves once everything written so far has been handed to the kernel (or the socket closed). */
  async flush(): Promise<void> {
    const last = this.#lastFlush;
    await this.#waitFor((done) => {
      void last.then(done);
      return () => {};
    });
  }

  /** Sleeps `ms`, or until the socket closes. */
  async sleep(ms: number): Promise<void> {
    if (ms > 0) {
      await this.#waitFor((done) => {
        const timer = setTimeout(done, ms);
        this.#timers.add(timer);
        return () => {
          clearTimeout(timer);
          this.#timers.delete(timer);
        };
      });
    }
    if (this.gone) throw new SocketGone();
  }

  /** Destroys the socket; errors are swallowed. */
  destroy(): void {
    try {
      this.socket.destroy();
    } catch {
      // already gone
    }
  }

  /** Ends the socket gracefully (FIN after pending data). */
  end(): void {
    try {
      if (!this.gone) this.socket.end();
    } catch {
      this.destroy();
    }
  }
}

interface ParsedHead {
  method: string;
  path: string;
  version: string;
  headers: Record<string, string>;
  raw: string;
}

/** Parses a request head (without the final blank line); `undefined` when malformed. */
function parseHead(text: string): Omit<ParsedHead, "raw"> | undefined {
  const lines = text.split("\r\n");
  const requestLine = lines[0] ?? "";
  const match = /^([A-Za-z]+) (\S+) (HTTP\/\d\.\d)$/.exec(requestLine);
  if (match === null) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const previous = headers[name];
    headers[name] = previous === undefined ? value : `${previous}, ${value}`;
  }
  return { method: match[1] ?? "", path: match[2] ?? "", version: match[3] ?? "", headers };
}

/** Takes one complete request (head and any Content-Length body) off `conn.input`. */
function takeRequest(conn: Connection): ParsedHead | "incomplete" | "malformed" {
  // RFC 9112 2.2: ignore empty lines received before a request line.
  let skip = 0;
  while (conn.input[skip] === 0x0d && conn.input[skip + 1] === 0x0a) skip += 2;
  if (skip > 0) conn.input = conn.input.subarray(skip);
  const end = conn.input.indexOf("\r\n\r\n");
  if (end < 0) return conn.input.length > MAX_HEAD ? "malformed" : "incomplete";
  const headText = conn.input.subarray(0, end).toString("latin1");
  const parsed = parseHead(headText);
  if (parsed === undefined) return "malformed";
  if (parsed.headers["transfer-encoding"] !== undefined) return "malformed";
  const bodyLength = Number(parsed.headers["content-length"] ?? "0");
  if (!Number.isSafeInteger(bodyLength) || bodyLength < 0) return "malformed";
  const total = end + 4 + bodyLength;
  if (conn.input.length < total) return "incomplete";
  const raw = conn.input.subarray(0, end + 4).toString("latin1");
  conn.input = conn.input.subarray(total);
  return { ...parsed, raw };
}

function headerPairs(headers: Reply["headers"]): [string, string][] {
  if (headers === undefined) return [];
  return Array.isArray(headers) ? headers : Object.entries(headers);
}

function wantsClose(pairs: [string, string][]): boolean {
  return pairs.some(([name, value]) =>
    name.toLowerCase() === "connection" && /(^|,)\s*close\s*(,|$)/i.test(value)
  );
}

function clientKeepsAlive(req: RecordedRequest): boolean {
  const connection = (req.headers["connection"] ?? "").toLowerCase();
  const tokens = connection.split(",").map((token) => token.trim());
  if (tokens.includes("close")) return false;
  if (req.version === "HTTP/1.0") return tokens.includes("keep-alive");
  return true;
}

/**
 * Sends one reply. Resolves to whether the connection may carry another
 * request; throws {@link SocketGone} when the socket went away meanwhile.
 */
async function sendReply(conn: Connection, req: RecordedRequest, reply: Reply): Promise<boolean> {
  if (reply.hangUp === true) {
    conn.destroy();
    return false;
  }
  const framing: Framing = reply.framing ?? "length";
  const status = reply.status;
  const bodyless = (status >= 100 && status < 200) || status === 204 || status === 304;
  const fullBody = typeof reply.body === "string"
    ? encoder.encode(reply.body)
    : (reply.body ?? new Uint8Array(0));
  const body = bodyless || req.method === "HEAD" ? new Uint8Array(0) : fullBody;

  const pairs = headerPairs(reply.headers);
  const has = (name: string): boolean => pairs.some(([key]) => key.toLowerCase() === name);
  let head = `HTTP/1.1 ${status} ${reply.reason ?? REASONS[status] ?? "Status"}\r\n`;
  for (const [name, value] of pairs) head += `${name}: ${value}\r\n`;
  if (!bodyless) {
    if (framing === "length" && !has("content-length")) {
      head += `Content-Length: ${fullBody.length}\r\n`;
    }
    if (framing === "chunked" && !has("transfer-encoding")) {
      head += "Transfer-Encoding: chunked\r\n";
    }
  }
  head += "\r\n";

  if (reply.delayMs !== undefined) await conn.sleep(reply.delayMs);
  await conn.write(Buffer.from(head, "latin1"));

  const chunked = framing === "chunked" && !bodyless;
  const rate = reply.bytesPerSecond;
  const base = chunked ? DEFAULT_CHUNK : DEFAULT_SLICE;
  const throttled = rate !== undefined && rate > 0;
  const paced = throttled ? Math.min(base, rate / 10) : base;
  const slice = Math.max(1, Math.floor(reply.chunkSize ?? paced));
  const cutAt = reply.cutAfter ?? Infinity;
  const stallAt = reply.stallAfter ?? Infinity;
  const stop = Math.min(body.length, cutAt, stallAt);
  const started = Date.now();

  let sent = 0;
  while (sent < stop) {
    const chunkEnd = Math.min(sent + slice, body.length);
    const pieceEnd = Math.min(chunkEnd, stop);
    const piece = body.subarray(sent, pieceEnd);
    if (chunked) {
      const chunkHead = Buffer.from(`${(chunkEnd - sent).toString(16)}\r\n`, "latin1");
      const tail = pieceEnd === chunkEnd ? Buffer.from("\r\n", "latin1") : Buffer.alloc(0);
      await conn.write(Buffer.concat([chunkHead, piece, tail]));
    } else {
      await conn.write(piece);
    }
    sent = pieceEnd;
    if (throttled && sent < stop) {
      await conn.sleep(started + (sent / rate) * 1000 - Date.now());
    }
  }

  if (cutAt <= stallAt && cutAt !== Infinity) {
    await conn.flush();
    await conn.sleep(reply.cutLingerMs ?? DEFAULT_CUT_LINGER_MS);
    conn.destroy();
    return false;
  }
  if (stallAt !== Infinity) {
    await conn.peerGone;
    conn.destroy();
    return false;
  }
  if (chunked) {
    if (reply.omitFinalChunk === true) {
      await conn.flush();
      await conn.sleep(reply.cutLingerMs ?? DEFAULT_CUT_LINGER_MS);
      conn.end();
      return false;
    }
    await conn.write(Buffer.from("0\r\n\r\n", "latin1"));
  }
  if (framing === "close" || wantsClose(pairs) || !clientKeepsAlive(req)) {
    conn.end();
    return false;
  }
  return true;
}

/**
 * Starts a script server on `127.0.0.1` (a free port). Each request on each
 * connection is parsed, recorded in {@link ScriptServer.requests}, then
 * answered with `script(request)`. Requests on one connection are answered in
 * order (keep-alive and pipelining work); `Connection: close` from the client
 * or in the reply ends the connection after the reply. `GET` and `HEAD` are
 * what tests use, but any method is recorded and scripted; request bodies
 * framed by `Content-Length` are read and ignored.
 *
 * @param script computes each reply.
 * @returns the running server; always `close()` it (e.g. in `finally`).
 */
export async function startScriptServer(script: Script): Promise<ScriptServer> {
  const requests: RecordedRequest[] = [];
  const errors: unknown[] = [];
  const connections = new Set<Connection>();
  let connectionCount = 0;
  let closing = false;

  const pump = async (conn: Connection): Promise<void> => {
    if (conn.busy) return;
    conn.busy = true;
    try {
      while (!conn.gone) {
        const taken = takeRequest(conn);
        if (taken === "incomplete") break;
        if (taken === "malformed") {
          await conn.write(
            Buffer.from(
              "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
              "latin1",
            ),
          );
          conn.end();
          return;
        }
        const req: RecordedRequest = Object.freeze({
          index: requests.length,
          connection: conn.id,
          method: taken.method,
          path: taken.path,
          version: taken.version,
          headers: Object.freeze(taken.headers),
          raw: taken.raw,
        });
        requests.push(req);
        let reply: Reply;
        try {
          reply = await script(req);
        } catch (error) {
          errors.push(error);
          reply = {
            status: 500,
            headers: { "Content-Type": "text/plain", "Connection": "close" },
            body: `script error: ${error instanceof Error ? error.message : String(error)}`,
          };
        }
        if (!(await sendReply(conn, req, reply))) return;
      }
      if (conn.peerEnded) conn.end();
    } catch (error) {
      if (!(error instanceof SocketGone)) errors.push(error);
      conn.destroy();
    } finally {
      conn.busy = false;
    }
  };

  const server = net.createServer({ allowHalfOpen: true }, (socket: net.Socket) => {
    const conn = new Connection(connectionCount++, socket);
    socket.on("error", () => {
      // EPIPE, ECONNRESET and friends: the client went away. Never fatal.
    });
    if (closing) {
      conn.destroy();
      return;
    }
    connections.add(conn);
    void conn.closed.then(() => connections.delete(conn));
    try {
      socket.setNoDelay(true);
    } catch {
      // not essential
    }
    socket.on("data", (data: Buffer) => {
      conn.input = conn.input.length === 0 ? data : Buffer.concat([conn.input, data]);
      void pump(conn);
    });
    socket.on("end", () => {
      if (!conn.busy) conn.end();
    });
  });
  server.on("error", () => {
    // after listening, listener errors are not actionable in tests
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once("error", onError);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", onError);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") {
    server.close();
    throw new Error("script server: no TCP address after listen");
  }
  const origin = `http://127.0.0.1:${address.port}`;

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      closing = true;
      server.close(() => resolve());
      for (const conn of connections) conn.destroy();
    }).then(async () => {
      await Promise.all([...connections].map((conn) => conn.closed));
    });
    return closed;
  };

  return { url: origin, origin, port: address.port, requests, errors, close };
}

/** A resource served honestly by {@link honestReply}. */
export interface ResourceOptions {
  /** The representation's bytes. Ranges are served as subarrays (no copy). */
  body: Uint8Array;
  /** Strong or weak entity-tag, quotes included; default `"v1-<length>"` (strong); `null`: no ETag. */
  etag?: string | null;
  /** An HTTP-date sent as `Last-Modified`; default and `null`: none. */
  lastModified?: string | null;
  /** Default `application/octet-stream`. */
  contentType?: string;
  /** Whether `Range` is honoured (and `Accept-Ranges: bytes` advertised). Default true. */
  honorRange?: boolean;
  /** Whether `If-Range` is evaluated; when false it is ignored and ranges are always served. Default true. */
  honorIfRange?: boolean;
}

type ByteRange = { start: number; end: number } | "unsatisfiable" | undefined;

/** Parses a single `bytes=` range against `length`; `undefined` means "ignore the Range field". */
function parseRange(value: string, length: number): ByteRange {
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value);
  if (match === null) return undefined;
  const first = match[1] ?? "";
  const last = match[2] ?? "";
  if (first === "" && last === "") return undefined;
  // Nothing of an empty representation can be selected; serve it whole (200).
  if (length === 0) return undefined;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0) return "unsatisfiable";
    return { start: Math.max(0, length - suffix), end: length - 1 };
  }
  const start = Number(first);
  const end = last === "" ? length - 1 : Number(last);
  if (last !== "" && end < start) return undefined;
  if (start >= length) return "unsatisfiable";
  return { start, end: Math.min(end, length - 1) };
}

/** RFC 9110 13.1.5: whether an `If-Range` value lets the range through. */
function ifRangeHolds(value: string, etag: string | null, lastModified: string | null): boolean {
  const condition = value.trim();
  if (condition.startsWith('"') || condition.startsWith("W/")) {
    // Strong comparison: both strong, same opaque tag.
    return etag !== null && !condition.startsWith("W/") && !etag.startsWith("W/") &&
      condition === etag.trim();
  }
  return lastModified !== null && condition === lastModified.trim();
}

/**
 * The honest reply for `req` against `resource`:
 *
 * - `GET`/`HEAD` without a usable `Range`: 200, full body.
 * - `GET` with `Range: bytes=N-`, `bytes=N-M` or `bytes=-S` (one range, when
 *   `honorRange`): 206 with `Content-Range: bytes start-end/len` and that slice.
 *   An end past the last byte is clamped; multiple or malformed ranges are ignored (200).
 * - `If-Range` (when `honorIfRange`) per RFC 9110 13.1.5: an entity-tag must
 *   match the ETag by strong comparison (weak tags never match); an HTTP-date
 *   must equal the `Last-Modified` value exactly. Otherwise 200, full body.
 * - A range starting at or past the end of a non-empty body: 416 with
 *   `Content-Range: bytes &#42;/len` and no body.
 * - Other methods: 405 with `Allow: GET, HEAD`.
 *
 * 200/206/416 carry `Content-Type`, `ETag` and `Last-Modified` (when set) and
 * `Accept-Ranges: bytes` (when `honorRange`). `Content-Length` is not in the
 * headers: the reply uses `framing: "length"`, which adds it for the body sent
 * (a twist that swaps the body gets a matching length for free).
 *
 * @param req the recorded request.
 * @param resource what is being served.
 * @returns the reply; a fresh object the caller may modify.
 */
export function honestReply(req: RecordedRequest, resource: ResourceOptions): Reply {
  const body = resource.body;
  const length = body.length;
  const etag = resource.etag === undefined ? `"v1-${length}"` : resource.etag;
  const lastModified = resource.lastModified ?? null;
  const honorRange = resource.honorRange ?? true;
  const honorIfRange = resource.honorIfRange ?? true;

  if (req.method !== "GET" && req.method !== "HEAD") {
    return {
      status: 405,
      headers: [["Allow", "GET, HEAD"], ["Content-Type", "text/plain"]],
      body: "method not allowed",
      framing: "length",
    };
  }

  const headers: [string, string][] = [
    ["Content-Type", resource.contentType ?? "application/octet-stream"],
  ];
  if (honorRange) headers.push(["Accept-Ranges", "bytes"]);
  if (etag !== null) headers.push(["ETag", etag]);
  if (lastModified !== null) headers.push(["Last-Modified", lastModified]);

  const full: Reply = { status: 200, headers, body, framing: "length" };
  const rangeValue = req.headers["range"];
  if (!honorRange || req.method !== "GET" || rangeValue === undefined) return full;

  const ifRange = req.headers["if-range"];
  if (honorIfRange && ifRange !== undefined && !ifRangeHolds(ifRange, etag, lastModified)) {
    return full;
  }

  const range = parseRange(rangeValue, length);
  if (range === undefined) return full;
  if (range === "unsatisfiable") {
    return {
      status: 416,
      headers: [...headers, ["Content-Range", `bytes */${length}`]],
      body: new Uint8Array(0),
      framing: "length",
    };
  }
  return {
    status: 206,
    headers: [...headers, ["Content-Range", `bytes ${range.start}-${range.end}/${length}`]],
    body: body.subarray(range.start, range.end + 1),
    framing: "length",
  };
}

/**
 * Starts a script server that answers every request with {@link honestReply},
 * optionally bent by `twist`.
 *
 * @param resource the resource, or a function choosing it per request (e.g. to
 *   change the ETag after the first request, or to serve by path).
 * @param twist receives the request and the honest reply; returns the reply to send.
 * @returns the running server; always `close()` it.
 */
export function startResourceServer(
  resource: ResourceOptions | ((req: RecordedRequest) => ResourceOptions),
  twist?: (req: RecordedRequest, honest: Reply) => Reply | Promise<Reply>,
): Promise<ScriptServer> {
  return startScriptServer((req) => {
    const chosen = typeof resource === "function" ? resource(req) : resource;
    const honest = honestReply(req, chosen);
    return twist === undefined ? honest : twist(req, honest);
  });
}

/**
 * Starts a server for `body` that sends it honestly, no faster than
 * `bytesPerSecond`: a download that lasts long enough for a second call, an
 * abort or a kill to meet it.
 *
 * @param body the resource's bytes.
 * @param bytesPerSecond the pace.
 * @returns the running server; always `close()` it.
 */
export function startThrottledServer(
  body: Uint8Array,
  bytesPerSecond: number,
): Promise<ScriptServer> {
  return startResourceServer({ body }, (_req, honest) => ({ ...honest, bytesPerSecond }));
}
