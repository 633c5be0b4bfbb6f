/**
 * One download per destination in this process (across processes the lock decides): a second call
 * for a destination being downloaded joins the first (same URL: it gets its result or error) or
 * fails at once with a non-retryable {@link DestinationError} (another URL). A call asking for
 * fresher data (`overwrite`, then `revalidate`) waits for the running call to end instead. A joined
 * call checks its own `integrity` and `signal`; when the first call did not compute the digest it
 * needs, or failed by its own doing (signal, `onProgress`, another `integrity`), it runs again.
 *
 * @module
 */

import { DestinationError, IntegrityError } from "../errors.ts";
import { redactUrl } from "../redact.ts";
import { parseIntegrity } from "../protocol/integrity.ts";
import { integrityFailure } from "./outcome.ts";
import { destToPath } from "../store/destination.ts";
import { untilAborted } from "./stall.ts";
import type { HaulOptions, HaulResult, HaulState, Source } from "../types.ts";

/** How a first call ended; `own`: by its own doing (its signal, its `onProgress`). */
type Outcome =
  | { readonly ok: true; readonly result: HaulResult }
  | { readonly ok: false; readonly error: unknown; readonly own: boolean };

interface Flight {
  readonly url: string;
  /** 0: keeps a file it finds; 1: asks the server (`revalidate`); 2: downloads (`overwrite`). */
  readonly fresh: number;
  /** How the first call ended (never rejects; the flight is forgotten first). */
  readonly outcome: Promise<Outcome>;
}

const flights = new Map<string, Flight>();

/** A destination's path without duplicate separators and `.` segments; `null` if invalid. */
export function destinationKey(dest: string | URL): string | null {
  let path: string;
  try {
    path = destToPath(dest);
  } catch {
    return null;
  }
  const absolute = path.startsWith("/");
  const parts = path.split("/").filter((part) => part !== "" && part !== ".");
  const joined = parts.join("/");
  return absolute ? `/${joined}` : joined === "" ? "." : joined;
}

/** The `href`s a call asks for (space-separated); `null` for a function or a bad URL. */
export function requestHref(input: Source | readonly Source[]): string | null {
  const list: readonly Source[] = Array.isArray(input) ? input : [input as Source];
  try {
    return list.map((source) => {
      if (typeof source === "function") throw new TypeError("a function");
      return new URL(source instanceof Request ? source.url : String(source)).href;
    }).join(" ");
  } catch {
    return null;
  }
}

/** Runs `download`, or joins (same URL) or refuses (another URL) a running call for `dest`. */
export async function singleFlight<O extends HaulOptions>(
  input: Source | readonly Source[],
  options: O,
  download: (options: O) => Promise<HaulResult>,
  onJoined?: () => void,
): Promise<HaulResult> {
  const key = destinationKey(options.dest);
  const url = requestHref(input);
  if (key === null || url === null) return await download(options); // the engine reports it
  const running = flights.get(key);
  if (running === undefined) return await lead(key, url, options, download);
  if (running.url !== url) {
    throw new DestinationError(
      `Destination busy: this process is downloading ${redactUrl(running.url)} to ` +
        `${key}; a second URL (${redactUrl(url)}) cannot share that destination`,
      key,
      { retryable: false },
    );
  }
  const again = () => singleFlight(input, options, download, onJoined);
  if (freshness(options) > running.fresh) {
    await untilAborted(running.outcome, options.signal);
    return await again();
  }
  const expected = options.integrity === undefined ? null : parseIntegrity(options.integrity);
  const outcome = await untilAborted(running.outcome, options.signal);
  const theirs = !outcome.ok && outcome.error instanceof IntegrityError && // no verdict on ours
    outcome.error.expected.join() !== expected?.hex.join();
  if (!outcome.ok && (outcome.own || theirs)) return await again();
  if (outcome.ok && expected !== null && !outcome.result[expected.algorithm]) return await again();
  onJoined?.();
  if (!outcome.ok) throw outcome.error;
  const { result } = outcome;
  const from = `${result.dest}, which another call of this process downloaded from ${
    redactUrl(url)
  }`;
  const failure = integrityFailure(expected, result, (found) => `${from}, has ${found}`);
  if (failure !== null) throw failure;
  return { ...result };
}

/** Runs the first call's download as the flight of `key` until it ends. */
function lead<O extends HaulOptions>(
  key: string,
  url: string,
  options: O,
  download: (options: O) => Promise<HaulResult>,
): Promise<HaulResult> {
  let thrown: { value: unknown } | null = null;
  const onProgress = options.onProgress;
  const watched = onProgress === undefined ? options : {
    ...options,
    onProgress: (state: HaulState) => {
      try {
        onProgress(state);
      } catch (error) {
        thrown = { value: error };
        throw error;
      }
    },
  };
  const outcome = download(watched).then(
    (result): Outcome => ({ ok: true, result }),
    (error: unknown): Outcome => ({
      ok: false,
      error,
      own: options.signal?.aborted === true || (thrown !== null && thrown.value === error),
    }),
  ).finally(() => {
    if (flights.get(key) === flight) flights.delete(key);
  });
  const flight: Flight = { url, fresh: freshness(options), outcome };
  flights.set(key, flight);
  return outcome.then((ended) => {
    if (!ended.ok) throw ended.error;
    return { ...ended.result };
  });
}

function freshness(options: HaulOptions): number {
  return options.overwrite === true ? 2 : options.revalidate === true ? 1 : 0;
}
