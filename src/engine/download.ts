/**
 * One call's download, over one connection or several: open (`store/checkpoint_store.ts`) → first
 * request and plan (`requests.ts`) → ranges (`range_schedule.ts`), each streamed by `segment.ts`,
 * one checkpointer and one hasher → commit, or a last checkpoint and the error (`outcome.ts`).
 *
 * @module
 */

import { type HaulError, UnexpectedStatusError } from "../errors.ts";
import { type Checkpoint, durablePrefix } from "../protocol/checkpoint.ts";
import type { StreamPlan, Validators } from "../protocol/plan.ts";
import type { RangeVerdict } from "../protocol/range_check.ts";
import { PrefixHasher } from "../hashing/prefix_hasher.ts";
import { createNativeHash } from "../runtime/native_hash.ts";
import type { ShimFile } from "../runtime/fs_shim.ts";
import { CheckpointStore, openPart } from "../store/checkpoint_store.ts";
import { toDestinationError } from "../store/destination.ts";
import type { HaulResult } from "../types.ts";
import type { CallContext } from "./settings.ts";
import { Checkpointer } from "./checkpointer.ts";
import { PartWriter, type WriteObserver } from "./part_writer.ts";
import type { ByteSpan } from "./range_split.ts";
import { RangeSchedule } from "./range_schedule.ts";
import * as outcome from "./outcome.ts";
import { firstRequest, rangeRequest, trustsDigest } from "./requests.ts";
import { BodyFailure, type Segment, streamSegment } from "./segment.ts";
import { sharedDatasync } from "./durability.ts";

/** The first response, its body unread, and its plan. */
type First = { readonly response: Response; readonly plan: StreamPlan };

