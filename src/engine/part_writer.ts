/**
 * Appends body bytes to `.part` through two buffers (one fills while the other is written; each
 * goes to the hasher just before its write; their sizes: docs/performance.md, "Write buffers") and
 * starts an `fdatasync` every `syncEvery` bytes without waiting ({@link Durability}).
 *
 * @module
 */

import type { ShimFile } from "../runtime/fs_shim.ts";
import { Durability } from "./durability.ts";
import type { Settings } from "./settings.ts";

/** The file's hasher: given each chunk on arrival and each buffer before its write; told of writes. */
export interface WriteObserver {
  arrived(bytes: Uint8Array, at: number): void;
  offer(bytes: Uint8Array, at: number): Promise<void>;
  written(end: number): void;
}

/** What a writer needs of `.part` (`download.ts` shares its `fdatasync` among the ranges). */
type WritableFile = Pick<ShimFile, "write" | "datasync">;

/** Streams bytes into `.part` from a start cursor. */
export class PartWriter {
  readonly #file: WritableFile;
  readonly #settings: Pick<Settings, "writeBufferSize" | "syncEvery">;
  readonly #observer: WriteObserver;
  readonly #durability: Durability;
  /** The buffer being filled and the one being written. */
  readonly #buffers: [Uint8Array | null, Uint8Array | null] = [null, null];
  /** Where the range is expected to end (`Infinity`: unknown); only sizes the buffers. */
  readonly #expectedEnd: number;
  /** Where this writer started (its buffers grow once it has written a whole buffer). */
  readonly #start: number;
  /** The BYOB landing buffer, when no read holds it. */
  #landing: Uint8Array | null = null;
  #current: 0 | 1 = 0;
  #buffered = 0;
  #accepted: number;
  /** End of the last write issued. */
  #issued: number;
  /** Written bytes when the last background sync started. */
  #syncedFrom: number;
  #inflight: Promise<void> | null = null;
  #syncing: Promise<void> | null = null;
  /** The first failure of a background write or sync, reported to every later call. */
  #failure: { error: unknown } | null = null;
  /** A write failed: nothing more is written (bytes past it would leave a hole). */
  #broken = false;

  /** `start`: the cursor (bytes before it are durable) and where the range should end, if known. */
  constructor(
    file: WritableFile,
    settings: Pick<Settings, "writeBufferSize" | "syncEvery">,
    observer: WriteObserver,
    start: { cursor: number; end?: number },
  ) {
    this.#file = file;
    this.#settings = settings;
    this.#observer = observer;
    this.#durability = new Durability(start.cursor);
    this.#accepted = start.cursor;
    this.#start = start.cursor;
    this.#issued = start.cursor;
    this.#syncedFrom = start.cursor;
    this.#expectedEnd = start.end ?? Infinity;
  }

  /** Bytes accepted so far (some may still be buffered). */
  get length(): number {
    return this.#accepted;
  }

  get durability(): Durability {
    return this.#durability;
  }

  /** Accepts the next body bytes (not retained after the call resolves). */
  async append(chunk: Uint8Array): Promise<void> {
    this.#throwFailure();
    const capacity = this.#capacityAt(this.#accepted);
    this.#observer.arrived(chunk, this.#accepted);
    this.#accepted += chunk.length;
    let offset = 0;
    if (this.#buffered === 0) {
      // Whole buffers straight from the chunk, without a copy.
      while (chunk.length - offset >= capacity) {
        await this.#write(chunk.subarray(offset, offset + capacity));
        await this.#drain(); // the chunk is not retained
        offset += capacity;
      }
    }
    while (offset < chunk.length) {
      const buffer = this.#fillable();
      const take = Math.min(buffer.length - this.#buffered, chunk.length - offset);
      buffer.set(
        take === chunk.length ? chunk : chunk.subarray(offset, offset + take),
        this.#buffered,
      );
      this.#buffered += take;
      offset += take;
      if (this.#buffered === buffer.length) await this.#submit();
    }
  }

  /** The current buffer, allocated (or replaced while empty, when too small) for what is left. */
  #fillable(): Uint8Array {
    const buffer = this.#buffers[this.#current];
    if (buffer !== null && this.#buffered > 0) return buffer;
    const size = this.#sizeAt(this.#issued);
    if (buffer !== null && buffer.length >= size) return buffer;
    return this.#buffers[this.#current] = new Uint8Array(size);
  }

  /** A quarter buffer until a whole buffer's worth has been written from the start. */
  #capacityAt(position: number): number {
    const full = this.#settings.writeBufferSize;
    return position - this.#start >= full ? full : Math.ceil(full / 4);
  }

  /** Bytes worth buffering from `position`: the rest of the range, capped at a write buffer. */
  #sizeAt(position: number): number {
    const capacity = this.#capacityAt(position);
    const left = this.#expectedEnd - position;
    return left > 0 ? Math.min(capacity, left) : capacity;
  }

