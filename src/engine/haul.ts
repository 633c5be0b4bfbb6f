/**
 * `haul()`: one request, streamed into `<dest>.part`, checkpointed in
 * `<dest>.part.ctrl`, renamed onto `dest` only when every byte has arrived.
 *
 * @module
 */

import { checkDestination, toDestinationError } from "../store/destination.ts";
import {
  DestinationError,
  HaulError,
  IntegrityError,
  PartialHaulError,
  redactUrl,
  ServerMisconfiguredError,
} from "../errors.ts";
import { digestFile } from "../hashing/file_digest.ts";
import type { FsShim, ShimFile } from "../runtime/fs_shim.ts";
import { defaultFs } from "../runtime/default_fs.ts";
import { digestMatches, type ExpectedDigests, parseIntegrity } from "../protocol/integrity.ts";
import { acquireLock } from "../store/lock.ts";
import { destToPath, type SidecarPaths, sidecarPaths } from "../store/paths.ts";
import { PartWriter, type WriterSettings } from "./part_writer.ts";
import { planResponse, type StreamPlan } from "../protocol/plan.ts";
import { ProgressReporter } from "./progress.ts";
import { buildRequest } from "../protocol/request.ts";
import { fresh, openPart, type StartPoint } from "../store/resume.ts";
import { type FetchLike, type HaulOptions, type HaulResult, HaulState } from "../types.ts";

/** Default verification block: the most a resume re-reads. */
export const DEFAULT_BLOCK_SIZE = 1 << 20;
/** Default checkpoint cadence by bytes. */
export const DEFAULT_CHECKPOINT_BYTES = 64 << 20;
/** Default checkpoint cadence by time. */
export const DEFAULT_CHECKPOINT_MS = 1000;
const WRITE_BUFFER_SIZE = 1 << 20;
/** Bytes written between two background `fdatasync` calls. */
const SYNC_EVERY = 16 << 20;
/** Unhashed durable bytes that start the hashing worker (small downloads never start one). */
const HASH_WORKER_AFTER = 8 << 20;
/** Bodies from byte 0 at least this large (or of unknown length) are digested on a worker. */
const DIGEST_WORKER_AFTER = 16 << 20;
/** The hashing worker's share of a core while it trails by more than {@link HASH_WORKER_BEHIND}. */
const HASH_WORKER_SHARE = 0.1;
const HASH_WORKER_BEHIND = 64 << 20;

/** Engine internals a test or benchmark may replace. */
export interface EngineHooks {
  /** The filesystem to use (a fault-injecting one in crash tests). */
  fs?: FsShim;
  /** Never write checkpoints (benchmarks measure their cost with this). */
  disableCheckpoints?: boolean;
  /** Bytes gathered before each write. */
  writeBufferSize?: number;
  /** Bytes written between two background `fdatasync` calls. */
  syncEvery?: number;
  /** Whether the resumable hash may run on a worker thread (default true where `Worker` exists). */
  hashWorker?: boolean;
  /** Unhashed durable bytes that start the hashing worker. */
  hashWorkerAfter?: number;
  /** Bodies from byte 0 at least this large (or of unknown length) get their native digest on a worker. */
  digestWorkerAfter?: number;
  /** The worker's share of a core (0 < share <= 1) while it trails by more than `hashWorkerBehind`. */
  hashWorkerShare?: number;
  /** Trailing by more than this many bytes, the worker keeps to its share. */
  hashWorkerBehind?: number;
}

/**
 * Downloads `input` to `options.dest` with exactly one request, resuming from
 * a previous call's checkpoint when there is one.
 *
 * @param input the URL or `Request` to download.
 * @param options destination and options; only `dest` is required.
 * @returns what was downloaded, with its SHA-256.
 * @throws {PartialHaulError} the body broke early; progress saved; call again to resume.
 * @throws {UnexpectedStatusError} the server answered with a status haul does not download.
 * @throws {ServerMisconfiguredError} the server's bytes cannot be trusted (e.g. compressed).
 * @throws {ContentRangeError} a resume the server answered inconsistently.
 * @throws {ControlFileError} the checkpoint was corrupt; discarded; call again.
 * @throws {DestinationError} the destination cannot be used, or another call holds it.
 * @throws {IntegrityError} the bytes do not match `options.integrity`.
 *
 * @example Download a file, resuming if an earlier call was cut short
 * ```ts ignore
 * import { haul } from "./haul.ts";
 * const result = await haul("https://example.com/big.iso", { dest: "big.iso" });
 * console.log(result.size, result.sha256);
 * ```
 */
