/**
 * Deciding what to do with a response, without doing it (pure, so every branch is tested from a
 * table): status, headers and checkpoint in, a plan out; then the verdict on where its body ended.
 *
 * @module
 */

import {
  excerpt,
  foreignBody,
  keepable,
  modifiedLately,
  parseContentRange,
  parseEtag,
  parseRetryAfter,
  parseUnsatisfiedRange,
  strongMatch,
  validatorChange,
} from "./headers.ts";
import {
  ContentRangeError,
  type HaulError,
  ServerMisconfiguredError,
  UnexpectedStatusError,
} from "../errors.ts";
import type { Checkpoint } from "./checkpoint.ts";
import type { ResumeRequest } from "./request.ts";

/** The request as it was sent, and its URL for messages. */
interface SentRequest extends ResumeRequest {
  readonly url: string;
  /** The final digest, not the validators, proves the file (mirrors with an `integrity`): only a changed length shows another file. */
  readonly digestProves?: boolean;
}

/** The representation metadata a plan carries into the checkpoint (a well-formed ETag, a strong Last-Modified). */
export type Validators = Pick<Checkpoint, "etag" | "lastModified" | "contentType">;

/** Stream the body into `.part` at `offset` (0, or the resume cursor; 0 for a resume: start over). */
export interface StreamPlan {
  readonly kind: "stream";
  readonly offset: number;
  /** Bytes the body must hold, or `null` when only its end says (chunked, no length). */
  readonly bodyLength: number | null;
  readonly total: number | null;
  /** Whether the body's end is the file's end: a 200, or a 206 with a known total (`bytes a-b/*` may stop anywhere). */
  readonly bodyEndsFile: boolean;
  readonly validators: Validators;
}

/** `finish`: `.part` is complete (a 416 confirms its length); `unchanged`: a 304, `dest` is current. */
type DonePlan = { readonly kind: "finish" | "unchanged" };

/** Refuse the response; `reset`: discard the checkpoint first, so the next call starts from byte 0. */
export interface FailPlan {
  readonly kind: "fail";
  readonly error: HaulError;
  readonly reset: boolean;
}

/** What to do with a response. */
export type Plan = StreamPlan | DonePlan | FailPlan;

/** Decides how to handle a response to haul's one request (`now`, in ms, for `Retry-After` dates). */
export function planResponse(
  sent: SentRequest,
  status: number,
  headers: Headers,
  now: number = Date.now(),
): Plan {
  const resuming = sent.cursor > 0;
  if (status === 416) return planUnsatisfied(sent, headers);
  // Only a request that sent If-Modified-Since (from byte 0) may be answered 304 (RFC 9110 §15.4.5).
  if (status === 304 && sent.cursor === 0 && (sent.since ?? null) !== null) {
    return { kind: "unchanged" };
  }
  if (status !== 200 && status !== 206) {
    return fail(statusError(sent.url, { status, headers }, now));
  }
  const foreign = foreignBody(headers);
  if (foreign !== null) {
    return refuse(
      ServerMisconfiguredError,
      `Server sent ${foreign}: ${sent.url}: its bytes cannot be counted against the file`,
      resuming,
    );
  }
  const validators = readValidators(headers);
  const declared = parseLength(headers.get("content-length"));
  if (declared === "malformed") {
    return refuse(
      ServerMisconfiguredError,
      `Malformed Content-Length from ${sent.url}: ${headers.get("content-length")}`,
      resuming,
    );
  }
  if (status === 200) return planFull(sent, validators, declared);
  return planPartial(sent, headers, validators, declared);
}

function planFull(sent: SentRequest, validators: Validators, length: number | null): Plan {
  const saved = sent.checkpoint;
  const total = saved?.reportedLength ?? null;
  if (sent.cursor > 0 && saved !== null) {
    const same = saved.etag !== null
      ? strongMatch(saved.etag, validators.etag)
      : saved.lastModified !== null && saved.lastModified === validators.lastModified;
    // A length unknown or another: as likely the tail (a Range applied, labelled 200) as the file.
    if (same && (length === null || total === null || (length !== total && length !== 0))) {
      const of = `of ${length ?? "unstated"} bytes for a file of ${total ?? "unstated"}`;
      const what = `a 200 under the same validator, ${of}: ${sent.url}`;
      return refuse(ServerMisconfiguredError, `Server answered the resume with ${what}`, true);
    }
    if (total !== null && length === 0) { // an empty 200: a broken server, not a new version
      return fail(
        new ServerMisconfiguredError(
          `Server answered the resume with a ${length}-byte 200 for a ${total}-byte file: ` +
            `${sent.url}: progress kept; try again later`,
          { retryable: true },
        ),
      );
    }
  }
  return {
    kind: "stream",
    offset: 0,
    bodyLength: length,
    total: length,
    bodyEndsFile: true,
    validators,
  };
}

