/**
 * How a download's pieces end, decided without I/O (`download.ts` acts on it).
 *
 * @module
 */

import {
  ContentRangeError,
  HaulError,
  IntegrityError,
  PartialHaulError,
  ServerMisconfiguredError,
} from "../errors.ts";
import { isStrongEtag } from "../protocol/headers.ts";
import { judgeBodyEnd, type StreamPlan, type Validators } from "../protocol/plan.ts";
import { toDestinationError } from "../store/destination.ts";
import { CallbackFailure } from "./progress.ts";
import { OverLongBody } from "./segment.ts";

/**
 * A range answer that shows the bytes on disk cannot be continued.
 *
 * @example
 * ```ts
 * import { RangeReset, resetError } from "./outcome.ts";
 * console.log(resetError(new RangeReset("ETag changed"), "https://x/f")?.name); // "ContentRangeError"
 * ```
 */
export class RangeReset extends Error {}

/**
 * Whether the rest of the file may be asked for in ranges: range support
 * shown, a strong validator, a length, and two ranges of `floor` bytes left.
 *
 * @param plan the first response's plan.
 * @param response the first response.
 * @param validators the file's validators, as the call knows them.
 * @param floor the smallest range worth a connection.
 * @returns true to split.
 *
 * @example
 * ```ts
 * import { splittable } from "./outcome.ts";
 * const plan = { kind: "stream", offset: 0, rewind: false, bodyLength: 100, total: 100,
 *   bodyEndsFile: true, validators: { etag: '"a"', lastModified: null, contentType: null } } as const;
 * const response = new Response(null, { headers: { "accept-ranges": "bytes" } });
 * console.log(splittable(plan, response, plan.validators, 10)); // true
 * ```
 */
export function splittable(
  plan: StreamPlan,
  response: Response,
  validators: Validators,
  floor: number,
): boolean {
  const { total } = plan;
  const { etag, lastModified } = validators;
  if (!plan.bodyEndsFile || total === null || total - plan.offset < 2 * floor) return false;
  const accepts = (response.headers.get("accept-ranges") ?? "").toLowerCase().split(",")
    .some((token) => token.trim() === "bytes");
  const strong = etag !== null ? isStrongEtag(etag) : lastModified !== null;
  return strong && (response.status === 206 || accepts);
}

/**
 * The validators of a response, completed by those of the checkpoint it
 * continues (a 206 need not repeat them).
 *
 * @param now the response's.
 * @param saved the checkpoint's, or `null`.
 * @returns the file's validators.
 */
export function merged(now: Validators, saved: Validators | null): Validators {
  return {
    etag: now.etag ?? saved?.etag ?? null,
    lastModified: now.lastModified ?? saved?.lastModified ?? null,
    contentType: now.contentType ?? saved?.contentType ?? null,
  };
}

/**
 * A body of unknown length ended at `end`: the file's length, or an error
 * (an interruption to resume from what was saved).
 *
 * @param plan the response's plan.
 * @param end where the body ended in the file.
 * @returns the file's length.
 * @throws {Error} when nothing says the file ends there, or the body was short.
 *
 * @example
 * ```ts
 * import { judgeEnd } from "./outcome.ts";
 * const plan = { kind: "stream", offset: 0, rewind: false, bodyLength: null, total: null,
 *   bodyEndsFile: true, validators: { etag: null, lastModified: null, contentType: null } } as const;
 * console.log(judgeEnd(plan, 42)); // 42
 * ```
 */
export function judgeEnd(plan: StreamPlan, end: number): number {
  const verdict = judgeBodyEnd({
    received: end - plan.offset,
    fileLength: end,
    bodyLength: plan.bodyLength,
    total: null,
    bodyEndsFile: plan.bodyEndsFile,
  });
  if (verdict.kind !== "complete") throw new Error(verdict.reason);
  return end;
}

/**
 * Every connection stopped with `span` still pending. Progress made in this
 * call is saved; with none, the next call starts over rather than ask the
 * same ranges again.
 *
 * @param span the first pending span.
 * @param refused why the last range was refused, if one was.
 * @param accepted bytes this call wrote.
 * @returns the failure to record.
 *
 * @example
 * ```ts
 * import { leftOver, RangeReset } from "./outcome.ts";
 * console.log(leftOver({ start: 0, end: 10 }, "416", 0) instanceof RangeReset); // true
 * ```
 */