export async function haul(
  input: string | URL | Request,
  options: HaulOptions,
): Promise<HaulResult> {
  return await haulWith(input, options, {});
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
  const expected = options.integrity === undefined ? null : parseIntegrity(options.integrity);
  const url = requestUrl(input);
  const paths = sidecarPaths(destToPath(options.dest));
  const fetchFn: FetchLike = options.fetch ?? ((request) => globalThis.fetch(request));
  const fs = hooks.fs ?? await defaultFs();
  const state = options.state ?? new HaulState();
  state.bytesRead = 0; // per call, even when the caller reuses a state object
  state.isComplete = false;
  const progress = new ProgressReporter(state, options.onProgress);
  options.signal?.throwIfAborted();

  const exists = await checkDestination(fs, paths);
  if (exists && options.overwrite !== true) {
    await removeStaleSidecars(fs, paths);
    const result = await alreadyComplete(fs, paths, expected, startedAt);
    state.validLength = result.size;
    state.reportedLength = result.size;
    state.isComplete = true;
    progress.done();
    return result;
  }
  const lock = await acquireLock(fs, paths.lock, paths.dest).catch((error) => {
    throw toDestinationError(error, paths.dest);
  });
  try {
    const job = new Download(fs, paths, settings, fetchFn, url, options, expected, progress);
    const result = await job.run(input, startedAt);
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

  constructor(
    readonly fs: FsShim,
    readonly paths: SidecarPaths,
    readonly settings: WriterSettings,
    readonly fetchFn: FetchLike,
    readonly url: string,
    readonly options: HaulOptions,
    readonly expected: ExpectedDigests | null,
    readonly progress: ProgressReporter,
  ) {}

  async run(input: string | URL | Request, startedAt: number): Promise<HaulResult> {
    const start = await openPart(this.fs, this.paths);
    this.#file = start.file;
    try {
      return await this.#fetchAndStore(input, start, startedAt);
    } finally {
      await this.#closeFile();
    }
  }

  async #fetchAndStore(
    input: string | URL | Request,
    start: StartPoint,
    startedAt: number,
  ): Promise<HaulResult> {
    const { options, progress } = this;
    const state = progress.state;
    state.validLength = start.cursor;
    state.reportedLength = start.checkpoint?.reportedLength ?? null;
    const request = buildRequest(input, options.headers, options.signal, start);
    const response = await this.fetchFn(request);
    const plan = planResponse(
      { url: this.url, cursor: start.cursor, checkpoint: start.checkpoint },
      response.status,
      response.headers,
    );
    if (plan.kind === "fail") {
      await discardBody(response);
      if (plan.reset) await fresh(this.fs, this.paths, start.file, true);
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
      const saved = start.checkpoint!;
      const writer = this.#writer(start.file, start, null);
      try {
        return await this.#complete(writer, {
          ...base,
          etag: saved.etag,
          contentType: saved.contentType,
        });
      } finally {
        await writer.close();
      }
    }
    if (plan.rewind) await fresh(this.fs, this.paths, start.file, true);
    const writer = this.#writer(start.file, plan.rewind ? null : start, plan);
    state.validLength = writer.length;
    state.reportedLength = plan.total;
    progress.tick();
    try {
      await this.#stream(response, plan, writer);
      return await this.#complete(writer, {
        ...base,
        resumedFrom: plan.rewind ? 0 : start.cursor,
        etag: plan.validators.etag ?? start.checkpoint?.etag ?? null,
        contentType: plan.validators.contentType,
      });
    } finally {
      await writer.close(); // no background work or worker outlives the call
    }
  }

  #writer(file: ShimFile, from: StartPoint | null, plan: StreamPlan | null): PartWriter {
    const saved = from?.checkpoint ?? null;
    const cursor = from?.cursor ?? 0;
    // A resume keeps the block size its checkpoint was written with.
    const settings = saved === null
      ? this.settings
      : { ...this.settings, blockSize: saved.blockSize };
    const anchor = saved === null ? null : { offset: saved.anchor, state: saved.anchorHash };
    return new PartWriter(this.fs, file, this.paths, settings, {
      cursor,
      hash: saved?.hash ?? null,
      anchor,
      validators: {
        etag: plan?.validators.etag ?? saved?.etag ?? null,
        lastModified: plan?.validators.lastModified ?? saved?.lastModified ?? null,
        contentType: plan?.validators.contentType ?? saved?.contentType ?? null,
      },
      total: plan?.total ?? saved?.reportedLength ?? null,
      extent: saved?.extent ?? 0,
    });
  }

  /** Streams the body into the writer; on any break, saves progress and throws. */
  async #stream(response: Response, plan: StreamPlan, writer: PartWriter): Promise<void> {
    const limit = plan.bodyLength;
    const body = bodySource(response.body, writer);
    const signal = this.options.signal;
    // Cancel the stream directly too: not every runtime stops a body on abort.
    const onAbort = () => void body?.cancel(signal?.reason).catch(() => {});
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (body !== null) await this.#pump(body, plan, writer);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    if (signal?.aborted) throw await this.#interrupted(writer, signal.reason);
    const short = limit !== null && this.progress.state.bytesRead < limit;
    const incomplete = plan.total !== null && writer.length < plan.total;
    if (short || incomplete) {
      const expected = short ? limit : plan.total;
      throw await this.#interrupted(
        writer,
        new Error(`body ended at ${writer.length} of ${expected} bytes`),
      );
    }
    if (!plan.bodyEndsFile) {
      // A range of a file of unknown length: its end is not the file's end.
      // The next call asks for the rest; a 416 there confirms completion.
      throw await this.#interrupted(
        writer,
        new Error(`the server did not say whether the file ends at byte ${writer.length}`),
      );
    }
  }

  /** Reads the body into the writer until it ends, enforcing the declared length. */
  async #pump(body: BodySource, plan: StreamPlan, writer: PartWriter): Promise<void> {
    const state = this.progress.state;
    const limit = plan.bodyLength;
    let received = 0;
    for (;;) {
      let chunk: BodyRead;
      try {
        chunk = await body.read();
      } catch (error) {
        throw await this.#interrupted(writer, error);
      }
      const bytes = chunk.bytes;
      if (bytes !== undefined) {
        if (limit !== null && received + bytes.length > limit) {
          await body.cancel().catch(() => {});
          await writer.close();
          await fresh(this.fs, this.paths, this.#file!, true);
          throw new ServerMisconfiguredError(
            `Server sent more than the ${limit} bytes it declared: ${this.url}: ` +
              "the download was discarded",
            { retryable: plan.offset > 0 },
          );
        }
        received += bytes.length;
        try {
          await body.store(bytes);
        } catch (error) {
          await body.cancel().catch(() => {});
          throw await this.#interrupted(writer, error);
        }
        state.bytesRead = received;
        state.validLength = writer.length;
        this.progress.tick();
      }
      if (chunk.done) break;
    }
  }

  /** Saves what arrived, then returns the error the caller should see. */
  async #interrupted(writer: PartWriter, cause: unknown): Promise<unknown> {
    try {
      await writer.checkpoint();
    } catch (saveError) {
      return toDestinationError(saveError, this.paths.dest);
    }
    this.progress.state.validLength = writer.durableLength;
    const signal = this.options.signal;
    if (signal?.aborted) return signal.reason;
    if (cause instanceof HaulError) return cause;
    const fsError = toDestinationError(cause, this.paths.dest);
    if (fsError !== cause) return fsError;
    return new PartialHaulError(
      `Download interrupted at byte ${writer.durableLength}: ${this.url}: ` +
        "progress saved; call again to resume",
      { cause, validLength: writer.durableLength },
    );
  }

  async #complete(
    writer: PartWriter,
    meta: {
      status: number;
      resumedFrom: number;
      alreadyComplete: boolean;
      startedAt: number;
      etag: string | null;
      contentType: string | null;
    },
  ): Promise<HaulResult> {
    const { fs, paths } = this;
    await writer.finish();
    const sha256 = writer.hex();
    const size = writer.length;
    if (this.expected !== null && !digestMatches(this.expected, sha256)) {
      await this.#closeFile();
      await fs.remove(paths.part);
      await fs.remove(paths.ctrl);
      throw new IntegrityError(
        `Integrity check failed: ${this.url}: got sha256 ${sha256}, expected ` +
          `${this.expected.sha256.join(" or ")}; nothing was saved at ${paths.dest}`,
        { expected: this.expected.sha256, actual: sha256 },
      );
    }
    await this.#closeFile();
    if (this.options.overwrite !== true && (await fs.stat(paths.dest)) !== null) {
      throw new DestinationError(
        `Destination appeared during the download: ${paths.dest}; not replaced`,
        paths.dest,
      );
    }
    await fs.rename(paths.part, paths.dest);
    await fs.syncDir(paths.dir);
    await fs.remove(paths.ctrl);
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
    };
  }

  async #closeFile(): Promise<void> {
    const file = this.#file;
    this.#file = null;
    if (file !== null) await file.close().catch(() => {});
  }
}

