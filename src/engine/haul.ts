/**
 * `haul()`: one request, streamed into `<dest>.part`, checkpointed in
 * `<dest>.part.ctrl`, renamed onto `dest` only when every byte has arrived.
 * The path of one call and what runs concurrently: `docs/architecture.md`.
 *
 * @module
 */

import { checkDestination, toDestinationError } from "../store/destination.ts";
import {
  HaulError,
  IntegrityError,
  PartialHaulError,
  redactUrl,
  ServerMisconfiguredError,
} from "../errors.ts";
import { digestFile } from "../hashing/file_digest.ts";
import { PartHasher } from "../hashing/part_hasher.ts";
import type { FsShim, ShimFile } from "../runtime/fs_shim.ts";
import { defaultFs } from "../runtime/default_fs.ts";
import { explainMissingPermission } from "../runtime/deno_permission.ts";
import { createNativeHash } from "../runtime/native_hash.ts";
import { digestMatches, type ExpectedDigests, parseIntegrity } from "../protocol/integrity.ts";
import { isOverLong, judgeBodyEnd } from "../protocol/body_end.ts";
import { acquireLock, DEFAULT_LOCK_TIMING, type LockTiming } from "../store/lock.ts";
import { destToPath, type SidecarPaths, sidecarPaths } from "../store/paths.ts";
import { CheckpointStore } from "../store/checkpoint_store.ts";
import { removeStaleSidecars } from "../store/sidecars.ts";
import { PartOwner } from "../store/ownership.ts";
import { commit } from "./commit.ts";
import { PartWriter } from "./part_writer.ts";
import { type CheckpointCadence, Checkpointer } from "./checkpointer.ts";
import type { KeptHasher } from "./kept_hashes.ts";
import { planResponse, type StreamPlan, type Validators } from "../protocol/plan.ts";
import { CallbackFailure, ProgressReporter } from "./progress.ts";
import { singleFlight } from "./single_flight.ts";
import { checkOptions } from "./check_options.ts";
import { buildRequest } from "../protocol/request.ts";
import { openPart, type StartPoint } from "../store/resume.ts";
import { DEFAULT_RANGE_FLOOR, readConnections, runDownload } from "./multi_range.ts";
import { type FetchLike, type HaulOptions, type HaulResult, HaulState } from "../types.ts";
import { type BodyRead, type BodySource, bodySource } from "./body_source.ts";
import { headDeadline, readStallTimeout } from "./stall.ts";

/** Default verification block: the most a resume reads back before its request. */
export const DEFAULT_BLOCK_SIZE = 1 << 20;
/** Default checkpoint cadence by bytes. */
export const DEFAULT_CHECKPOINT_BYTES = 64 << 20;
/** Default checkpoint cadence by time. */
export const DEFAULT_CHECKPOINT_MS = 1000;
const WRITE_BUFFER_SIZE = 1 << 20;
/** Bytes written between two background `fdatasync` calls. */
const SYNC_EVERY = 16 << 20;

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

/** A call's settings, validated. */
interface Settings {
  readonly blockSize: number;
  readonly cadence: CheckpointCadence;
  readonly writeBufferSize: number;
  readonly syncEvery: number;
  /** `stallTimeout` in ms (`Infinity`: none). */
  readonly stallTimeout: number;
  /** The retry loop's kept hasher (`null`: a call on its own). */
  readonly kept: KeptHasher | null;
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

  const returnExisting = async (): Promise<HaulResult> => {
    const result = await alreadyComplete(fs, paths, expected, startedAt);
    state.validLength = result.size;
    state.reportedLength = result.size;
    state.isComplete = true;
    progress.done();
    return result;
  };
  const keepExisting = options.overwrite !== true;
  if (await checkDestination(fs, paths) && keepExisting) {
    await removeStaleSidecars(fs, paths);
    return await returnExisting();
  }
  const timing = hooks.lockTiming ?? DEFAULT_LOCK_TIMING;
  const lock = await acquireLock(fs, paths.lock, paths.dest, timing).catch((error) => {
    throw toDestinationError(error, paths.dest);
  });
  try {
    // Another process (or worker) may have finished this destination between the look above and
    // the lock: then it is there, as if it had been from the start.
    if (keepExisting && await checkDestination(fs, paths)) return await returnExisting();
    const owner = new PartOwner(fs, paths, lock);
    await owner.settle();
    // A lost lock stops the download like the caller's own abort (with a retryable error).
    const signal = options.signal === undefined
      ? owner.signal
      : AbortSignal.any([options.signal, owner.signal]);
    options = { ...options, signal };
    const single = (first: Response | null) =>
      new Download(fs, paths, settings, fetchFn, url, options, expected, progress, first, owner)
        .run(input, startedAt)
        .finally(() => first?.body?.cancel().catch(() => {}));
    const floor = hooks.rangeFloor ?? DEFAULT_RANGE_FLOOR;
    const result = await runDownload({
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
      floor,
      owner,
    }, single);
    progress.done();
    return result;
  } catch (error) {
    throw toDestinationError(error, paths.dest);
  } finally {
    await lock.release().catch(() => {});
  }
}

