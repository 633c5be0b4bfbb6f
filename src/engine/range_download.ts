/**
 * One call's download over several ranges of one `.part`: each range has a
 * connection (a `Range` + `If-Range` request, its answer checked by
 * `checkRangeResponse` before any byte is written) and its own writer at its
 * position (`segment.ts`); `range_schedule.ts` decides which bytes each
 * connection fetches next. Checkpoints record every range's durable bytes
 * (`range_checkpointer.ts`). The SHA-256 is one pass in file order
 * (`prefix_hasher.ts`): from memory for the bytes written at the head of the
 * file, read back for those another range wrote first.
 *
 * A range answered under another validator (ETag or Last-Modified) resets
 * the whole download: the file changed. A range answered with other bytes of
 * the same file (a 200, a 416, a wrong `Content-Range` or length, a
 * `Content-Encoding`) only stops that connection: its range is pending again
 * for the connections that work. Work no connection could fetch ends the
 * call with its progress saved (`PartialHaulError`), or, when it saved
 * nothing, discarded. Any other failure stops every range, saves each one's
 * progress and rejects with a retryable `PartialHaulError`; an abort saves
 * everything too.
 *
 * @module
 */

import { ContentRangeError, PartialHaulError, UnexpectedStatusError } from "../errors.ts";
import { parseRetryAfter } from "../protocol/retry_after.ts";
import { checkRangeResponse, type KnownFile } from "../protocol/range_check.ts";
import { buildRangeRequest } from "../protocol/range_request.ts";
import type { Validators } from "../protocol/plan.ts";
import { PrefixHasher } from "../hashing/prefix_hasher.ts";
import { createNativeHash } from "../runtime/native_hash.ts";
import type { ShimFile } from "../runtime/fs_shim.ts";
import type { Checkpoint } from "../protocol/checkpoint.ts";
import { CheckpointStore } from "../store/checkpoint_store.ts";
import { toDestinationError } from "../store/destination.ts";
import { commit } from "./commit.ts";
import type { HaulResult } from "../types.ts";
import { PartWriter, type WriteObserver } from "./part_writer.ts";
import { CallbackFailure } from "./progress.ts";
import type { CallContext } from "./call_context.ts";
import { RangeCheckpointer } from "./range_checkpointer.ts";
import { withSharedSync } from "./shared_sync.ts";
import type { ByteSpan } from "./range_split.ts";
import { RangeSchedule } from "./range_schedule.ts";
import { type Segment, streamSegment } from "./segment.ts";

/** A range answer that shows the bytes on disk cannot be continued. */
class RangeReset extends Error {}

/**
 * One call's multi-range download.
 *
 * @example
 * ```ts ignore
 * // Needs a locked destination, an open .part and the call's context: runDownload() builds them.
 * const result = await new RangeDownload(ctx, file).resume(checkpoint);
 * ```
 */