async function alreadyComplete(
  fs: FsShim,
  paths: SidecarPaths,
  expected: ExpectedDigests | null,
  startedAt: number,
): Promise<HaulResult> {
  const { size, sha256 } = await digestFile(fs, paths.dest).catch((error) => {
    throw toDestinationError(error, paths.dest);
  });
  if (expected !== null && !digestMatches(expected, sha256)) {
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
  };
}

/**
 * After a crash right after the final rename, `dest` exists beside a
 * checkpoint with no `.part` (and a dead owner's lock): remove them, under the
 * lock. A `.part` with data is left alone (an `overwrite` download may resume it).
 */
async function removeStaleSidecars(fs: FsShim, paths: SidecarPaths): Promise<void> {
  const leftovers = await Promise.all(
    [paths.ctrl, paths.ctrlTmp, paths.lock].map((path) => fs.stat(path)),
  );
  if (leftovers.every((stat) => stat === null)) return;
  if ((await fs.stat(paths.part)) !== null) return;
  let lock;
  try {
    lock = await acquireLock(fs, paths.lock, paths.dest);
  } catch {
    return; // another call is working here: its business
  }
  try {
    await fs.remove(paths.ctrl);
    await fs.remove(paths.ctrlTmp);
  } finally {
    await lock.release().catch(() => {});
  }
}

