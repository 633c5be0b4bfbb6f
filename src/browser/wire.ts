/**
 * What crosses between the page (`page.ts`) and the download worker (`worker.ts`): a call as data
 * (every data option as it is, `headers` as pairs; the `LOCAL` ones served by messages; any other
 * function refused), an error as its class name and own fields, built again as the same class so
 * that `isRetryable()`, `instanceof` and `error.status` work on the page.
 *
 * @module
 */

import type { RetryInfo, RetryOptions } from "../batch/retry.ts";
import * as errors from "../errors.ts";
import { hidden } from "../errors.ts";
import type { OpfsDirectory } from "../runtime/browser/opfs_fs.ts";
import type { HaulOptions, HaulResult, HaulState } from "../types.ts";

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

/** One call: which function runs on the worker, what to download, and how. */
export interface WireCall {
  readonly kind: "haul" | "retry";
  readonly url: string;
  readonly options: WireOptions;
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
  | (Omit<RetryInfo, "error"> & { readonly type: "retry"; readonly error: WireError })
  | { readonly type: "done"; readonly state: StateSnapshot; readonly result: HaulResult }
  | {
    readonly type: "failed";
    readonly state: StateSnapshot;
    readonly error: WireError;
    /** Whether the call ended because the page aborted it. */
    readonly aborted: boolean;
  };

/** The data of a call, to post to the worker; a `TypeError` names an option that is a function. */
export function toWireCall(kind: WireCall["kind"], url: URL, options: CallOptions): WireCall {
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
  return { kind, url: url.href, options: data as WireOptions };
}

/** An error as it crosses to the page. */
interface WireError {
  /** The class name (`"PartialHaulError"`, `"TypeError"`, …). */
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  /** Own fields other than `name`, `message`, `stack` and `cause`. */
  readonly fields: Readonly<Record<string, unknown>>;
  /** Fields that held `Headers`, sent as `[name, value]` pairs. */
  readonly headerFields: readonly string[];
  /** The cause, when it was an error (or anything else, as a string). */
  readonly cause: WireError | string | undefined;
}

/** The classes rebuilt as themselves: every one `errors.ts` exports, and the built-ins. */
const CLASSES = { ...errors, TypeError, RangeError, SyntaxError, Error };

const MAX_CAUSES = 4;

/** A field's value as it can cross: data as it is, anything else as text. */
function cloneable(value: unknown): unknown {
  if (typeof value === "function" || typeof value === "symbol") return String(value);
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(cloneable);
  if (value instanceof Date || value instanceof Uint8Array) return value;
  return String(value);
}

/** An error (or anything thrown) as a structured-clone-safe record (`depth`: causes already followed). */
export function errorToWire(error: unknown, depth = 0): WireError {
  // Anything else thrown (a string, a number) crosses as an Error with its text.
  const thrown = typeof error === "object" && error !== null ? error : { message: String(error) };
  const record = thrown as Record<string, unknown>;
  const fields: Record<string, unknown> = {};
  const headerFields: string[] = [];
  for (const key of Object.keys(record)) {
    if (key === "name" || key === "message" || key === "stack" || key === "cause") continue;
    const value = record[key];
    if (value instanceof Headers) headerFields.push(key);
    fields[key] = value instanceof Headers ? [...value] : cloneable(value);
  }
  const cause = record["cause"];
  return {
    name: typeof record["name"] === "string" ? record["name"] : "Error",
    message: typeof record["message"] === "string" ? record["message"] : String(error),
    stack: typeof record["stack"] === "string" ? record["stack"] : undefined,
    fields,
    headerFields,
    cause: cause === undefined
      ? undefined
      : depth >= MAX_CAUSES || typeof cause !== "object" || cause === null
      ? String(cause)
      : errorToWire(cause, depth + 1),
  };
}

/**
 * The error a record describes: an instance of the same haul class (or
 * `TypeError`, `RangeError`, …) with the same fields, cause and stack.
 */
export function errorFromWire(wire: WireError): Error {
  // Any other name (or a function of errors.ts that is no class) becomes an `Error` of that name.
  const found = (CLASSES as Record<string, { prototype?: unknown }>)[wire.name]?.prototype;
  const error = Object.create(found instanceof Error ? found : Error.prototype) as Error;
  hidden(error, "message", wire.message);
  if (wire.stack !== undefined) hidden(error, "stack", wire.stack);
  const fields: Record<string, unknown> = { ...wire.fields };
  for (const key of wire.headerFields) fields[key] = new Headers(fields[key] as [string, string][]);
  Object.assign(error, fields);
  // haul's classes set `name` as an own field, as this does; built-ins inherit theirs.
  if (error.name !== wire.name) error.name = wire.name;
  if (wire.cause !== undefined) {
    hidden(error, "cause", typeof wire.cause === "string" ? wire.cause : errorFromWire(wire.cause));
  }
  return error;
}
