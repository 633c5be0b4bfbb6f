/**
 * Errors from the download worker to the page. Structured clone keeps an
 * error's message but not its class or fields, so `isRetryable()`,
 * `instanceof PartialHaulError` or `error.status` would stop working on the
 * page: {@link errorToWire} writes down the class name and every own field
 * (`Headers` as pairs), the cause chain too; {@link errorFromWire} builds the
 * same class again with those fields.
 *
 * @module
 */

import {
  ContentRangeError,
  ControlFileError,
  DestinationError,
  HaulError,
  IntegrityError,
  PartialHaulError,
  ServerMisconfiguredError,
  UnexpectedStatusError,
} from "../errors.ts";

/** An error as it crosses to the page. */
export interface WireError {
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

/** The classes rebuilt as themselves; any other name becomes an `Error` of that name. */
const CLASSES: Readonly<Record<string, { prototype: Error }>> = {
  HaulError,
  PartialHaulError,
  UnexpectedStatusError,
  ServerMisconfiguredError,
  ContentRangeError,
  ControlFileError,
  DestinationError,
  IntegrityError,
  TypeError,
  RangeError,
  SyntaxError,
  Error,
};

/** How deep a cause chain is carried. */
const MAX_CAUSES = 4;

/** A field's value as it can cross: data as it is, anything else as text. */
function cloneable(value: unknown): unknown {
  if (value === null || typeof value !== "object") {
    return typeof value === "function" || typeof value === "symbol" ? String(value) : value;
  }
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
    if (value instanceof Headers) {
      fields[key] = [...value];
      headerFields.push(key);
    } else {
      fields[key] = cloneable(value);
    }
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

/** Sets a non-enumerable own field, as `Error` has `message`, `stack` and `cause`. */
function hidden(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true });
}

/**
 * The error a record describes: an instance of the same haul class (or
 * `TypeError`, `RangeError`, …) with the same fields, cause and stack.
 */
export function errorFromWire(wire: WireError): Error {
  const prototype = (CLASSES[wire.name] ?? Error).prototype;
  const error = Object.create(prototype) as Error;
  hidden(error, "message", wire.message);
  if (wire.stack !== undefined) hidden(error, "stack", wire.stack);
  const fields: Record<string, unknown> = { ...wire.fields };
  for (const key of wire.headerFields) {
    fields[key] = new Headers(wire.fields[key] as [string, string][]);
  }
  Object.assign(error, fields);
  // haul's classes set `name` as an own field, as this does; built-ins inherit theirs.
  if (error.name !== wire.name) error.name = wire.name;
  if (wire.cause !== undefined) {
    hidden(error, "cause", typeof wire.cause === "string" ? wire.cause : errorFromWire(wire.cause));
  }
  return error;
}