/** One read of a response body: its bytes (none at the end) and whether the body ended. */
interface BodyRead {
  readonly bytes: Uint8Array | undefined;
  readonly done: boolean;
}

/** A response body as the pump sees it, whichever reader it is read with. */
interface BodySource {
  /** The next bytes. */
  read(): Promise<BodyRead>;
  /** Hands the bytes of the last read to the writer. */
  store(bytes: Uint8Array): Promise<void>;
  /** Stops the body. */
  cancel(reason?: unknown): Promise<void>;
}

/**
 * The body's reader: a BYOB reader into the writer's reused landing buffer
 * when the body is a byte stream (Deno's fetch: no allocation per chunk),
 * else the default reader. `null` when there is no body.
 */
function bodySource(
  body: ReadableStream<Uint8Array> | null,
  writer: PartWriter,
): BodySource | null {
  if (body === null) return null;
  let byob: ReadableStreamBYOBReader | null = null;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream (Bun's fetch): the default reader below.
  }
  if (byob !== null) {
    const reader = byob;
    return {
      read: async () => {
        const { value, done } = await reader.read(writer.reserve());
        return { bytes: value, done };
      },
      // A BYOB view, even an empty one, returns the landing buffer to the writer.
      store: (bytes) => writer.commit(bytes),
      cancel: (reason) => reader.cancel(reason),
    };
  }
  const reader = body.getReader();
  return {
    read: async () => {
      const { value, done } = await reader.read();
      return { bytes: done ? undefined : value, done };
    },
    store: (bytes) => writer.append(bytes),
    cancel: (reason) => reader.cancel(reason),
  };
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

function readSettings(options: HaulOptions, hooks: EngineHooks): WriterSettings {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Invalid options: haul(url, { dest }) needs an options object");
  }
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
    checkpointBytes: bytes,
    checkpointMs: ms,
    writeBufferSize: hooks.writeBufferSize ?? WRITE_BUFFER_SIZE,
    syncEvery: hooks.syncEvery ?? SYNC_EVERY,
    hashWorker: hooks.hashWorker ?? true,
    hashWorkerAfter: hooks.hashWorkerAfter ?? HASH_WORKER_AFTER,
    digestWorkerAfter: hooks.digestWorkerAfter ?? DIGEST_WORKER_AFTER,
    hashWorkerShare: hooks.hashWorkerShare ?? HASH_WORKER_SHARE,
    hashWorkerBehind: hooks.hashWorkerBehind ?? HASH_WORKER_BEHIND,
    disableCheckpoints: hooks.disableCheckpoints === true,
  };
}
