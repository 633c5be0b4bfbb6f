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
  /** Sends a message (structured clone) to the other end. */
  post(message: unknown): void;
  /** Delivers the other end's messages and (starting side) once, the worker's crash or exit before `close()`. */
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
 * @throws {HaulError} under Deno without read access to the worker's modules (a `file:` URL).
 */
export async function startWorker(url: URL): Promise<ThreadPort> {
  const Web = webWorkerConstructor();
  if (Web !== null) {
    const refused = refusedModules(url);
    if (refused !== null) throw refused;
    const worker = new Web(url, { type: "module" });
    // Handlers go on now, not in listen(): Deno can dispatch a fast worker's first message
    // before the caller gets this port, and a message nobody listens to is gone.
    const box = new Mailbox(() => worker.terminate());
    worker.onmessage = (event) => box.message(event.data);
    worker.onerror = (event) => {
      // Handled here: without this, Deno rethrows a worker's error in this thread.
      event.preventDefault();
      box.crash(crashOf(event.error ?? event.message, "the worker thread failed"));
    };
    worker.onmessageerror = () => {
      box.crash(new Error("a message from the worker thread could not be read"));
    };
    return box.port((message) => worker.postMessage(message));
  }
  const { Worker } = await import("node:worker_threads");
  const worker = new Worker(url);
  const box = new Mailbox(() => void worker.terminate());
  worker.on("message", (message: unknown) => box.message(message));
  worker.on("error", (error: unknown) => box.crash(crashOf(error, "the worker thread failed")));
  worker.on(
    "messageerror",
    () => box.crash(new Error("a message from the worker could not be read")),
  );
  worker.on("exit", (code: number) => box.crash(new Error(`the worker thread exited (${code})`)));
  return box.port((message) => worker.postMessage(message));
}

/**
 * What a started worker sends, kept from its start until someone listens: its
 * messages in order, then its crash (once; none after `close()`).
 */
class Mailbox {
  readonly #stop: () => void;
  #queue: unknown[] = [];
  #crash: Error | null = null;
  #onMessage: ((message: unknown) => void) | null = null;
  #onCrash: ((error: Error) => void) | null = null;
  #closed = false;

  constructor(stop: () => void) {
    this.#stop = stop;
  }

  message(message: unknown): void {
    if (this.#onMessage === null) this.#queue.push(message);
    else this.#onMessage(message);
  }

  crash(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop();
    if (this.#onCrash === null) this.#crash = error;
    else this.#onCrash(error);
  }

  port(post: (message: unknown) => void): ThreadPort {
    return {
      post,
      listen: (onMessage, onCrash) => {
        this.#onMessage = onMessage;
        this.#onCrash = onCrash;
        for (const message of this.#queue.splice(0)) onMessage(message);
        const crash = this.#crash;
        this.#crash = null;
        if (crash !== null) onCrash(crash);
      },
      close: () => {
        this.#closed = true;
        this.#stop();
      },
    };
  }
}

/** The port to the thread that started this worker (its `listen` never reports a crash). */
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
