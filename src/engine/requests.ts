/**
 * The requests of a download, made from the call's sources, and the judgement of their answers
 * (`protocol/plan.ts`, `protocol/range_check.ts`).
 *
 * @module
 */

import { UnexpectedStatusError } from "../errors.ts";
import type { Checkpoint } from "../protocol/checkpoint.ts";
import { type Plan, planResponse, statusError, type Validators } from "../protocol/plan.ts";
import { checkRangeResponse, type RangeVerdict } from "../protocol/range_check.ts";
import { buildRangeRequest, buildRequest } from "../protocol/request.ts";
import type { SourceInput } from "../types.ts";
import type { CallContext } from "./settings.ts";
import type { ByteSpan } from "./range_split.ts";
import { urlOf } from "./sources.ts";
import { StallWatch, untilAborted } from "./stall.ts";

/** Statuses an expired signature gets. */
const EXPIRED_STATUSES = new Set([400, 401, 403]);
/** What a 400's body says when a signature expired (S3, CDNs). */
const EXPIRED_BODY = /expired|ExpiredToken|AccessDenied/i;

/** A response (its body unread), its verdict, the URL (redacted) of the source that answered. */
interface Answer<T> {
  readonly response: Response;
  readonly verdict: T;
  readonly url: string;
  /** From another source than the call's first (a range's answer). */
  readonly mirror?: boolean;
}

/**
 * The first request, from `cursor` (with `Range` + `If-Range` when a checkpoint is resumed), to
 * the call's first source.
 */
export async function firstRequest(
  ctx: CallContext,
  cursor: number,
  saved: Checkpoint | null,
): Promise<Answer<Plan>> {
  const { options, first, url, since } = ctx;
  const digestProves = trustsDigest(ctx);
  const request = buildRequest(first.input, options.headers, options.signal, {
    cursor,
    checkpoint: digestProves && saved ? { ...saved, etag: null, lastModified: null } : saved,
    since,
  });
  const response = await ctx.fetchFn(request);
  const sent = { url, cursor, checkpoint: saved, since, digestProves };
  let plan = planResponse(sent, response.status, response.headers);
  if (plan.kind === "fail" && saved !== null) { // progress on disk: an expired signature?
    plan = { ...plan, error: await expiry(ctx, response, plan.error) };
  }
  return { response, verdict: plan, url };
}

/**
 * A request for `asked`, to the source of the `k`-th connection; a status that says nothing about
 * the file is an {@link UnexpectedStatusError} in `fail`'s place, and no answer the `fetch` error.
 * Another mirror than the call's first source refuses instead (no answer, any wrong one).
 */
export async function rangeRequest(
  ctx: CallContext,
  k: number,
  asked: ByteSpan,
  file: { readonly total: number; readonly validators: Validators },
  signal: AbortSignal,
  progress: boolean,
): Promise<Answer<RangeVerdict | Error>> {
  const index = ctx.sources.pick(k);
  const mirror = index !== ctx.first.index;
  const refused = (reason: string, response = new Response(null)): Answer<RangeVerdict> => ({
    response,
    verdict: { kind: "refuse", reason: mirror ? `another mirror: ${reason}` : reason },
    url: "",
    mirror,
  });
  const trust = trustsDigest(ctx);
  const etag = trust ? null : file.validators.etag;
  const lastModified = trust || etag !== null ? null : file.validators.lastModified;
  const known = { total: file.total, etag, lastModified };
  let input: SourceInput, response: Response;
  try {
    input = await untilAborted(ctx.sources.resolve(index), signal);
    response = await ctx.fetchFn(
      buildRangeRequest(input, ctx.options.headers, signal, asked, etag ?? lastModified),
    );
  } catch (error) {
    if (signal.aborted || !(error instanceof Error)) throw error;
    if (mirror) return refused(error.message);
    // No answer (a reset, a refused HTTP/2 stream, a head past stallTimeout): busy, as with a 503.
    return { response: new Response(null), verdict: error, url: ctx.url };
  }
  const headers = trust ? new Headers(response.headers) : response.headers;
  if (trust) { for (const name of ["etag", "last-modified"]) headers.delete(name); }
  const url = mirror ? urlOf(input) : ctx.url;
  const verdict = checkRangeResponse(asked, known, response.status, headers);
  if (mirror && verdict.kind !== "write") return refused(verdict.reason, response);
  if (verdict.kind !== "fail") return { response, verdict, url, mirror };
  const error = statusError(url, response);
  const judged = progress ? await expiry(ctx, response, error) : error;
  return { response, verdict: judged, url, mirror };
}

/**
 * Whether validators give way to the digest: with several sources and an `integrity`, they are
 * neither compared nor sent in `If-Range` (mirrors rarely share ETags); the length must still agree.
 */
export function trustsDigest(ctx: CallContext): boolean {
  return ctx.sources.mirrors && ctx.expected !== null;
}

/**
 * A retryable error for the status an expired signature gets (a 401, 403, or 400 saying so)
 * answered to the call's first source, a function (called anew, it signs anew), with progress saved.
 */
async function expiry<E>(
  ctx: CallContext,
  response: Response,
  error: E,
): Promise<E | UnexpectedStatusError> {
  if (!(error instanceof UnexpectedStatusError) || error.retryable) return error;
  const { status, headers, body } = response;
  if (!EXPIRED_STATUSES.has(status) || !ctx.sources.isFunction(ctx.first.index)) return error;
  if (status === 400) { // its first chunk (an error body comes whole), within stallTimeout
    const reader = body?.getReader();
    const cancel = () => void reader?.cancel().catch(() => {});
    const watch = new StallWatch(ctx.settings.stallTimeout, cancel);
    watch.reading();
    const start = await reader?.read().catch(() => undefined).finally(() => watch.stop());
    cancel();
    if (!EXPIRED_BODY.test(new TextDecoder().decode(start?.value?.subarray(0, 4096)))) return error;
  }
  const { url } = ctx;
  const { retryAfterMs } = error;
  return new UnexpectedStatusError({ status, headers, url, retryAfterMs, retryable: true });
}
