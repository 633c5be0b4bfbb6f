/**
 * The worker thread's side of `worker: true` (`worker_pool.ts` starts it):
 * says it is ready, then runs the calls it is given one after another with
 * `haul()` or `haulWithRetry()`, reporting progress, retries and each
 * outcome, and aborts the running call when told.
 *
 * @module
 */

import { haulWithRetry } from "../batch/retry.ts";
import { haul } from "../engine/haul.ts";
import { parentThread } from "../runtime/worker_thread.ts";
import { HaulState } from "../types.ts";
import {
  fromWireCall,
  type FromWorker,
  type StateSnapshot,
  type ToWorker,
  type WireCall,
} from "./call_wire.ts";
import { errorToWire } from "./error_wire.ts";

/** How often the caller's `state` is brought up to date between progress reports (ms). */
const STATE_EVERY_MS = 50;

const port = await parentThread();
const post = (message: FromWorker) => port.post(message);

/** The running call's abort, or `null` between calls. */
let running: AbortController | null = null;

function snapshot(state: HaulState): StateSnapshot {
  return {
    validLength: state.validLength,
    reportedLength: state.reportedLength,
    bytesRead: state.bytesRead,
    isComplete: state.isComplete,
  };
}

function sameState(a: StateSnapshot, b: StateSnapshot): boolean {
  return a.validLength === b.validLength && a.reportedLength === b.reportedLength &&
    a.bytesRead === b.bytesRead && a.isComplete === b.isComplete;
}

async function run(call: WireCall, controller: AbortController): Promise<void> {
  const state = new HaulState();
  // haul() reports progress only as bytes arrive; a caller polling `state` must
  // also see the bytes saved before a stall.
  let sent = snapshot(state);
  const follow = call.progress
    ? setInterval(() => {
      const now = snapshot(state);
      if (!sameState(now, sent)) post({ type: "state", state: sent = now });
    }, STATE_EVERY_MS)
    : undefined;
  let report: FromWorker;
  try {
    const { input, options } = fromWireCall(call);
    options.signal = controller.signal;
    options.state = state;
    if (call.progress) {
      options.onProgress = () => post({ type: "progress", state: sent = snapshot(state) });
    }
    if (call.retries) {
      options.onRetry = (info) =>
        post({
          type: "retry",
          attempt: info.attempt,
          maxAttempts: info.maxAttempts,
          delayMs: info.delayMs,
          error: errorToWire(info.error),
        });
    }
    const result = call.kind === "retry"
      ? await haulWithRetry(input, options)
      : await haul(input, options);
    report = { type: "done", state: snapshot(state), result };
  } catch (error) {
    report = {
      type: "failed",
      state: snapshot(state),
      error: errorToWire(error),
      aborted: controller.signal.aborted,
    };
  } finally {
    clearInterval(follow);
    running = null;
  }
  post(report);
}

port.listen((message) => {
  const order = message as ToWorker;
  if (order.type === "abort") {
    running?.abort(new DOMException("The download was aborted", "AbortError"));
  } else if (order.type === "start" && running === null) {
    running = new AbortController();
    void run(order.call, running);
  }
}, () => {});
post({ type: "ready" });
