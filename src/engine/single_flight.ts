/**
 * One download per destination in this process. A second `haul()` for a
 * destination that a call in this process is already downloading joins it
 * when it asks for the same URL (it waits and gets the first call's result,
 * or its error), and fails at once with a non-retryable
 * {@link DestinationError} when it asks for another URL (two different files
 * for one path is a caller's bug a retry cannot fix). Across processes the
 * lock file decides (`src/store/lock.ts`): a busy destination is a fast,
 * retryable `DestinationError`.
 *
 * Destinations are compared as paths after lexical clean-up (`a//b/./c` is
 * `a/b/c`); a relative and an absolute spelling of one file are two keys, and
 * the second of them meets the lock (busy, retryable) instead of joining.
 * URLs are compared by their parsed `href`.
 *
 * `haul()` goes through it, and so does `haulWithRetry({ worker: true })`,
 * whose whole loop runs on a worker (`retryOnWorker()` in `batch/retry.ts`,
 * also used by `haulAll()`): calls on workers join like the rest.
 *
 * A call with `overwrite: true` does not join a call without it (which may
 * keep the file it finds): it waits for that call to end, then downloads. A
 * call with `revalidate: true` likewise does not join one that neither
 * revalidates nor overwrites: it waits, then asks the server.
 *
 * A joining call shares the first call's download: its own `onProgress`,
 * `state` and `headers` are not applied, but its `integrity` and
 * `signal` are: a result that does not match its `integrity` rejects that
 * call with an {@link IntegrityError} (the file stays: it is the first
 * call's), and aborting its signal rejects that call's wait (with the
 * signal's reason) and leaves the first call's download running. A first
 * call without `integrity` that found `dest` already there did not hash it
 * (`sha256: null`), and one with another `integrity` may not have computed
 * the algorithm a joined call's `integrity` needs (say `sha512`): the joined
 * call then runs on its own, which hashes and checks the file.
 *
 * The first call's own doing is not shared: when its signal aborted, or it
 * rejects with what its `onProgress` threw, each joined call runs again (the
 * first to do so leads, the others join it). `haulWithRetry()` without
 * `worker: true` goes through here at each attempt and counts a joined
 * attempt's error as its own (`onJoined`): each loop retries by its own
 * policy.
 *
 * @module
 */

import { DestinationError, IntegrityError } from "../errors.ts";
import { redactUrl } from "../redact.ts";
import { type ExpectedDigests, integrityMismatch, parseIntegrity } from "../protocol/integrity.ts";
import { destToPath } from "../store/paths.ts";
import type { HaulOptions, HaulResult, HaulState, Source } from "../types.ts";
import { untilAborted } from "./until_aborted.ts";

/**
 * How a first call ended. `own`: its failure was of its own making (its
 * signal aborted, or the error is what its `onProgress` threw), which the
 * calls that joined it do not share.
 */
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

/**
 * The key of a destination: its path with duplicate separators and `.`
 * segments removed, or `null` when it is not a valid destination (the engine
 * then raises its own error).
 *
 * @param dest the caller's `dest`.
 * @returns the key, or `null`.
 */
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

/**
 * The URL a call asks for, as a parsed `href` (several, space-separated, for
 * mirrors), or `null` when one does not parse or is a function (such calls
 * are not joined: the destination's lock keeps them apart).
 *
 * @param input what `haul()` was given.
 * @returns the `href`, or `null`.
 */
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

/**
 * Runs `download` unless a call in this process already downloads to the
 * same destination: then joins it (same URL) or refuses (another URL). A
 * joined call whose first call failed by its own doing (its signal, its
 * `onProgress`) runs again: it joins the next download or leads it.
 *
 * @param input the URL or `Request`.
 * @param options the call's options (`dest`, `signal`, `overwrite`, `integrity` and `onProgress` are read).
 * @param download starts this call's download with the options it is given
 *   (the call's own, its `onProgress` watched).
 * @param onJoined called when the call takes another call's outcome, whose
 *   requests were then made for it too.
 * @returns the download's result (a copy for each caller).
 * @throws {DestinationError} (not retryable) when another URL is being downloaded to `dest`.
 *
 * @example
 * ```ts ignore
 * // Needs a server; tests/engine/single_flight_test.ts runs it.
 * const [a, b] = await Promise.all([haul(url, { dest }), haul(url, { dest })]); // one request
 * ```
 */
export function singleFlight<O extends HaulOptions>(
  input: Source | readonly Source[],
  options: O,
  download: (options: O) => Promise<HaulResult>,
  onJoined?: () => void,
): Promise<HaulResult> {
  const key = typeof options === "object" && options !== null ? destinationKey(options.dest) : null;
  const url = requestHref(input);
  if (key === null || url === null) return download(options); // the engine reports the bad input
  const running = flights.get(key);
  if (running === undefined) return lead(key, url, options, download);
  if (running.url !== url) {
    return Promise.reject(
      new DestinationError(
        `Destination busy: this process is downloading ${redactUrl(running.url)} to ` +
          `${key}; a second URL (${redactUrl(url)}) cannot share that destination`,
        key,
        { retryable: false },
      ),
    );
  }
  const again = () => singleFlight(input, options, download, onJoined);
  if (freshness(options) > running.fresh) {
    // The running call may keep the file that is there; this one asked for a new download (or
    // the server's word), so it runs once that call is over (its own abort still ends the wait).
    return untilAborted(running.outcome, options.signal).then(again);
  }
  let expected: ExpectedDigests | null = null;
  try {
    if (options.integrity !== undefined) expected = parseIntegrity(options.integrity);
  } catch (error) {
    return Promise.reject(error);
  }
  return untilAborted(running.outcome, options.signal).then((outcome) => {
    if (!outcome.ok && outcome.own) return again();
    // The first call did not compute the digest this one checks (it kept a file it found
    // without hashing it, or its `integrity` asked another algorithm): this call runs on its
    // own, and reads and checks the file (no request: it is there).
    if (outcome.ok && expected !== null && !outcome.result[expected.algorithm]) return again();
    onJoined?.();
    if (!outcome.ok) throw outcome.error;
    const result = outcome.result;
    const mismatch = expected === null ? null : integrityMismatch(expected, result);
    if (mismatch !== null) {
      throw new IntegrityError(
        `Integrity check failed: ${result.dest}, which another call of this process downloaded ` +
          `from ${redactUrl(url)}, has ${mismatch.algorithm} ${mismatch.actual}, expected ` +
          `${mismatch.expected.join(" or ")}`,
        mismatch,
      );
    }
    return { ...result };
  });
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
