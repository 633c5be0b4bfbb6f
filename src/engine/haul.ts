/**
 * `haul()`: one request, streamed into `<dest>.part`, checkpointed in
 * `<dest>.part.ctrl`, renamed onto `dest` only when every byte has arrived.
 * The path of one call and what runs concurrently: `docs/architecture.md`.
 *
 * @module
 */

import { checkDestination, toDestinationError } from "../store/destination.ts";
import { IntegrityError } from "../errors.ts";
import { redactUrl } from "../redact.ts";
import { digestFile } from "../hashing/file_digest.ts";
import type { FsShim, ShimStat } from "../runtime/fs_shim.ts";
import { defaultFs } from "../runtime/default_fs.ts";
import { explainMissingPermission } from "../runtime/deno_permission.ts";
import { digestMatches, type ExpectedDigests, parseIntegrity } from "../protocol/integrity.ts";
import { acquireLock, DEFAULT_LOCK_TIMING, type LockTiming } from "../store/lock.ts";
import { destToPath, type SidecarPaths, sidecarPaths } from "../store/paths.ts";
import { removeStaleSidecars } from "../store/sidecars.ts";
import { PartOwner } from "../store/ownership.ts";
import { type FetchLike, type HaulOptions, type HaulResult, HaulState } from "../types.ts";
import type { KeptHasher } from "./kept_hashes.ts";
import { ProgressReporter } from "./progress.ts";
import { singleFlight } from "./single_flight.ts";
import { checkOptions } from "./check_options.ts";
import { DEFAULT_RANGE_FLOOR, readConnections, readSettings } from "./settings.ts";
import type { CallContext } from "./call_context.ts";
import { Download } from "./download.ts";
import { headDeadline } from "./stall.ts";

/**
 * Engine internals a test may replace (documented test hooks; applications
 * call `haul()`).
 */
export interface EngineHooks {
  /** The filesystem to use (a fault-injecting one in crash tests). */
  fs?: FsShim;
  /** Bytes gathered before each write (small values exercise the write pipeline). */
  writeBufferSize?: number;
  /** Bytes written between two background `fdatasync` calls. */
  syncEvery?: number;
  /** The smallest range worth a connection of its own (with `connections` > 1). */
  rangeFloor?: number;
  /** The lock's lease (tests shorten it). */
  lockTiming?: LockTiming;
  /** A retry loop's hasher, handed from one attempt to the next (`haulWithRetry()`). */
  kept?: KeptHasher;
}

/**
 * `haul()` on the caller's thread: the public `haul()` (`src/calls.ts`) without
 * `worker: true`, and what a worker runs.
 *
 * @param input the URL or `Request` to download.
 * @param options destination and options; only `dest` is required.
 * @returns what was downloaded.
 */
export async function haul(
  input: string | URL | Request,
  options: HaulOptions,
): Promise<HaulResult> {
  checkOptions(options); // first: everything below reads options.dest
  return await haulAttempt(input, options);
}

/**
 * `haul()` for a caller that needs to know when the call shared another
 * call's download (`single_flight.ts`): `haulWithRetry()` counts that
 * download's requests as its attempt's.
 *
 * @param input the URL or `Request`.
 * @param options as for `haul()`.
 * @param onJoined called when the call takes another call's outcome.
 * @param kept the retry loop's hasher, handed from one attempt to the next.
 * @returns as `haul()`.
 */
export function haulAttempt(
  input: string | URL | Request,
  options: HaulOptions,
  onJoined?: () => void,
  kept?: KeptHasher,
): Promise<HaulResult> {
  return singleFlight(
    input,
    options,
    (own) =>
      haulWith(input, own, kept === undefined ? {} : { kept }).catch((error: unknown) => {
        throw explainMissingPermission(error, own.dest);
      }),
    onJoined,
  );
}

/**
 * `haul()` with engine internals replaced (the filesystem shim, checkpointing).
 * For crash tests and benchmarks; applications call `haul()`.
 *
 * @param input the URL or `Request`.
 * @param options as for `haul()`.
 * @param hooks what to replace.
 * @returns as `haul()`.
 */
