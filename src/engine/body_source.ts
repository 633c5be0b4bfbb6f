/**
 * A response body as the engine reads it, whichever reader the runtime's
 * fetch allows: a BYOB reader into the writer's reused landing buffer when
 * the body is a byte stream (Deno's fetch: no allocation per chunk), else the
 * default reader (Bun's and Node's fetch).
 *
 * @module
 */

import type { PartWriter } from "./part_writer.ts";

/** One read of a body: its bytes (`undefined` at the end) and whether it ended. */
export interface BodyRead {
  /** The bytes read, or `undefined` when the body ended without more. */
  readonly bytes: Uint8Array | undefined;
  /** Whether the body ended. */
  readonly done: boolean;
}

/** A body being read into a writer. */
export interface BodySource {
  /** The next bytes. */
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
 * @returns the body source.
 *
 * @example
 * ```ts ignore
 * // Needs a PartWriter over an open .part: engine/haul.ts and range_download.ts use it.
 * const source = bodySource(response.body!, writer);
 * for (let read = await source.read(); ; read = await source.read()) {
 *   if (read.bytes !== undefined) await source.store(read.bytes);
 *   if (read.done) break;
 * }
 * ```
 */
export function bodySource(body: ReadableStream<Uint8Array>, writer: PartWriter): BodySource {
  let byob: ReadableStreamBYOBReader | null = null;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream: the default reader below.
  }
  if (byob !== null) {
    const reader = byob;
    return {
      read: async () => {
        const { value, done } = await reader.read(writer.reserve());
        return { bytes: value, done };
      },
      // A view of the landing buffer, even an empty one, gives it back to the writer.
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
    store: (bytes) => bytes.length > 0 ? writer.append(bytes) : Promise.resolve(),
    cancel: (reason) => reader.cancel(reason),
  };
}
