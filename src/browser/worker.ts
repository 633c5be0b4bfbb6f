/**
 * The browser's download worker (a module worker `page.ts` starts): one `haul()` or
 * `haulWithRetry()` per message, the engine of Deno, Bun and Node over OPFS and the web's rules
 * for requests (`web_fetch.ts`); the bundle swaps in `runtime/browser/` for `node:crypto` and
 * `node:fs` (`scripts/build_browser.ts`).
 *
 * @module
 */

import { haulWithRetry, type HaulWithRetryOptions } from "../batch/retry.ts";
import { checkOptions } from "../engine/check_options.ts";
import { haulWith } from "../engine/haul.ts";
import { defaultFs } from "../runtime/browser/default_fs.ts";
import type { OpfsDirectory } from "../runtime/browser/opfs_fs.ts";
import { HaulState } from "../types.ts";
import { errorToWire, type FromWorker, type ToWorker, type WireCall } from "./wire.ts";
import { webFetch } from "./web_fetch.ts";

interface Scope {
  postMessage(message: FromWorker): void;
  onmessage: ((event: { data: ToWorker }) => void) | null;
  readonly location: { readonly origin: string };
  readonly navigator: { readonly storage: { getDirectory(): Promise<OpfsDirectory> } };
}

const scope = globalThis as unknown as Scope;
let running: AbortController | null = null;

async function run(call: WireCall, given: OpfsDirectory | undefined, abort: AbortController) {
  const state = new HaulState();
  const snapshot = () => ({ ...state });
  try {
    const options: HaulWithRetryOptions = { ...call.options };
    checkOptions(options, "haul(url, { dest }) in the browser");
    const names = String(options.dest).split("/").filter((name) => name !== "");
    // OPFS starts empty: the directories on the way to dest are created.
    let dir = given ?? await scope.navigator.storage.getDirectory();
    const root = dir;
    for (const name of names.slice(0, -1)) {
      dir = await dir.getDirectoryHandle(name, { create: true });
    }
    options.signal = abort.signal;
    options.state = state;
    options.onProgress = () => scope.postMessage({ type: "progress", state: snapshot() });
    const warn = (message: string) => scope.postMessage({ type: "warning", message });
    options.fetch = webFetch(warn, scope.location.origin);
    options.onRetry = (info) =>
      scope.postMessage({ type: "retry", ...info, error: errorToWire(info.error) });
    const hooks = { fs: await defaultFs(root) };
    const result = call.kind === "retry"
      ? await haulWithRetry(call.url, options, hooks)
      : await haulWith(call.url, options, hooks);
    scope.postMessage({ type: "done", state: snapshot(), result });
  } catch (error) {
    const aborted = abort.signal.aborted;
    scope.postMessage({ type: "failed", state: snapshot(), error: errorToWire(error), aborted });
  } finally {
    running = null;
  }
}

scope.onmessage = ({ data }) => {
  if (data.type === "abort") {
    running?.abort(new DOMException("The download was aborted", "AbortError"));
  } else if (data.type === "start" && running === null) {
    void run(data.call, data.directory, running = new AbortController());
  }
};
