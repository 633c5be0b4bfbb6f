/**
 * The browser's download worker (a module worker `page.ts` starts): one `haul()` or
 * `haulWithRetry()` per message, the engine over OPFS (`scripts/build_browser.ts` swaps in
 * `runtime/browser/`); `webFetch` keeps the web's rules around its requests (docs/browser.md).
 *
 * @module
 */

import { haulWithRetry, type HaulWithRetryOptions } from "../batch/retry.ts";
import { checkOptions } from "../engine/settings.ts";
import { haulWith } from "../engine/haul.ts";
import { defaultFs } from "../runtime/browser/default_fs.ts";
import { destToPath } from "../store/destination.ts";
import { type OpfsDirectory, parts } from "../runtime/browser/opfs_fs.ts";
import { type FetchLike, HaulState } from "../types.ts";
import { errorToWire, type FromWorker, type ToWorker, type WireCall } from "./wire.ts";

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
    // The directories on the way to a dest haul accepts are made (the engine names what fails).
    let dir: OpfsDirectory | null = given ?? await scope.navigator.storage.getDirectory();
    for (const name of parts(destToPath(options.dest)).slice(0, -1)) {
      dir = await dir?.getDirectoryHandle(name, { create: true }).catch(() => null) ?? null;
    }
    options.signal = abort.signal;
    options.state = state;
    options.onProgress = () => scope.postMessage({ type: "progress", state: snapshot() });
    const warn = (message: string) => scope.postMessage({ type: "warning", message });
    options.fetch = webFetch(warn, scope.location.origin);
    options.onRetry = (info) =>
      scope.postMessage({ type: "retry", ...info, error: errorToWire(info.error) });
    const hooks = { fs: await defaultFs(given) };
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

/** The engine's `fetch` wrapped with the web's rules; `warn` gets why a resume started over or cannot be made. */
function webFetch(warn: (message: string) => void, origin: string): FetchLike {
  let warned = false;
  return async (request: Request): Promise<Response> => {
    const cross = new URL(request.url).origin !== origin;
    const headers = new Headers(request.headers);
    const range = headers.get("range");
    const validator = headers.get("if-range");
    if (range === null) headers.set("range", "bytes=0-");
    if (cross && headers.get("cache-control") === "no-transform") headers.delete("cache-control");
    const send = (sent: Headers) =>
      globalThis.fetch(new Request(request, { headers: sent, cache: "no-store" }));
    const startOver = async (why: string): Promise<Response> => {
      warn(`${request.url}: ${why}; the download starts over from byte 0`);
      headers.delete("if-range");
      headers.set("range", "bytes=0-");
      return whole(await send(headers));
    };
    let response: Response;
    try {
      response = await send(headers);
    } catch (error) {
      if (range === null) {
        // Chromium fails a fetch asked with Range (so identity) and answered compressed;
        // asked without Range, the answer shows its Content-Encoding, which the engine refuses.
        headers.delete("range");
        return await send(headers).catch(() => Promise.reject(error));
      }
      if (!cross || validator === null) throw error;
      headers.delete("if-range");
      response = await send(headers);
      if (!proves(response, range, validator)) {
        await response.body?.cancel().catch(() => {});
        return await startOver(
          "the request with If-Range failed (a server that does not allow If-Range in its " +
            "CORS preflight, or the network), and the answer without it does not show the " +
            "saved ETag and Content-Range",
        );
      }
      warn(
        `${request.url}: resumed without If-Range (refused by CORS?): the answer showed the saved validator`,
      );
      return response;
    }
    if (cross && response.ok && response.headers.get("etag") === null && !warned) {
      warned = true;
      warn(
        `${request.url}: the server shows this origin no ETag (it needs ` +
          "Access-Control-Expose-Headers: ETag, Content-Range): if the download is cut, it starts over",
      );
    }
    if (response.status !== 206 || response.headers.has("content-range")) return response;
    if (range === null) return whole(response);
    await response.body?.cancel().catch(() => {});
    return await startOver(
      "the server does not expose Content-Range to this origin (it needs " +
        "Access-Control-Expose-Headers: ETag, Content-Range), so the resumed bytes cannot be placed",
    );
  };
}

/** A 206 to `bytes=0-` whose Content-Range is hidden: the whole file, as a 200. */
function whole(response: Response): Response {
  if (response.status !== 206 || response.headers.has("content-range")) return response;
  return new Response(response.body, { status: 200, headers: response.headers });
}

/** Whether an answer asked without `If-Range` continues the file `validator` names. */
function proves(response: Response, range: string | null, validator: string): boolean {
  const start = /^bytes=(\d+)-/.exec(range ?? "")?.[1];
  const { headers, status } = response;
  const from = /^bytes (\d+)-/.exec(headers.get("content-range") ?? "")?.[1];
  const shown = headers.get(validator.startsWith('"') ? "etag" : "last-modified");
  return status === 206 && start !== undefined && from === start && shown === validator;
}
