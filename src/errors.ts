/**
 * The errors haul raises; {@link isRetryable} says whether calling `haul()` again can help.
 *
 * @module
 */

import { fetchFailure, inCauses } from "./fetch_failure.ts";
import { redactHeaders, redactUrl } from "./redact.ts";

/**
 * Options shared by every haul error.
 *
 * @example
 * ```ts
 * import { HaulError, type HaulErrorOptions } from "./errors.ts";
 * const options: HaulErrorOptions = { retryable: true, cause: new Error("reset") };
 * console.log(new HaulError("Download failed", options).retryable); // true
 * ```
 */
export interface HaulErrorOptions extends ErrorOptions {
  /** Whether calling `haul()` again for the same destination can succeed. */
  retryable?: boolean;
}

/**
 * The base of every error haul raises on purpose.
 *
 * @example Telling haul's errors apart from others
 * ```ts
 * import { HaulError } from "./errors.ts";
 * const error: unknown = new HaulError("Download failed: example");
 * console.log(error instanceof HaulError); // true
 * ```
 */
export class HaulError extends Error {
  /** Whether calling `haul()` again for the same destination can succeed. */
  readonly retryable: boolean;
  /** Creates the error; `retryable` defaults to false. */
  constructor(message: string, options?: HaulErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HaulError";
    this.retryable = options?.retryable ?? false;
  }
}

/**
 * The body ended or broke before every byte arrived; what was durable is saved, so calling
 * `haul()` again resumes. Always retryable.
 *
 * @example Retrying after a broken stream
 * ```ts
 * import { PartialHaulError } from "./errors.ts";
 * const error = new PartialHaulError("Download interrupted: https://example.com/a.bin", {
 *   validLength: 1024,
 * });
 * console.log(error.retryable, error.validLength); // true 1024
 * ```
 */
export class PartialHaulError extends HaulError {
  /** Bytes durable in `<dest>.part` and recorded in the checkpoint. */
  readonly validLength: number;
  /** Creates the error: `validLength` bytes saved, always retryable. */
  constructor(message: string, options: ErrorOptions & { validLength: number }) {
    super(message, { cause: options.cause, retryable: true });
    this.name = "PartialHaulError";
    this.validLength = options.validLength;
  }
}

// deno-fmt-ignore
const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([
  408, 421, 425, 429, 500, 502, 503, 504, 507, 509, 520, 521, 522, 523, 524, 598, 599,
]);

/**
 * Details carried by {@link UnexpectedStatusError}.
 *
 * @example
 * ```ts
 * import type { UnexpectedStatusDetails } from "./errors.ts";
 * const details: UnexpectedStatusDetails = {
 *   status: 404,
 *   headers: new Headers(),
 *   url: "https://example.com/missing",
 * };
 * ```
 */
export interface UnexpectedStatusDetails {
  /** The response status. */
  status: number;
  /** The response headers (credentials are redacted by the error). */
  headers: Headers;
  /** The request URL (credentials are redacted by the error). */
  url: string | URL;
  /** Milliseconds the server asked to wait, from `Retry-After`. */
  retryAfterMs?: number | null;
  /** Overrides the status-based retryable verdict (used after a checkpoint reset). */
  retryable?: boolean;
}

/**
 * The server answered with a status haul does not download from: a 3xx left unfollowed, a 4xx or
 * 5xx, or a 416 that does not mean "already complete".
 *
 * @example Backing off as the server asks
 * ```ts
 * import { UnexpectedStatusError } from "./errors.ts";
 * const error = new UnexpectedStatusError({
 *   status: 503,
 *   headers: new Headers({ "retry-after": "2" }),
 *   url: "https://example.com/a.bin",
 *   retryAfterMs: 2000,
 * });
 * console.log(error.isTransient, error.retryAfterMs); // true 2000
 * ```
 */
export class UnexpectedStatusError extends HaulError {
  /** The response status. */
  readonly status: number;
  /** The response headers, with credential-bearing values redacted. */
  readonly headers: Headers;
  /** True for statuses where a later attempt may succeed (408, 421, 425, 429, 5xx gateway errors…). */
  readonly isTransient: boolean;
  /** Milliseconds the server asked to wait (`Retry-After`), or `null`. */
  readonly retryAfterMs: number | null;
  /** Creates the error from the response; its message names status, URL and a hint. */
  constructor(details: UnexpectedStatusDetails) {
    const isTransient = TRANSIENT_STATUSES.has(details.status);
    const location = details.status >= 300 && details.status < 400
      ? details.headers.get("location")
      : null;
    const hint = isTransient
      ? "retry later"
      : location !== null
      ? `redirect to ${redactUrl(new URL(location, String(details.url)))} was not followed`
      : "check the URL and credentials";
    super(
      `Download refused: HTTP ${details.status} from ${redactUrl(details.url)}: ${hint}`,
      { retryable: details.retryable ?? isTransient },
    );
    this.name = "UnexpectedStatusError";
    this.status = details.status;
    this.headers = redactHeaders(details.headers);
    this.isTransient = isTransient;
    this.retryAfterMs = details.retryAfterMs ?? null;
  }
}

/**
 * The server broke HTTP's rules so that its bytes cannot be counted or trusted (a
 * `Content-Encoding` despite `identity`, a body past its length, a malformed `Content-Length` or
 * one that disagrees with `Content-Range`). `retryable` when the checkpoint was reset.
 *
 * @example
 * ```ts
 * import { ServerMisconfiguredError } from "./errors.ts";
 * const error = new ServerMisconfiguredError("Server sent gzip despite identity");
 * console.log(error.retryable); // false
 * ```
 */
