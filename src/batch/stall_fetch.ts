/**
 * `--stall-timeout`: a `fetch` whose response fails with a `TimeoutError`
 * when no byte arrives for too long, so that the attempt ends (its progress
 * saved by haul) and a retry can start.
 *
 * @module
 */

import type { FetchLike } from "../types.ts";

/**
 * Wraps `fetchFn` so that waiting for the response head, or for the next
 * body chunk, longer than `timeoutMs` aborts the request and fails it with a
 * `DOMException` named `TimeoutError` (which `isRetryable` accepts). Time the
 * consumer spends not reading (e.g. writing to disk) does not count. An abort
 * of the request's own signal fails the body at once with the signal's reason.
 *
 * @param fetchFn the `fetch` to wrap.
 * @param timeoutMs the longest wait for a byte; 0 returns `fetchFn` unchanged.
 * @returns the guarded `fetch`.
 *
 * @example
 * ```ts ignore
 * // Not run by `deno test --doc`: it downloads from the network.
 * import { haul } from "../engine/haul.ts";
 * import { stallGuardedFetch } from "./stall_fetch.ts";
 * const fetch = stallGuardedFetch((request) => globalThis.fetch(request), 30_000);
 * await haul("https://example.com/big.iso", { dest: "big.iso", fetch });
 * ```
 */
export function stallGuardedFetch(fetchFn: FetchLike, timeoutMs: number): FetchLike {
  if (!(timeoutMs > 0)) return fetchFn;
  return async (request, init) => {
    const guard = new Guard(request.signal, timeoutMs);
    let response: Response;
    try {
      guard.arm();
      response = await fetchFn(new Request(request, { signal: guard.controller.signal }), init);
    } catch (error) {
      guard.release();
      throw guard.failure ?? error;
    } finally {
      guard.disarm();
    }
    if (response.body === null) {
      guard.release();
      return response;
    }
    return new Response(guard.wrap(response.body), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

/** One request's watchdog: the stall timer, and the link to the caller's signal. */
class Guard {
  readonly controller = new AbortController();
  /** Why the request was ended by the guard (a stall, or the caller's abort). */
  failure: unknown = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #onFail: (reason: unknown) => void = () => {};
  readonly #forward = (): void => this.#fail(this.outer.reason);
  /** The caller's signal. */
  readonly outer: AbortSignal;
  /** The longest wait for a byte. */
  readonly timeoutMs: number;

  constructor(outer: AbortSignal, timeoutMs: number) {
    this.outer = outer;
    this.timeoutMs = timeoutMs;
    if (outer.aborted) this.#fail(outer.reason);
    else outer.addEventListener("abort", this.#forward, { once: true });
  }

  /** Starts waiting for a byte. */
  arm(): void {
    this.disarm();
    this.#timer = setTimeout(() => {
      this.#fail(
        new DOMException(
          `No data for ${this.timeoutMs / 1000} s: the connection stalled`,
          "TimeoutError",
        ),
      );
    }, this.timeoutMs);
  }

  /** A byte arrived (or nobody is waiting). */
  disarm(): void {
    clearTimeout(this.#timer);
  }

  /** The request is over: stop watching. */
  release(): void {
    this.disarm();
    this.outer.removeEventListener("abort", this.#forward);
  }

  /** The body, failing with {@link Guard.failure} on a stall or an abort. */
  wrap(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    const reader = body.getReader();
    let finished = false;
    return new ReadableStream<Uint8Array>({
      start: (stream) => {
        this.#onFail = (reason) => {
          if (finished) return;
          finished = true;
          this.release();
          stream.error(reason);
          reader.cancel(reason).catch(() => {});
        };
        if (this.failure !== null) this.#onFail(this.failure);
      },
      pull: async (stream) => {
        this.arm();
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          this.#onFail(this.failure ?? error);
          return;
        } finally {
          this.disarm();
        }
        if (finished) return;
        if (chunk.done) {
          finished = true;
          this.release();
          stream.close();
        } else {
          stream.enqueue(chunk.value);
        }
      },
      cancel: async (reason) => {
        finished = true;
        this.release();
        await reader.cancel(reason).catch(() => {});
      },
    }, { highWaterMark: 0 });
  }

  #fail(reason: unknown): void {
    this.failure ??= reason;
    this.controller.abort(reason);
    this.#onFail(reason);
  }
}
