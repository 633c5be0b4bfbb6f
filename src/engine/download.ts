/**
 * One call's download, from opening `.part` to the commit, over one
 * connection or several; `haulWith()` (`haul.ts`) runs it once it holds the
 * destination's lock.
 *
 * 1. **Open** `.part`: every range the checkpoint records is checked against
 *    its tail digest first (`store/resume.ts`).
 * 2. **The first request and its plan** (`protocol/plan.ts`): from the
 *    verified prefix, with `Range` + `If-Range` when there is one. A 200 to
 *    a resume starts over; a 416 that confirms the checkpoint finishes. (A
 *    checkpoint with gaps asks for its gaps as ranges instead.)
 * 3. **The ranges still needed** (`range_schedule.ts`): one, streamed from
 *    the first response, unless `connections` > 1 and that response shows
 *    range support, a strong validator and a length worth splitting; then
 *    the first response fills the first range and the others are asked with
 *    `Range` + `If-Range`, their answers checked (`checkRangeResponse`)
 *    before any byte is written. Each range streams into `.part` through its
 *    own writer (`segment.ts`); one checkpointer records them all
 *    (`checkpointer.ts`); one hasher follows the written prefix in file
 *    order (`prefix_hasher.ts`).
 * 4. **The commit** (`commit.ts`), or, on any break, a last checkpoint of
 *    every range and a retryable `PartialHaulError`.
 *
 * A range answered under another validator resets the download (the file
 * changed), and so does a body that runs past the end it declared. A range
 * answered with other bytes of the same file (a 200, a 416, a wrong
 * `Content-Range` or length, a `Content-Encoding`) only stops that
 * connection: its range is pending again for the connections that work.
 *
 * @module
 */

import {
  ContentRangeError,
  HaulError,
  PartialHaulError,
  ServerMisconfiguredError,
  UnexpectedStatusError,
} from "../errors.ts";
import { judgeBodyEnd } from "../protocol/body_end.ts";
import { type Checkpoint, durablePrefix } from "../protocol/checkpoint.ts";
import { isStrongEtag } from "../protocol/etag.ts";
import { planResponse, type StreamPlan, type Validators } from "../protocol/plan.ts";
import { checkRangeResponse } from "../protocol/range_check.ts";
import { buildRangeRequest } from "../protocol/range_request.ts";
import { buildRequest } from "../protocol/request.ts";
import { parseRetryAfter } from "../protocol/retry_after.ts";
import { PrefixHasher } from "../hashing/prefix_hasher.ts";
import { createNativeHash } from "../runtime/native_hash.ts";
import type { ShimFile } from "../runtime/fs_shim.ts";
import { CheckpointStore } from "../store/checkpoint_store.ts";
import { toDestinationError } from "../store/destination.ts";
import { openPart } from "../store/resume.ts";
import type { HaulResult } from "../types.ts";
import type { CallContext } from "./call_context.ts";
import { Checkpointer } from "./checkpointer.ts";
import { commit } from "./commit.ts";
import { PartWriter, type WriteObserver } from "./part_writer.ts";
import { CallbackFailure } from "./progress.ts";
import type { ByteSpan } from "./range_split.ts";
import { RangeSchedule } from "./range_schedule.ts";
import { OverLongBody, type Segment, streamSegment } from "./segment.ts";
import { withSharedSync } from "./shared_sync.ts";

/** A range answer that shows the bytes on disk cannot be continued. */
class RangeReset extends Error {}

/** The first response, its body unread, and its plan. */
interface First {
  readonly response: Response;
  readonly plan: StreamPlan;
}

/**
 * One call's download.
 *
 * @example
 * ```ts ignore
 * // Needs a locked destination and the call's context: haulWith() builds them.
 * const result = await new Download(ctx).run();
 * ```
 */
