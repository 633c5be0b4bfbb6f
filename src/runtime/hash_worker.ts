/**
 * The hashing worker: keeps the resumable SHA-256 of a `.part` file up to
 * date on its own thread, by reading back bytes the engine has written and
 * made durable, so that the engine's thread never spends time on it.
 *
 * Messages in: `start` (path, block size, where the hash stands, first
 * limit, CPU share), then `limit` whenever more bytes are durable, and `stop`
 * when the engine no longer needs it (it then closes its descriptor of
 * `.part` and ends itself: terminating it from outside would leave that
 * descriptor open in the process). Messages out: `progress` after each MiB
 * hashed, and `exit` when it stops (idle for a second, a read failed, or told
 * to).
 *
 * It stays out of the download's way: its thread runs at the lowest
 * scheduling priority where the platform allows (Linux: nice 19 on its own
 * thread id), and while it trails the durable bytes by more than `lag` it
 * sleeps between pieces so as to use only `share` of one core. Its work is
 * never required to be on time: the engine hashes the rest on its own thread
 * whenever it needs an exact state.
 *
 * @module
 */

import { closeSync, openSync, readlinkSync, readSync } from "node:fs";
import os from "node:os";
import { BlockHasher, type HashProgress } from "../hashing/block_hasher.ts";

/** A message to the worker. */
export type ToWorker =
  | {
    readonly type: "start";
    readonly path: string;
    readonly blockSize: number;
    readonly from: HashProgress;
    readonly limit: number;
    /** Share of one core (0 < share <= 1) to use while more than `lag` bytes wait. */
    readonly share: number;
    /** Below this many waiting bytes the worker runs flat out. */
    readonly lag: number;
  }
  | { readonly type: "limit"; readonly limit: number }
  | { readonly type: "stop" };

/** A message from the worker. */
export type FromWorker =
  | { readonly type: "progress"; readonly progress: HashProgress }
  | {
    readonly type: "exit";
    readonly reason: "idle" | "error" | "stopped";
    readonly detail: string;
  };

/** The parts of a worker's global scope this file uses. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker): void;
  close(): void;
}

const PIECE = 1 << 20;
const IDLE_MS = 1000;
const scope = globalThis as unknown as WorkerScope;

let fd: number | null = null;
let hasher: BlockHasher | null = null;
let limit = 0;
let share = 1;
let lag = 0;
let running = false;
let stopped = false;
let idleTimer: ReturnType<typeof setTimeout> | null = null;
const buffer = new Uint8Array(PIECE);

/** Best effort: the lowest priority for this thread (Linux: nice 19 on its thread id). */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isSafeInteger(tid) && tid > 0) os.setPriority(tid, 19);
  } catch {
    // Not Linux, or not allowed: run at normal priority.
  }
}

function stop(reason: "idle" | "error" | "stopped", detail: string): void {
  if (stopped) return;
  stopped = true;
  scope.postMessage({ type: "exit", reason, detail });
  if (fd !== null) {
    try {
      closeSync(fd);
    } catch {
      // Closing a read-only descriptor cannot lose data.
    }
  }
  scope.close();
}

function armIdle(): void {
  if (idleTimer !== null) clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    idleTimer = null;
    if (!running && hasher !== null && hasher.position >= limit) stop("idle", "");
  }, IDLE_MS);
}

async function pump(): Promise<void> {
  if (running || stopped || fd === null || hasher === null) return;
  running = true;
  try {
    while (hasher.position < limit && !stopped) {
      const started = performance.now();
      const position = hasher.position;
      const want = Math.min(PIECE, limit - position);
      let got = 0;
      while (got < want) {
        const bytesRead = readSync(fd, buffer, got, want - got, position + got);
        if (bytesRead <= 0) throw new Error(`.part ended at byte ${position + got}`);
        got += bytesRead;
      }
      hasher.update(buffer.subarray(0, want));
      scope.postMessage({ type: "progress", progress: hasher.progress() });
      // Rest for the share of time not ours; this also lets a new limit (or
      // a termination) in before the next piece.
      const spent = performance.now() - started;
      const behind = limit - hasher.position > lag;
      const rest = !behind || share >= 1 ? 0 : (spent * (1 - share)) / share;
      await new Promise<void>((resolve) => setTimeout(resolve, rest));
    }
  } catch (error) {
    running = false;
    stop("error", error instanceof Error ? error.message : String(error));
    return;
  }
  running = false;
  if (!stopped) armIdle();
}

scope.onmessage = (event: MessageEvent<ToWorker>): void => {
  const message = event.data;
  if (message.type === "start") {
    lowerPriority();
    hasher = BlockHasher.resume(message.blockSize, message.from);
    limit = message.limit;
    share = Math.min(1, Math.max(0.01, message.share));
    lag = message.lag;
    try {
      fd = openSync(message.path, "r");
    } catch (error) {
      stop("error", error instanceof Error ? error.message : String(error));
      return;
    }
    void pump();
    return;
  }
  if (message.type === "stop") {
    stop("stopped", "");
    return;
  }
  limit = Math.max(limit, message.limit);
  void pump();
};
