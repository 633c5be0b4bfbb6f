/**
 * The public option, result and state types of `haul()`.
 *
 * @module
 */

/** A URL or a `Request`: what one request is made from. */
export type SourceInput = string | URL | Request;

/**
 * Where the file comes from: a URL or `Request`, or a function returning one,
 * called again for every request so that an expiring signed URL is signed
 * anew. `haul()` takes one, or an array of mirrors of one file.
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
   * The `fetch` to make requests with (a proxy, auth, a test transport…).
   * @default {globalThis.fetch}
   */
  fetch?: FetchLike;
  /**
   * Extra request headers, merged over a `Request` input's. `Range`,
   * `If-Range` and `Accept-Encoding` are haul's own (and `If-Modified-Since`
   * with `revalidate`); `Cache-Control: no-transform` is a default you may override.
   */
  headers?: HeadersInit;
  /** Aborts the call (as a `Request` input's own signal does); progress is saved; it rejects with the reason. */
  signal?: AbortSignal;
  /** An object haul keeps up to date while it runs. */
  state?: HaulState;
  /** Called synchronously at most every ~100 ms while bytes flow, and once done. Keep it fast; a throw before ends the call, unretried. */
  onProgress?: (state: HaulState) => void;
  /**
   * Verification block in bytes (a multiple of 64): at most this much of
   * `.part` is re-read and checked on resume.
   * @default {1048576}
   */
  blockSize?: number;
  /**
   * Download again even when `dest` exists, replacing it atomically at the
   * end. When false and `dest` exists, no request is made.
   * @default {false}
   */
  overwrite?: boolean;
  /**
   * When `dest` exists, one `GET` with `If-Modified-Since` its mtime (wget `-N`): a 304 keeps it
   * (`alreadyComplete`), a 200 replaces it once verified, anything else rejects. Implies
   * `remoteTime`; needs a `GET` (else a `TypeError`). Details: docs/api.md.
   * @default {false}
   */
  revalidate?: boolean;
  /**
   * Set the finished file's mtime to the response's `Last-Modified` (curl `-R`) when it is strong
   * (a second or more before `Date`, RFC 9110 §8.8.2.2).
   * @default {false}
   */
  remoteTime?: boolean;
  /**
   * Expected digest: SRI (`sha256-`, `sha384-` or `sha512-<base64>`, several tokens allowed: the
   * strongest known one decides), `sha256:<hex>` or `sha512:<hex>`. On mismatch nothing appears
   * at `dest`.
   */
  integrity?: string;
  /** How often to checkpoint while streaming (bytes and time; whichever comes first). */
  checkpointEvery?: CheckpointInterval;
  /**
   * Connections to download with, from 1 to 32. Above 1, a file of known length with a strong
   * validator, from a server that serves ranges, is fetched as concurrent ranges.
   * @default {1}
   */
  connections?: number;
  /**
   * Milliseconds a request may wait for its response head or a body byte (time spent writing does
   * not count). A stalled body rejects with a retryable `PartialHaulError` (progress saved, `cause`
   * a `TimeoutError`), a stalled head with the `TimeoutError` itself. `0` or `Infinity`: no
   * timeout; negative, `NaN` or over 2^31-1 ms (24.8 days): a `RangeError`. Why 60 s: docs/api.md.
   * @default {60000}
   */
  stallTimeout?: number;
  /**
   * The most bytes per second to read over all the call's connections (a positive number, else a
   * `RangeError`); none by default. Waiting is not a stall. In `haulAll()`, over the whole batch.
   */
  maxBytesPerSecond?: number;
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
   * Hex SHA-256 of the whole file (`sha256sum dest`); `null` when `dest` was
   * already there and no `integrity` was given, so none of it was read.
   */
  sha256: string | null;
  /** Hex SHA-384 of the file, only when `integrity` was checked by SHA-384. */
  sha384?: string;
  /** Hex SHA-512 of the file, only when `integrity` was checked by SHA-512. */
  sha512?: string;
  /** The ETag the server sent for this representation, if any (`W/`-prefixed when haul counted it weak: docs/http.md). */
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
   * The file name the server suggested in `Content-Disposition`, reduced to a
   * safe base name (no directory, control character or leading dot); `null`
   * when none was given or no request was made.
   */
  suggestedName: string | null;
}

/** The options with each `Request` source's own signal beside `signal`: either aborts the call. */
export function withInputSignal<O>(input: Source | readonly Source[], options: O): O {
  const own = [input].flat().flatMap((source) => source instanceof Request ? [source.signal] : []);
  const given = (options as HaulOptions | null)?.signal;
  if (own.length === 0 || !(given === undefined || given instanceof AbortSignal)) return options;
  return { ...options, signal: AbortSignal.any(given === undefined ? own : [given, ...own]) };
}