/** One call's download, from opening `.part` to the final rename. */
class Download {
  #file: ShimFile | null = null;
  #store: CheckpointStore | null = null;
  readonly fs: FsShim;
  readonly paths: SidecarPaths;
  readonly settings: Settings;
  readonly fetchFn: FetchLike;
  readonly url: string;
  readonly options: HaulOptions;
  readonly expected: ExpectedDigests | null;
  readonly progress: ProgressReporter;
  /** The first response, when the multi-range dispatch made it and stayed on one connection. */
  readonly first: Response | null;
  readonly owner: PartOwner;

  constructor(
    fs: FsShim,
    paths: SidecarPaths,
    settings: Settings,
    fetchFn: FetchLike,
    url: string,
    options: HaulOptions,
    expected: ExpectedDigests | null,
    progress: ProgressReporter,
    first: Response | null,
    owner: PartOwner,
  ) {
    this.fs = fs;
    this.paths = paths;
    this.settings = settings;
    this.fetchFn = fetchFn;
    this.url = url;
    this.options = options;
    this.expected = expected;
    this.progress = progress;
    this.first = first;
    this.owner = owner;
  }

  async run(input: string | URL | Request, startedAt: number): Promise<HaulResult> {
    const start = await openPart(this.fs, this.paths);
    this.#file = start.file;
    await this.owner.adopt(start.file);
    const store = new CheckpointStore(this.fs, this.paths, start.checkpoint !== null, this.owner);
    this.#store = store;
    try {
      return await this.#fetchAndStore(input, start, store, startedAt);
    } catch (error) {
      if (!store.saved) {
        // Nothing on disk can resume this download: leave nothing behind.
        this.settings.kept?.drop();
        await this.#closeFile();
        await this.owner.remove().catch(() => {});
      }
      throw toDestinationError(error, this.paths.dest, store.saved);
    } finally {
      await this.#closeFile();
    }
  }

