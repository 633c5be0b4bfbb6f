/**
 * `worker: true`: one call run on a worker thread (`worker_main.ts`). Deno's
 * fetch keeps its thread busy while a fast body has bytes ready (a server in
 * the same process waited 10–20 ms per request during a loopback download).
 * The worker comes from the caller's {@link WorkerPool} or is started for the
 * call; `signal` is forwarded, `state` and `onProgress` follow its reports,
 * errors are rebuilt as their class (`error_wire.ts`). A worker that dies is a
 * crash like any other: the next call resumes.
 *
 * @module
 */

import { HaulError } from "../errors.ts";
import type { HaulWithRetryOptions, RetryOptions } from "../batch/retry.ts";
import { singleFlight, untilAborted } from "../engine/single_flight.ts";
import { type HaulOptions, type HaulResult, HaulState, type Source } from "../types.ts";
import { type CallKind, type StateSnapshot, toWireCall } from "./call_wire.ts";
import { errorFromWire } from "./error_wire.ts";
import { type WorkerLease, WorkerPool } from "./worker_pool.ts";

/** The worker's entry: the source file, or the bundle beside the npm package's `mod.js`. */
export const WORKER_ENTRY: URL = new URL(
  import.meta.url.endsWith(".js") ? "./worker_main.js" : "./worker_main.ts",
  import.meta.url,
);

function apply(state: HaulState | undefined, snapshot: StateSnapshot): void {
  if (state === undefined) return;
  state.validLength = snapshot.validLength;
  state.reportedLength = snapshot.reportedLength;
  state.bytesRead = snapshot.bytesRead;
  state.isComplete = snapshot.isComplete;
}

/**
 * Runs `haul()` (`kind` `"haul"`) or `haulWithRetry()` (`"retry"`) on a worker
 * thread: `pool`'s, or one started for this call.
 *
 * @throws {TypeError} a custom `fetch` or a `Request` with a body; else what the call threw.
 */
export async function haulInWorker(
  kind: CallKind,
  input: Source | readonly Source[],
  options: HaulOptions & RetryOptions,
  pool?: WorkerPool,
): Promise<HaulResult> {
  const call = toWireCall(kind, input, options);
  const signal = options.signal;
  signal?.throwIfAborted();
  const state = options.state ?? (options.onProgress === undefined ? undefined : new HaulState());
  const own = pool === undefined ? new WorkerPool(WORKER_ENTRY) : null;
  const taking = (pool ?? own!).take();
  let lease: WorkerLease;
  try {
    lease = await untilAborted(taking, signal);
  } catch (error) {
    // Aborted while the worker started: once up, it goes back to its pool unused.
    void taking.then((late) => late.release(), () => {}).finally(() => own?.close());
    throw error;
  }
  const { promise, resolve, reject } = Promise.withResolvers<HaulResult>();
  const onAbort = () => lease.post({ type: "abort" });
  // A callback of the caller's that throws stops the download, and the call rejects with its error.
  let thrown: { error: unknown } | null = null;
  const callback = (run: () => void) => {
    if (thrown !== null) return;
    try {
      run();
    } catch (error) {
      thrown = { error };
      onAbort();
    }
  };
  lease.listen((report) => {
    switch (report.type) {
      case "ready":
        return;
      case "state":
        apply(state, report.state);
        return;
      case "progress":
        apply(state, report.state);
        if (state !== undefined) callback(() => options.onProgress?.(state));
        return;
      case "retry":
        callback(() =>
          options.onRetry?.({
            attempt: report.attempt,
            maxAttempts: report.maxAttempts,
            delayMs: report.delayMs,
            error: errorFromWire(report.error),
          })
        );
        return;
      case "done":
        apply(state, report.state);
        if (thrown !== null) reject(thrown.error);
        else resolve(report.result);
        return;
      case "failed": {
        apply(state, report.state);
        const error = report.aborted && signal?.aborted
          ? signal.reason
          : errorFromWire(report.error);
        reject(thrown !== null ? thrown.error : error);
        return;
      }
    }
  }, (crash) => {
    reject(
      new HaulError(
        `Download worker stopped: ${crash.message}: progress up to the last checkpoint is ` +
          "saved; call again to resume",
        { cause: crash, retryable: true },
      ),
    );
  });
  lease.post({ type: "start", call });
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await promise;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    lease.release();
    own?.close();
  }
}

/**
 * `haulWithRetry()`'s whole loop on a worker thread (one of `pool`, when
 * given), joined like `haul()` calls: a call for a destination this process
 * is already downloading, on this thread or on a worker, waits for that
 * download instead of racing it through the lock.
 */
export function retryOnWorker(
  input: Source | readonly Source[],
  options: HaulWithRetryOptions,
  pool?: WorkerPool,
): Promise<HaulResult> {
  return singleFlight(input, options, (own) => haulInWorker("retry", input, own, pool));
}
