/**
 * A response body as the engine reads it, whichever reader the runtime's
 * fetch allows: a BYOB reader into the writer's reused landing buffer when
 * the body is a byte stream (Deno's fetch: no allocation per chunk), else the
 * default reader (Bun's and Node's fetch). A read that waits longer than the
 * call's `stallTimeout` cancels the body and fails with a `TimeoutError`
 * (`stall.ts`).
 *
 * @module
 */

import type { PartWriter } from "./part_writer.ts";
import { StallWatch } from "./stall.ts";

/** One read of a body: its bytes (`undefined` at the end) and whether it ended. */
interface BodyRead {
  /** The bytes read, or `undefined` when the body ended without more. */
  readonly bytes: Uint8Array | undefined;
  /** Whether the body ended. */
  readonly done: boolean;
}

/** A body being read into a writer. */
interface BodySource {
  /** The next bytes; rejects with a `TimeoutError` when none came within the stall timeout. */
  read(): Promise<BodyRead>;
  /** Hands (a prefix of) the bytes of the last read to the writer. */
  store(bytes: Uint8Array): Promise<void>;
  /** Stops the body. */
  cancel(reason?: unknown): Promise<void>;
}

/**
 * Reads `body` into `writer`.
 *
 * @param body the response body.
 * @param writer the writer whose landing buffer a BYOB read fills.
 * @param stallTimeout the longest a read may wait, in ms (`Infinity`: no limit).
 * @returns the body source.
 */
export function bodySource(
  body: ReadableStream<Uint8Array>,
  writer: PartWriter,
  stallTimeout: number,
): BodySource {
  let byob: ReadableStreamBYOBReader | null = null;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream: the default reader below.
  }
  const reader = byob ?? body.getReader();
  // Cancelling ends the pending read (as done); the read then throws the watch's failure.
  const watch = new StallWatch(
    stallTimeout,
    (reason) => void reader.cancel(reason).catch(() => {}),
  );
  const cancel = (reason?: unknown): Promise<void> => {
    watch.stop();
    return reader.cancel(reason);
  };
  /** One read, watched; `fill` is the BYOB view to read into. */
  const watched = async (fill: Uint8Array | null): Promise<BodyRead> => {
    watch.reading();
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = fill === null
        ? await (reader as ReadableStreamDefaultReader<Uint8Array>).read()
        : await (reader as ReadableStreamBYOBReader).read(fill);
    } catch (error) {
      watch.stop();
      throw watch.failure ?? error;
    }
    watch.idle();
    if (watch.failure !== null) throw watch.failure;
    if (result.done) watch.stop();
    return { bytes: fill === null && result.done ? undefined : result.value, done: result.done };
  };
  if (byob !== null) {
    return {
      read: () => watched(writer.reserve()),
      // A view of the landing buffer, even an empty one, gives it back to the writer.
      store: (bytes) => writer.commit(bytes),
      cancel,
    };
  }
  return {
    read: () => watched(null),
    store: (bytes) => bytes.length > 0 ? writer.append(bytes) : Promise.resolve(),
    cancel,
  };
}
