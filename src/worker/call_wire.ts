/**
 * One call as it crosses to the worker thread, and the messages both ways.
 * Only data crosses: a `Request` becomes its URL, method and headers, `dest`
 * a path or a `file:` URL's href, `headers` pairs; the caller's `signal`,
 * `state`, `onProgress` and `onRetry` stay on the caller's thread and are
 * served by messages. A custom `fetch` cannot cross (a function is not
 * data), so the two options together are refused.
 *
 * @module
 */

import type { RetryOptions } from "../batch/retry.ts";
import type { HaulOptions, HaulResult } from "../types.ts";
import type { WireError } from "./error_wire.ts";

/** Which function runs on the worker. */
export type CallKind = "haul" | "retry";

/** The data of `haul()`'s and `haulWithRetry()`'s options. */
export interface WireOptions {
  readonly dest: string;
  readonly destIsUrl: boolean;
  readonly headers: [string, string][] | undefined;
  readonly blockSize: number | undefined;
  readonly overwrite: boolean | undefined;
  readonly integrity: string | undefined;
  readonly checkpointEvery: { bytes?: number; ms?: number } | undefined;
  readonly connections: number | undefined;
  readonly stallTimeout: number | undefined;
  readonly retries: number | undefined;
  readonly minDelayMs: number | undefined;
  readonly maxDelayMs: number | undefined;
}

/** One call: what to download, how, and which reports the caller wants back. */
export interface WireCall {
  readonly kind: CallKind;
  readonly url: string;
  /** The `Request`'s method and headers, when the caller passed a `Request`. */
  readonly request: { method: string; headers: [string, string][] } | null;
  readonly options: WireOptions;
  /** Whether the caller reads progress (`state` or `onProgress`). */
  readonly progress: boolean;
  /** Whether the caller has an `onRetry`. */
  readonly retries: boolean;
}

/** A `HaulState`'s fields. */
export interface StateSnapshot {
  readonly validLength: number;
  readonly reportedLength: number | null;
  readonly bytesRead: number;
  readonly isComplete: boolean;
}

/** Messages to the worker. */
export type ToWorker = { readonly type: "start"; readonly call: WireCall } | {
  readonly type: "abort";
};

/** Messages from the worker. */
export type FromWorker =
  | { readonly type: "ready" }
  /** `haul()` reported progress: the caller's `state` follows, its `onProgress` runs. */
  | { readonly type: "progress"; readonly state: StateSnapshot }
  /** The state moved between two progress reports: only the caller's `state` follows. */
  | { readonly type: "state"; readonly state: StateSnapshot }
  | {
    readonly type: "retry";
    readonly attempt: number;
    readonly maxAttempts: number;
    readonly delayMs: number;
    readonly error: WireError;
  }
  | { readonly type: "done"; readonly state: StateSnapshot; readonly result: HaulResult }
  | {
    readonly type: "failed";
    readonly state: StateSnapshot;
    readonly error: WireError;
    /** Whether the call ended because the caller aborted it. */
    readonly aborted: boolean;
  };

/**
 * Refuses a custom `fetch` for a call bound for a worker thread (`worker:
 * true`): a function cannot cross to it.
 *
 * @param options the caller's options.
 * @throws {TypeError} when both are given.
 *
 * @example
 * ```ts
 * import { refuseFetchOnWorker } from "./call_wire.ts";
 * refuseFetchOnWorker({}); // fine
 * try {
 *   refuseFetchOnWorker({ fetch: globalThis.fetch });
 * } catch (error) {
 *   console.log(error instanceof TypeError); // true
 * }
 * ```
 */
export function refuseFetchOnWorker(options: { fetch?: unknown }): void {
  if (options.fetch !== undefined) {
    throw new TypeError(
      "Invalid options: worker: true runs the download on a worker thread, which cannot call " +
        "the fetch passed in: drop one of the two",
    );
  }
}

/**
 * The data of a call, checked.
 *
 * @param kind which function runs on the worker.
 * @param input the caller's URL or `Request`.
 * @param options the caller's options.
 * @returns the call to post to the worker.
 * @throws {TypeError} a custom `fetch`, a `Request` with a body, or no options object.
 *
 * @example
 * ```ts
 * import { toWireCall } from "./call_wire.ts";
 * const call = toWireCall("haul", "https://example.com/a.bin", { dest: "a.bin", worker: true });
 * console.log(call.url, call.options.dest); // "https://example.com/a.bin" "a.bin"
 * ```
 */
export function toWireCall(
  kind: CallKind,
  input: string | URL | Request,
  options: HaulOptions & RetryOptions,
): WireCall {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Invalid options: haul(url, { dest }) needs an options object");
  }
  refuseFetchOnWorker(options);
  if (input instanceof Request && input.body !== null) {
    throw new TypeError("Invalid input: a Request with a body cannot be downloaded on a worker");
  }
  const dest = options.dest;
  return {
    kind,
    url: input instanceof Request ? input.url : String(input),
    request: input instanceof Request
      ? { method: input.method, headers: [...input.headers] }
      : null,
    options: {
      dest: dest instanceof URL ? dest.href : dest,
      destIsUrl: dest instanceof URL,
      headers: options.headers === undefined ? undefined : [...new Headers(options.headers)],
      blockSize: options.blockSize,
      overwrite: options.overwrite,
      integrity: options.integrity,
      checkpointEvery: options.checkpointEvery === undefined
        ? undefined
        : { ...options.checkpointEvery },
      connections: options.connections,
      stallTimeout: options.stallTimeout,
      retries: options.retries,
      minDelayMs: options.minDelayMs,
      maxDelayMs: options.maxDelayMs,
    },
    progress: options.state !== undefined || options.onProgress !== undefined,
    retries: options.onRetry !== undefined,
  };
}

/**
 * The call's input and options again, on the worker (without callbacks).
 *
 * @param call the posted call.
 * @returns the input and the options to pass to `haul()` or `haulWithRetry()`.
 *
 * @example
 * ```ts
 * import { fromWireCall, toWireCall } from "./call_wire.ts";
 * const { options } = fromWireCall(toWireCall("haul", "https://example.com/a", {
 *   dest: new URL("file:///tmp/a"),
 * }));
 * console.log(options.dest instanceof URL); // true
 * ```
 */
export function fromWireCall(
  call: WireCall,
): { input: string | Request; options: HaulOptions & RetryOptions } {
  const wire = call.options;
  const options: HaulOptions & RetryOptions = {
    dest: wire.destIsUrl ? new URL(wire.dest) : wire.dest,
  };
  if (wire.headers !== undefined) options.headers = wire.headers;
  if (wire.blockSize !== undefined) options.blockSize = wire.blockSize;
  if (wire.overwrite !== undefined) options.overwrite = wire.overwrite;
  if (wire.integrity !== undefined) options.integrity = wire.integrity;
  if (wire.checkpointEvery !== undefined) options.checkpointEvery = wire.checkpointEvery;
  if (wire.connections !== undefined) options.connections = wire.connections;
  if (wire.stallTimeout !== undefined) options.stallTimeout = wire.stallTimeout;
  if (wire.retries !== undefined) options.retries = wire.retries;
  if (wire.minDelayMs !== undefined) options.minDelayMs = wire.minDelayMs;
  if (wire.maxDelayMs !== undefined) options.maxDelayMs = wire.maxDelayMs;
  const input = call.request === null
    ? call.url
    : new Request(call.url, { method: call.request.method, headers: call.request.headers });
  return { input, options };
}