/** One call's download. */
export class Download {
  readonly #ctx: CallContext;
  #file: ShimFile | null = null;
  /** What the ranges' writers write through: `.part`, its `fdatasync` shared (`sharedDatasync`). */
  #writable: Pick<ShimFile, "write" | "datasync"> | null = null;
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
  /** Further ranges answered under another version since one was written (asked again, a few). */
  #refusals = 0;
  /** A 429 or 503 to a further range, or no answer: the call's error if no connection gets the rest. */
  #busy: Error | null = null;
  #failure: { error: unknown } | null = null;
  /** The error of a reset: nothing of this download is kept. */
  #reset: HaulError | null = null;
  /** With mirrors: which source wrote which bytes, for an integrity failure's message. */
  readonly #served: string[] | null;
  /** Mirrors with `integrity` (`trustsDigest`): no validator vouches for their bytes. */
  readonly #trusted: boolean;
  /** Each writer offers its bytes and reports its completed writes: the hash follows the written prefix. */
  readonly #observer: WriteObserver = {
    arrived: (bytes, at) => this.#hasher?.take(bytes, at),
    offer: (bytes, at) => this.#hasher?.offer(bytes, at) ?? Promise.resolve(),
    written: () => this.#hasher?.advance(this.#schedule.writtenPrefix()),
  };

  constructor(ctx: CallContext) {
    this.#ctx = ctx;
    this.#served = ctx.sources.mirrors ? [] : null;
    this.#trusted = trustsDigest(ctx);
  }

  /** Downloads, resuming from `.part` when its checkpoint bears it out; `null`: a 304. */
  async run(): Promise<HaulResult | null> {
    const { fs, paths, owner } = this.#ctx;
    const { file, checkpoint } = await openPart(fs, paths, this.#trusted);
    this.#file = file;
    const datasync = sharedDatasync(() => file.datasync());
    this.#writable = { write: (bytes, at) => file.write(bytes, at), datasync };
    this.#store = new CheckpointStore(fs, paths, checkpoint !== null, owner);
    try {
      await owner.adopt(file);
      return await this.#download(checkpoint);
    } catch (error) {
      if (!this.#store.saved) {
        // Nothing on disk can resume this download: leave nothing behind.
        this.#ctx.settings.kept?.drop();
        await this.#settle();
        await this.#closeFile();
        await owner.remove().catch(() => {});
        // A resume that found the file changed, or none of its ranges served, starts over once.
        if (checkpoint !== null && this.#reset?.cause instanceof outcome.RangeReset) {
          return await new Download(this.#ctx).run(); // `.part` is gone: no range to resume
        }
      }
      throw toDestinationError(error, paths.dest, this.#store.saved);
    } finally {
      await this.#settle();
      await this.#closeFile();
    }
  }

  /** The first request (or, for a checkpoint with gaps, none), then the ranges. */
  async #download(saved: Checkpoint | null): Promise<HaulResult | null> {
    const { progress, settings: { connections, floor } } = this.#ctx;
    this.#validators = outcome.merged(this.#validators, saved);
    this.#total = saved?.reportedLength ?? null;
    const cursor = saved === null ? 0 : durablePrefix(saved);
    if (saved !== null && (saved.ranges.length > 1 || cursor === 0)) {
      this.#schedule = new RangeSchedule(this.#total, saved.ranges, connections, floor);
      return await this.#run(null, saved, connections);
    }
    Object.assign(progress.state, { validLength: cursor, reportedLength: this.#total });
    const { response, verdict: plan } = await firstRequest(this.#ctx, cursor, saved);
    try {
      this.#used = 1;
      this.#status = response.status;
      if (plan.kind !== "stream") {
        await response.body?.cancel().catch(() => {});
        if (plan.kind === "unchanged") return null;
        if (plan.kind === "fail") {
          if (plan.reset) await this.#restart();
          throw plan.error;
        }
        this.#total = cursor;
        this.#schedule = new RangeSchedule(cursor, saved!.ranges, 1, floor);
        return await this.#run(null, saved, 0);
      }
      if (plan.offset === 0 && cursor > 0) { // a resume answered from byte 0
        await this.#restart();
        saved = null;
      }
      this.#validators = outcome.merged(plan.validators, saved);
      this.#total = plan.total ?? saved?.reportedLength ?? null;
      const split = connections > 1 && outcome.splittable(plan, response, this.#validators, floor);
      const pieces = split ? connections : 1;
      this.#schedule = new RangeSchedule(this.#total, saved?.ranges ?? [], pieces, floor);
      return await this.#run({ response, plan }, saved, pieces);
    } catch (error) {
      await response.body?.cancel().catch(() => {}); // unread, or already ended
      throw error;
    }
  }

  /** Streams every range still needed, then commits; on a break, saves and throws. */
  async #run(first: First | null, saved: Checkpoint | null, workers: number): Promise<HaulResult> {
    const { options: { signal }, progress, settings } = this.#ctx;
    const schedule = this.#schedule;
    const file = this.#file!;
    const prefix = schedule.writtenPrefix();
    const kept = settings.kept?.take(prefix, this.#validators); // a retry loop's, if it fits
    this.#hasher = new PrefixHasher(file, kept ?? createNativeHash(this.#ctx.expected?.algorithm));
    this.#hasher.advance(prefix);
    this.#checkpointer = new Checkpointer(
      this.#store,
      file,
      {
        blockSize: saved?.blockSize ?? settings.blockSize, // a resume keeps its checkpoint's
        extent: saved?.extent ?? 0,
        reportedLength: this.#total,
        ...this.#validators,
        ...(this.#trusted ? { etag: null, lastModified: null } : {}), // `canResume()`
      },
      settings.cadence,
      schedule,
    );
    Object.assign(progress.state, { validLength: schedule.baseBytes, reportedLength: this.#total });
    const onAbort = () => this.#fail(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      progress.first(); // inside: what it throws closes what was opened above
      if (signal?.aborted) onAbort();
      const running: Promise<void>[] = [];
      if (first !== null) running.push(this.#worker(0, first));
      while (running.length < workers) running.push(this.#worker(running.length, null));
      await Promise.all(running);
      const left = schedule.leftOver;
      if (this.#failure === null && this.#reset === null && left !== null) {
        this.#fail(this.#busy ?? outcome.leftOver(left, schedule.refused, this.#accepted));
      }
      if (this.#failure !== null || this.#reset !== null) throw await this.#interrupted();
      await this.#checkpointer.drain(); // no checkpoint is written after the rename
      const total = this.#total!;
      if (schedule.writtenPrefix() < total) {
        throw new Error(`haul: holes in the ranges (${JSON.stringify(schedule.written())})`);
      }
      return await this.#complete(total);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** One connection: the first response's range, or pending ranges, then stolen halves. */
  async #worker(k: number, first: First | null): Promise<void> {
    try {
      if (first !== null) {
        const { response, plan } = first;
        const span = this.#schedule.next() ?? { start: plan.offset, end: plan.offset };
        const segment = this.#segment(span, false);
        const declared = plan.bodyLength === null ? Infinity : plan.offset + plan.bodyLength;
        await this.#stream(segment, response, declared, this.#ctx.url);
        if (this.#total === null && segment.done) this.#total = outcome.judgeEnd(plan, segment.end);
      }
      let source: number | null = k;
      for (let fetched = 0; source !== null && !this.#stop.signal.aborted; fetched++) {
        const span = this.#schedule.next();
        if (span === null) return;
        if (fetched === 0 && first === null) this.#used++; // this connection makes its first request
        source = await this.#fetch(source, this.#segment(span));
      }
    } catch (error) {
      await first?.response.body?.cancel().catch(() => {});
      this.#fail(error);
    }
  }

  /** A new range at `span`; `asked`: its request is still to be answered. */
  #segment(span: ByteSpan, asked = true): Segment {
    const start = { cursor: span.start, end: span.end };
    const writer = new PartWriter(this.#writable!, this.#ctx.settings, this.#observer, start);
    return this.#schedule.start(span, writer, asked);
  }

  /**
   * Asks for the segment's bytes and streams them in; returns the connection's next source: `k`
   * (also after a few answers of another version), 0 (the call's first) after another mirror's
   * body failed, `null` (stop) after any other refusal or a busy answer (429, 503) or none.
   */
  async #fetch(k: number, segment: Segment): Promise<number | null> {
    const asked = { start: segment.start, end: segment.end };
    const file = { total: this.#total!, validators: this.#validators };
    let answer;
    try {
      answer = await rangeRequest(this.#ctx, k, asked, file, this.#stop.signal, this.#store.saved);
      // The segment may have lost its tail meanwhile: the check is against what was asked.
      const why = givenBack(answer.verdict);
      if (why !== null) this.#schedule.giveBack(segment, why);
    } finally {
      segment.answer?.resolve();
      segment.answer = null;
    }
    const { response, verdict, url, mirror } = answer;
    if (verdict instanceof Error || verdict.kind !== "write") {
      await response.body?.cancel().catch(() => {});
      if (verdict instanceof Error && !busy(verdict)) throw verdict;
      await segment.writer.close(); // its bytes are pending again, for the other connections
      if (verdict instanceof Error) {
        this.#busy ??= verdict;
        return null;
      }
      // Another version (a balancer's other backend, say): asked again, a few times in a row.
      const again = verdict.kind === "reset" && !mirror;
      return again && ++this.#refusals <= 2 * this.#ctx.settings.connections ? k : null;
    }
    this.#refusals = 0;
    if (this.#status === 0) this.#status = 206;
    try {
      await this.#stream(segment, response, asked.end, url);
    } catch (error) {
      if (!mirror || !(error instanceof BodyFailure) || this.#stop.signal.aborted) throw error;
      await segment.writer.quiesce(); // the bytes it wrote stay, the others are pending again
      this.#schedule.giveBack(segment, `another mirror: ${String(error.cause)}`);
      if (segment.done) this.#served?.push(`${url}: bytes ${segment.start}-${segment.end - 1}`);
      return 0;
    }
    return k;
  }

  /** Writes the body into the segment until its (possibly shortened) end. */
  async #stream(segment: Segment, response: Response, asked: number, url: string): Promise<void> {
    const stop = this.#stop.signal;
    await streamSegment(segment, response, asked, {
      ...this.#ctx.settings,
      stop,
      carriesOn: (s, limit) => this.#schedule.carriesOn(s, limit, stop),
      stored: (writer, bytes) => this.#stored(writer, bytes),
    });
    this.#served?.push(`${url}: bytes ${segment.start}-${segment.end - 1}`);
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
    if (error instanceof BodyFailure) error = error.cause; // the failure as the body gave it
    const reset = outcome.resetError(error, this.#ctx.url);
    if (reset !== null) this.#reset ??= reset;
    else this.#failure ??= { error };
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
    const saveError = await this.#checkpointer!.final().then(() => null, (error: unknown) => error);
    const saved = this.#store.saved;
    const recorded = this.#checkpointer!.recorded;
    progress.state.validLength = saved ? recorded : 0;
    // A retry in this process continues this hash instead of starting over.
    if (saved) settings.kept?.keep({ hash: this.#hasher!.copy(), ...this.#validators });
    if (saveError !== null) return toDestinationError(saveError, paths.dest, saved);
    if (options.signal?.aborted) return options.signal.reason;
    const call = { dest: paths.dest, url, saved, recorded, total: this.#total };
    return outcome.interruption(this.#failure?.error, call);
  }

  /** Discards the checkpoint and empties `.part`: the download starts from byte 0. */
  async #restart(): Promise<void> {
    this.#ctx.settings.kept?.drop();
    await this.#store.discard();
    await this.#file!.truncate(0);
  }

  async #complete(size: number): Promise<HaulResult> {
    this.#ctx.settings.kept?.drop();
    return await outcome.commit(this.#ctx, {
      file: this.#file!,
      size,
      digest: () => this.#hasher!.digests(size),
      close: () => this.#closeFile(),
      checkpointed: this.#store.saved,
      lastModified: this.#validators.lastModified,
      result: (digests) => ({
        dest: this.#ctx.paths.dest,
        size,
        ...digests,
        etag: this.#validators.etag,
        contentType: this.#validators.contentType,
        status: this.#status,
        resumedFrom: this.#schedule.baseBytes,
        alreadyComplete: false,
        elapsedMs: performance.now() - this.#ctx.startedAt,
        connections: this.#used,
        suggestedName: this.#ctx.suggestedName(),
      }),
    }).catch((error) => {
      throw outcome.provenance(error, this.#served, this.#schedule.baseBytes);
    });
  }

  /** Waits for every background write, sync, checkpoint and read-back; never throws. */
  async #settle(): Promise<void> {
    await this.#hasher?.close();
    await this.#checkpointer?.close();
    for (const segment of this.#schedule?.segments ?? []) await segment.writer.close();
  }

  async #closeFile(): Promise<void> {
    const file = this.#file;
    this.#file = null;
    if (file !== null) await file.close().catch(() => {});
  }
}

/** Why a range's answer gives its bytes back to the other connections; `null`: it is written, or ends the call. */
function givenBack(verdict: RangeVerdict | Error): string | null {
  if (verdict instanceof Error) return busy(verdict) ? verdict.message : null;
  return verdict.kind === "write" ? null : verdict.reason;
}

/** A retryable status (a 429, a 503…) or none (a reset, a stalled head): busy, not wrong. */
function busy(error: Error): boolean {
  return !(error instanceof UnexpectedStatusError) || error.retryable;
}