  /**
   * A buffer for a BYOB read to fill, then {@link PartWriter.commit}: a landing area of its own,
   * never a write buffer, as a failed read keeps it (so it loses no accepted byte).
   */
  reserve(): Uint8Array {
    const size = this.#sizeAt(this.#accepted);
    // Grown with the buffers while the range goes on; the read that finds its end reuses it.
    const grow = this.#landing !== null && this.#landing.length < size &&
      this.#accepted < this.#expectedEnd;
    if (this.#landing === null || grow) this.#landing = new Uint8Array(size);
    const landing = this.#landing;
    this.#landing = null;
    return landing;
  }

  /** Accepts the bytes a BYOB read put into {@link PartWriter.reserve}'s view (maybe none). */
  async commit(filled: Uint8Array): Promise<void> {
    this.#landing = new Uint8Array(filled.buffer);
    if (filled.length > 0) await this.append(filled);
  }

  /** Issues the write of the partly filled buffer, if any (without waiting for it). */
  async flush(): Promise<void> {
    if (this.#buffered > 0 && !this.#broken) await this.#submit();
  }

  /** Makes every completed write durable (after a failed write, the bytes before it). */
  async syncWritten(): Promise<void> {
    // Only what is in flight now: the stream may go on issuing writes meanwhile.
    await this.#inflight;
    await this.#syncing;
    await this.#durability.syncWritten(() => this.#file.datasync());
  }

  /**
   * Writes what is buffered, waits for all background work and lets the buffers go (nothing is
   * appended after; its durability is still read), then reports any failure.
   */
  async quiesce(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.close();
      this.#buffers.fill(null);
      this.#buffered = 0; // gone with its buffer (a failed flush kept the count)
      this.#landing = null;
    }
    this.#throwFailure();
  }

  /** Waits for the write in flight and the background sync; never throws. */
  async close(): Promise<void> {
    for (;;) {
      const pending = this.#inflight ?? this.#syncing;
      if (pending === null) return;
      await pending;
      if (this.#inflight === pending) this.#inflight = null;
    }
  }

  /** Issues the write of the current buffer; the other one fills meanwhile. */
  async #submit(): Promise<void> {
    const bytes = this.#buffers[this.#current]!.subarray(0, this.#buffered);
    await this.#drain();
    this.#buffered = 0;
    this.#current = this.#current === 0 ? 1 : 0;
    await this.#write(bytes);
  }

  /** Issues the write of `bytes` at the end, once the previous write completed. */
  async #write(bytes: Uint8Array): Promise<void> {
    await this.#drain();
    if (this.#broken) return;
    const position = this.#issued;
    await this.#observer.offer(bytes, position);
    this.#issued += bytes.length;
    this.#inflight = this.#file.write(bytes, position).then(
      () => this.#wrote(position + bytes.length),
      (error: unknown) => {
        this.#broken = true;
        this.#failure ??= { error };
      },
    );
  }

  /** Waits for the write in flight, if any, and reports a failure. */
  async #drain(): Promise<void> {
    const inflight = this.#inflight;
    await inflight;
    if (this.#inflight === inflight) this.#inflight = null;
    this.#throwFailure();
  }

  /** A write ending at `end` completed: start a background sync when one is due. */
  #wrote(end: number): void {
    this.#durability.wrote(end);
    this.#observer.written(end);
    if (
      this.#syncing === null && !this.#durability.poisoned && !this.#broken &&
      end - this.#syncedFrom >= this.#settings.syncEvery
    ) {
      this.#syncedFrom = end;
      this.#syncing = this.#durability.sync(() => this.#file.datasync()).catch((error: unknown) => {
        this.#failure ??= { error };
      }).finally(() => {
        this.#syncing = null;
      });
    }
  }

  #throwFailure(): void {
    if (this.#failure !== null) throw this.#failure.error;
  }
}
