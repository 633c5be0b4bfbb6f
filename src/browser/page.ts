/**
 * The page's side of a browser download: each call starts the download worker (`worker.ts`,
 * bundled), posts the call, forwards progress, retries, warnings and the caller's abort, and
 * stops the worker when the call settles.
 *
 * @module
 */

import type { RetryOptions } from "../batch/retry.ts";
import { HaulError } from "../errors.ts";
import { type HaulOptions, type HaulResult, HaulState } from "../types.ts";
import {
  errorFromWire,
  type FromWorker,
  type StateSnapshot,
  toWireCall,
  type WireCall,
} from "./wire.ts";

/** The options of the browser's `haul()`. */
export interface BrowserHaulOptions extends Omit<HaulOptions, "dest" | "fetch"> {
  /** A path in the origin private file system, such as `"models/a.bin"` (directories are created). */
  dest: string;
  /** The OPFS directory (a `FileSystemDirectoryHandle`) `dest` is relative to; default: the OPFS root. */
  directory?: unknown;
  /** The bundled download worker; default: `haul_worker.js` beside this module's bundle. */
  workerUrl?: string | URL;
  /** Why a resume started over, or why one cannot be made (cross-origin headers); default: `console.warn`. */
  onWarning?: (message: string) => void;
}

/** The options of the browser's `haulWithRetry()`: those of its `haul()` plus the retry policy. */
export interface BrowserRetryOptions extends BrowserHaulOptions, RetryOptions {}

/**
 * Downloads `url` into the origin private file system, on a dedicated worker:
 * `<dest>.part` and its checkpoint are kept in OPFS, so a reload, a closed tab
 * or a crashed browser resumes where the last checkpoint was; `dest` appears
 * only once every byte has arrived and its SHA-256 (and `integrity`) is checked.
 *
 * @param url the file to download, relative to the page or absolute (cross-origin servers: `docs/browser.md`).
 * @param options `dest` and the options of `haul()`, but `fetch`.
 * @returns what was downloaded; `result.dest` is the OPFS path.
 * @throws the error classes of `haul()` (`PartialHaulError`, `IntegrityError`, …).
 *
 * @example
 * ```ts ignore
 * // Runs in a page (it starts a Worker and writes to OPFS).
 * import { haul } from "@haul/haul/browser";
 * const result = await haul("https://example.com/model.bin", {
 *   dest: "models/model.bin",
 *   onProgress: (s) => console.log(s.validLength, s.reportedLength),
 * });
 * const file = await (await navigator.storage.getDirectory())
 *   .getDirectoryHandle("models").then((d) => d.getFileHandle("model.bin"));
 * ```
 */
export function haul(url: string | URL, options: BrowserHaulOptions): Promise<HaulResult> {
  return onWorker("haul", url, options);
}

/**
 * {@link haul} with `haulWithRetry()`'s policy, in the worker: a cut, a
 * stall or a server error is retried with backoff (each attempt resumes from
 * the last checkpoint) until the file lands or `retries` run out.
 *
 * @throws the last attempt's error, as `haulWithRetry()` (but its `attempts`
 *   stays in the worker).
 *
 * @example
 * ```ts ignore
 * // Runs in a page (it starts a Worker and writes to OPFS).
 * import { haulWithRetry } from "@haul/haul/browser";
 * await haulWithRetry("https://example.com/model.bin", { dest: "models/model.bin", retries: 10 });
 * ```
 */
export function haulWithRetry(
  url: string | URL,
  options: BrowserRetryOptions,
): Promise<HaulResult> {
  return onWorker("retry", url, options);
}

async function onWorker(
  kind: WireCall["kind"],
  url: string | URL,
  options: BrowserRetryOptions,
): Promise<HaulResult> {
  const { directory, workerUrl, onWarning, signal, ...rest } = options;
  const handle = directory === undefined || (directory as { kind?: string })?.kind === "directory";
  if (!handle) throw new TypeError("Invalid options: directory is no FileSystemDirectoryHandle");
  // A relative URL is the page's: the worker resolves nothing against it.
  const call = toWireCall(kind, new URL(url, globalThis.location?.href), rest);
  signal?.throwIfAborted();
  const state = options.state ?? new HaulState();
  const workerAt = new URL(workerUrl ?? "./haul_worker.js", import.meta.url);
  const worker = new Worker(workerAt, { type: "module" });
  const { promise, resolve, reject } = Promise.withResolvers<HaulResult>();
  const apply = (snapshot: StateSnapshot) => Object.assign(state, snapshot);
  const onAbort = () => worker.postMessage({ type: "abort" });
  worker.onmessage = ({ data }: MessageEvent<FromWorker>) => {
    if (data.type === "progress") options.onProgress?.(apply(data.state));
    else if (data.type === "warning") (onWarning ?? console.warn)(data.message);
    else if (data.type === "retry") {
      options.onRetry?.({ ...data, error: errorFromWire(data.error) });
    } else if (data.type === "done") resolve(apply(data.state) && data.result);
    else if (data.type === "failed") {
      apply(data.state);
      reject(data.aborted && signal?.aborted ? signal.reason : errorFromWire(data.error));
    }
  };
  worker.onerror = ({ message }: Event & { message?: string }) =>
    reject(
      message === undefined
        ? new HaulError(`Download worker could not start: ${workerAt}: pass its URL as workerUrl`)
        : new HaulError(
          `Download worker stopped: ${message}: progress up to the last checkpoint is saved; ` +
            "call again to resume",
          { retryable: true },
        ),
    );
  worker.postMessage({ type: "start", call, directory });
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await promise;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    worker.terminate();
  }
}
