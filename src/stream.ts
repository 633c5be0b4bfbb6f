/**
 * `haulStream()`: the body of one URL as a `ReadableStream` that survives cuts. After a cut it
 * asks for the rest with `Range` + `If-Range` from the first byte the consumer has not been given,
 * and holds the answer to the standard of a resume (`protocol/range_check.ts`), so each byte is
 * given once, in order, and of one version. Nothing is written to disk.
 *
 * @module
 */

import { HaulError, PartialHaulError, ServerMisconfiguredError } from "./errors.ts";
import { createNativeHash } from "./runtime/native_hash.ts";
import { hasStrongValidator } from "./protocol/headers.ts";
import { parseIntegrity } from "./protocol/integrity.ts";
import { integrityFailure } from "./engine/outcome.ts";
import {
  type FailPlan,
  isOverLong,
  judgeBodyEnd,
  planResponse,
  type StreamPlan,
} from "./protocol/plan.ts";
import { checkRangeResponse, type KnownFile } from "./protocol/range_check.ts";
import { buildRangeRequest, buildRequest } from "./protocol/request.ts";
import { bodyBytes, headDeadline, readStallTimeout, StallWatch } from "./engine/stall.ts";
import { readRateLimit } from "./engine/rate_limit.ts";
import { checkOptions } from "./engine/settings.ts";
import { urlOf } from "./engine/sources.ts";
import { readPolicy, retrying, type RetryOptions } from "./batch/retry.ts";
import { explainMissingPermission } from "./store/destination.ts";
import { type HaulOptions, withInputSignal } from "./types.ts";

/** Options of {@link haulStream}; a mismatch of `integrity` errors the stream's last read. */
export interface HaulStreamOptions
  extends RetryOptions, Pick<HaulOptions, "fetch" | "headers" | "integrity" | "maxBytesPerSecond"> {
  /** Aborts the request, the body and any wait; the stream errors with the signal's reason. */
  signal?: AbortSignal;
  /** Ms a request may go without a byte before it counts as cut (0 or `Infinity`: none). */
  stallTimeout?: number;
}

/**
 * A `haulStream()` body was cut and cannot go on without risking a spliced byte: the server gave
 * no strong validator or no length, or it answered the resume with another version or other
 * bytes. Not retryable: the stream is over; a new `haulStream()` starts again at byte 0.
 *
 * @example
 * ```ts
 * import { StreamCutError } from "./stream.ts";
 * const error = new StreamCutError("Stream cut", { delivered: 10 });
 * console.log(error.delivered, error.retryable); // 10 false
 * ```
 */
export class StreamCutError extends HaulError {
  /** Bytes given to the consumer before the cut. */
  readonly delivered: number;
  /** Creates the error: never retryable. */
  constructor(message: string, options: ErrorOptions & { delivered: number }) {
    super(message, { cause: options.cause, retryable: false });
    this.name = "StreamCutError";
    this.delivered = options.delivered;
  }
}

const FRESH = { cursor: 0, checkpoint: null } as const;

/** The current response's body and what it declared. */
interface Body {
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly watch: StallWatch;
  readonly facts: Pick<StreamPlan, "bodyLength" | "total" | "bodyEndsFile">;
  received: number;
}

/**
 * Streams the body of `input`, reconnecting after a cut (see the module doc). Pull-based: nothing
 * is read from the network faster than the consumer reads. Cancelling the stream cancels the body
 * and ends any wait. `retries` (default 5) counts the failures in a row that gave no new byte. A
 * resume needs a length and a strong validator (docs/api.md, "What a resume needs"): without them
 * a cut after the first byte errors the stream.
 *
 * @param input the URL or `Request`.
 * @param options fetch, headers, signal, integrity, stall timeout, retry policy.
 * @returns the body. Its reads reject with an `UnexpectedStatusError` (a status other than
 *   200/206), a {@link PartialHaulError} (cut, retries used up; `validLength` bytes were given), a
 *   {@link StreamCutError}, a `ServerMisconfiguredError`, an {@link IntegrityError} (at the last
 *   read), or the signal's reason.
 * @throws {TypeError} options that are not an object, a `fetch`, `onRetry` or `signal` of the wrong
 *   type, an invalid URL, a `Request` that is not a `GET`, an invalid header or `integrity`.
 * @throws {RangeError} an invalid retry policy, `stallTimeout` or `maxBytesPerSecond`.
 *
 * @example Read a body, however often its connection breaks
 * ```ts
 * import { haulStream } from "./stream.ts";
 * const fetch = () => Promise.resolve(new Response("hello", { headers: { etag: '"v1"' } }));
 * const body = haulStream("https://example.com/hello.txt", { fetch });
 * console.log(await new Response(body).text()); // "hello"
 * ```
 */
