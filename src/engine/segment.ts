/**
 * One range of a download (`download.ts`) and the streaming of one checked response into it. No
 * byte is written past the range's end, which shrinks when another connection takes its tail and
 * grows when its body carries on over pending bytes that follow. A body that carries a byte past
 * the end it declared is refused whole.
 *
 * @module
 */

import { isOverLong } from "../protocol/plan.ts";
import type { PartWriter } from "./part_writer.ts";
import type { Settings } from "./settings.ts";
import { bodyBytes, StallWatch } from "./stall.ts";

/** A body carried bytes past the end it declared: none of its bytes can be trusted. */
export class OverLongBody extends Error {
  /** Where the body started. */
  readonly start: number;
  constructor(start: number, end: number) {
    super(`the body from byte ${start} ran past byte ${end - 1}`);
    this.start = start;
  }
}

/** A body that failed as it was read (cut, stalled) or ended short: its source's failure (`cause`). */
export class BodyFailure extends Error {}

/** `[start, end)` of `.part`, with a writer of its own until all its bytes are written. */
export interface Segment {
  readonly start: number;
  /** End of the range (exclusive); `Infinity` while a body of unknown length runs. */
  end: number;
  /** Its writer, started at `start` (its buffers let go by `quiesce()` once it wrote its bytes). */
  readonly writer: PartWriter;
  done: boolean;
  /** Resolved once the range's answer was checked (or its request failed); `null` since then. */
  answer: PromiseWithResolvers<void> | null;
}

/** What streaming into a segment needs from its download and the call's settings. */
interface SegmentHost extends Pick<Settings, "stallTimeout" | "limiter"> {
  /** Aborted when every range stops: nothing more is written. */
  readonly stop: AbortSignal;
  /** Whether the body goes on over the bytes after `segment.end`, up to `limit` (`end` moves). */
  carriesOn(segment: Segment, limit: number): Promise<boolean>;
  /** Called after each non-empty write of `bytes` bytes through `writer`. */
  stored(writer: PartWriter, bytes: number): Promise<void>;
}

/**
 * Writes the body into the segment until its (possibly shortened) end, then lets its writer go.
 * `asked`: the end the response declares (`Infinity`: none); an open range ends with its body.
 */
export async function streamSegment(
  segment: Segment,
  response: Response,
  asked: number,
  host: SegmentHost,
): Promise<void> {
  const writer = segment.writer;
  // A null body is an empty one (a 204-like answer): judged by where it ends.
  const reader = bodySource(response.body ?? new Blob([]).stream(), writer, host);
  const stop = host.stop;
  const onStop = () => void reader.cancel().catch(() => {});
  stop.addEventListener("abort", onStop, { once: true });
  try {
    let ended = false;
    while (!ended && !stop.aborted) {
      if (writer.length >= segment.end && !(await host.carriesOn(segment, asked))) break;
      const { bytes: value, done } = await reader.read();
      ended = done;
      if (value === undefined) continue;
      if (isOverLong(writer.length, value.length, asked)) {
        throw new OverLongBody(segment.start, asked);
      }
      let more = true; // the body may carry on (`end` moves)
      while (more && value.length > segment.end - writer.length) {
        more = await host.carriesOn(segment, asked);
      }
      // Never past the range's end as it is now (it may have shrunk meanwhile), nothing after a stop.
      const bytes = value.subarray(0, stop.aborted ? 0 : segment.end - writer.length);
      await reader.store(bytes);
      if (bytes.length > 0) await host.stored(writer, bytes.length);
      // Between reads: a wait that the stall watch does not count.
      if (host.limiter !== null && value.length > 0) await host.limiter.take(value.length, stop);
    }
    if (stop.aborted) return;
    if (segment.end === Infinity) segment.end = writer.length; // the download judges this end
    if (writer.length < segment.end) {
      const where = `bytes ${segment.start}-${segment.end - 1}`;
      const cause = new Error(`${where}: the body ended at byte ${writer.length}`);
      throw new BodyFailure("the body ended short", { cause });
    }
    if (!ended && segment.end === asked) {
      // Read the end of the body, so that the connection can carry the next request.
      const tail = await reader.read();
      if (tail.bytes !== undefined) await reader.store(tail.bytes.subarray(0, 0));
      if ((tail.bytes?.length ?? 0) > 0) throw new OverLongBody(segment.start, asked);
      if (!tail.done) await reader.cancel().catch(() => {});
    } else if (!ended) {
      await reader.cancel().catch(() => {}); // the rest belongs to another range
    }
    await writer.quiesce();
    segment.done = true;
  } catch (error) {
    await reader.cancel().catch(() => {}); // no body (nor its stall timer) outlives a failure
    throw error;
  } finally {
    stop.removeEventListener("abort", onStop);
  }
}

/**
 * `body` read into `writer`: BYOB into its reused landing buffer for a byte stream (Deno's fetch:
 * no allocation per chunk), else the default reader; a read past `stallTimeout` cancels the body.
 * Under a rate limit, a read gives at most a burst (a default read's rest: the next reads).
 */
function bodySource(body: ReadableStream<Uint8Array>, writer: PartWriter, host: SegmentHost) {
  let byob: ReadableStreamBYOBReader | null = null;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream: the default reader below.
  }
  const reader = byob ?? body.getReader();
  // A default read's rest past a burst, then 4 reads asked ahead, which the runtime fetches while a
  // chunk is stored (Bun's fetch reads only for a pending read; none under a rate limit).
  const ahead: Promise<ReadableStreamReadResult<Uint8Array>>[] = [];
  const readNext = () => {
    const next = (reader as ReadableStreamDefaultReader<Uint8Array>).read();
    next.catch(() => {}); // its failure is that of the read() that takes it
    return next;
  };
  // Cancelling ends the pending read (as done); the read then throws the watch's failure.
  const onStall = (reason: DOMException) => void reader.cancel(reason).catch(() => {});
  const watch = new StallWatch(host.stallTimeout, onStall);
  const most = host.limiter?.burst ?? Infinity;
  return {
    /** One read, watched; `bytes` is `undefined` at the end (but for BYOB's view to give back). */
    read: async () => {
      watch.reading();
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = byob === null
          ? await (ahead.shift() ?? readNext())
          : await byob.read(host.limiter ? writer.reserve().subarray(0, most) : writer.reserve());
      } catch (error) {
        watch.stop();
        throw new BodyFailure("the body failed", { cause: watch.failure ?? error });
      }
      watch.idle();
      if (watch.failure !== null) throw new BodyFailure("stalled", { cause: watch.failure });
      if (result.done) watch.stop();
      if (byob !== null || result.done) return { bytes: result.value, done: result.done };
      result.value = bodyBytes(result.value);
      const rest = result.value.length > most ? result.value.subarray(most) : null; // no view per chunk
      if (rest !== null) ahead.unshift(Promise.resolve({ value: rest, done: false }));
      while (host.limiter === null && ahead.length < 4) ahead.push(readNext());
      return { bytes: rest === null ? result.value : result.value.subarray(0, most), done: false };
    },
    // A view of the landing buffer, even an empty one, gives it back to the writer.
    store: async (bytes: Uint8Array): Promise<void> => {
      if (byob !== null) await writer.commit(bytes);
      else if (bytes.length > 0) await writer.append(bytes);
    },
    cancel: (reason?: unknown): Promise<void> => {
      watch.stop();
      return reader.cancel(reason);
    },
  };
}
