/**
 * The worker threads of `worker: true`, reused. Starting one costs 20–55 ms
 * of loading haul's modules again (`docs/performance.md`), which a batch of
 * small files would pay per file, so a worker whose call has settled waits
 * {@link IDLE_MS} for the next call before it stops. Each worker runs one call
 * at a time; calls at the same time get workers of their own.
 *
 * Decision: an idle worker delays the end of a process by at most
 * {@link IDLE_MS} (Deno cannot unreference a worker), against 50 ms of
 * start-up saved per call.
 *
 * @module
 */

import { HaulError } from "../errors.ts";
import { startWorker, type ThreadPort } from "../runtime/worker_thread.ts";
import type { FromWorker, ToWorker } from "./call_wire.ts";

/** How long a worker with no call waits for the next one before it stops (ms). */
export const IDLE_MS = 250;

/** At most this many workers wait for a call; more stop at once. */
const MAX_IDLE = 8;

/** One call's hold on a worker. */
export interface WorkerLease {
  /**
   * Sends an order to the worker.
   *
   * @param message the order.
   */
  post(message: ToWorker): void;
  /**
   * Receives the worker's reports for this call, and its death.
   *
   * @param onReport called with each report.
   * @param onCrash called if the worker dies during the call.
   */
  listen(onReport: (report: FromWorker) => void, onCrash: (error: Error) => void): void;
  /** Ends the call's hold: the worker waits for another call, or stops. */
  release(): void;
}

interface Pooled {
  readonly port: ThreadPort;
  onReport: (report: FromWorker) => void;
  onCrash: (error: Error) => void;
  dead: boolean;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
}

const idle: Pooled[] = [];

// When this thread's program ends (Deno dispatches `unload`, and its test runner does so for each
// test file), idle workers stop at once instead of outliving it.
const scope = globalThis as { addEventListener?: (type: string, listener: () => void) => void };
scope.addEventListener?.("unload", () => {
  for (const worker of [...idle]) stop(worker);
});

function stop(worker: Pooled): void {
  worker.dead = true;
  clearTimeout(worker.idleTimer);
  const at = idle.indexOf(worker);
  if (at >= 0) idle.splice(at, 1);
  worker.port.close();
}

let started = 0;

/**
 * How many workers this thread has started (a test hook: reuse shows as
 * fewer starts than calls).
 *
 * @returns the count since the module loaded.
 *
 * @example
 * ```ts
 * import { workersStarted } from "./worker_pool.ts";
 * console.log(workersStarted()); // 0
 * ```
 */
export function workersStarted(): number {
  return started;
}

/** A new worker, once it said it is ready. */
async function start(entry: URL): Promise<Pooled> {
  started++;
  let port: ThreadPort;
  try {
    port = await startWorker(entry);
  } catch (error) {
    if (error instanceof HaulError) throw error;
    throw new HaulError(`Download worker could not start: ${String(error)}`, { cause: error });
  }
  const { promise: ready, resolve, reject } = Promise.withResolvers<void>();
  const worker: Pooled = {
    port,
    onReport: (report) => {
      if (report.type === "ready") resolve();
    },
    onCrash: (crash) => {
      // Before its first message the worker had not loaded: no download began, and none would.
      reject(
        new HaulError(`Download worker could not start: ${crash.message}`, {
          cause: crash,
          retryable: false,
        }),
      );
    },
    dead: false,
    idleTimer: undefined,
  };
  port.listen((message) => worker.onReport(message as FromWorker), (crash) => {
    if (worker.dead) return;
    stop(worker);
    worker.onCrash(crash);
  });
  await ready;
  return worker;
}

/**
 * A worker for one call: an idle one, or a new one.
 *
 * @param entry the worker's entry module.
 * @returns the lease; {@link WorkerLease.release} it when the call settles.
 * @throws {HaulError} the worker could not start (not retryable).
 *
 * @example
 * ```ts ignore
 * // Needs the worker entry: src/worker/in_worker.ts passes it.
 * const lease = await takeWorker(new URL("./worker_main.ts", import.meta.url));
 * lease.listen((report) => console.log(report.type), (error) => console.error(error));
 * lease.post({ type: "abort" });
 * lease.release();
 * ```
 */
export async function takeWorker(entry: URL): Promise<WorkerLease> {
  const worker = idle.pop() ?? await start(entry);
  clearTimeout(worker.idleTimer);
  let held = true;
  worker.onReport = () => {};
  worker.onCrash = () => {};
  return {
    post: (message) => worker.port.post(message),
    listen(onReport, onCrash) {
      worker.onReport = (report) => {
        if (held) onReport(report);
      };
      worker.onCrash = (crash) => {
        if (held) onCrash(crash);
      };
    },
    release() {
      if (!held) return;
      held = false;
      worker.onReport = () => {};
      worker.onCrash = () => {};
      if (worker.dead) return;
      if (idle.length >= MAX_IDLE) return stop(worker);
      idle.push(worker);
      worker.idleTimer = setTimeout(() => stop(worker), IDLE_MS);
    },
  };
}
