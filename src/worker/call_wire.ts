/**
 * One call as it crosses to the worker thread, and the messages both ways.
 * Only data crosses: a `Request` becomes its URL, method and headers, `dest`
 * a path or a `file:` URL's href, `headers` pairs; every other data option
 * crosses as it is, so an option added to `HaulOptions` or `RetryOptions`
 * needs no edit here (`WireOptions` is derived from them, and the compiler
 * refuses one that is not data). The caller's `signal`, `state`,
 * `onProgress` and `onRetry` stay on the caller's thread and are served by
 * messages. A custom `fetch` cannot cross (a function is not data), so the
 * two options together are refused.
 *
 * @module
 */

import type { RetryOptions } from "../batch/retry.ts";
import type { HaulOptions, HaulResult, Source, SourceInput } from "../types.ts";
import type { WireError } from "./error_wire.ts";

/** Which function runs on the worker. */
export type CallKind = "haul" | "retry";

/** The options of `haul()` and `haulWithRetry()`. */
type CallOptions = HaulOptions & RetryOptions;

/**
 * The options that never cross: callbacks and live objects, served by
 * messages (`signal`, `state`, `onProgress`, `onRetry`) or refused (`fetch`),
 * and `worker` itself.
 */
const LOCAL = ["fetch", "signal", "state", "onProgress", "onRetry", "worker"] as const;
/** The options that cross converted (a `file:` URL, `HeadersInit`). */
const CONVERTED = ["dest", "headers"] as const;

/**
 * The data of `haul()`'s and `haulWithRetry()`'s options: all of them but
 * {@link LOCAL}, with `dest` and `headers` converted.
 */
type WireOptions =
  & Omit<CallOptions, (typeof LOCAL)[number] | (typeof CONVERTED)[number]>
  & {
    readonly dest: string;
    readonly destIsUrl: boolean;
    readonly headers?: [string, string][];
  };

/**
 * Whether every value a `T` can hold crosses `postMessage` unchanged: no
 * function, and no object with methods (`URL`, `Headers`, `AbortSignal`).
 */
type IsData<T> = T extends string | number | boolean | null | undefined ? true
  : T extends (...args: never[]) => unknown ? false
  : T extends readonly (infer E)[] ? IsData<E>
  : T extends object ? false extends { [K in keyof T]-?: IsData<T[K]> }[keyof T] ? false : true
  : false;
/** Compiles only when `Ok` is `true`. */
type Assert<Ok extends true> = Ok;
/**
 * An option added to `HaulOptions` or `RetryOptions` that is not data fails
 * to compile here: add it to {@link LOCAL} and serve it by a message, or
 * convert it like `dest`.
 */
type _WireOptionsAreData = Assert<false extends IsData<WireOptions> ? false : true>;

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
 * Refuses a custom `fetch` for a call bound for a worker thread: a function cannot cross.
 *
 * @throws {TypeError} when both are given.
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
 * The data of a call, checked, to post to the worker.
 *
 * @throws {TypeError} a custom `fetch`, a `Request` with a body, or no options object.
 */
export function toWireCall(
  kind: CallKind,
  source: Source | readonly Source[],
  options: CallOptions,
): WireCall {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Invalid options: haul(url, { dest }) needs an options object");
  }
  if (typeof source === "function" || Array.isArray(source)) {
    throw new TypeError(
      "Invalid input: with worker: true, give one URL or Request (a function or mirrors stay on " +
        "the caller's thread)",
    );
  }
  const input = source as SourceInput;
  refuseFetchOnWorker(options);
  if (input instanceof Request && input.body !== null) {
    throw new TypeError("Invalid input: a Request with a body cannot be downloaded on a worker");
  }
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || (LOCAL as readonly string[]).includes(key)) continue;
    if ((CONVERTED as readonly string[]).includes(key)) continue;
    if (typeof value === "function") {
      throw new TypeError(
        `Invalid options: ${key} is a function, which cannot cross to the worker thread ` +
          "(worker: true): drop one of the two",
      );
    }
    data[key] = value;
  }
  const dest = options.dest;
  const wire = {
    ...data,
    dest: dest instanceof URL ? dest.href : dest,
    destIsUrl: dest instanceof URL,
  } as WireOptions;
  return {
    kind,
    url: input instanceof Request ? input.url : String(input),
    request: input instanceof Request
      ? { method: input.method, headers: [...input.headers] }
      : null,
    options: options.headers === undefined
      ? wire
      : { ...wire, headers: [...new Headers(options.headers)] },
    progress: options.state !== undefined || options.onProgress !== undefined,
    retries: options.onRetry !== undefined,
  };
}

/** The call's input and options again, on the worker (without callbacks). */
export function fromWireCall(
  call: WireCall,
): { input: string | Request; options: CallOptions } {
  const { dest, destIsUrl, headers, ...data } = call.options;
  const options: CallOptions = { ...data, dest: destIsUrl ? new URL(dest) : dest };
  if (headers !== undefined) options.headers = headers;
  const input = call.request === null
    ? call.url
    : new Request(call.url, { method: call.request.method, headers: call.request.headers });
  return { input, options };
}