function planPartial(
  sent: SentRequest,
  headers: Headers,
  validators: Validators,
  declared: number | null,
): Plan {
  const resuming = sent.cursor > 0;
  const rawRange = headers.get("content-range");
  const range = parseContentRange(rawRange);
  if (range === null) {
    return refuse(
      ContentRangeError,
      rawRange === null
        ? `Server sent 206 without Content-Range: ${sent.url}`
        : `Malformed Content-Range from ${sent.url}: ${excerpt(rawRange)}`,
      resuming,
    );
  }
  const bodyLength = range.last - range.first + 1;
  if (declared !== null && declared !== bodyLength) {
    return refuse(
      ServerMisconfiguredError,
      `Content-Length ${declared} disagrees with Content-Range ${rawRange}: ${sent.url}`,
      resuming,
    );
  }
  const stream = (offset: number, total: number | null): StreamPlan => ({
    kind: "stream",
    offset,
    bodyLength,
    total,
    bodyEndsFile: total !== null,
    validators,
  });
  // The whole representation from byte 0: a 200 in all but name.
  if (range.first === 0) return stream(0, range.complete);
  if (!resuming) {
    return refuse(
      ContentRangeError,
      `Server sent 206 from byte ${range.first} to a request without Range: ${sent.url}`,
      false,
    );
  }
  if (range.first !== sent.cursor) {
    return refuse(
      ContentRangeError,
      `Server resumed at byte ${range.first} instead of ${sent.cursor}: ${sent.url}`,
      true,
    );
  }
  const kept = sent.checkpoint?.etag === null ? "Last-Modified" : "ETag";
  const changed = describeChange(sent, headers, range.complete) ??
    (headers.has(kept) || sent.digestProves === true ? null : `no ${kept} (RFC 9110 §15.3.7)`);
  if (changed !== null) {
    return refuse(
      ContentRangeError,
      `Resource changed since the partial download (${changed}): ${sent.url}`,
      true,
    );
  }
  return stream(sent.cursor, range.complete ?? sent.checkpoint?.reportedLength ?? null);
}

function planUnsatisfied(sent: SentRequest, headers: Headers): Plan {
  if (sent.cursor === 0) {
    return fail(new UnexpectedStatusError({ status: 416, headers, url: sent.url }));
  }
  const length = parseUnsatisfiedRange(headers.get("content-range"));
  const changed = describeChange(sent, headers, length);
  if (length === sent.cursor && changed === null) return { kind: "finish" };
  return refuse(
    ContentRangeError,
    `Server refused the resume at byte ${sent.cursor} (416, length ${length ?? "unknown"}): ` +
      sent.url,
    true,
  );
}

/** Why a 206/416 cannot continue the saved download, if so: a weak or malformed validator counts. */
function describeChange(sent: SentRequest, headers: Headers, total: number | null): string | null {
  const saved = sent.checkpoint;
  if (saved === null) return null;
  const changed = sent.digestProves === true ? null : validatorChange(saved, headers);
  const length = saved.reportedLength;
  if (changed !== null || length === null || total === null || length === total) return changed;
  return `length ${length} is now ${total}`;
}

function readValidators(headers: Headers): Validators {
  const lately = modifiedLately(headers.get("last-modified"), headers.get("date"));
  const etag = parseEtag(headers.get("etag"));
  return {
    // A file modified within the second before `Date` may have an ETag of whole seconds (nginx's):
    // weak then, as Apache marks its own. Only a strong Last-Modified (RFC 9110 §8.8.2.2) is kept.
    etag: etag === null ? null : lately === true && !etag.weak ? `W/${etag.raw}` : etag.raw,
    lastModified: lately === false ? headers.get("last-modified")!.trim() : null,
    contentType: keepable(headers.get("content-type")),
  };
}

function parseLength(value: string | null): number | null | "malformed" {
  if (value === null) return null;
  // Some stacks join repeated identical headers: "10, 10".
  const parts = value.trim().split(/\s*,\s*/);
  if (parts.some((part) => part !== parts[0])) return "malformed";
  const length = /^\d{1,16}$/.test(parts[0] ?? "") ? Number(parts[0]) : NaN;
  return Number.isSafeInteger(length) ? length : "malformed";
}

/** The error of a status haul does not download, with the wait its `Retry-After` asks for. */
export function statusError(
  url: string | URL,
  { status, headers }: Pick<Response, "status" | "headers">,
  now: number = Date.now(),
): UnexpectedStatusError {
  const retryAfterMs = parseRetryAfter(headers.get("retry-after"), now);
  return new UnexpectedStatusError({ status, headers, url, retryAfterMs });
}

function fail(error: HaulError, reset = false): FailPlan {
  return { kind: "fail", error, reset };
}

/** Refuses a response; a refused resume discards progress so the next call starts clean. */
function refuse(
  ErrorClass: typeof ContentRangeError | typeof ServerMisconfiguredError,
  message: string,
  resuming: boolean,
): FailPlan {
  const suffix = resuming ? "; progress discarded, the next call starts over" : "";
  return fail(new ErrorClass(message + suffix, { retryable: resuming }), resuming);
}

/** What is known when a body ends: `received` in this call, `fileLength` with the resume offset. */
export interface BodyEndFacts extends Pick<StreamPlan, "bodyLength" | "total" | "bodyEndsFile"> {
  readonly received: number;
  readonly fileLength: number;
}

/** `short` is an interruption (progress is kept); `unknown-end`: the next call asks for the rest. */
type BodyEndVerdict =
  | { readonly kind: "complete" }
  | { readonly kind: "short" | "unknown-end"; readonly reason: string };

/** Whether a chunk takes the body past its declared length (the download must be discarded). */
export function isOverLong(received: number, chunk: number, bodyLength: number | null): boolean {
  return bodyLength !== null && received + chunk > bodyLength;
}

/** Judges a body that ended without an error. */
export function judgeBodyEnd(facts: BodyEndFacts): BodyEndVerdict {
  const { received, fileLength, bodyLength, total } = facts;
  const short = bodyLength !== null && received < bodyLength;
  if (short || (total !== null && fileLength < total)) {
    const expected = short ? bodyLength : total;
    return { kind: "short", reason: `body ended at ${fileLength} of ${expected} bytes` };
  }
  if (!facts.bodyEndsFile) {
    return {
      kind: "unknown-end",
      reason: `the server did not say whether the file ends at byte ${fileLength}`,
    };
  }
  return { kind: "complete" };
}