  async #fetchAndStore(
    input: string | URL | Request,
    start: StartPoint,
    store: CheckpointStore,
    startedAt: number,
  ): Promise<HaulResult> {
    const { options, progress } = this;
    const state = progress.state;
    const saved = start.checkpoint;
    state.validLength = start.cursor;
    state.reportedLength = saved?.reportedLength ?? null;
    const request = buildRequest(input, options.headers, options.signal, start);
    const response = this.first ?? await this.fetchFn(request);
    const plan = planResponse(
      { url: this.url, cursor: start.cursor, checkpoint: saved },
      response.status,
      response.headers,
    );
    if (plan.kind === "fail") {
      await discardBody(response);
      if (plan.reset) await this.#restart(start.file, store);
      throw plan.error;
    }
    const base = {
      status: response.status,
      resumedFrom: start.cursor,
      alreadyComplete: false,
      startedAt,
    };
    if (plan.kind === "finish") {
      await discardBody(response);
      const hasher = this.#hasher(start.file, start);
      try {
        // The same commit as every finish: .part is cut to the checkpoint's length and synced.
        return await this.#complete(start.cursor, () => hasher.digestHex(start.cursor), {
          ...base,
          etag: saved!.etag,
          contentType: saved!.contentType,
        });
      } finally {
        await hasher.close();
      }
    }
    if (plan.rewind) await this.#restart(start.file, store);
    const from = plan.rewind ? { file: start.file, cursor: 0, checkpoint: null } : start;
    const validators: Validators = {
      etag: plan.validators.etag ?? from.checkpoint?.etag ?? null,
      lastModified: plan.validators.lastModified ?? from.checkpoint?.lastModified ?? null,
      contentType: plan.validators.contentType ?? from.checkpoint?.contentType ?? null,
    };
    const hasher = this.#hasher(start.file, from);
    const writer = new PartWriter(start.file, this.settings, hasher, {
      cursor: from.cursor,
      extent: from.checkpoint?.extent ?? 0,
    });
    const checkpointer = new Checkpointer(
      store,
      start.file,
      writer,
      {
        // A resume keeps the block size its checkpoint was written with.
        blockSize: from.checkpoint?.blockSize ?? this.settings.blockSize,
        validators,
        total: plan.total ?? from.checkpoint?.reportedLength ?? null,
      },
      this.settings.cadence,
      from.cursor,
    );
    const job: Job = { writer, checkpointer, hasher, validators };
    state.validLength = writer.length;
    state.reportedLength = plan.total;
    try {
      try {
        progress.first(); // inside: what it throws closes what was opened above
      } catch (error) {
        await discardBody(response); // never read
        throw error;
      }
      await this.#stream(response, plan, job);
      await checkpointer.drain(); // no checkpoint is written after the rename
      return await this.#complete(
        await writer.finish(),
        () => hasher.digestHex(writer.durability.written),
        {
          ...base,
          resumedFrom: from.cursor,
          etag: validators.etag,
          contentType: plan.validators.contentType,
        },
      );
    } finally {
      // No background work outlives the call.
      await checkpointer.close();
      await writer.close();
      await hasher.close();
    }
  }

  /** The file's hasher: continued from this process's last call when it fits, else from 0. */
  #hasher(file: ShimFile, from: StartPoint): PartHasher {
    const saved = from.checkpoint;
    const kept = saved === null ? null : this.settings.kept?.take(from.cursor, saved) ?? null;
    if (saved === null) this.settings.kept?.drop();
    return new PartHasher(file, kept ?? createNativeHash(), from.cursor);
  }

  /** Discards the checkpoint and empties `.part`: the download starts from byte 0. */
  async #restart(file: ShimFile, store: CheckpointStore): Promise<void> {
    this.settings.kept?.drop();
    await store.discard();
    await file.truncate(0);
  }

  /** Streams the body into the writer; on any break, saves progress and throws. */
  async #stream(response: Response, plan: StreamPlan, job: Job): Promise<void> {
    const body = response.body === null
      ? null
      : bodySource(response.body, job.writer, this.settings.stallTimeout);
    const signal = this.options.signal;
    // Cancel the stream directly too: not every runtime stops a body on abort.
    const onAbort = () => void body?.cancel(signal?.reason).catch(() => {});
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (body !== null) await this.#pump(body, plan, job);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    if (signal?.aborted) throw await this.#interrupted(job, signal.reason);
    const verdict = judgeBodyEnd({
      received: this.progress.state.bytesRead,
      fileLength: job.writer.length,
      bodyLength: plan.bodyLength,
      total: plan.total,
      bodyEndsFile: plan.bodyEndsFile,
    });
    if (verdict.kind !== "complete") {
      throw await this.#interrupted(job, new Error(verdict.reason));
    }
  }

  /** Reads the body into the writer until it ends, enforcing the declared length. */
  async #pump(body: BodySource, plan: StreamPlan, job: Job): Promise<void> {
    const state = this.progress.state;
    let received = 0;
    for (;;) {
      let chunk: BodyRead;
      try {
        chunk = await body.read();
      } catch (error) {
        throw await this.#interrupted(job, error);
      }
      const bytes = chunk.bytes;
      if (bytes !== undefined) {
        if (isOverLong(received, bytes.length, plan.bodyLength)) {
          await body.cancel().catch(() => {});
          await job.checkpointer.close();
          await job.writer.close();
          this.settings.kept?.drop();
          await this.#closeFile();
          await this.owner.remove();
          this.#store = null;
          throw new ServerMisconfiguredError(
            `Server sent more than the ${plan.bodyLength} bytes it declared: ${this.url}: ` +
              "the download was discarded",
            { retryable: plan.offset > 0 },
          );
        }
        received += bytes.length;
        try {
          await body.store(bytes);
          await job.checkpointer.afterAppend();
        } catch (error) {
          await body.cancel().catch(() => {});
          throw await this.#interrupted(job, error);
        }
        state.bytesRead = received;
        state.validLength = job.writer.length;
        try {
          this.progress.tick();
        } catch (error) {
          await body.cancel().catch(() => {});
          throw await this.#interrupted(job, error);
        }
      }
      if (chunk.done) break;
    }
  }

  /** Saves what arrived, then returns the error the caller should see. */
  async #interrupted(job: Job, cause: unknown): Promise<unknown> {
    const store = this.#store!;
    let saveError: unknown = null;
    try {
      await job.checkpointer.final();
    } catch (error) {
      saveError = error;
    }
    const recorded = job.checkpointer.recorded;
    this.progress.state.validLength = store.saved ? recorded : 0;
    if (store.saved) {
      // A retry in this process continues this hash instead of starting over.
      this.settings.kept?.keep({ hash: job.hasher.copy(), ...job.validators });
    }
    if (saveError !== null) return toDestinationError(saveError, this.paths.dest, store.saved);
    const signal = this.options.signal;
    if (signal?.aborted) return signal.reason;
    if (cause instanceof CallbackFailure) return cause.thrown; // the caller's bug: no retry cures it
    if (cause instanceof HaulError) return cause;
    const fsError = toDestinationError(cause, this.paths.dest, store.saved);
    if (fsError !== cause) return fsError;
    // A stall says so ("No body byte for 60000 ms…").
    const why = (cause as { name?: unknown })?.name === "TimeoutError"
      ? ` (${(cause as Error).message})`
      : "";
    if (!store.saved) {
      return new PartialHaulError(
        `Download interrupted before any byte was saved${why}: ${this.url}: ` +
          "the next call starts over",
        { cause, validLength: 0 },
      );
    }
    return new PartialHaulError(
      `Download interrupted at byte ${recorded}${why}: ${this.url}: ` +
        "progress saved; call again to resume",
      { cause, validLength: recorded },
    );
  }

  async #complete(
    size: number,
    digest: () => Promise<string>,
    meta: {
      status: number;
      resumedFrom: number;
      alreadyComplete: boolean;
      startedAt: number;
      etag: string | null;
      contentType: string | null;
    },
  ): Promise<HaulResult> {
    const { paths } = this;
    this.settings.kept?.drop();
    const sha256 = await commit(
      this.owner,
      { file: this.#file!, size, digest, close: () => this.#closeFile() },
      { expected: this.expected, overwrite: this.options.overwrite === true, url: this.url },
    );
    const state = this.progress.state;
    state.validLength = size;
    state.reportedLength = size;
    state.isComplete = true;
    return {
      dest: paths.dest,
      size,
      sha256,
      etag: meta.etag,
      contentType: meta.contentType,
      status: meta.status,
      resumedFrom: meta.resumedFrom,
      alreadyComplete: false,
      elapsedMs: performance.now() - meta.startedAt,
      connections: 1,
    };
  }

  async #closeFile(): Promise<void> {
    const file = this.#file;
    this.#file = null;
    if (file !== null) await file.close().catch(() => {});
  }
}