export class Download {
  readonly #ctx: CallContext;
  #file: ShimFile | null = null;
  readonly #stop = new AbortController();
  #store!: CheckpointStore;
  #schedule!: RangeSchedule;
  #checkpointer: Checkpointer | null = null;
  #hasher: PrefixHasher | null = null;
  /** The file's length: `null` until a body of unknown length ends. */
  #total: number | null = null;
  #validators: Validators = { etag: null, lastModified: null, contentType: null };
  #status = 0;
  #accepted = 0;
  #used = 0;
  #failure: { error: unknown } | null = null;
  /** The error of a reset: nothing of this download is kept. */
  #reset: HaulError | null = null;
  /** Each writer offers its bytes and reports its completed writes: the hash follows the written prefix. */
  readonly #observer: WriteObserver = {
    offer: (bytes, at) => this.#hasher?.offer(bytes, at) ?? Promise.resolve(),
    written: () => this.#hasher?.advance(this.#schedule.writtenPrefix()),
  };

  /** @param ctx the call. */
  constructor(ctx: CallContext) {
    this.#ctx = ctx;
  }

  /**
   * Downloads, resuming from `.part` when its checkpoint bears it out.
   *
   * @returns the result.
   */
  async run(): Promise<HaulResult> {
    const { fs, paths, owner } = this.#ctx;
    const start = await openPart(fs, paths);
    this.#file = withSharedSync(start.file); // several writers sync one file
    this.#store = new CheckpointStore(fs, paths, start.checkpoint !== null, owner);
    try {
      await owner.adopt(start.file);
      return await this.#download(start.checkpoint);
    } catch (error) {
      if (!this.#store.saved) {
        // Nothing on disk can resume this download: leave nothing behind.
        this.#ctx.settings.kept?.drop();
        await this.#settle();
        await this.#closeFile();
        await owner.remove().catch(() => {});
      }
      throw toDestinationError(error, paths.dest, this.#store.saved);
    } finally {
      await this.#settle();
      await this.#closeFile();
    }
  }

  /** The first request (or, for a checkpoint with gaps, none), then the ranges. */
  async #download(saved: Checkpoint | null): Promise<HaulResult> {
    const { connections, floor, input, options, url, progress } = this.#ctx;
    if (saved !== null) {
      const { etag, lastModified, contentType } = saved;
      this.#validators = { etag, lastModified, contentType };
      this.#total = saved.reportedLength;
    }
    const cursor = saved === null ? 0 : durablePrefix(saved);
    if (saved !== null && (saved.ranges.length > 1 || cursor === 0)) {
      this.#schedule = RangeSchedule.of(this.#total, saved.ranges, connections, floor);
      return await this.#run(null, saved, connections);
    }
    progress.state.validLength = cursor;
    progress.state.reportedLength = this.#total;
    const request = buildRequest(input, options.headers, options.signal, {
      cursor,
      checkpoint: saved,
    });
    const response = await this.#ctx.fetchFn(request);
    try {
      this.#used = 1;
      this.#status = response.status;
      const plan = planResponse(
        { url, cursor, checkpoint: saved },
        response.status,
        response.headers,
      );
      if (plan.kind !== "stream") {
        await response.body?.cancel().catch(() => {});
        if (plan.kind === "fail") {
          if (plan.reset) await this.#restart();
          throw plan.error;
        }
        // A 416 that confirms the checkpoint: every byte is here.
        this.#total = cursor;
        this.#schedule = RangeSchedule.of(cursor, saved!.ranges, 1, floor);
        return await this.#run(null, saved, 0);
      }
      if (plan.rewind) {
        await this.#restart();
        saved = null;
      }
      const now = plan.validators;
      this.#validators = {
        etag: now.etag ?? saved?.etag ?? null,
        lastModified: now.lastModified ?? saved?.lastModified ?? null,
        contentType: now.contentType ?? saved?.contentType ?? null,
      };
      this.#total = plan.total ?? saved?.reportedLength ?? null;
      const split = connections > 1 && this.#splittable(plan, response);
      this.#schedule = RangeSchedule.of(
        this.#total,
        saved?.ranges ?? [],
        split ? connections : 1,
        floor,
      );
      return await this.#run({ response, plan }, saved, split ? connections : 1);
    } catch (error) {
      await response.body?.cancel().catch(() => {}); // unread, or already ended
      throw error;
    }
  }

  /**
   * Whether the rest of the file may be asked for in ranges: the first
   * answer shows range support (`Accept-Ranges: bytes` or a 206), the file
   * has a strong validator and a length, and enough bytes are left.
   */
  #splittable(plan: StreamPlan, response: Response): boolean {
    const total = this.#total;
    if (!plan.bodyEndsFile || total === null || total - plan.offset < 2 * this.#ctx.floor) {
      return false;
    }
    const accepts = (response.headers.get("accept-ranges") ?? "").toLowerCase().split(",")
      .some((token) => token.trim() === "bytes");
    const { etag, lastModified } = this.#validators;
    const strong = etag !== null ? isStrongEtag(etag) : lastModified !== null;
    return strong && (response.status === 206 || accepts);
  }

  /** Streams every range still needed, then commits; on a break, saves and throws. */
  async #run(first: First | null, saved: Checkpoint | null, workers: number): Promise<HaulResult> {
    const { options, progress, settings } = this.#ctx;
    const schedule = this.#schedule;
    const file = this.#file!;
    // A retry loop's hasher continues when it fits the verified prefix.
    const prefix = schedule.writtenPrefix();
    const kept = prefix === 0 ? null : settings.kept?.take(prefix, this.#validators) ?? null;
    if (prefix === 0) settings.kept?.drop();
    this.#hasher = new PrefixHasher(file, kept ?? createNativeHash());
    this.#hasher.advance(prefix);
    this.#checkpointer = new Checkpointer(
      this.#store,
      file,
      {
        // A resume keeps the block size its checkpoint was written with.
        blockSize: saved?.blockSize ?? settings.blockSize,
        validators: this.#validators,
        total: this.#total,
      },
      settings.cadence,
      schedule.base,
      saved?.extent ?? 0,
      () => schedule.segments,
    );
    progress.state.validLength = schedule.baseBytes;
    progress.state.reportedLength = this.#total;
    const signal = options.signal;
    const onAbort = () => this.#fail(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      progress.first(); // inside: what it throws closes what was opened above
      if (signal?.aborted) onAbort();
      const running: Promise<void>[] = [];
      if (first !== null) running.push(this.#worker(first));
      while (running.length < workers) running.push(this.#worker(null));
      await Promise.all(running);
      const left = schedule.leftOver;
      if (this.#failure === null && this.#reset === null && left !== null) this.#leftOver(left);
      if (this.#failure !== null || this.#reset !== null) throw await this.#interrupted();
      await this.#checkpointer.drain(); // no checkpoint is written after the rename
      const total = this.#total!;
      const covered = schedule.written();
      if (covered.length > 1 || (covered[0]?.start ?? 0) !== 0 || (covered[0]?.end ?? 0) < total) {
        throw new Error(`haul: the ranges do not cover the file (${JSON.stringify(covered)})`);
      }
      return await this.#complete(total);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** One connection: the first response's range, or pending ranges, then stolen halves. */
  async #worker(first: First | null): Promise<void> {
    try {
      if (first !== null) {
        const { response, plan } = first;
        const span = this.#schedule.next() ?? { start: plan.offset, end: plan.offset };
        const segment = this.#segment(span, false);
        const declared = plan.bodyLength === null ? Infinity : plan.offset + plan.bodyLength;
        await this.#stream(segment, response, declared);
        if (this.#total === null && segment.done) this.#judgeEnd(plan, segment.end);
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
      await first?.response.body?.cancel().catch(() => {});
      this.#fail(error);
    }
  }

  /** A body of unknown length ended at `end`: complete, or an interruption to resume. */
  #judgeEnd(plan: StreamPlan, end: number): void {
    const verdict = judgeBodyEnd({
      received: end - plan.offset,
      fileLength: end,
      bodyLength: plan.bodyLength,
      total: null,
      bodyEndsFile: plan.bodyEndsFile,
    });
    if (verdict.kind !== "complete") throw new Error(verdict.reason);
    this.#total = end;
  }

  /** A new range at `span`; `asked`: its request is still to be answered. */
  #segment(span: ByteSpan, asked = true): Segment {
    const writer = new PartWriter(this.#file!, this.#ctx.settings, this.#observer, {
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
    const { etag, lastModified } = this.#validators;
    const known = { total: this.#total!, etag, lastModified: etag === null ? lastModified : null };
    const request = buildRangeRequest(
      input,
      options.headers,
      this.#stop.signal,
      asked,
      etag ?? lastModified!,
    );
    let verdict;
    let response;
    try {
      response = await fetchFn(request);
      // The segment may have lost its tail meanwhile: the check is against what was asked.
      verdict = checkRangeResponse(asked, known, response.status, response.headers);
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
   * next; with none, the next call starts over (as a resume answered that
   * way does) rather than ask the same ranges again.
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
    await this.#checkpointer!.afterAppend(writer, this.#accepted);
  }

  /** Records the first failure (a reset always wins) and stops every range. */
  #fail(error: unknown): void {
    const { url } = this.#ctx;
    if (error instanceof RangeReset) {
      this.#reset ??= new ContentRangeError(
        `Server answered a range inconsistently (${error.message}): ${url}: ` +
          "progress discarded, the next call starts over",
        { retryable: true },
      );
    } else if (error instanceof OverLongBody) {
      this.#reset ??= new ServerMisconfiguredError(
        `Server sent more bytes than it declared (${error.message}): ${url}: ` +
          "the download was discarded",
        { retryable: error.start > 0 },
      );
    } else {
      this.#failure ??= { error };
    }
    this.#stop.abort();
  }

  /** After every range stopped: resets, or saves everything; returns the error to throw. */
  async #interrupted(): Promise<unknown> {
    const { paths, url, options, settings, progress } = this.#ctx;
    if (this.#reset !== null) {
      await this.#settle();
      settings.kept?.drop();
      await this.#store.discard();
      return this.#reset;
    }
    let saveError: unknown = null;
    try {
      await this.#checkpointer!.final();
    } catch (error) {
      saveError = error;
    }
    const saved = this.#store.saved;
    const recorded = this.#checkpointer!.recorded;
    progress.state.validLength = saved ? recorded : 0;
    // A retry in this process continues this hash instead of starting over.
    if (saved) settings.kept?.keep({ hash: this.#hasher!.copy(), ...this.#validators });
    if (saveError !== null) return toDestinationError(saveError, paths.dest, saved);
    if (options.signal?.aborted) return options.signal.reason;
    const cause = this.#failure?.error;
    if (cause instanceof CallbackFailure) return cause.thrown; // the caller's bug: no retry cures it
    if (cause instanceof HaulError) return cause; // a status, with progress on disk
    const fsError = toDestinationError(cause, paths.dest, saved);
    if (fsError !== cause) return fsError;
    const reason = cause instanceof Error ? cause.message : String(cause);
    if (!saved) {
      return new PartialHaulError(
        `Download interrupted before any byte was saved (${reason}): ${url}: ` +
          "the next call starts over",
        { cause, validLength: 0 },
      );
    }
    const of = this.#total === null ? "" : ` of ${this.#total}`;
    return new PartialHaulError(
      `Download interrupted with ${recorded}${of} bytes saved (${reason}): ${url}: ` +
        "progress saved; call again to resume",
      { cause, validLength: recorded },
    );
  }

  /** Discards the checkpoint and empties `.part`: the download starts from byte 0. */
  async #restart(): Promise<void> {
    this.#ctx.settings.kept?.drop();
    await this.#store.discard();
    await this.#file!.truncate(0);
  }

  async #complete(size: number): Promise<HaulResult> {
    const { paths, expected, url, options, progress, owner, settings } = this.#ctx;
    settings.kept?.drop();
    const hasher = this.#hasher!;
    const sha256 = await commit(
      owner,
      {
        file: this.#file!,
        size,
        digest: () => hasher.digestHex(size),
        close: () => this.#closeFile(),
        checkpointed: this.#store.saved,
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
    };
  }

  /** Waits for every background write, sync, checkpoint and read-back; never throws. */
  async #settle(): Promise<void> {
    await this.#hasher?.close();
    await this.#checkpointer?.close();
    for (const segment of this.#schedule?.segments ?? []) await segment.writer?.close();
  }

  async #closeFile(): Promise<void> {
    const file = this.#file;
    this.#file = null;
    if (file !== null) await file.close().catch(() => {});
  }
}