export function haulStream(
  input: string | URL | Request,
  options: HaulStreamOptions = {},
): ReadableStream<Uint8Array> {
  checkOptions(options, "haulStream(url, options)", false); // fetch, onRetry, signal: as haul()'s
  const policy = readPolicy(options);
  const { headers, signal: outer, onRetry } = withInputSignal(input, options);
  const expected = options.integrity === undefined ? null : parseIntegrity(options.integrity);
  const stallMs = readStallTimeout(options);
  const limiter = readRateLimit(options);
  const url = urlOf(input); // a TypeError early, as for headers above
  const fetchFn = headDeadline(options.fetch ?? ((request) => globalThis.fetch(request)), stallMs);
  const stop = new AbortController();
  const hash = expected === null ? null : createNativeHash(expected.algorithm);
  let given = 0;
  let held: Uint8Array = new Uint8Array(0);
  let known: KnownFile | null = null;
  let body: Body | null = null;
  let controller: ReadableStreamDefaultController<Uint8Array>;

  const drop = (reason?: unknown): void => {
    body?.watch.stop();
    void body?.reader.cancel(reason).catch(() => {});
    body = null;
  };
  const end = (reason?: unknown): void => {
    outer?.removeEventListener("abort", onAbort);
    stop.abort(reason ?? new DOMException("Stream ended", "AbortError")); // once: a second is a no-op
    drop(reason);
  };
  const onAbort = (): void => {
    controller.error(outer!.reason);
    end(outer!.reason);
  };
  /** A cut: retryable while the rest can be proved to be the same file's, else the end. */
  const cut = (cause: unknown): HaulError => {
    drop(cause);
    if (given > 0 && known === null) {
      return new StreamCutError(
        `Stream of ${url} was cut at byte ${given} and cannot continue: the server gave no ` +
          "length and strong validator (ETag or Last-Modified) to prove the rest is the same file",
        { delivered: given, cause },
      );
    }
    const message = `Stream of ${url} was cut at byte ${given}`;
    return new PartialHaulError(message, { validLength: given, cause });
  };
  const open = async (): Promise<void> => {
    const resume = given > 0 ? known : null; // given > 0 with no `known` ended in cut()
    const span = { start: given, end: resume?.total ?? 0 };
    const response = await fetchFn(
      resume === null
        ? buildRequest(input, headers, stop.signal, FRESH)
        : buildRangeRequest(input, headers, stop.signal, span, resume.etag ?? resume.lastModified!),
    );
    const { status, headers: answer } = response;
    const plan = planResponse({ url, ...FRESH }, status, answer);
    const verdict = resume === null ? null : checkRangeResponse(span, resume, status, answer);
    if (verdict === null ? plan.kind !== "stream" : verdict.kind !== "write") {
      await response.body?.cancel().catch(() => {});
      // The plan of a status other than 200, 206 and 416 is its UnexpectedStatusError.
      if (verdict === null || verdict.kind === "fail") throw (plan as FailPlan).error;
      const why = verdict.kind === "reset" ? "the file changed" : "the server did not resume";
      const detail = "reason" in verdict ? verdict.reason : "";
      const message = `Stream of ${url} cannot continue at byte ${given}: ${why}: ${detail}`;
      throw new StreamCutError(message, { delivered: given });
    }
    const first = resume === null ? plan as StreamPlan : null; // a fresh answer planned "stream"
    const facts = first ?? { bodyLength: span.end - given, total: span.end, bodyEndsFile: true };
    if (first !== null) {
      const { etag, lastModified } = first.validators;
      const total = first.bodyEndsFile && hasStrongValidator(etag, lastModified) ? first.total : 0;
      known = total ? { total, etag, lastModified: etag === null ? lastModified : null } : null;
    }
    const reader = (response.body ?? new Blob().stream()).getReader();
    const watch = new StallWatch(stallMs, (why) => void reader.cancel(why).catch(() => {}));
    body = { reader, watch, facts, received: 0 };
  };
  /** One attempt: the next bytes (connecting first if need be), or `null` at the body's end. */
  const next = async (): Promise<Uint8Array | null> => {
    if (body === null && known !== null && given === known.total) return null;
    if (body === null) await open();
    const current = body!;
    current.watch.reading();
    let read: ReadableStreamReadResult<Uint8Array>;
    try {
      read = await current.reader.read();
    } catch (error) {
      throw cut(current.watch.failure ?? error);
    } finally {
      current.watch.idle();
    }
    if (current.watch.failure !== null) throw cut(current.watch.failure);
    if (read.done) {
      const { facts, received } = current;
      const verdict = judgeBodyEnd({ ...facts, received, fileLength: given });
      if (verdict.kind === "complete") return null;
      throw cut(new Error(verdict.reason));
    }
    if (isOverLong(current.received, bodyBytes(read.value).length, current.facts.bodyLength)) {
      throw new ServerMisconfiguredError(
        `Server sent more than the ${current.facts.bodyLength} bytes it declared: ${url}`,
      );
    }
    current.received += read.value.length;
    return read.value;
  };

  return new ReadableStream<Uint8Array>({
    start(streamController) {
      controller = streamController;
      if (outer?.aborted) return onAbort();
      outer?.addEventListener("abort", onAbort, { once: true });
    },
    async pull() {
      try {
        let chunk: Uint8Array | null = held; // a burst at a time under a limit
        while (chunk?.length === 0) {
          chunk = await retrying(next, policy, { signal: stop.signal, onRetry });
        }
        if (stop.signal.aborted) return;
        if (chunk !== null) {
          held = chunk.subarray(limiter?.burst ?? Infinity);
          chunk = chunk.subarray(0, limiter?.burst ?? Infinity);
          hash?.update(chunk);
          given += chunk.length;
          controller.enqueue(chunk);
          return await limiter?.take(chunk.length, stop.signal); // the next read waits
        }
        end();
        const failure = expected &&
          integrityFailure(expected, hash!.digests(), (found) => `${url}: got ${found}`);
        if (!failure) return controller.close();
        controller.error(failure);
      } catch (caught) {
        if (stop.signal.aborted) return;
        const error = explainMissingPermission(caught, url); // Deno's NotCapable names its flag
        end(error);
        controller.error(error);
      }
    },
    cancel: end,
  }, { highWaterMark: 0 });
}
