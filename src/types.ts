/**
 * The public option, result and state types of `haul()`.
 *
 * @module
 */

/** A URL or a `Request`: what one request is made from. */
export type SourceInput = string | URL | Request;

/**
 * Where the file comes from: a URL or `Request`, or a function that returns
 * one (or a promise of one), called again for every request (each attempt,
 * each extra connection) so that a signed URL that expires is signed anew.
 * `haul()` takes one, or an array of several (mirrors of one file).
 *
 * @example A presigned URL, signed anew for every request
 * ```ts
 * import type { Source } from "./types.ts";
 * const sign = (path: string) => `https://bucket.example/${path}?expires=${Date.now() + 60_000}`;
 * const source: Source = () => sign("model.bin");
 * console.log(typeof source); // "function"
 * ```
 */
export type Source = SourceInput | (() => SourceInput | Promise<SourceInput>);

/**
 * Any function with the signature of the global `fetch`.
 *
 * @example A fetch that adds a header
 * ```ts
 * import type { FetchLike } from "./types.ts";
 * const withToken: FetchLike = (request) => {
 *   request.headers.set("authorization", "Bearer token");
 *   return fetch(request);
 * };
 * ```
 */
export type FetchLike = (input: Request, init?: RequestInit) => Promise<Response>;

/**
 * Live progress of one `haul()` call. Pass an instance as `options.state` to
 * observe it; haul updates its fields in place.
 *
 * @example Observing progress
 * ```ts
 * import { HaulState } from "./types.ts";
 * const state = new HaulState();
 * console.log(state.validLength, state.isComplete); // 0 false
 * ```
 */
export class HaulState {
  /** Bytes of `<dest>.part` known good (durable ones plus those written in this call). */
  validLength = 0;
  /** Total size of the file when the server said it, else `null`. */
  reportedLength: number | null = null;
  /** Body bytes received by this call. */
  bytesRead = 0;
  /** True once the file is at `dest`. */
  isComplete = false;
}

/**
 * How often the checkpoint is written while a body streams.
 *
 * @example A smaller durability window
 * ```ts
 * import type { CheckpointInterval } from "./types.ts";
 * const every8MiB: CheckpointInterval = { bytes: 8 << 20, ms: 250 };
 * ```
 */
export interface CheckpointInterval {
  /**
   * Write a checkpoint after this many new bytes.
   * @default {64 * 1024 * 1024}
   */
  bytes?: number;
  /**
   * Write a checkpoint after this many milliseconds since the last one.
   * @default {1000}
   */
  ms?: number;
}

/**
 * Options of `haul()`. Only `dest` is required.
 *
 * @example
 * ```ts
 * import type { HaulOptions } from "./types.ts";
 * const options: HaulOptions = { dest: "big.iso", signal: AbortSignal.timeout(60_000) };
 * ```
 */
