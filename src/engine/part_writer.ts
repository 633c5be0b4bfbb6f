/**
 * Appends body bytes to `.part` and keeps checkpoints honest: a checkpoint
 * never counts a byte that an `fdatasync` has not made durable, and its hash
 * state never covers more than that.
 *
 * How it stays fast (figures in `docs/performance.md`):
 *
 * - **Two hashes.** A download from byte 0 gets its digest from the native
 *   `node:crypto` SHA-256 ({@link NativeDigest}: on a worker thread that reads
 *   `.part` back, for bodies large enough to pay for starting one). A
 *   checkpoint needs the hash *state*, which only the TypeScript hasher
 *   (`sha256.ts`) can export and which is several times slower; a
 *   {@link HashFollower} keeps it by reading back durable bytes, on a worker
 *   thread once enough wait. The checkpoint's cursor is what is durable; its
 *   hash state is wherever the follower stands, possibly behind. A resume
 *   hashes the bytes in between again from disk (CPU, not network), and a
 *   tail digest lets it check the newest durable bytes the state does not
 *   cover. So a crash costs at most the checkpoint cadence in downloaded
 *   bytes, however far the hash trails.
 * - **Pipelined writes.** Body chunks are copied into one of two buffers; a
 *   full buffer is written at its position while the other fills.
 * - **Background sync.** An `fdatasync` starts every
 *   {@link WriterSettings.syncEvery} bytes written without waiting for it, so
 *   the disk writes back while the body streams; a periodic checkpoint records
 *   what finished syncs cover (tmp → fsync → rename), also in the background.
 * - **Interruptions save everything received**: the final checkpoint drains
 *   the writes and syncs every byte before recording it.
 *
 * @module
 */