export class RangeDownload {
  readonly #ctx: CallContext;
  readonly #file: ShimFile;
  #fileOpen = true;
  readonly #stop = new AbortController();
  #schedule!: RangeSchedule;
  #store!: CheckpointStore;
  #checkpointer!: RangeCheckpointer;
  #known!: KnownFile;
  #validators!: Validators;
  #status = 0;
  #accepted = 0;
  #used = 0;
  #failure: { error: unknown } | null = null;
  #reset: RangeReset | null = null;
  #hasher: PrefixHasher | null = null;
  /** Each writer offers its bytes and reports its completed writes: the hash follows the written prefix. */
  readonly #observer: WriteObserver = {
    offer: (bytes, at) => {
      this.#hasher?.offer(bytes, at);
      return Promise.resolve();
    },
    written: () => this.#hasher?.advance(this.#schedule.writtenPrefix()),
  };

  /**
   * @param ctx the call.
   * @param file `.part`, open read-write (emptied for a fresh download, else verified).
   */
  constructor(ctx: CallContext, file: ShimFile) {
    this.#ctx = ctx;
    this.#file = withSharedSync(file); // several writers sync one file
  }

  /**
   * Continues from a checkpoint whose every range `.part` bears out: the
   * gaps are fetched as ranges, with up to `connections` at a time.
   *
   * @param saved the verified checkpoint (length and strong validator known).
   * @returns the result.
   */
  async resume(saved: Checkpoint): Promise<HaulResult> {
    const { etag, lastModified, contentType } = saved;
    const total = saved.reportedLength!;
    this.#known = { total, etag, lastModified: etag === null ? lastModified : null };
    this.#validators = { etag, lastModified, contentType };
    const durable = saved.ranges.map(({ start, end }) => ({ start, end }));
    this.#schedule = RangeSchedule.resume(total, durable, this.#ctx.connections, this.#ctx.floor);
    this.#store = new CheckpointStore(this.#ctx.fs, this.#ctx.paths, true, this.#ctx.owner);
    return await this.#run(null, saved.blockSize, saved.extent);
  }

  /**
   * Starts from byte 0: the first response (a 200 or a 206 from byte 0 of a
   * file whose length and strong validator are known) fills the first range,
   * further ranges are asked concurrently.
   *
   * @param response the first response, its body unread.
   * @param known what it established.
   * @param validators its validators.
   * @returns the result.
   */
  async fresh(response: Response, known: KnownFile, validators: Validators): Promise<HaulResult> {
    this.#known = known;
    this.#validators = validators;
    this.#status = response.status;
    const { connections, floor } = this.#ctx;
    const { schedule, first } = RangeSchedule.fresh(known.total, connections, floor);
    this.#schedule = schedule;
    this.#store = new CheckpointStore(this.#ctx.fs, this.#ctx.paths, false, this.#ctx.owner);
    return await this.#run({ response, span: first }, this.#ctx.settings.blockSize, 0);
  }

  async #run(
    first: { response: Response; span: ByteSpan } | null,
    blockSize: number,
    baseExtent: number,
  ): Promise<HaulResult> {
    const { paths, options, progress } = this.#ctx;
    const total = this.#known.total;
    this.#ctx.settings.kept?.drop(); // bytes land out of order: no running hash applies
    this.#hasher = new PrefixHasher(this.#file, createNativeHash());
    this.#hasher.advance(this.#schedule.writtenPrefix());
    this.#checkpointer = new RangeCheckpointer(
      this.#store,
      this.#file,
      { blockSize, validators: this.#validators, total },
      this.#ctx.settings.cadence,
      this.#schedule.base,
      baseExtent,
      () => this.#schedule.segments,
    );
    const state = progress.state;
    state.validLength = this.#schedule.baseBytes;
    state.reportedLength = total;
    const signal = options.signal;
    const onAbort = () => this.#fail(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      try {
        progress.first(); // inside: what it throws stops the read-back and closes .part
      } catch (error) {
        await first?.response.body?.cancel().catch(() => {}); // never read
        throw error;
      }
      if (signal?.aborted) onAbort();
      const workers: Promise<void>[] = [];
      if (first !== null) workers.push(this.#worker(first));
      while (workers.length < this.#ctx.connections) workers.push(this.#worker(null));
      await Promise.all(workers);
      const left = this.#schedule.leftOver;
      if (this.#failure === null && this.#reset === null && left !== null) this.#leftOver(left);
      if (this.#failure !== null || this.#reset !== null) throw await this.#interrupted();
      await this.#checkpointer.drain(); // no checkpoint is written after the rename
      const covered = this.#schedule.written();
      if (covered.length !== 1 || covered[0]!.start !== 0 || covered[0]!.end < total) {
        throw new Error(`haul: the ranges do not cover the file (${JSON.stringify(covered)})`);
      }
      return await this.#complete(total);
    } catch (error) {
      if (!this.#store.saved) {
        this.#ctx.settings.kept?.drop();
        await this.#settle();
        await this.#closeFile();
        await this.#ctx.owner.remove().catch(() => {});
      }
      throw toDestinationError(error, paths.dest, this.#store.saved);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      await this.#settle();
      await this.#closeFile();
    }
  }

  /** One connection: its first range, then pending ranges, then stolen halves. */
  async #worker(first: { response: Response; span: ByteSpan } | null): Promise<void> {
    try {
      if (first !== null) {
        this.#used++;
        // The first response runs to the end of the file: it is always cut short.
        const segment = this.#segment(first.span, false);
        await this.#stream(segment, first.response, this.#known.total + 1);
      }
      let counted = first !== null;
      for (;;) {
        if (this.#stop.signal.aborted) return;
        const span = this.#schedule.next();
        if (span === null) return;
        if (!counted) this.#used++;
        counted = true;
        if (!(await this.#fetch(this.#segment(span)))) return; // refused: this connection stops
      }
    } catch (error) {
      if (first !== null) await first.response.body?.cancel().catch(() => {});
      this.#fail(error);
    }
  }

  /** A new range at `span`; `asked`: its request is still to be answered. */
  #segment(span: ByteSpan, asked = true): Segment {
    const writer = new PartWriter(this.#file, this.#ctx.settings, this.#observer, {
      cursor: span.start,
      extent: 0,
    });
    return this.#schedule.start(span, writer, asked);
  }

  /**
   * Asks for the segment's bytes and streams them in once the answer is
   * checked; `false` when the answer was refused (the range is pending again).
   */
  async #fetch(segment: Segment): Promise<boolean> {
    const { input, options, fetchFn } = this.#ctx;
    const asked = { start: segment.start, end: segment.end };
    const validator = this.#known.etag ?? this.#known.lastModified!;
    const request = buildRangeRequest(input, options.headers, this.#stop.signal, asked, validator);
    let verdict;
    let response;
    try {
      response = await fetchFn(request);
      // The segment may have lost its tail meanwhile: the check is against what was asked.
      verdict = checkRangeResponse(asked, this.#known, response.status, response.headers);
      if (verdict.kind === "refuse") this.#schedule.giveBack(segment, verdict.reason);
    } finally {
      segment.answer?.resolve();
      segment.answer = null;
    }
    if (verdict.kind !== "write") {
      await response.body?.cancel().catch(() => {});
      const where = `bytes ${asked.start}-${asked.end - 1}`;
      if (verdict.kind === "reset") throw new RangeReset(`${where}: ${verdict.reason}`);
      if (verdict.kind === "refuse") {
        await segment.writer?.close();
        return false;
      }
      // Another status (a 503, a 404…): the call rejects with it, as one
      // connection's would, with its Retry-After, once every range is saved.
      throw new UnexpectedStatusError({
        status: response.status,
        headers: response.headers,
        url: this.#ctx.url,
        retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
      });
    }
    if (this.#status === 0) this.#status = 206;
    await this.#stream(segment, response, asked.end);
    return true;
  }

  /**
   * Every connection stopped with `span` (and maybe more) still pending: the
   * ranges were refused. With progress in this call, it is saved for the
   * next; with none, the next call starts over (as one connection does when
   * a resume is answered that way) rather than ask the same ranges again.
   */
  #leftOver(span: ByteSpan): void {
    const reason = this.#schedule.refused ?? "no connection was left";
    if (this.#accepted === 0) {
      this.#fail(new RangeReset(reason));
      return;
    }
    this.#fail(
      new Error(`no connection could fetch bytes ${span.start}-${span.end - 1} (${reason})`),
    );
  }

  /** Writes the body into the segment until its (possibly shortened) end. */
  async #stream(segment: Segment, response: Response, asked: number): Promise<void> {
    const stop = this.#stop.signal;
    await streamSegment(segment, response, asked, {
      stop,
      stallTimeout: this.#ctx.settings.stallTimeout,
      carriesOn: (s, limit) => this.#schedule.carriesOn(s, limit, stop),
      stored: (writer, bytes) => this.#stored(writer, bytes),
    });
  }

  /** After each write: progress, then a checkpoint when one is due. */
  async #stored(writer: PartWriter, bytes: number): Promise<void> {
    const { progress } = this.#ctx;
    this.#accepted += bytes;
    progress.state.bytesRead = this.#accepted;
    progress.state.validLength = this.#schedule.baseBytes + this.#accepted;
    progress.tick();
    await this.#checkpointer.afterAppend(writer, this.#accepted);
  }

  /** Records the first failure (a reset always wins) and stops every range. */
  #fail(error: unknown): void {
    if (error instanceof RangeReset) this.#reset ??= error;
    else this.#failure ??= { error };
    this.#stop.abort();
  }

  /** After every range stopped: resets, or saves everything; returns the error to throw. */
  async #interrupted(): Promise<unknown> {
    const { paths, url, options } = this.#ctx;
    const reset = this.#reset;
    if (reset !== null) {
      await this.#settle();
      this.#ctx.settings.kept?.drop();
      await this.#store.discard();
      return new ContentRangeError(
        `Server answered a range inconsistently (${reset.message}): ${url}: ` +
          "progress discarded, the next call starts over",
        { retryable: true },
      );
    }
    let saveError: unknown = null;
    try {
      await this.#checkpointer.final();
    } catch (error) {
      saveError = error;
    }
    const saved = this.#store.saved;
    if (saveError !== null) return toDestinationError(saveError, paths.dest, saved);
    if (options.signal?.aborted) return options.signal.reason;
    const cause = this.#failure?.error;
    if (cause instanceof CallbackFailure) return cause.thrown; // the caller's bug: no retry cures it
    const fsError = toDestinationError(cause, paths.dest, saved);
    if (fsError !== cause) return fsError;
    if (cause instanceof UnexpectedStatusError) return cause; // progress is on disk, as with one connection
    const reason = cause instanceof Error ? cause.message : String(cause);
    if (!saved) {
      return new PartialHaulError(
        `Download interrupted before any byte was saved (${reason}): ${url}: ` +
          "the next call starts over",
        { cause, validLength: 0 },
      );
    }
    const recorded = this.#checkpointer.recorded;
    return new PartialHaulError(
      `Download interrupted with ${recorded} of ${this.#known.total} bytes saved (${reason}): ` +
        `${url}: progress saved; call again to resume`,
      { cause, validLength: recorded },
    );
  }

  async #complete(size: number): Promise<HaulResult> {
    const { paths, expected, url, options, progress, owner } = this.#ctx;
    const sha256 = await commit(
      owner,
      {
        file: this.#file,
        size,
        digest: () => this.#hasher!.digestHex(size),
        close: () => this.#closeFile(),
      },
      { expected, overwrite: options.overwrite === true, url, state: progress.state },
    );
    return {
      dest: paths.dest,
      size,
      sha256,
      etag: this.#validators.etag,
      contentType: this.#validators.contentType,
      status: this.#status,
      resumedFrom: this.#schedule.baseBytes,
      alreadyComplete: false,
      elapsedMs: performance.now() - this.#ctx.startedAt,
      connections: this.#used,
      suggestedName: this.#ctx.suggestedName(),
    };
  }

  /** Waits for every background write, sync, checkpoint and read-back; never throws. */
  async #settle(): Promise<void> {
    await this.#hasher?.close();
    await this.#checkpointer?.close();
    for (const segment of this.#schedule.segments) await segment.writer?.close();
  }

  async #closeFile(): Promise<void> {
    if (!this.#fileOpen) return;
    this.#fileOpen = false;
    await this.#file.close().catch(() => {});
  }
}
