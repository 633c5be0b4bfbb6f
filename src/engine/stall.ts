/**
 * `stallTimeout`: {@link headDeadline} bounds the wait for a head; {@link StallWatch} cancels a
 * body whose pending read waits too long (it is not wrapped, so the engine keeps its BYOB reader).
 * A caller's `fetch` must give a `Response` (`headDeadline`) of bytes ({@link bodyBytes}).
 *
 * @module
 */

import { redactUrl } from "../redact.ts";
import type { FetchLike, HaulOptions } from "../types.ts";

/**
 * Default `stallTimeout`, as nginx's `send_timeout` and aria2c's `--timeout`: longer than TCP's
 * retransmissions take over a short outage (about 31 s), short enough to notice a dead connection.
 */
export const DEFAULT_STALL_TIMEOUT = 60_000;

/** The longest `setTimeout` delay (about 24.8 days): the longest finite `stallTimeout`. */
const MAX_DELAY = 2 ** 31 - 1;

/** `options.stallTimeout` checked, in ms; `Infinity` when it is off (0 or `Infinity`). */
export function readStallTimeout(options: Pick<HaulOptions, "stallTimeout">): number {
  const ms = options.stallTimeout ?? DEFAULT_STALL_TIMEOUT;
  if (typeof ms !== "number" || !(ms >= 0) || (ms > MAX_DELAY && ms < Infinity)) {
    const use = `use up to ${MAX_DELAY} ms (24.8 days); 0 or Infinity: no timeout`;
    throw new RangeError(`Invalid stallTimeout: ${String(ms)}: ${use}`);
  }
  return ms === 0 ? Infinity : ms;
}

/**
 * `fetchFn` guarded: a head slower than `ms` is a retryable `TimeoutError`, an abort rejects with
 * its reason (even if `fetchFn` ignores its signal), and what is no `Response` a `TypeError`.
 */
export function headDeadline(fetchFn: FetchLike, ms: number): FetchLike {
  return async (request, init) => {
    const deadline = new AbortController();
    const stalled = () => {
      const why = `No response from ${redactUrl(request.url)} within ${ms} ms: the server stalled`;
      deadline.abort(new DOMException(`${why} before its headers (stallTimeout)`, "TimeoutError"));
    };
    const timer = ms > 0 && ms < Infinity ? setTimeout(stalled, ms) : 0;
    const signal = AbortSignal.any([request.signal, deadline.signal]);
    // Held until the answer: Node's fetch aborts them through WeakRefs alone (nodejs/undici#4068).
    const sent = new Request(request, { signal });
    const answer = Promise.resolve().then(() => fetchFn(sent, init)).finally(() => [request, sent]);
    try {
      const response = await untilAborted(answer, signal);
      const body: unknown = response?.body; // any fetch's Response, by shape (node-fetch 2's: no)
      const streams = body == null || typeof (body as ReadableStream).getReader === "function";
      if (streams && typeof response?.headers?.get === "function") return response;
      throw new TypeError(`Invalid options: fetch gave ${String(response)}, not a web Response`);
    } catch (error) {
      void answer.then((late) => late?.body?.cancel()).catch(() => {}); // came too late, or no body
      if (deadline.signal.aborted && !request.signal.aborted) throw deadline.signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  };
}

/** A body's chunk: a `Uint8Array` of any realm; else a `TypeError`, as `arrayBuffer()` throws. */
export function bodyBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk; // this realm's: the per-chunk case, no string made
  const type = Object.prototype.toString.call(chunk);
  if (type === "[object Uint8Array]") return chunk as Uint8Array;
  throw new TypeError(`Invalid response: its body gave ${type}, not a Uint8Array`);
}

/**
 * The stall timer of one body, armed by {@link StallWatch.reading} and disarmed by `idle()`: one
 * timer at a time, not one per chunk; time between reads (writing to disk) does not count.
 */
export class StallWatch {
  /** The `TimeoutError` the watch fired with, or `null`. */
  failure: DOMException | null = null;
  readonly #ms: number;
  readonly #onStall: (reason: DOMException) => void;
  /** When the pending read began, or -1 with none pending. */
  #since = -1;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #check = (): void => {
    this.#timer = undefined;
    if (this.#since < 0 || this.failure !== null) return; // the next read arms it again
    const waited = performance.now() - this.#since;
    if (waited < this.#ms) {
      this.#timer = setTimeout(this.#check, this.#ms - waited);
      return;
    }
    this.failure = new DOMException(`No body byte for ${this.#ms} ms`, "TimeoutError");
    this.#onStall(this.failure);
  };

  /** `onStall` is called once when a read waited `ms` (it cancels the body). */
  constructor(ms: number, onStall: (reason: DOMException) => void) {
    this.#ms = ms;
    this.#onStall = onStall;
  }

  reading(): void {
    if (this.#ms === Infinity) return;
    this.#since = performance.now();
    this.#timer ??= setTimeout(this.#check, this.#ms);
  }

  idle(): void {
    this.#since = -1;
  }

  /** The body ended or was cancelled: no more reads. */
  stop(): void {
    this.#since = -1;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** `promise`'s outcome, or `signal`'s reason once it aborts (only the wait ends, not the work). */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