export function leftOver(
  span: { readonly start: number; readonly end: number },
  refused: string | null,
  accepted: number,
): Error {
  const reason = refused ?? "no connection was left";
  if (accepted === 0) return new RangeReset(reason);
  return new Error(`no connection could fetch bytes ${span.start}-${span.end - 1} (${reason})`);
}

/**
 * The error of a failure that discards the download (a range of another
 * version, a body past its declared end), or `null` for any other.
 *
 * @param error what a range failed with.
 * @param url the redacted URL, for messages.
 * @returns the error to reject with once the download is discarded, or `null`.
 */
export function resetError(error: unknown, url: string): HaulError | null {
  if (error instanceof RangeReset) {
    return new ContentRangeError(
      `Server answered a range inconsistently (${error.message}): ${url}: ` +
        "progress discarded, the next call starts over",
      { retryable: true },
    );
  }
  if (error instanceof OverLongBody) {
    return new ServerMisconfiguredError(
      `Server sent more bytes than it declared (${error.message}): ${url}: ` +
        "the download was discarded",
      { retryable: error.start > 0 },
    );
  }
  return null;
}

/**
 * The error an interrupted call rejects with, once its last checkpoint was
 * written (or failed).
 *
 * @param cause the first failure, or the abort's reason.
 * @param call what the call knows.
 * @returns the error to throw.
 *
 * @example
 * ```ts
 * import { interruption } from "./outcome.ts";
 * const call = { dest: "a.bin", url: "https://x/a.bin", saved: true, recorded: 10, total: 20,
 *   aborted: false };
 * console.log((interruption(new Error("reset"), call) as Error).message);
 * // "Download interrupted with 10 of 20 bytes saved (reset): https://x/a.bin: progress saved; call again to resume"
 * ```
 */
export function interruption(
  cause: unknown,
  call: {
    readonly dest: string;
    readonly url: string;
    readonly saved: boolean;
    readonly recorded: number;
    readonly total: number | null;
    readonly aborted: boolean;
  },
): unknown {
  const { dest, url, saved, recorded, total } = call;
  if (call.aborted) return cause;
  if (cause instanceof CallbackFailure) return cause.thrown; // the caller's bug: no retry cures it
  if (cause instanceof HaulError) return cause; // a status, with progress on disk
  const fsError = toDestinationError(cause, dest, saved);
  if (fsError !== cause) return fsError;
  const reason = cause instanceof Error ? cause.message : String(cause);
  if (!saved) {
    return new PartialHaulError(
      `Download interrupted before any byte was saved (${reason}): ${url}: ` +
        "the next call starts over",
      { cause, validLength: 0 },
    );
  }
  const of = total === null ? "" : ` of ${total}`;
  return new PartialHaulError(
    `Download interrupted with ${recorded}${of} bytes saved (${reason}): ${url}: ` +
      "progress saved; call again to resume",
    { cause, validLength: recorded },
  );
}

/**
 * An integrity failure of a download from mirrors, told which source served
 * which bytes (as far as this call knows); any other error as it is.
 *
 * @param error what the commit threw.
 * @param served `"<url>: bytes a-b"` for each range this call wrote; `null` with one source.
 * @param base bytes an earlier attempt wrote.
 * @returns the error to throw.
 *
 * @example
 * ```ts
 * import { provenance } from "./outcome.ts";
 * import { IntegrityError } from "../errors.ts";
 * const error = new IntegrityError("Integrity check failed", { expected: ["aa"], actual: "bb" });
 * const told = provenance(error, ["https://b/f: bytes 10-19"], 10) as Error;
 * console.log(told.message);
 * // "Integrity check failed (https://b/f: bytes 10-19; bytes 0-9 from an earlier attempt)"
 * ```
 */
export function provenance(
  error: unknown,
  served: readonly string[] | null,
  base: number,
): unknown {
  if (served === null || !(error instanceof IntegrityError)) return error;
  const earlier = base > 0 ? [`bytes 0-${base - 1} from an earlier attempt`] : [];
  return new IntegrityError(`${error.message} (${[...served, ...earlier].join("; ")})`, error);
}
