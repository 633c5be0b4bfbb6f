/**
 * The digest worker: computes the native SHA-256 of a download that starts at
 * byte 0 by reading `.part` back (from the page cache, as the engine writes
 * it) on its own thread, so that the download's thread never spends time
 * hashing. Measured on a 1 GiB download, hashing on the download's thread
 * halved Deno's throughput (`docs/performance.md`).
 *
 * Messages in: `start` (path), `limit` whenever more bytes are written,
 * `finish` (the final length), `stop` (close the descriptor and end: a worker
 * terminated from outside would leave its descriptor open in the process on
 * Bun). Messages out: `digest` (hex) after `finish`, or `error` if a read
 * fails (the engine then hashes the file itself).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";

/** A message to the digest worker. */
export type ToDigestWorker =
  | { readonly type: "start"; readonly path: string }
  | { readonly type: "limit"; readonly limit: number }
  | { readonly type: "finish"; readonly length: number }
  | { readonly type: "stop" };

/** A message from the digest worker. */
export type FromDigestWorker =
  | { readonly type: "digest"; readonly hex: string; readonly length: number }
  | { readonly type: "error"; readonly detail: string };

interface WorkerScope {
  onmessage: ((event: MessageEvent<ToDigestWorker>) => void) | null;
  postMessage(message: FromDigestWorker): void;
  close(): void;
}

const PIECE = 1 << 20;
const scope = globalThis as unknown as WorkerScope;
const hash = createHash("sha256");
const buffer = new Uint8Array(PIECE);
let fd: number | null = null;
let position = 0;
let limit = 0;
let finishAt: number | null = null;
let failed = false;

function fail(error: unknown): void {
  failed = true;
  scope.postMessage({
    type: "error",
    detail: error instanceof Error ? error.message : String(error),
  });
}

/** Hashes everything below the limit; answers `finish` once it is reached. */
function pump(): void {
  if (failed || fd === null) return;
  try {
    while (position < limit) {
      const want = Math.min(PIECE, limit - position);
      const got = readSync(fd, buffer, 0, want, position);
      if (got <= 0) throw new Error(`.part ended at byte ${position}, expected ${limit}`);
      hash.update(got === PIECE ? buffer : buffer.subarray(0, got));
      position += got;
    }
  } catch (error) {
    fail(error);
    return;
  }
  if (finishAt !== null && position === finishAt) {
    scope.postMessage({ type: "digest", hex: hash.digest("hex"), length: position });
    closeSync(fd);
    fd = null;
  }
}

scope.onmessage = (event: MessageEvent<ToDigestWorker>): void => {
  const message = event.data;
  if (message.type === "start") {
    try {
      fd = openSync(message.path, "r");
    } catch (error) {
      fail(error);
    }
    return;
  }
  if (message.type === "stop") {
    failed = true;
    if (fd !== null) closeSync(fd);
    fd = null;
    scope.close();
    return;
  }
  if (message.type === "limit") {
    limit = Math.max(limit, message.limit);
  } else {
    finishAt = message.length;
    limit = message.length;
  }
  pump();
};
