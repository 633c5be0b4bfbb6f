/**
 * The worker thread's side of `worker: true` (`in_worker.ts` starts it): says
 * it is ready, takes one call, runs it with `haul()` or `haulWithRetry()`,
 * reports progress, retries and the outcome, and aborts the call when told.
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

const port = await parentThread();
const controller = new AbortController();
const state = new HaulState();
let started = false;

const post = (message: FromWorker) => port.post(message);

function snapshot(): StateSnapshot {
  return {
    validLength: state.validLength,
    reportedLength: state.reportedLength,
    bytesRead: state.bytesRead,
    isComplete: state.isComplete,
  };
}

/** How often the caller's `state` is brought up to date between progress reports (ms). */
const STATE_EVERY_MS = 50;

function sameState(a: StateSnapshot, b: StateSnapshot): boolean {
  return a.validLength === b.validLength && a.reportedLength === b.reportedLength &&
    a.bytesRead === b.bytesRead && a.isComplete === b.isComplete;
}

async function run(call: WireCall): Promise<void> {
  // haul() reports progress only as bytes arrive; a caller polling `state` must
  // also see the bytes saved before a stall.
  let sent = snapshot();
  const follow = call.progress
    ? setInterval(() => {
      const now = snapshot();
      if (!sameState(now, sent)) post({ type: "state", state: sent = now });
    }, STATE_EVERY_MS)
    : undefined;
  try {
    const { input, options } = fromWireCall(call);
    options.signal = controller.signal;
    options.state = state;
    if (call.progress) {
      options.onProgress = () => post({ type: "progress", state: sent = snapshot() });
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
    post({ type: "done", state: snapshot(), result });
  } catch (error) {
    post({
      type: "failed",
      state: snapshot(),
      error: errorToWire(error),
      aborted: controller.signal.aborted,
    });
  } finally {
    clearInterval(follow);
  }
}

port.listen((message) => {
  const order = message as ToWorker;
  if (order.type === "abort") {
    controller.abort(new DOMException("The download was aborted", "AbortError"));
  } else if (order.type === "start" && !started) {
    started = true;
    void run(order.call);
  }
}, () => {});
post({ type: "ready" });
