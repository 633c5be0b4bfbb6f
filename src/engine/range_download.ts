/**
 * One call's download over several ranges of one `.part`: each range has a
 * connection (a `Range` + `If-Range` request, its answer checked by
 * `checkRangeResponse` before any byte is written) and its own writer at its
 * position; a connection that runs out of work takes over half of the range
 * with the most bytes still to come (`stealHalf`). Checkpoints record every
 * range's durable bytes (`range_checkpointer.ts`). The SHA-256 is one pass
 * in file order (`prefix_hasher.ts`): from memory for the bytes written at
 * the head of the file, read back for those another range wrote first.
 *
 * A range answered under another validator (ETag or Last-Modified) resets
 * the whole download: the file changed. A range answered with other bytes of
 * the same file (a 200, a 416, a wrong `Content-Range` or length, a
 * `Content-Encoding`) only stops that connection: its range goes back to the
 * pending ones, for the connections that work, and the first response (which
 * runs to the end of the file) takes over the pending bytes that follow its
 * range. Work no connection could fetch ends the call with its progress saved
 * (`PartialHaulError`), or, when it saved nothing, discarded. Any other
 * failure stops every range, saves each one's progress and rejects with a
 * retryable `PartialHaulError`; an abort saves everything too.
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
import type { Durability } from "./durability.ts";
import { withSharedSync } from "./shared_sync.ts";
import { gapsOf, mergeSpans, shareGaps } from "./range_ledger.ts";
import { type ByteSpan, splitRanges, stealHalf } from "./range_split.ts";
import { bodySource } from "./body_source.ts";

/**
 * A range of this call: `[start, end)`, `end` shrinking when another
 * connection takes its tail. Once all its bytes are written, its writer (and
 * its buffers) is let go; `settled` keeps its `Durability`, which the next
 * checkpoint's (shared) sync advances.
 */
interface Segment {
  readonly start: number;
  end: number;
  writer: PartWriter | null;
  settled: { readonly durability: Durability; readonly extent: number } | null;
  done: boolean;
  /** Resolved once the range's answer was checked (or its request failed); `null` since then. */
  answer: PromiseWithResolvers<void> | null;
}

/**
 * The file is split into this many ranges per connection (each at least the
 * floor), taken in file order: the bytes written without a hole from byte 0
 * then grow steadily, so the SHA-256, which must read them in order, keeps
 * up with the download instead of waiting for the first range to end.
 */
