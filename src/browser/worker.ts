/**
 * The browser's download worker (a dedicated module worker; `page.ts` starts
 * it). It runs one `haul()` or `haulWithRetry()` per message with the same
 * engine as Deno, Bun and Node, over the origin private file system (`runtime/browser/opfs_fs.ts`)
 * and the web's rules for requests (`web_fetch.ts`), and reports progress,
 * warnings and the outcome (errors as data, `worker/error_wire.ts`). The
 * bundle substitutes `runtime/browser/hash.ts` and
 * `runtime/browser/default_fs.ts` for the runtime modules that need
 * `node:crypto` and `node:fs` (`scripts/build_browser.ts`).
 *
 * @module
 */

import { haulWithRetry } from "../batch/retry.ts";
import { checkOptions } from "../engine/settings.ts";
import { haulWith } from "../engine/haul.ts";
import { defaultFs } from "../runtime/browser/default_fs.ts";
import type { OpfsDirectory } from "../runtime/browser/opfs_fs.ts";
import { HaulState } from "../types.ts";
import { fromWireCall, type StateSnapshot, type WireCall } from "../worker/call_wire.ts";
import { errorToWire } from "../worker/error_wire.ts";
import { webFetch } from "./web_fetch.ts";

/** What the page posts: a call (with the directory `dest` is in), or an abort. */
type ToBrowserWorker =
  | { readonly type: "start"; readonly call: WireCall; readonly directory?: OpfsDirectory }
  | { readonly type: "abort" };

interface Scope {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: ToBrowserWorker }) => void) | null;
  readonly location: { readonly origin: string };
  readonly navigator: { readonly storage: { getDirectory(): Promise<OpfsDirectory> } };
}

const scope = globalThis as unknown as Scope;
let running: AbortController | null = null;

const snapshot = (state: HaulState): StateSnapshot => ({
  validLength: state.validLength,
  reportedLength: state.reportedLength,
  bytesRead: state.bytesRead,
  isComplete: state.isComplete,
});

async function run(call: WireCall, given: OpfsDirectory | undefined, abort: AbortController) {
  const state = new HaulState();
  try {
    const { input, options } = fromWireCall(call);
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
    options.onProgress = () => scope.postMessage({ type: "progress", state: snapshot(state) });
    const warn = (message: string) => scope.postMessage({ type: "warning", message });
    options.fetch = webFetch(warn, scope.location.origin);
    if (call.retries) {
      options.onRetry = (info) =>
        scope.postMessage({ type: "retry", ...info, error: errorToWire(info.error) });
    }
    const hooks = { fs: await defaultFs(root) };
    const result = call.kind === "retry"
      ? await haulWithRetry(input, options, hooks)
      : await haulWith(input, options, hooks);
    scope.postMessage({ type: "done", state: snapshot(state), result });
  } catch (error) {
    const aborted = abort.signal.aborted;
    scope.postMessage({
      type: "failed",
      state: snapshot(state),
      error: errorToWire(error),
      aborted,
    });
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
scope.postMessage({ type: "ready" });