/** The parts of one streaming call. */
interface Job {
  readonly writer: PartWriter;
  readonly checkpointer: Checkpointer;
  readonly hasher: PartHasher;
  readonly validators: Validators;
}

/**
 * The result for a `dest` that is already there. Without a digest to check it
 * against, it costs a `stat` (an `fstat` through a symbolic link) and
 * `sha256` is `null`; with one, the file is read and hashed.
 */
async function alreadyComplete(
  fs: FsShim,
  paths: SidecarPaths,
  expected: ExpectedDigests | null,
  startedAt: number,
): Promise<HaulResult> {
  const found = expected === null ? existingSize(fs, paths.dest) : digestFile(fs, paths.dest);
  const { size, sha256 } = await found.catch((error) => {
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
async function existingSize(fs: FsShim, path: string): Promise<{ size: number; sha256: null }> {
  const found = await fs.stat(path);
  if (found?.isFile) return { size: found.size, sha256: null };
  const file = await fs.open(path, "read"); // a symbolic link: the size of what it leads to
  try {
    return { size: await file.size(), sha256: null };
  } finally {
    await file.close();
  }
}

async function discardBody(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
}

function requestUrl(input: string | URL | Request): string {
  const raw = input instanceof Request ? input.url : String(input);
  try {
    return redactUrl(new URL(raw));
  } catch (error) {
    throw new TypeError(`Invalid URL: ${raw.slice(0, 200)}`, { cause: error });
  }
}

function readSettings(options: HaulOptions, hooks: EngineHooks): Settings {
  checkOptions(options);
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isSafeInteger(blockSize) || blockSize < 64 || blockSize % 64 !== 0) {
    throw new RangeError(`Invalid blockSize: ${blockSize}: use a positive multiple of 64`);
  }
  const bytes = options.checkpointEvery?.bytes ?? DEFAULT_CHECKPOINT_BYTES;
  const ms = options.checkpointEvery?.ms ?? DEFAULT_CHECKPOINT_MS;
  if (!(bytes > 0) || !(ms > 0)) {
    throw new RangeError("Invalid checkpointEvery: bytes and ms must be positive");
  }
  return {
    blockSize,
    cadence: { bytes, ms },
    writeBufferSize: hooks.writeBufferSize ?? WRITE_BUFFER_SIZE,
    syncEvery: hooks.syncEvery ?? SYNC_EVERY,
    kept: hooks.kept ?? null,
    stallTimeout: readStallTimeout(options),
  };
}