import type { Checkpoint, Sha256State } from "../store/checkpoint.ts";
import { tailStart } from "../store/checkpoint.ts";
import type { HashProgress } from "../hashing/block_hasher.ts";
import { encodeCheckpoint } from "../store/control_file.ts";
import { digestRange } from "../hashing/file_digest.ts";
import type { FsShim, ShimFile } from "../runtime/fs_shim.ts";
import { HashFollower } from "../hashing/hash_follower.ts";
import { NativeDigest } from "../hashing/native_digest.ts";
import type { SidecarPaths } from "../store/paths.ts";
import type { Validators } from "../protocol/plan.ts";
import { Sha256 } from "../hashing/sha256.ts";

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
  /** Bytes written between two background `fdatasync` calls. */
  readonly syncEvery: number;
  /** Whether the resumable hash may run on a worker thread. */
  readonly hashWorker: boolean;
  /** Unhashed durable bytes that start the worker. */
  readonly hashWorkerAfter: number;
  /** Bodies from byte 0 of at least this many bytes (or of unknown length) get their digest on a worker. */
  readonly digestWorkerAfter: number;
  /** The worker's share of a core once it trails by more than {@link WriterSettings.hashWorkerBehind}. */
  readonly hashWorkerShare: number;
  /** Trailing by more than this, the worker keeps to its share. */
  readonly hashWorkerBehind: number;
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
  /** Digest of a download that starts at byte 0; `null` when resuming. */
  readonly #native: NativeDigest | null;
  readonly #follower: HashFollower;
  readonly #startCursor: number;
  readonly #validators: Validators;
  readonly #total: number | null;
  /** The buffer being filled and the one being written. */
  readonly #buffers: [Uint8Array, Uint8Array];
  readonly #capacity: number;
  /** The BYOB landing buffer, when no read holds it. */
  #landing: Uint8Array | null = null;
  #current: 0 | 1 = 0;
  #buffered = 0;
  /** Bytes accepted (start cursor included). */
  #accepted: number;
  /** End of the last write issued. */
  #issued: number;
  /** End of the completed writes (`#written <= #issued`). */
  #written: number;
  /** Bytes known durable: a `datasync` that started after they were written has returned. */
  #synced: number;
  /** `#written` when the last `datasync` started. */
  #syncStartedAt: number;
  #inflight: Promise<void> | null = null;
  #syncing: Promise<void> | null = null;
  /** A checkpoint being made while the stream goes on (never two at once). */
  #recording: Promise<void> | null = null;
  /** The first failure of a background write, sync or checkpoint, until reported. */
  #failure: { error: unknown } | null = null;
  /** A write failed: nothing more is written (bytes past `#written` would leave a hole). */
  #broken = false;
  /** A `datasync` failed: what it should have saved may be lost, so never checkpoint again. */
  #poisoned = false;
  /** Cursor of the newest checkpoint on disk (or the start cursor). */
  #durable: number;
  /** Hashed length of the newest checkpoint on disk. */
  #durableHashed: number;
  #extent: number;
  #lastCheckpointAt: number;
  #lastCheckpointBytes: number;
  #digest: string | null = null;

  /**
   * @param fs filesystem shim.
   * @param file `.part`, open read-write.
   * @param paths sidecar paths.
   * @param settings tuning.
   * @param start where to continue: the durable cursor, where the hash stands
   *   (its state after `hash.length <= cursor` bytes), and the anchor (the state
   *   at the newest block boundary below `hash.length`).
   */
  constructor(
    fs: FsShim,
    file: ShimFile,
    paths: SidecarPaths,
    settings: WriterSettings,
    start: {
      cursor: number;
      hash: Sha256State | null;
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
    this.#startCursor = start.cursor;
    this.#accepted = start.cursor;
    this.#issued = start.cursor;
    this.#written = start.cursor;
    this.#synced = start.cursor;
    this.#syncStartedAt = start.cursor;
    this.#durable = start.cursor;
    this.#extent = Math.max(start.extent, start.cursor);
    this.#validators = start.validators;
    this.#total = start.total;
    this.#capacity = settings.writeBufferSize;
    this.#buffers = [
      new Uint8Array(settings.writeBufferSize),
      new Uint8Array(settings.writeBufferSize),
    ];
    const big = start.total === null || start.total >= settings.digestWorkerAfter;
    this.#native = start.cursor === 0
      ? new NativeDigest(file, paths.part, settings.hashWorker && big)
      : null;
    const state = start.hash ?? new Sha256().snapshot();
    this.#durableHashed = state.length;
    const anchor = start.anchor ?? { offset: 0, state: new Sha256().snapshot() };
    const aligned = state.length > anchor.offset && state.length % settings.blockSize === 0;
    const from: HashProgress = {
      position: state.length,
      state,
      last: aligned ? { offset: state.length, state } : anchor,
      previous: aligned ? anchor : null,
    };
    this.#follower = new HashFollower(file, paths.part, settings.blockSize, from, {
      worker: settings.hashWorker,
      spawnAfter: settings.hashWorkerAfter,
      // A resumed download's digest is this hash: then it gets a whole core.
      share: this.#native === null ? 1 : settings.hashWorkerShare,
      behind: settings.hashWorkerBehind,
    });
    // Bytes before the cursor are durable already; a resume hashes them again.
    this.#follower.advance(start.cursor);
    this.#lastCheckpointAt = Date.now();
    this.#lastCheckpointBytes = start.cursor;
  }

  /** Bytes accepted so far (some may still be buffered). */
  get length(): number {
    return this.#accepted;
  }

  /** Bytes covered by the newest checkpoint on disk. */
  get durableLength(): number {
    return this.#durable;
  }

  /** Hex SHA-256 of the whole file; available after {@link PartWriter.finish}. */
  hex(): string {
    if (this.#digest === null) throw new Error("PartWriter.hex() called before finish()");
    return this.#digest;
  }

  /**
   * Accepts the next body bytes.
   *
   * @param chunk bytes; not retained after the call resolves.
   */
  async append(chunk: Uint8Array): Promise<void> {
    this.#throwFailure();
    this.#accepted += chunk.length;
    const capacity = this.#capacity;
    let offset = 0;
    if (this.#buffered === 0 && chunk.length >= capacity) {
      await this.#drain();
      await this.#writeNow(chunk);
      offset = chunk.length;
    }
    while (offset < chunk.length) {
      const buffer = this.#buffers[this.#current];
      const take = Math.min(capacity - this.#buffered, chunk.length - offset);
      buffer.set(
        take === chunk.length ? chunk : chunk.subarray(offset, offset + take),
        this.#buffered,
      );
      this.#buffered += take;
      offset += take;
      if (this.#buffered === capacity) await this.#submit();
    }
    if (this.#checkpointDue()) await this.#startCheckpoint();
  }

  /**
   * A buffer for a BYOB read (`reader.read(view)`) to fill, so that body
   * bytes arrive without a fresh allocation per chunk. Pass what the read
   * resolves with to {@link PartWriter.commit}. The read takes the buffer
   * with it, and would keep it if it failed: so it is a landing area of its
   * own, never a write buffer, and a failed read loses no accepted byte.
   *
   * @returns an empty view of {@link WriterSettings.writeBufferSize} bytes.
   */
  reserve(): Uint8Array {
    this.#landing ??= new Uint8Array(this.#capacity);
    const landing = this.#landing;
    this.#landing = null;
    return landing;
  }

  /**
   * Accepts the bytes a BYOB read put into the view {@link PartWriter.reserve}
   * gave (possibly none, when the stream ended).
   *
   * @param filled the view the read resolved with.
   */
  async commit(filled: Uint8Array): Promise<void> {
    this.#landing = new Uint8Array(filled.buffer);
    if (filled.length > 0) await this.append(filled);
  }

  /**
   * The last checkpoint of an interrupted download: writes what is buffered,
   * syncs every byte written and records them. Stops the hashing worker.
   */
  async checkpoint(): Promise<void> {
    try {
      await this.#quiesce();
      if (this.#settings.disableCheckpoints || this.#poisoned) return;
      // After a failed write only what earlier syncs covered is recorded.
      if (!this.#broken && this.#synced < this.#written) {
        await this.#datasync(this.#written);
        this.#throwFailure();
      }
      await this.#record();
    } finally {
      this.#follower.close();
      this.#native?.close();
    }
  }

  /**
   * Lets go of the writer after a failure that skips {@link PartWriter.checkpoint}
   * and {@link PartWriter.finish}: waits for background work, stops the workers.
   * Never throws; safe to call more than once.
   */
  async close(): Promise<void> {
    await this.#settle();
    this.#follower.close();
    this.#native?.close();
  }

  /**
   * Completes `.part`: writes what is buffered, cuts junk past the end, makes
   * everything durable and computes the digest. Does not rename.
   */
  async finish(): Promise<void> {
    try {
      await this.#quiesce();
      const size = await this.#file.size();
      if (size !== this.#written) await this.#file.truncate(this.#written);
      await this.#file.sync();
      this.#synced = this.#written;
      if (this.#native === null) {
        await this.#follower.catchUp(this.#written);
        this.#digest = this.#follower.hex();
      } else {
        this.#digest = await this.#native.digest(this.#written);
      }
    } finally {
      this.#follower.close();
      this.#native?.close();
    }
  }

  /**
   * Starts a periodic checkpoint without stopping the stream: the partial
   * buffer is written, and a background task syncs what is written and then
   * records it. At most one runs at a time; its failure surfaces on the next
   * {@link PartWriter.append}.
   */
  async #startCheckpoint(): Promise<void> {
    // One at a time: while one runs, the next is still due and starts after it.
    if (this.#recording !== null) return;
    this.#lastCheckpointAt = Date.now();
    this.#lastCheckpointBytes = this.#accepted;
    if (this.#broken || this.#poisoned) return;
    if (this.#buffered > 0) await this.#submit();
    this.#recording = this.#syncAndRecord().then(() => {
      this.#recording = null;
    }, (error: unknown) => {
      this.#recording = null;
      this.#failure ??= { error };
    });
  }

  async #syncAndRecord(): Promise<void> {
    const inflight = this.#inflight;
    if (inflight !== null) await inflight;
    if (this.#syncing !== null) await this.#syncing;
    if (this.#broken || this.#poisoned) return;
    if (this.#synced < this.#written) await this.#datasync(this.#written);
    if (this.#poisoned) return;
    await this.#record();
  }

  /**
   * Writes the checkpoint for the synced bytes (tmp → fsync → rename) if it
   * adds anything.
   */
  async #record(): Promise<void> {
    const cursor = this.#synced;
    const follower = this.#follower;
    follower.advance(cursor);
    // Without a worker, a small lag is closed here (cheap; a resume then
    // re-hashes nothing); a large one is left to the worker, or, where no
    // worker can run, to the next resume.
    if (!follower.parallel && follower.lag < this.#settings.hashWorkerAfter) {
      await follower.catchUp(cursor);
    }
    const progress = follower.progress();
    const hashed = progress.position;
    if (hashed > cursor) return; // cannot happen: the follower reads synced bytes only
    if (cursor <= this.#durable && hashed <= this.#durableHashed) return;
    if (cursor <= this.#startCursor && hashed <= this.#durableHashed) return;
    // The anchor: the newest block boundary strictly below the hashed length.
    const anchor = hashed === 0
      ? { offset: 0, state: progress.state }
      : hashed > progress.last.offset
      ? progress.last
      : progress.previous;
    if (anchor === null) return; // cannot happen past byte 0; stay safe
    const blockSize = this.#settings.blockSize;
    const shape = { cursor, blockSize, hash: progress.state };
    const record: Checkpoint = {
      start: 0,
      cursor,
      blockSize,
      extent: Math.max(this.#extent, this.#issued, cursor),
      reportedLength: this.#total,
      etag: this.#validators.etag,
      lastModified: this.#validators.lastModified,
      contentType: this.#validators.contentType,
      anchor: anchor.offset,
      anchorHash: anchor.state,
      hash: progress.state,
      tailDigest: await this.#tailDigest(tailStart(shape), cursor),
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
    this.#durableHashed = hashed;
  }

  /** SHA-256 of `.part` bytes `[from, to)` read back from disk, or `null` when empty. */
  async #tailDigest(from: number, to: number): Promise<Uint8Array | null> {
    if (from >= to) return null;
    const digest = await digestRange(this.#file, from, to);
    if (digest === null) throw new Error(`.part ends before byte ${to}`);
    return digest;
  }

  /**
   * Writes what is buffered and waits for every write, the background sync
   * and checkpoint; then reports a failure any of them had. Nothing runs in
   * the background after it returns or throws.
   */
  async #quiesce(): Promise<void> {
    try {
      if (this.#buffered > 0 && !this.#broken) await this.#submit();
    } finally {
      await this.#settle();
    }
    this.#throwFailure();
  }

  /** Waits for the write in flight, the background sync and checkpoint; never throws. */
  async #settle(): Promise<void> {
    const inflight = this.#inflight;
    if (inflight !== null) {
      await inflight;
      this.#inflight = null;
    }
    for (;;) {
      const pending = this.#syncing ?? this.#recording;
      if (pending === null) return;
      await pending;
    }
  }

  /** Issues the write of the current buffer (after the previous write completes). */
  async #submit(): Promise<void> {
    const bytes = this.#buffers[this.#current].subarray(0, this.#buffered);
    await this.#drain();
    this.#native?.update(bytes);
    this.#buffered = 0;
    if (this.#broken) return;
    const position = this.#issued;
    this.#issued += bytes.length;
    this.#current = this.#current === 0 ? 1 : 0;
    this.#inflight = this.#file.write(bytes, position).then(
      () => this.#wrote(position + bytes.length),
      (error: unknown) => {
        this.#broken = true;
        this.#failure ??= { error };
      },
    );
  }

  /** Writes `bytes` (not retained) at the end, waiting for it. */
  async #writeNow(bytes: Uint8Array): Promise<void> {
    this.#native?.update(bytes);
    if (this.#broken) return;
    const position = this.#issued;
    this.#issued += bytes.length;
    try {
      await this.#file.write(bytes, position);
    } catch (error) {
      this.#broken = true;
      throw error;
    }
    this.#wrote(position + bytes.length);
  }

  /** Waits for the write in flight, if any, and reports a failure. */
  async #drain(): Promise<void> {
    const inflight = this.#inflight;
    if (inflight !== null) {
      await inflight;
      this.#inflight = null;
    }
    this.#throwFailure();
  }

  /** A write ending at `end` completed: start a background sync when one is due. */
  #wrote(end: number): void {
    this.#written = end;
    this.#native?.written(end);
    if (end > this.#extent) this.#extent = end;
    if (
      this.#syncing === null && !this.#poisoned && !this.#broken &&
      end - this.#syncStartedAt >= this.#settings.syncEvery
    ) {
      this.#syncing = this.#datasync(end).then(() => {
        this.#syncing = null;
        if (!this.#settings.disableCheckpoints) this.#follower.advance(this.#synced);
      });
    }
  }

  /** `datasync` covering the first `covers` bytes; never rejects (a failure is kept). */
  async #datasync(covers: number): Promise<void> {
    this.#syncStartedAt = covers;
    try {
      await this.#file.datasync();
      if (covers > this.#synced) this.#synced = covers;
    } catch (error) {
      this.#poisoned = true;
      this.#failure ??= { error };
    }
  }

  #throwFailure(): void {
    const failure = this.#failure;
    if (failure === null) return;
    this.#failure = null;
    throw failure.error;
  }

  #checkpointDue(): boolean {
    if (this.#settings.disableCheckpoints) return false;
    const fresh = this.#accepted - this.#lastCheckpointBytes;
    if (fresh <= 0) return false;
    if (fresh >= this.#settings.checkpointBytes) return true;
    return Date.now() - this.#lastCheckpointAt >= this.#settings.checkpointMs;
  }
}