export async function haulWith(
  input: string | URL | Request,
  options: HaulOptions,
  hooks: EngineHooks,
): Promise<HaulResult> {
  const startedAt = performance.now();
  const settings = readSettings(options, hooks);
  const connections = readConnections(options);
  const expected = options.integrity === undefined ? null : parseIntegrity(options.integrity);
  const url = requestUrl(input);
  const paths = sidecarPaths(destToPath(options.dest));
  const fetchFn: FetchLike = headDeadline(
    options.fetch ?? ((request) => globalThis.fetch(request)),
    settings.stallTimeout,
  );
  const fs = hooks.fs ?? await defaultFs();
  const state = options.state ?? new HaulState();
  state.bytesRead = 0; // per call, even when the caller reuses a state object
  state.isComplete = false;
  const progress = new ProgressReporter(state, options.onProgress);
  options.signal?.throwIfAborted();

  const returnExisting = async (found: ShimStat): Promise<HaulResult> => {
    const result = await alreadyComplete(fs, paths, found, expected, startedAt);
    state.validLength = result.size;
    state.reportedLength = result.size;
    state.isComplete = true;
    progress.done();
    return result;
  };
  const keepExisting = options.overwrite !== true;
  const existing = await checkDestination(fs, paths);
  if (existing !== null && keepExisting) {
    await removeStaleSidecars(fs, paths);
    return await returnExisting(existing);
  }
  const timing = hooks.lockTiming ?? DEFAULT_LOCK_TIMING;
  const lock = await acquireLock(fs, paths.lock, paths.dest, timing).catch((error) => {
    throw toDestinationError(error, paths.dest);
  });
  try {
    // Another process (or worker) may have finished this destination between the look above and
    // the lock: then it is there, as if it had been from the start. (The lock file was just
    // created in the parent, so the parent is a directory: only `dest` is looked at again.)
    const appeared = keepExisting ? await checkDestination(fs, paths, true) : null;
    if (appeared !== null) return await returnExisting(appeared);
    const owner = new PartOwner(fs, paths, lock);
    await owner.settle();
    // A lost lock stops the download like the caller's own abort (with a retryable error).
    const signal = options.signal === undefined
      ? owner.signal
      : AbortSignal.any([options.signal, owner.signal]);
    options = { ...options, signal };
    const ctx: CallContext = {
      fs,
      paths,
      settings,
      fetchFn,
      url,
      input,
      options,
      expected,
      progress,
      startedAt,
      connections,
      floor: hooks.rangeFloor ?? DEFAULT_RANGE_FLOOR,
      owner,
    };
    const result = await new Download(ctx).run();
    progress.done();
    return result;
  } catch (error) {
    throw toDestinationError(error, paths.dest);
  } finally {
    await lock.release().catch(() => {});
  }
}

/**
 * The result for a `dest` that is already there. Without a digest to check it
 * against, it costs a `stat` (an `fstat` through a symbolic link) and
 * `sha256` is `null`; with one, the file is read and hashed.
 */
async function alreadyComplete(
  fs: FsShim,
  paths: SidecarPaths,
  found: ShimStat,
  expected: ExpectedDigests | null,
  startedAt: number,
): Promise<HaulResult> {
  const known = expected === null
    ? existingSize(fs, paths.dest, found)
    : digestFile(fs, paths.dest);
  const { size, sha256 } = await known.catch((error) => {
    throw toDestinationError(error, paths.dest);
  });
  if (expected !== null && sha256 !== null && !digestMatches(expected, sha256)) {
    throw new IntegrityError(
      `Integrity check failed: the existing ${paths.dest} has sha256 ${sha256}, expected ` +
        `${expected.sha256.join(" or ")}; pass overwrite: true to download it again`,
      { expected: expected.sha256, actual: sha256 },
    );
  }
  return {
    dest: paths.dest,
    size,
    sha256,
    etag: null,
    contentType: null,
    status: 0,
    resumedFrom: size,
    alreadyComplete: true,
    elapsedMs: performance.now() - startedAt,
    connections: 0,
  };
}

/** The size of the file at `path`, none of its bytes read (so no digest). */
async function existingSize(
  fs: FsShim,
  path: string,
  found: ShimStat,
): Promise<{ size: number; sha256: null }> {
  if (found.isFile) return { size: found.size, sha256: null };
  const file = await fs.open(path, "read"); // a symbolic link: the size of what it leads to
  try {
    return { size: await file.size(), sha256: null };
  } finally {
    await file.close();
  }
}

function requestUrl(input: string | URL | Request): string {
  const raw = input instanceof Request ? input.url : String(input);
  try {
    return redactUrl(new URL(raw));
  } catch (error) {
    throw new TypeError(`Invalid URL: ${raw.slice(0, 200)}`, { cause: error });
  }
}
