/**
 * One range of a download (`download.ts`): `[start, end)` of `.part` with a
 * writer of its own, and the streaming of one checked response into it. No
 * byte is written past the range's end, which shrinks when another
 * connection takes its tail and grows when its body carries on over pending
 * bytes that follow; a body of unknown length has an open range (`end` is
 * `Infinity` until the body ends). A body that carries a byte past the end it
 * declared is refused whole ({@link OverLongBody}).
 *
 * @module
 */

import { isOverLong } from "../protocol/plan.ts";
import { bodySource } from "./body_source.ts";
import type { Durability } from "./durability.ts";
import type { PartWriter } from "./part_writer.ts";
import type { RateLimiter } from "./rate_limit.ts";

/**
 * A body carried bytes past the end it declared: none of its bytes can be trusted.
 *
 * @example
 * ```ts
 * import { OverLongBody } from "./segment.ts";
 * console.log(new OverLongBody(0, 100).message); // the body from byte 0 ran past byte 99
 * ```
 */
export class OverLongBody extends Error {
  /** Where the body started. */
  readonly start: number;

  /**
   * @param start where the body started.
   * @param end the end it declared.
   */
  constructor(start: number, end: number) {
    super(`the body from byte ${start} ran past byte ${end - 1}`);
    this.start = start;
  }
}

/**
 * A range of this call: `[start, end)`, `end` shrinking when another
 * connection takes its tail. Once all its bytes are written, its writer (and
 * its buffers) is let go; `settled` keeps its `Durability`, which the next
 * checkpoint's (shared) sync advances.
 */
export interface Segment {
  /** First byte of the range. */
  readonly start: number;
  /** End of the range (exclusive); `Infinity` while a body of unknown length runs. */
  end: number;
  /** Its writer, started at `start`; `null` once it wrote all its bytes. */
  writer: PartWriter | null;
  /** When `writer` is `null`: what its bytes have become, and its high-water mark. */
  settled: { readonly durability: Durability; readonly extent: number } | null;
  /** Whether all its bytes are written. */
  done: boolean;
  /** Resolved once the range's answer was checked (or its request failed); `null` since then. */
  answer: PromiseWithResolvers<void> | null;
}

/** What streaming into a segment needs from its download. */
interface SegmentHost {
  /** Aborted when every range stops: nothing more is written. */
  readonly stop: AbortSignal;
  /** `stallTimeout` in ms (`Infinity`: none). */
  readonly stallTimeout: number;
  /** Paces the reads (`maxBytesPerSecond`), shared with the other ranges; `null`: none. */
  readonly limiter: RateLimiter | null;
  /**
   * Whether the segment's body goes on over the bytes after its end, up to
   * `limit` (when it does, `segment.end` has moved).
   */
  carriesOn(segment: Segment, limit: number): Promise<boolean>;
  /** Called after each non-empty write of `bytes` bytes through `writer`. */
  stored(writer: PartWriter, bytes: number): Promise<void>;
}

/**
 * Writes the body into the segment until its (possibly shortened) end, then
 * lets its writer go. An open range ends where its body does.
 *
 * @param segment the range, its writer open.
 * @param response its checked response, the body unread.
 * @param asked the end of the bytes the response declares (`Infinity`: not declared).
 * @param host the download.
 * @throws {OverLongBody} when the body carries a byte at or past `asked`.
 * @throws {Error} when the body ends before the range does.
 */
export async function streamSegment(
  segment: Segment,
  response: Response,
  asked: number,
  host: SegmentHost,
): Promise<void> {
  const writer = segment.writer!;
  // A null body is an empty one (a 204-like answer): judged by where it ends.
  const reader = bodySource(response.body ?? new Blob([]).stream(), writer, host.stallTimeout);
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
      let room = segment.end - writer.length;
      while (value.length > room && (await host.carriesOn(segment, asked))) {
        room = segment.end - writer.length;
      }
      // Never past the range's end (it may have shrunk), nothing after a stop.
      const bytes = stop.aborted ? value.subarray(0, 0) : value.subarray(0, room);
      await reader.store(bytes);
      if (bytes.length > 0) await host.stored(writer, bytes.length);
      // Between reads: a wait that the stall watch does not count.
      if (host.limiter !== null && value.length > 0) await host.limiter.take(value.length, stop);
    }
    if (stop.aborted) return;
    if (segment.end === Infinity) segment.end = writer.length; // the download judges this end
    if (writer.length < segment.end) {
      throw new Error(
        `bytes ${segment.start}-${segment.end - 1}: the body ended at byte ${writer.length}`,
      );
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
    // Its buffers can go; what its bytes become is still tracked by its Durability.
    segment.settled = { durability: writer.durability, extent: writer.extent };
    segment.writer = null;
    await writer.close();
  } catch (error) {
    await reader.cancel().catch(() => {}); // no body (nor its stall timer) outlives a failure
    throw error;
  } finally {
    stop.removeEventListener("abort", onStop);
  }
}
