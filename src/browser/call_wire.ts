/**
 * What crosses between the page (`page.ts`) and the download worker
 * (`worker.ts`): the call as data, and the messages both ways. Every data
 * option crosses as it is (`headers` as pairs), so an option added to
 * `HaulOptions` or `RetryOptions` needs no edit here; `signal`, `state`,
 * `onProgress` and `onRetry` stay on the page and are served by messages; any
 * other function (a custom `fetch`) cannot cross and is refused.
 *
 * @module
 */

import type { RetryOptions } from "../batch/retry.ts";
import type { OpfsDirectory } from "../runtime/browser/opfs_fs.ts";
import type { HaulOptions, HaulResult, HaulState } from "../types.ts";
import type { WireError } from "./error_wire.ts";

/** Which function runs on the worker. */
export type CallKind = "haul" | "retry";

/** The options of the browser's `haul()` and `haulWithRetry()`: `dest` is an OPFS path. */
type CallOptions = Omit<HaulOptions, "dest" | "fetch"> & RetryOptions & { dest: string };

/** The options served by messages, which never cross. */
const LOCAL = ["signal", "state", "onProgress", "onRetry"] as const;

type WireOptions =
  & Omit<CallOptions, (typeof LOCAL)[number] | "headers">
  & { readonly headers?: [string, string][] };

/** Whether every value a `T` can hold crosses `postMessage` unchanged. */
type IsData<T> = T extends string | number | boolean | null | undefined ? true
  : T extends (...args: never[]) => unknown ? false
  : T extends readonly (infer E)[] ? IsData<E>
  : T extends object ? false extends { [K in keyof T]-?: IsData<T[K]> }[keyof T] ? false : true
  : false;
type Assert<Ok extends true> = Ok;
/** An option added to `HaulOptions` that is not data fails to compile here: serve it by a message. */
type _WireOptionsAreData = Assert<false extends IsData<WireOptions> ? false : true>;

/** One call: what to download, how, and whether the page wants retry reports. */
export interface WireCall {
  readonly kind: CallKind;
  readonly url: string;
  readonly options: WireOptions;
  readonly retries: boolean;
}

/** A `HaulState`'s fields. */
export type StateSnapshot = Readonly<Pick<HaulState, keyof HaulState>>;

/** Messages to the worker: a call (with the directory `dest` is in), or an abort. */
export type ToWorker =
  | { readonly type: "start"; readonly call: WireCall; readonly directory?: OpfsDirectory }
  | { readonly type: "abort" };

/** Messages from the worker. */
export type FromWorker =
  | { readonly type: "progress"; readonly state: StateSnapshot }
  | { readonly type: "warning"; readonly message: string }
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
    /** Whether the call ended because the page aborted it. */
    readonly aborted: boolean;
  };

/**
 * The data of a call, to post to the worker.
 *
 * @throws {TypeError} an option that is a function (a custom `fetch`), named.
 */
export function toWireCall(kind: CallKind, url: URL, options: CallOptions): WireCall {
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || (LOCAL as readonly string[]).includes(key)) continue;
    if (typeof value === "function") {
      throw new TypeError(
        `Invalid options: ${key} is a function, which cannot cross to the download worker`,
      );
    }
    data[key] = key === "headers" ? [...new Headers(value as HeadersInit)] : value;
  }
  return {
    kind,
    url: url.href,
    options: data as WireOptions,
    retries: options.onRetry !== undefined,
  };
}
