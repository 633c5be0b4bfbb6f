/**
 * Worker threads of this process, on every runtime: the web `Worker` where
 * the runtime has one (Deno, Bun), `node:worker_threads` where it does not
 * (Node). Both ends speak through a {@link ThreadPort}: structured-clone
 * messages one way and the other, and the worker's crash as an error.
 *
 * @module
 */

import { HaulError } from "../errors.ts";

/** One end of the channel between a thread and a worker it started. */
export interface ThreadPort {
  /**
   * Sends a message (structured clone) to the other end.
   *
   * @param message the message.
   */
  post(message: unknown): void;
  /**
   * Starts delivering the other end's messages, and (on the starting side) the
   * worker's crash or early exit.
   *
   * @param onMessage called with each message.
   * @param onCrash called once if the worker dies before it is closed.
   */
  listen(onMessage: (message: unknown) => void, onCrash: (error: Error) => void): void;
  /** Stops the worker (starting side) or the channel (worker side). */
  close(): void;
}

interface WebWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: { message?: string; error?: unknown; preventDefault(): void }) => void) | null;
  onmessageerror: ((event: unknown) => void) | null;
}

type WebWorkerConstructor = new (url: URL, options: { type: "module" }) => WebWorker;

interface WebWorkerScope {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

function webWorkerConstructor(): WebWorkerConstructor | null {
  const candidate = (globalThis as { Worker?: unknown }).Worker;
  return typeof candidate === "function" ? candidate as WebWorkerConstructor : null;
}

interface DenoPermissions {
  permissions: { querySync(descriptor: { name: "read"; path: string }): { state: string } };
}

/**
 * Deno loads a worker's local modules only with read access to them (the
 * caller's own static imports need none); a worker started without it dies
 * at once. This names the directory to grant before any worker starts.
 */
function refusedModules(url: URL): HaulError | null {
  const deno = (globalThis as { Deno?: Partial<DenoPermissions> }).Deno;
  if (url.protocol !== "file:" || typeof deno?.permissions?.querySync !== "function") return null;
  // The folder that holds every module the worker imports (src/ in a checkout).
  const folder = decodeURIComponent(new URL("..", url).pathname).replace(/\/+$/, "");
  if (deno.permissions.querySync({ name: "read", path: folder }).state === "granted") return null;
  return new HaulError(
    `Missing Deno permission: worker: true loads haul's modules on a worker thread, which needs ` +
      `read access to ${folder}; run Deno with --allow-read=${folder}`,
    { retryable: false },
  );
}

function crashOf(detail: unknown, fallback: string): Error {
  if (detail instanceof Error) return detail;
  return new Error(typeof detail === "string" && detail !== "" ? detail : fallback);
}

/**
 * Starts a worker thread running the module at `url`.
 *
 * @param url the worker's entry module (`new URL("./x.ts", import.meta.url)`).
 * @returns the port to the worker.
 * @throws {HaulError} under Deno without read access to the worker's modules (a `file:` URL).
 *
 * @example
 * ```ts ignore
 * // Needs a worker module; src/worker/in_worker.ts starts src/worker/worker_main.ts.
 * const port = await startWorker(new URL("./worker_main.ts", import.meta.url));
 * port.listen((message) => console.log(message), (error) => console.error(error));
 * port.post({ type: "start" });
 * ```
 */
export async function startWorker(url: URL): Promise<ThreadPort> {
  const Web = webWorkerConstructor();
  if (Web !== null) {
    const refused = refusedModules(url);
    if (refused !== null) throw refused;
    const worker = new Web(url, { type: "module" });
    let closed = false;
    return {
      post: (message) => worker.postMessage(message),
      listen(onMessage, onCrash) {
        worker.onmessage = (event) => onMessage(event.data);
        worker.onerror = (event) => {
          // Handled here: without this, Deno rethrows a worker's error in this thread.
          event.preventDefault();
          if (closed) return;
          closed = true;
          worker.terminate();
          onCrash(crashOf(event.error ?? event.message, "the worker thread failed"));
        };
        worker.onmessageerror = () => {
          if (closed) return;
          closed = true;
          worker.terminate();
          onCrash(new Error("a message from the worker thread could not be read"));
        };
      },
      close() {
        closed = true;
        worker.terminate();
      },
    };
  }
  const { Worker } = await import("node:worker_threads");
  const worker = new Worker(url);
  let closed = false;
  return {
    post: (message) => worker.postMessage(message),
    listen(onMessage, onCrash) {
      const crash = (error: Error) => {
        if (closed) return;
        closed = true;
        void worker.terminate();
        onCrash(error);
      };
      worker.on("message", onMessage);
      worker.on("error", (error: unknown) => crash(crashOf(error, "the worker thread failed")));
      worker.on(
        "messageerror",
        () => crash(new Error("a message from the worker could not be read")),
      );
      worker.on("exit", (code: number) => crash(new Error(`the worker thread exited (${code})`)));
    },
    close() {
      closed = true;
      void worker.terminate();
    },
  };
}

/**
 * The port to the thread that started this worker.
 *
 * @returns the port (its `listen` never reports a crash: this is the worker).
 *
 * @example
 * ```ts ignore
 * // Runs only inside a worker thread: see src/worker/worker_main.ts.
 * const port = await parentThread();
 * port.listen((message) => port.post({ echo: message }), () => {});
 * ```
 */
export async function parentThread(): Promise<ThreadPort> {
  const scope = globalThis as unknown as Partial<WebWorkerScope>;
  if (webWorkerConstructor() !== null && typeof scope.postMessage === "function") {
    const self = scope as WebWorkerScope;
    return {
      post: (message) => self.postMessage(message),
      listen(onMessage) {
        self.onmessage = (event) => onMessage(event.data);
      },
      close: () => self.close(),
    };
  }
  const { parentPort } = await import("node:worker_threads");
  if (parentPort === null) throw new Error("parentThread(): not running in a worker thread");
  return {
    post: (message) => parentPort.postMessage(message),
    listen(onMessage) {
      parentPort.on("message", onMessage);
    },
    close: () => parentPort.close(),
  };
}
