/**
 * `haul()`: one request, streamed into `<dest>.part`, checkpointed in `<dest>.part.ctrl`, renamed
 * onto `dest` only when every byte has arrived (the path of one call: `docs/architecture.md`).
 *
 * @module
 */

import {
  checkDestination,
  destToPath,
  explainMissingPermission,
  type SidecarPaths,
  sidecarPaths,
  toDestinationError,
} from "../store/destination.ts";
import { DestinationError } from "../errors.ts";
import { digestFile } from "../hashing/file_digest.ts";
import type { FsShim, ShimStat } from "../runtime/fs_shim.ts";
import { defaultFs } from "../runtime/default_fs.ts";
import { type ExpectedDigests, parseIntegrity } from "../protocol/integrity.ts";
import { integrityFailure } from "./outcome.ts";
import { acquireLock } from "../store/lock.ts";
import { PartOwner, removeStaleSidecars } from "../store/ownership.ts";
import type { FetchLike, HaulOptions, HaulResult, Source } from "../types.ts";
import { HaulState } from "../types.ts";
import { Sources, urlOf } from "./sources.ts";
import { ProgressReporter } from "./progress.ts";
import { singleFlight } from "./single_flight.ts";
import { type CallContext, checkOptions, type EngineHooks, readSettings } from "./settings.ts";
import { Download } from "./download.ts";
import { headDeadline, untilAborted } from "./stall.ts";
import { contentDispositionName } from "../protocol/safe_name.ts";

export type { EngineHooks } from "./settings.ts";

/**
 * `haul()` itself, for `src/calls.ts` and each attempt of a retry loop: `onJoined` says the call
 * shared another's download (`single_flight.ts`: its state and `onProgress` see the end all the
 * same); `loop` hands its hasher, sources, pace, fs over.
 */
export async function haul(
  input: Source | readonly Source[],
  options: HaulOptions,
  onJoined?: () => void,
  loop: Pick<EngineHooks, "kept" | "sources" | "limiter" | "fs"> = {},
): Promise<HaulResult> {
  checkOptions(options); // first: everything below reads options.dest
  const state = Object.assign(options.state ?? new HaulState(), { isComplete: false });
  const result = await singleFlight(
    input,
    { ...options, state },
    (own) =>
      haulWith(input, own, loop).catch((error: unknown) => {
        throw explainMissingPermission(error, own.dest);
      }),
    onJoined,
  );
  if (!state.isComplete) new ProgressReporter(state, options.onProgress).done(result.size);
  return result;
}

/** `haul()` with engine internals replaced, for tests and benchmarks (no single flight). */
export async function haulWith(
  input: Source | readonly Source[],
  options: HaulOptions,
  hooks: EngineHooks,
): Promise<HaulResult> {
  const startedAt = performance.now();
  const settings = readSettings(options, hooks);
  const expected = options.integrity === undefined ? null : parseIntegrity(options.integrity);
  const sources = hooks.sources ?? Sources.of(input);
  const paths = sidecarPaths(destToPath(options.dest));
  const caller: FetchLike = options.fetch ?? ((request) => globalThis.fetch(request));
  let suggestedName: string | null = null;
  const fetchFn: FetchLike = headDeadline(async (request, init) => {
    const response = await caller(request, init);
    if (response?.ok || response?.status === 416) {
      suggestedName ??= contentDispositionName(response.headers.get("content-disposition"));
    }
    return response;
  }, settings.stallTimeout);
  const fs = hooks.fs ?? await defaultFs();
  const state = options.state ?? new HaulState();
  Object.assign(state, { bytesRead: 0, isComplete: false }); // per call, even when reused
  const progress = new ProgressReporter(state, options.onProgress);
  options.signal?.throwIfAborted();

  const returnExisting = async (found: ShimStat, owner?: PartOwner): Promise<HaulResult> => {
    const result = await alreadyComplete(fs, paths, found, expected, startedAt)
      .finally(() => owner?.check()); // read while still its own, else "lock lost"
    progress.done(result.size);
    return result;
  };
  const keepExisting = options.overwrite !== true;
  const revalidate = keepExisting && options.revalidate === true;
  const existing = await checkDestination(fs, paths);
  if (existing !== null && keepExisting && !revalidate) {
    await removeStaleSidecars(fs, paths);
    return await returnExisting(existing);
  }
  const lock = await acquireLock(fs, paths.lock, paths.dest, hooks.lockTiming).catch((error) => {
    throw toDestinationError(error, paths.dest);
  });
  try {
    // Another process may have finished this destination between the look above and the lock
    // (its file just made in the parent, so only `dest` is looked at again): then it is there.
    const appeared = keepExisting ? await checkDestination(fs, paths, true) : null;
    if (appeared !== null && !revalidate) return await returnExisting(appeared);
    const owner = new PartOwner(fs, paths, lock);
    await owner.settle();
    // A lost lock stops the download like the caller's own abort (with a retryable error).
    const signal = options.signal === undefined
      ? owner.signal
      : AbortSignal.any([options.signal, owner.signal]);
    // If-Modified-Since the file's mtime (not a link's own: a link is downloaded again).
    const since = appeared?.isFile === true ? appeared.mtimeMs ?? null : null;
    options = { ...options, signal, overwrite: options.overwrite === true || appeared !== null };
    const index = sources.current;
    const first = { index, input: await untilAborted(sources.resolve(index), signal) };
    const ctx: CallContext = {
      fs,
      paths,
      settings,
      fetchFn,
      url: urlOf(first.input),
      sources,
      first,
      options,
      expected,
      progress,
      startedAt,
      owner,
      suggestedName: () => suggestedName,
      since,
    };
    const result = await new Download(ctx).run();
    if (result === null) { // 304: dest is current; the empty .part goes
      await owner.remove();
      return { ...(await returnExisting(appeared!, owner)), status: 304, connections: 1 };
    }
    progress.done(result.size);
    return result;
  } catch (error) {
    throw toDestinationError(error, paths.dest);
  } finally {
    await lock.release().catch(() => {});
  }
}

/**
 * The result for a `dest` that is already there: without a digest to check, a `stat` (an `fstat`
 * through a symbolic link) and `sha256` `null`; with one, the file is read and hashed.
 */
async function alreadyComplete(
  fs: FsShim,
  paths: SidecarPaths,
  found: ShimStat,
  expected: ExpectedDigests | null,
  startedAt: number,
): Promise<HaulResult> {
  if (found.linkTarget === "missing") {
    throw new DestinationError(
      `Destination is a dangling symbolic link: ${paths.dest}; remove it, or pass overwrite: true`,
      paths.dest,
    );
  }
  const measure = async () => {
    if (expected !== null) return await digestFile(fs, paths.dest, expected.algorithm);
    if (found.isFile) return { size: found.size, sha256: null };
    const file = await fs.open(paths.dest, "read"); // a symbolic link: the size of what it leads to
    return await file.size().then((size) => ({ size, sha256: null })).finally(() => file.close());
  };
  const { size, ...digests } = await measure().catch((error) => {
    throw toDestinationError(error, paths.dest);
  });
  const failure = integrityFailure(
    expected,
    digests,
    (found) => `the existing ${paths.dest} has ${found}; pass overwrite: true to download it again`,
  );
  if (failure !== null) throw failure;
  return {
    dest: paths.dest,
    size,
    ...digests,
    etag: null,
    contentType: null,
    status: 0,
    resumedFrom: size,
    alreadyComplete: true,
    elapsedMs: performance.now() - startedAt,
    connections: 0,
    suggestedName: null,
  };
}
