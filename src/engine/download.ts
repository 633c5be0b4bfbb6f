/**
 * One connection's download: open `.part` (verifying what a checkpoint
 * says is there), request from its cursor, plan from the answer, stream the
 * body into `.part` with checkpoints, then commit it onto `dest` or, on any
 * break, save what arrived. `haulWith()` (`haul.ts`) runs it once it holds
 * the destination's lock and `multi_range.ts` chose one connection.
 *
 * @module
 */

import { HaulError, PartialHaulError, ServerMisconfiguredError } from "../errors.ts";
import { PartHasher } from "../hashing/part_hasher.ts";
import type { ShimFile } from "../runtime/fs_shim.ts";
import { createNativeHash } from "../runtime/native_hash.ts";
import { isOverLong, judgeBodyEnd } from "../protocol/body_end.ts";
import { planResponse, type StreamPlan, type Validators } from "../protocol/plan.ts";
import { buildRequest } from "../protocol/request.ts";
import { toDestinationError } from "../store/destination.ts";
import { CheckpointStore } from "../store/checkpoint_store.ts";
import { openPart, type StartPoint } from "../store/resume.ts";
import type { HaulResult } from "../types.ts";
import { commit } from "./commit.ts";
import { PartWriter } from "./part_writer.ts";
import { Checkpointer } from "./checkpointer.ts";
import { CallbackFailure } from "./progress.ts";
import { type BodyRead, type BodySource, bodySource } from "./body_source.ts";
import type { CallContext } from "./call_context.ts";

/**
 * One call's download over one connection, from opening `.part` to the
 * final rename.
 *
 * @example
 * ```ts ignore
 * // Needs a locked destination and the call's context: haulWith() builds them.
 * const result = await new Download(ctx, null).run();
 * ```
 */
export class Download {
  #file: ShimFile | null = null;
  #store: CheckpointStore | null = null;
  readonly #ctx: CallContext;
  /** The first response, when the multi-range dispatch made it and stayed on one connection. */
  readonly #first: Response | null;

  /**
   * @param ctx the call.
   * @param first the first response, when the multi-range dispatch made it (its body unread).
   */
  constructor(ctx: CallContext, first: Response | null) {
    this.#ctx = ctx;
    this.#first = first;
  }

  /**
   * Downloads, resuming from `.part` when its checkpoint bears it out.
   *
   * @returns the result.
   */
  async run(): Promise<HaulResult> {
    const { fs, paths, owner } = this.#ctx;
    const start = await openPart(fs, paths);
    this.#file = start.file;
    await owner.adopt(start.file);
    const store = new CheckpointStore(fs, paths, start.checkpoint !== null, owner);
    this.#store = store;
    try {
      return await this.#fetchAndStore(start, store);
    } catch (error) {
      if (!store.saved) {
        // Nothing on disk can resume this download: leave nothing behind.
        this.#ctx.settings.kept?.drop();
        await this.#closeFile();
        await owner.remove().catch(() => {});
      }
      throw toDestinationError(error, paths.dest, store.saved);
    } finally {
      await this.#closeFile();
    }
  }

  async #fetchAndStore(start: StartPoint, store: CheckpointStore): Promise<HaulResult> {
    const { input, options, progress, startedAt } = this.#ctx;
    const state = progress.state;
    const saved = start.checkpoint;
    state.validLength = start.cursor;
    state.reportedLength = saved?.reportedLength ?? null;
    const request = buildRequest(input, options.headers, options.signal, start);
    const response = this.#first ?? await this.#ctx.fetchFn(request);
    const plan = planResponse(
      { url: this.#ctx.url, cursor: start.cursor, checkpoint: saved },
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
    const writer = new PartWriter(start.file, this.#ctx.settings, hasher, {
      cursor: from.cursor,
      extent: from.checkpoint?.extent ?? 0,
    });
    const checkpointer = new Checkpointer(
      store,
      start.file,
      writer,
      {
        // A resume keeps the block size its checkpoint was written with.
        blockSize: from.checkpoint?.blockSize ?? this.#ctx.settings.blockSize,
        validators,
        total: plan.total ?? from.checkpoint?.reportedLength ?? null,
      },
      this.#ctx.settings.cadence,
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
    const kept = saved === null ? null : this.#ctx.settings.kept?.take(from.cursor, saved) ?? null;
    if (saved === null) this.#ctx.settings.kept?.drop();
    return new PartHasher(file, kept ?? createNativeHash(), from.cursor);
  }

  /** Discards the checkpoint and empties `.part`: the download starts from byte 0. */
  async #restart(file: ShimFile, store: CheckpointStore): Promise<void> {
    this.#ctx.settings.kept?.drop();
    await store.discard();
    await file.truncate(0);
  }

  /** Streams the body into the writer; on any break, saves progress and throws. */
  async #stream(response: Response, plan: StreamPlan, job: Job): Promise<void> {
    const body = response.body === null
      ? null
      : bodySource(response.body, job.writer, this.#ctx.settings.stallTimeout);
    const signal = this.#ctx.options.signal;
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
      received: this.#ctx.progress.state.bytesRead,
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
    const state = this.#ctx.progress.state;
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
          this.#ctx.settings.kept?.drop();
          await this.#closeFile();
          await this.#ctx.owner.remove();
          this.#store = null;
          throw new ServerMisconfiguredError(
            `Server sent more than the ${plan.bodyLength} bytes it declared: ${this.#ctx.url}: ` +
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
          this.#ctx.progress.tick();
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
    const { paths, url, options, settings, progress } = this.#ctx;
    const store = this.#store!;
    let saveError: unknown = null;
    try {
      await job.checkpointer.final();
    } catch (error) {
      saveError = error;
    }
    const recorded = job.checkpointer.recorded;
    progress.state.validLength = store.saved ? recorded : 0;
    if (store.saved) {
      // A retry in this process continues this hash instead of starting over.
      settings.kept?.keep({ hash: job.hasher.copy(), ...job.validators });
    }
    if (saveError !== null) return toDestinationError(saveError, paths.dest, store.saved);
    const signal = options.signal;
    if (signal?.aborted) return signal.reason;
    if (cause instanceof CallbackFailure) return cause.thrown; // the caller's bug: no retry cures it
    if (cause instanceof HaulError) return cause;
    const fsError = toDestinationError(cause, paths.dest, store.saved);
    if (fsError !== cause) return fsError;
    // A stall says so ("No body byte for 60000 ms…").
    const why = (cause as { name?: unknown })?.name === "TimeoutError"
      ? ` (${(cause as Error).message})`
      : "";
    if (!store.saved) {
      return new PartialHaulError(
        `Download interrupted before any byte was saved${why}: ${url}: ` +
          "the next call starts over",
        { cause, validLength: 0 },
      );
    }
    return new PartialHaulError(
      `Download interrupted at byte ${recorded}${why}: ${url}: ` +
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
    const { paths, owner, expected, url, options, settings, progress } = this.#ctx;
    settings.kept?.drop();
    const sha256 = await commit(
      owner,
      { file: this.#file!, size, digest, close: () => this.#closeFile() },
      { expected, overwrite: options.overwrite === true, url, state: progress.state },
    );
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
      suggestedName: this.#ctx.suggestedName(),
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

/** Lets the response's unread body go. */
async function discardBody(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
}