export interface HaulOptions {
  /** Where the finished file goes: a path, or a `file:` URL. */
  dest: string | URL;
  /**
   * The `fetch` to make the one request with: bring your own proxy, auth,
   * Deno `HttpClient`, Bun options or test transport.
   * @default {globalThis.fetch}
   */
  fetch?: FetchLike;
  /**
   * Extra request headers, merged over those of a `Request` input. `Range`,
   * `If-Range` and `Accept-Encoding` (and, with `revalidate`,
   * `If-Modified-Since`) are always haul's own;
   * `Cache-Control: no-transform` is a default you may override.
   */
  headers?: HeadersInit;
  /** Aborts the request and the body stream; progress is saved and the call rejects with the signal's reason. */
  signal?: AbortSignal;
  /** An object haul keeps up to date while it runs. */
  state?: HaulState;
  /** Called synchronously at most every ~100 ms while bytes flow, and once at the end. Keep it fast. */
  onProgress?: (state: HaulState) => void;
  /**
   * Verification block in bytes (a multiple of 64): on resume haul re-reads
   * and checks at most this much of `.part`.
   * @default {1048576}
   */
  blockSize?: number;
  /**
   * Download again even when `dest` exists (replacing it atomically at the end).
   * When false and `dest` exists, no request is made.
   * @default {false}
   */
  overwrite?: boolean;
  /**
   * When `dest` exists, ask the server whether it changed (wget `-N`): one
   * `GET` with `If-Modified-Since` set to the file's modification time. A 304
   * returns it as `alreadyComplete` (status 304, no body read; checked against
   * `integrity` when given); a 200 downloads the new version and replaces
   * `dest` atomically once it is complete and verified; any other answer
   * leaves `dest` as it was and rejects as a download would. Implies
   * `remoteTime`: a finished file's mtime is the server's `Last-Modified`,
   * which the next revalidation sends. No ETag is kept, so none is sent.
   * Needs a `GET` (a `Request` with another method is a `TypeError`).
   * @default {false}
   */
  revalidate?: boolean;
  /**
   * Set the finished file's modification time to the response's
   * `Last-Modified` (curl `-R`), when it has one that is strong (a second or
   * more before its `Date`, RFC 9110 §8.8.2.2); otherwise the file keeps the
   * time it was written.
   * @default {false}
   */
  remoteTime?: boolean;
  /**
   * Expected digest: an SRI string (`sha256-`, `sha384-` or
   * `sha512-<base64>`, as npm's `dist.integrity`; several tokens allowed),
   * `sha256:<hex>` or `sha512:<hex>`. With several algorithms the strongest
   * decides (SRI's rule); tokens of an unknown algorithm are ignored beside a
   * known one. SHA-384 or SHA-512 is computed on top of SHA-256 only when it
   * decides. On mismatch nothing appears at `dest`.
   */
  integrity?: string;
  /** How often to checkpoint while streaming (bytes and time; whichever comes first). */
  checkpointEvery?: CheckpointInterval;
  /**
   * Connections to download with, from 1 to 32. Above 1, when the server
   * serves ranges of a file with a known length and a strong validator, the
   * file is split into ranges fetched concurrently (one request per
   * connection, each checked like a resume); otherwise one connection is used.
   * A download saved with several ranges resumes with any value.
   * @default {1}
   */
  connections?: number;
  /**
   * Milliseconds a request may go without a byte: waiting for the response
   * head, or with a read of the body pending (time haul spends writing does
   * not count). A body that stalls is cancelled and the call rejects with a
   * retryable `PartialHaulError`, its progress saved, whose `cause` is a
   * `DOMException` named `TimeoutError`; a head that never comes rejects
   * with that `TimeoutError` itself (retryable, like a failed `fetch`). With
   * several connections, any one stalling ends the call the same way.
   * `0` or `Infinity`: no timeout. A negative number or `NaN` is a
   * `RangeError`.
   *
   * The default, 60 s, is nginx's for a client that stops reading and
   * aria2c's: longer than TCP's own retransmissions take to ride out a short
   * outage, short enough that a connection that died silently (no FIN, no
   * reset, which a read would otherwise wait for forever) is noticed within a
   * minute.
   * @default {60000}
   */
  stallTimeout?: number;
  /**
   * The most bytes per second to read, over all the call's connections (a
   * positive number; anything else is a `RangeError`). The body is read no
   * faster than this, so TCP's window slows the sender too: the link is
   * left free, not only the disk. The time haul waits between reads is not a
   * stall (`stallTimeout`). In `haulAll()`, the limit is over the whole
   * batch (there, not with `worker: true`: a `TypeError`); with `worker: true`
   * on `haul()` or `haulWithRetry()`, the worker paces the call. No limit by
   * default.
   */
  maxBytesPerSecond?: number;
  /**
   * Run the download on a worker thread of this process, so
   * the caller's event loop stays free: an HTTP server of Deno or Bun
   * in the same process keeps answering promptly while a fast body streams.
   * A custom `fetch` cannot run there (passing both is a `TypeError`); `state`
   * is updated and `onProgress` called on the caller's thread, from the
   * worker's reports. Errors arrive as the same classes with the same fields.
   * Each call starts its worker and stops it when it settles (tens of
   * milliseconds); `haulAll()` reuses its workers from item to item.
   * @default {false}
   */
  worker?: boolean;
}

/**
 * What a successful `haul()` call returns.
 *
 * @example Telling the user what happened
 * ```ts
 * import type { HaulResult } from "./types.ts";
 * function describe(result: HaulResult): string {
 *   if (result.alreadyComplete) return `${result.dest} was already there`;
 *   const resumed = result.resumedFrom > 0 ? `, resumed at byte ${result.resumedFrom}` : "";
 *   return `${result.dest}: ${result.size} bytes in ${result.elapsedMs} ms${resumed}`;
 * }
 * const seen = { dest: "a.bin", size: 3, resumedFrom: 1, alreadyComplete: false, elapsedMs: 12 };
 * console.log(describe(seen as HaulResult)); // "a.bin: 3 bytes in 12 ms, resumed at byte 1"
 * ```
 */
export interface HaulResult {
  /** The destination path (a file URL is given back as a path). */
  dest: string;
  /** Size of the file in bytes. */
  size: number;
  /**
   * Hex SHA-256 of the whole file: equal to `sha256sum dest`. `null` when it
   * was not computed: `dest` was already there (`alreadyComplete`) and no
   * `integrity` was given, so haul looked at its size and read none of its
   * bytes. With `integrity`, an existing file is read, hashed and checked,
   * and this is its digest.
   */
  sha256: string | null;
  /**
   * Hex SHA-384 of the whole file, present only when `integrity` was checked
   * by SHA-384 (its strongest token).
   */
  sha384?: string;
  /**
   * Hex SHA-512 of the whole file (equal to `sha512sum dest`), present only
   * when `integrity` was checked by SHA-512 (its strongest token), as with
   * npm's `sha512-…`.
   */
  sha512?: string;
  /** The ETag the server sent for this representation, if any. */
  etag: string | null;
  /** The `Content-Type` the server sent, if any. */
  contentType: string | null;
  /** The HTTP status of the one response (0 when no request was made; 304 when `dest` is unchanged). */
  status: number;
  /** Bytes already on disk (verified) when this call began. */
  resumedFrom: number;
  /** True when `dest` already existed: no request was made, or (`revalidate`) the server answered 304. */
  alreadyComplete: boolean;
  /** Wall time of the call in milliseconds. */
  elapsedMs: number;
  /** Connections used (0 when no request was made). */
  connections: number;
  /**
   * The file name the server suggested in `Content-Disposition` (`filename*`
   * before `filename`), reduced to a safe base name: no directory, no control
   * characters, no leading dot. `null` when no response gave one, or no
   * request was made (`alreadyComplete`). Chosen by the server: see
   * `contentDispositionName()` for what is removed before it is shown here.
   */
  suggestedName: string | null;
}