export class ServerMisconfiguredError extends HaulError {
  /** `"ServerMisconfiguredError"`. */
  override name = "ServerMisconfiguredError";
}

/**
 * A `Content-Range` that is malformed or disagrees with the request or the checkpoint.
 * `retryable` when the checkpoint was reset first (the next call starts from byte 0).
 *
 * @example
 * ```ts
 * import { ContentRangeError } from "./errors.ts";
 * const error = new ContentRangeError("Malformed Content-Range: bytes 9-3/10");
 * console.log(error.name); // "ContentRangeError"
 * ```
 */
export class ContentRangeError extends HaulError {
  /** `"ContentRangeError"`. */
  override name = "ContentRangeError";
}

/**
 * The checkpoint `<dest>.part.ctrl` was corrupt, truncated or of an unknown version; it is
 * discarded first, so this is always retryable.
 *
 * @example
 * ```ts
 * import { ControlFileError } from "./errors.ts";
 * const error = new ControlFileError("Checkpoint corrupt: bad magic");
 * console.log(error.retryable); // true
 * ```
 */
export class ControlFileError extends HaulError {
  /** Creates the error (always retryable). */
  constructor(message: string, options?: ErrorOptions) {
    super(message, { cause: options?.cause, retryable: true });
    this.name = "ControlFileError";
  }
}

/**
 * The destination cannot be used (it cannot hold the sidecar files, is a directory, no permission,
 * a full disk), or another call holds its lock. Retryable for a lock held by another call (not a
 * second URL to one `dest` in this process) or lost, a full disk and too many open files.
 *
 * @example
 * ```ts
 * import { DestinationError } from "./errors.ts";
 * const error = new DestinationError("Destination is a directory: /tmp", "/tmp");
 * console.log(error.retryable); // false
 * ```
 */
export class DestinationError extends HaulError {
  /** The destination path concerned. */
  readonly path: string;
  /** Creates the error about `path`. */
  constructor(message: string, path: string, options?: HaulErrorOptions) {
    super(message, options);
    this.name = "DestinationError";
    this.path = path;
  }
}

/**
 * The downloaded bytes do not match `integrity`: nothing is placed at `dest`, the sidecar files
 * are removed. Not retryable.
 *
 * @example
 * ```ts
 * import { IntegrityError } from "./errors.ts";
 * const error = new IntegrityError("Integrity mismatch", { expected: ["ab"], actual: "cd" });
 * console.log(error.algorithm, error.actual); // "sha256" "cd"
 * ```
 */
export class IntegrityError extends HaulError {
  /** The algorithm checked: the strongest in `integrity` (`"sha256"`, `"sha384"` or `"sha512"`). */
  readonly algorithm: string;
  /** The accepted digests of `algorithm`, hex. */
  readonly expected: readonly string[];
  /** The digest (`algorithm`) of what arrived, hex. */
  readonly actual: string;
  /** Creates the error; `algorithm` defaults to `"sha256"`. */
  constructor(
    message: string,
    details: { algorithm?: string; expected: readonly string[]; actual: string },
  ) {
    super(message, { retryable: false });
    this.name = "IntegrityError";
    this.algorithm = details.algorithm ?? "sha256";
    this.expected = details.expected;
    this.actual = details.actual;
  }
}

/** The names of haul's errors, for one that crossed a realm (`instanceof` fails). */
export const HAUL_ERROR_NAMES: RegExp =
  /Haul|Status|Misconfigured|ContentRange|ControlFile|Destination|Integrity|StreamCut/;

/**
 * Whether calling `haul()` again for the same destination can help: true for
 * {@link PartialHaulError}, transient statuses, a reset checkpoint, a busy lock, `fetch` failures
 * that may pass ({@link fetchFailure}) and timeouts; false for an `AbortError`, what `fetch`
 * refuses to do, and anything else. Checks `name`, not only `instanceof`, so it works across realms.
 *
 * @example A bounded retry loop
 * ```ts
 * import { isRetryable, PartialHaulError } from "./errors.ts";
 * console.log(isRetryable(new PartialHaulError("cut", { validLength: 0 }))); // true
 * console.log(isRetryable(new DOMException("stop", "AbortError"))); // false
 * console.log(isRetryable(new TypeError("fetch failed", { cause: new Error("bad port") }))); // false
 * ```
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof HaulError) return error.retryable;
  if (typeof error !== "object" || error === null) return false;
  const { name, retryable } = error as { name?: unknown; retryable?: unknown };
  const ours = typeof name === "string" && name.endsWith("Error") && HAUL_ERROR_NAMES.test(name);
  if (ours && typeof retryable === "boolean") return retryable; // from another realm
  if (name === "AbortError") return false;
  if (name === "TimeoutError") return true;
  const failure = fetchFailure(error);
  if (failure !== null) return failure.retryable;
  // fetch rejects with TypeError on network failure; misuse (haul's "Invalid dest: …") is one too.
  const message = String((error as { message?: unknown }).message);
  return name === "TypeError" && !/^Invalid\b/.test(message);
}

/** Sets a non-enumerable own field, as `Error` has `message`, `stack` and `cause`. */
export function hidden(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true });
}

/** The errno code (`ENOSPC`, `EACCES`…) of the filesystem failure behind an error, or `null`. */
export function filesystemCode(error: unknown): string | null {
  return inCauses(
    error,
    ({ name, code }) => name === "FsShimError" && typeof code === "string" ? code : null,
  );
}
