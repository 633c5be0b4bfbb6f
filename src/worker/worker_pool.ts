/**
 * The worker threads of `worker: true`. Starting one costs 20–85 ms, so a
 * {@link WorkerPool} keeps settled workers for its next calls until it is
 * closed; one call per worker at a time. A pool lives only as long as its
 * owner's awaited work: an idle worker would keep a Deno process up.
 *
 * @module
 */

import { HaulError } from "../errors.ts";
import { startWorker, type ThreadPort } from "../runtime/worker_thread.ts";
import type { FromWorker, ToWorker } from "./call_wire.ts";

/** One call's hold on a worker. */
export interface WorkerLease {
  /** Sends an order to the worker. */
  post(message: ToWorker): void;
  /** Receives the worker's reports for this call, and its death during the call. */
  listen(onReport: (report: FromWorker) => void, onCrash: (error: Error) => void): void;
  /** Ends the call's hold: the worker waits in its pool for another call, or stops. */
  release(): void;
}

interface Pooled {
  readonly port: ThreadPort;
  onReport: (report: FromWorker) => void;
  onCrash: (error: Error) => void;
  dead: boolean;
}

let started = 0;

/** How many workers this thread has started since the module loaded (a test hook: reuse shows as fewer starts than calls). */
export function workersStarted(): number {
  return started;
}

function stop(worker: Pooled): void {
  worker.dead = true;
  worker.port.close();
}

/** A new worker, once it said it is ready. */
/** How long a worker may take to load before its call gives up (a start takes 20–85 ms). */
const WORKER_START_TIMEOUT_MS = 60_000;

async function start(entry: URL, timeoutMs: number): Promise<Pooled> {
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
  };
  port.listen((message) => worker.onReport(message as FromWorker), (crash) => {
    if (worker.dead) return;
    stop(worker);
    worker.onCrash(crash);
  });
  const timer = setTimeout(() => {
    stop(worker);
    reject(
      new HaulError(
        `Download worker did not start within ${timeoutMs / 1000} s; no download began`,
        { retryable: true },
      ),
    );
  }, timeoutMs);
  try {
    await ready;
  } finally {
    clearTimeout(timer);
  }
  return worker;
}

/** Workers for the calls of one owner: reused while it lives, stopped when it is closed. */
export class WorkerPool {
  readonly #entry: URL;
  readonly #idle: Pooled[] = [];
  #closed = false;

  readonly #startTimeoutMs: number;

  /** An empty pool of workers running `entry`; `startTimeoutMs` is a test hook. */
  constructor(entry: URL, startTimeoutMs: number = WORKER_START_TIMEOUT_MS) {
    this.#entry = entry;
    this.#startTimeoutMs = startTimeoutMs;
  }

  /**
   * A worker for one call, an idle one or a new one: {@link WorkerLease.release} it when the call settles.
   *
   * @throws {HaulError} the worker could not start (not retryable), or did not start in time
   *   (retryable).
   */
  async take(): Promise<WorkerLease> {
    let worker = this.#idle.pop();
    while (worker?.dead) worker = this.#idle.pop();
    worker ??= await start(this.#entry, this.#startTimeoutMs);
    const taken = worker;
    let held = true;
    taken.onReport = () => {};
    taken.onCrash = () => {};
    return {
      post: (message) => taken.port.post(message),
      listen(onReport, onCrash) {
        taken.onReport = (report) => {
          if (held) onReport(report);
        };
        taken.onCrash = (crash) => {
          if (held) onCrash(crash);
        };
      },
      release: () => {
        if (!held) return;
        held = false;
        taken.onReport = () => {};
        taken.onCrash = () => {};
        if (taken.dead) return;
        if (this.#closed) stop(taken);
        else this.#idle.push(taken);
      },
    };
  }

  /** Stops the idle workers; a worker still in a call stops when it is released. */
  close(): void {
    this.#closed = true;
    for (const worker of this.#idle.splice(0)) stop(worker);
  }
}