const PIECES_PER_CONNECTION = 4;

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
  readonly #segments: Segment[] = [];
  #pending: ByteSpan[] = [];
  #base: ByteSpan[] = [];
  #store!: CheckpointStore;
  #checkpointer!: RangeCheckpointer;
  #known!: KnownFile;
  #validators!: Validators;
  #status = 0;
  #accepted = 0;
  #baseBytes = 0;
  #used = 0;
  #failure: { error: unknown } | null = null;
  #reset: RangeReset | null = null;
  /** Why the last range was refused under the same validator, if one was. */
  #refused: string | null = null;
  #hasher: PrefixHasher | null = null;
  /** Each writer offers its bytes and reports its completed writes: the hash follows the written prefix. */
  readonly #observer: WriteObserver = {
    offer: (bytes, at) => {
      this.#hasher?.offer(bytes, at);
      return Promise.resolve();
    },
    written: () => this.#hasher?.advance(this.#writtenPrefix()),
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
    const total = saved.reportedLength!;
    this.#known = {
      total,
      etag: saved.etag,
      lastModified: saved.etag === null ? saved.lastModified : null,
    };
    this.#validators = {
      etag: saved.etag,
      lastModified: saved.lastModified,
      contentType: saved.contentType,
    };
    this.#base = mergeSpans(saved.ranges.map(({ start, end }) => ({ start, end })));
    this.#baseBytes = this.#base.reduce((sum, span) => sum + span.end - span.start, 0);
    const gaps = gapsOf(total, this.#base);
    const { connections } = this.#ctx;
    const pieces = connections === 1 ? 1 : connections * PIECES_PER_CONNECTION;
    this.#pending = shareGaps(gaps, pieces, this.#ctx.floor, splitRanges);
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
    const spans = splitRanges(known.total, connections * PIECES_PER_CONNECTION, floor);
    this.#pending = spans.slice(1);
    this.#store = new CheckpointStore(this.#ctx.fs, this.#ctx.paths, false, this.#ctx.owner);
    return await this.#run({ response, span: spans[0]! }, this.#ctx.settings.blockSize, 0);
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
    this.#hasher.advance(this.#writtenPrefix());
    this.#checkpointer = new RangeCheckpointer(
      this.#store,
      this.#file,
      { blockSize, validators: this.#validators, total },
      this.#ctx.settings.cadence,
      this.#base,
      baseExtent,
      () => this.#segments,
    );
    const state = progress.state;
    state.validLength = this.#baseBytes;
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
      if (this.#failure === null && this.#reset === null && this.#pending.length > 0) {
        this.#leftOver(this.#pending[0]!);
      }
      if (this.#failure !== null || this.#reset !== null) throw await this.#interrupted();
      await this.#checkpointer.drain(); // no checkpoint is written after the rename
      const covered = mergeSpans([
        ...this.#base,
        ...this.#segments.map((s) => ({
          start: s.start,
          end: (s.writer?.durability ?? s.settled!.durability).written,
        })),
      ]);
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
        if (this.#stopped()) return;
        const span = this.#pending.shift() ?? this.#steal();
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
    const segment: Segment = {
      start: span.start,
      end: span.end,
      writer,
      settled: null,
      done: false,
      answer: asked ? Promise.withResolvers<void>() : null,
    };
    this.#segments.push(segment);
    return segment;
  }

  /** Half of the open range with the most bytes to come, or `null`. */
  #steal(): ByteSpan | null {
    const open = this.#segments.filter((s) =>
      !s.done && s.writer !== null && s.writer.length < s.end
    );
    const steal = stealHalf(
      open.map((s) => ({ start: s.start, cursor: s.writer!.length, end: s.end })),
      this.#ctx.floor,
    );
    if (steal === null) return null;
    open[steal.victim]!.end = steal.at;
    return steal.taken;
  }

  /**
   * Asks for the segment's bytes and streams them in once the answer is
   * checked; `false` when the answer was refused (the range is pending again).
   */
  async #fetch(segment: Segment): Promise<boolean> {
    const { input, options, fetchFn } = this.#ctx;
    const asked = { start: segment.start, end: segment.end };
    const validator = this.#known.etag ?? this.#known.lastModified!;
    const request = buildRangeRequest(
      input,
      options.headers,
      this.#stop.signal,
      asked,
      validator,
    );
    let verdict;
    let response;
    try {
      response = await fetchFn(request);
      // The segment may have lost its tail meanwhile: the check is against what was asked.
      verdict = checkRangeResponse(asked, this.#known, response.status, response.headers);
      if (verdict.kind === "refuse") this.#giveBack(segment, verdict.reason);
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
   * A range refused under the same validator: nothing of it was written; it
   * leaves the segments and its bytes (its tail may have been taken
   * meanwhile) are pending again, in file order.
   */
  #giveBack(segment: Segment, reason: string): void {
    this.#refused = `bytes ${segment.start}-${segment.end - 1}: ${reason}`;
    this.#segments.splice(this.#segments.indexOf(segment), 1);
    const span = { start: segment.start, end: segment.end };
    const at = this.#pending.findIndex((pending) => pending.start > span.start);
    this.#pending.splice(at < 0 ? this.#pending.length : at, 0, span);
  }

  /**
   * At the end of a range whose body goes on (the first response runs to
   * the end of the file; another range may have lost its tail): whether it
   * goes on over the bytes that follow, up to `limit`. It does over pending
   * bytes once a range was refused; it waits for the answer to a range that
   * follows and is still unanswered (refused, that range becomes pending).
   * `false`: the bytes that follow are another connection's, or none.
   */
  async #carriesOn(segment: Segment, limit: number): Promise<boolean> {
    if (segment.end >= limit) return false;
    for (;;) {
      if (this.#stopped()) return false;
      const next = this.#segments.find((s) => s !== segment && s.start === segment.end);
      if (next?.answer) {
        await next.answer.promise;
        continue;
      }
      if (next !== undefined || this.#refused === null) return false;
      const at = this.#pending.findIndex((span) => span.start === segment.end);
      if (at < 0) return false;
      const span = this.#pending[at]!;
      if (span.end > limit) this.#pending[at] = { start: limit, end: span.end };
      else this.#pending.splice(at, 1);
      segment.end = Math.min(span.end, limit);
      return true;
    }
  }

  /**
   * Every connection stopped with `span` (and maybe more) still pending: the
   * ranges were refused. With progress in this call, it is saved for the
   * next; with none, the next call starts over (as one connection does when
   * a resume is answered that way) rather than ask the same ranges again.
   */
  #leftOver(span: ByteSpan): void {
    const reason = this.#refused ?? "no connection was left";
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
    const body = response.body;
    const writer = segment.writer!;
    if (body === null) {
      throw new Error(`bytes ${segment.start}-${segment.end - 1}: the response had no body`);
    }
    const reader = bodySource(body, writer, this.#ctx.settings.stallTimeout);
    const onStop = () => void reader.cancel().catch(() => {});
    this.#stop.signal.addEventListener("abort", onStop, { once: true });
    const state = this.#ctx.progress.state;
    try {
      let ended = false;
      while (!ended && !this.#stopped()) {
        if (writer.length >= segment.end && !(await this.#carriesOn(segment, asked))) break;
        const { bytes: value, done } = await reader.read();
        ended = done;
        if (value === undefined) continue;
        let room = segment.end - writer.length;
        while (value.length > room && (await this.#carriesOn(segment, asked))) {
          room = segment.end - writer.length;
        }
        // Never past the range's end (it may have shrunk), nothing after a stop.
        const bytes = this.#stopped() ? value.subarray(0, 0) : value.subarray(0, room);
        await reader.store(bytes);
        if (bytes.length > 0) {
          this.#accepted += bytes.length;
          state.bytesRead = this.#accepted;
          state.validLength = this.#baseBytes + this.#accepted;
          this.#ctx.progress.tick();
          await this.#checkpointer.afterAppend(writer, this.#accepted);
        }
      }
      if (this.#stopped()) return;
      if (writer.length < segment.end) {
        throw new Error(
          `bytes ${segment.start}-${segment.end - 1}: the body ended at byte ${writer.length}`,
        );
      }
      if (segment.end === asked) {
        // Read the end of the body, so that the connection can carry the next request.
        const tail = await reader.read();
        if (tail.bytes !== undefined) await reader.store(tail.bytes.subarray(0, 0));
        if (!tail.done) await reader.cancel().catch(() => {});
      } else {
        await reader.cancel().catch(() => {}); // the rest belongs to another range
      }
      await writer.quiesce();
      segment.done = true;
      // Its buffers can go; what its bytes become is still tracked by its Durability.
      segment.settled = { durability: writer.durability, extent: writer.extent };
      segment.writer = null;
      await writer.close();
    } catch (error) {
      await reader.cancel().catch(() => {}); // no body (nor its stall timer) outlives a failure
      throw error;
    } finally {
      this.#stop.signal.removeEventListener("abort", onStop);
    }
  }

  #stopped(): boolean {
    return this.#stop.signal.aborted;
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
      { expected, overwrite: options.overwrite === true, url },
    );
    const state = progress.state;
    state.validLength = size;
    state.reportedLength = size;
    state.isComplete = true;
    return {
      dest: paths.dest,
      size,
      sha256,
      etag: this.#validators.etag,
      contentType: this.#validators.contentType,
      status: this.#status,
      resumedFrom: this.#baseBytes,
      alreadyComplete: false,
      elapsedMs: performance.now() - this.#ctx.startedAt,
      connections: this.#used,
    };
  }

  /** End of the bytes written without a hole from byte 0 (verified ones included). */
  #writtenPrefix(): number {
    const spans = mergeSpans([
      ...this.#base,
      ...this.#segments.map((s) => ({
        start: s.start,
        end: (s.writer?.durability ?? s.settled!.durability).written,
      })),
    ]);
    const first = spans[0];
    return first !== undefined && first.start === 0 ? first.end : 0;
  }

  /** Waits for every background write, sync, checkpoint and read-back; never throws. */
  async #settle(): Promise<void> {
    await this.#hasher?.close();
    await this.#checkpointer?.close();
    for (const segment of this.#segments) await segment.writer?.close();
  }

  async #closeFile(): Promise<void> {
    if (!this.#fileOpen) return;
    this.#fileOpen = false;
    await this.#file.close().catch(() => {});
  }
}
