/**
 * Appends body bytes to `.part`: hashes them, coalesces them into large
 * positional writes, and writes checkpoints in the order that keeps them
 * honest: data `fdatasync`ed first, then the checkpoint written to a temporary
 * sibling, fsynced and renamed over `.part.ctrl`.
 *
 * @module
 */

import type { Checkpoint, Sha256State } from "./checkpoint.ts";
import { encodeCheckpoint } from "./control_file.ts";
import type { FsShim, ShimFile } from "./fs/fs_shim.ts";
import type { SidecarPaths } from "./paths.ts";
import type { Validators } from "./plan.ts";
import { Sha256 } from "./sha256.ts";

/** Tuning of a writer. */
export interface WriterSettings {
  /** Verification block size (multiple of 64). */
  readonly blockSize: number;
  /** Checkpoint after this many new bytes. */
  readonly checkpointBytes: number;
  /** Checkpoint after this many milliseconds. */
  readonly checkpointMs: number;
  /** Bytes gathered before one write call. */
  readonly writeBufferSize: number;
  /** Test-only: never write checkpoints (to measure their cost). */
  readonly disableCheckpoints?: boolean;
}

interface Boundary {
  readonly offset: number;
  readonly state: Sha256State;
}

/** Streams bytes into `.part` from a start point, checkpointing along the way. */
export class PartWriter {
  readonly #fs: FsShim;
  readonly #file: ShimFile;
  readonly #paths: SidecarPaths;
  readonly #settings: WriterSettings;
  readonly #hasher: Sha256;
  readonly #startCursor: number;
  #validators: Validators;
  #total: number | null;
  #buffer: Uint8Array;
  #buffered = 0;
  /** Bytes handed to the OS (`#written <= length`). */
  #written: number;
  /** Bytes covered by the last checkpoint on disk (or the start cursor). */
  #durable: number;
  #extent: number;
  #last: Boundary;
  #previous: Boundary | null = null;
  #lastCheckpointAt: number;
  /** Set when a write failed: hashed bytes may not be on disk, so no new checkpoint. */
  #broken = false;

  /**
   * @param fs filesystem shim.
   * @param file `.part`, open read-write.
   * @param paths sidecar paths.
   * @param settings tuning.
   * @param start where to continue: cursor, hash state after it, and the anchor state.
   */
  constructor(
    fs: FsShim,
    file: ShimFile,
    paths: SidecarPaths,
    settings: WriterSettings,
    start: {
      cursor: number;
      cursorHash: Sha256State | null;
      anchor: Boundary | null;
      validators: Validators;
      total: number | null;
      extent: number;
    },
  ) {
    this.#fs = fs;
    this.#file = file;
    this.#paths = paths;
    this.#settings = settings;
    this.#hasher = new Sha256(start.cursorHash ?? undefined);
    this.#startCursor = start.cursor;
    this.#written = start.cursor;
    this.#durable = start.cursor;
    this.#extent = Math.max(start.extent, start.cursor);
    this.#validators = start.validators;
    this.#total = start.total;
    this.#buffer = new Uint8Array(settings.writeBufferSize);
    this.#last = start.anchor ?? { offset: 0, state: new Sha256().snapshot() };
    this.#lastCheckpointAt = Date.now();
  }

  /** Bytes accepted so far (hashed; some may still be buffered). */
  get length(): number {
    return this.#hasher.length;
  }

  /** Bytes covered by the newest checkpoint on disk. */
  get durableLength(): number {
    return this.#durable;
  }

  /** Hex SHA-256 of everything accepted so far. */
  hex(): string {
    return this.#hasher.hex();
  }

  /**
   * Accepts the next body bytes.
   *
   * @param chunk bytes; not retained after the call resolves.
   */
  async append(chunk: Uint8Array): Promise<void> {
    this.#hash(chunk);
    let offset = 0;
    const capacity = this.#buffer.length;
    if (this.#buffered === 0 && chunk.length >= capacity) {
      await this.#write(chunk);
      offset = chunk.length;
    }
    while (offset < chunk.length) {
      const take = Math.min(capacity - this.#buffered, chunk.length - offset);
      this.#buffer.set(chunk.subarray(offset, offset + take), this.#buffered);
      this.#buffered += take;
      offset += take;
      if (this.#buffered === capacity) await this.#flush();
    }
    if (this.#checkpointDue()) await this.checkpoint();
  }

  /** Writes buffered bytes, syncs the data, then records a checkpoint covering them. */
  async checkpoint(): Promise<void> {
    if (this.#broken) return; // the last checkpoint on disk stands
    await this.#flush();
    if (this.#settings.disableCheckpoints) return;
    const cursor = this.#written;
    if (cursor <= this.#durable || cursor <= this.#startCursor) return;
    await this.#file.datasync();
    const anchor = cursor > this.#last.offset ? this.#last : this.#previous;
    if (anchor === null) return; // cannot happen past the start cursor; stay safe
    const record: Checkpoint = {
      start: 0,
      cursor,
      blockSize: this.#settings.blockSize,
      extent: Math.max(this.#extent, cursor),
      reportedLength: this.#total,
      etag: this.#validators.etag,
      lastModified: this.#validators.lastModified,
      contentType: this.#validators.contentType,
      anchor: anchor.offset,
      anchorHash: anchor.state,
      cursorHash: this.#hasher.snapshot(),
    };
    const tmp = await this.#fs.open(this.#paths.ctrlTmp, "create-truncate");
    try {
      await tmp.write(encodeCheckpoint(record), 0);
      await tmp.sync();
    } finally {
      await tmp.close();
    }
    await this.#fs.rename(this.#paths.ctrlTmp, this.#paths.ctrl);
    this.#durable = cursor;
    this.#lastCheckpointAt = Date.now();
  }

  /**
   * Completes `.part`: writes what is buffered, cuts junk past the end and
   * makes everything durable. Does not rename.
   */
  async finish(): Promise<void> {
    await this.#flush();
    const size = await this.#file.size();
    if (size !== this.#written) await this.#file.truncate(this.#written);
    await this.#file.sync();
  }

  async #flush(): Promise<void> {
    if (this.#buffered === 0) return;
    const bytes = this.#buffer.subarray(0, this.#buffered);
    this.#buffered = 0;
    await this.#write(bytes);
  }

  async #write(bytes: Uint8Array): Promise<void> {
    try {
      await this.#file.write(bytes, this.#written);
    } catch (error) {
      this.#broken = true;
      throw error;
    }
    this.#written += bytes.length;
    if (this.#written > this.#extent) this.#extent = this.#written;
  }

  #checkpointDue(): boolean {
    const pending = this.length - this.#durable;
    if (pending <= 0) return false;
    if (pending >= this.#settings.checkpointBytes) return true;
    return Date.now() - this.#lastCheckpointAt >= this.#settings.checkpointMs;
  }

  /** Hashes a chunk, snapshotting the state at every block boundary it crosses. */
  #hash(chunk: Uint8Array): void {
    const block = this.#settings.blockSize;
    let offset = 0;
    while (offset < chunk.length) {
      const position = this.#hasher.length;
      const toBoundary = block - (position % block);
      const take = Math.min(toBoundary, chunk.length - offset);
      this.#hasher.update(chunk.subarray(offset, offset + take));
      offset += take;
      if (take === toBoundary) {
        this.#previous = this.#last;
        this.#last = { offset: this.#hasher.length, state: this.#hasher.snapshot() };
      }
    }
  }
}
