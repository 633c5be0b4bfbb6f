/**
 * The resumable hash of `.part`, kept by reading back durable bytes: on a
 * worker thread (`hash_worker.ts`) while the download runs fast, on the
 * calling thread when it must be exact now (a final checkpoint, the end of a
 * resumed download) or when no worker can run.
 *
 * Why read back: checkpoints need the SHA-256 *state* at their cursor, which
 * only a hasher written in TypeScript can export (~150–250 MB/s on one core),
 * while the digest of a fresh download comes from the native hasher at
 * ~1.5 GB/s. Following the file from another thread keeps the slow hasher off
 * the download's path, and reading back keeps memory flat however far behind
 * it falls.
 *
 * @module
 */

import { BlockHasher, type HashProgress } from "./block_hasher.ts";
import type { ShimFile } from "../runtime/fs_shim.ts";
import type { FromWorker, ToWorker } from "../runtime/hash_worker.ts";

/** When and how the follower may use a worker thread. */
export interface FollowerOptions {
  /** Whether a worker may be started at all. */
  readonly worker: boolean;
  /** Unhashed durable bytes that make it worth starting a worker. */
  readonly spawnAfter: number;
  /**
   * Share of one core (0 < share <= 1) the worker uses once it trails the
   * durable bytes by more than {@link FollowerOptions.behind}. A download that
   * outruns the TypeScript hash gets a small budget for it instead of being
   * slowed down: what the hash has not covered is hashed again from disk
   * after a crash, never downloaded again.
   */
  readonly share: number;
  /** Trailing by more than this many bytes, the worker keeps to its share. */
  readonly behind: number;
}

const READ_PIECE = 1 << 20;

/** Follows `.part` with the resumable hash. */
export class HashFollower {
  readonly #file: ShimFile;
  readonly #path: string;
  readonly #blockSize: number;
  /** The hash on this thread; stale while a worker owns the work. */
  #inline: BlockHasher;
  #worker: Worker | null = null;
  /** The worker's latest progress (or the inline one's when it took over). */
  #latest: HashProgress;
  #limit: number;
  #canSpawn: boolean;
  readonly #options: FollowerOptions;
  #scratch: Uint8Array | null = null;

  /**
   * @param file `.part`, for reading back on this thread.
   * @param path its path, for the worker to open.
   * @param blockSize verification block size.
   * @param from where the hash stands (state, boundaries).
   * @param options when a worker may run, and its CPU budget.
   */
  constructor(
    file: ShimFile,
    path: string,
    blockSize: number,
    from: HashProgress,
    options: FollowerOptions,
  ) {
    this.#file = file;
    this.#path = path;
    this.#blockSize = blockSize;
    this.#inline = BlockHasher.resume(blockSize, from);
    this.#latest = from;
    this.#limit = from.position;
    this.#options = options;
    this.#canSpawn = options.worker && typeof globalThis.Worker === "function";
  }

  /** Durable bytes not yet hashed, as far as this thread knows. */
  get lag(): number {
    return this.#limit - this.progress().position;
  }

  /** Whether a worker is hashing (so the latest progress may lag the limit). */
  get parallel(): boolean {
    return this.#worker !== null;
  }

  /** The latest progress: exact on this thread, possibly behind with a worker. */
  progress(): HashProgress {
    return this.#worker === null ? this.#inline.progress() : this.#latest;
  }

  /**
   * Bytes below `limit` are durable in `.part` and may be hashed. Starts a
   * worker when enough is waiting and one is allowed.
   *
   * @param limit the durable length.
   */
  advance(limit: number): void {
    if (limit <= this.#limit) return;
    this.#limit = limit;
    if (this.#worker !== null) {
      this.#post({ type: "limit", limit });
      return;
    }
    if (this.#canSpawn && limit - this.#inline.position >= this.#options.spawnAfter) this.#spawn();
  }

  /**
   * Hashes on this thread until the hash covers `limit` bytes (stopping the
   * worker, if any, and continuing from its latest progress).
   *
   * @param limit durable bytes to cover; at most what `.part` holds.
   */
  async catchUp(limit: number): Promise<void> {
    this.#stopWorker();
    if (limit > this.#limit) this.#limit = limit;
    const hasher = this.#inline;
    this.#scratch ??= new Uint8Array(READ_PIECE);
    const scratch = this.#scratch;
    while (hasher.position < limit) {
      const position = hasher.position;
      const want = Math.min(scratch.length, limit - position);
      const got = await this.#file.read(scratch.subarray(0, want), position);
      if (got <= 0) throw new Error(`.part ended at byte ${position}, expected ${limit}`);
      hasher.update(scratch.subarray(0, got));
    }
  }

  /** Hex digest of the bytes hashed (call after {@link HashFollower.catchUp}). */
  hex(): string {
    return this.#inline.hex();
  }

  /** Stops the worker, if any. The follower stays usable on this thread. */
  close(): void {
    this.#stopWorker();
    this.#canSpawn = false;
  }

  #spawn(): void {
    let worker: Worker;
    try {
      worker = new Worker(new URL("../runtime/hash_worker.ts", import.meta.url).href, {
        type: "module",
      });
    } catch {
      this.#canSpawn = false;
      return;
    }
    this.#worker = worker;
    this.#latest = this.#inline.progress();
    (worker as Worker & { unref?: () => void }).unref?.();
    worker.onmessage = (event: MessageEvent<FromWorker>): void => {
      if (this.#worker !== worker) return;
      const message = event.data;
      if (message.type === "progress") {
        if (message.progress.position > this.#latest.position) this.#latest = message.progress;
        return;
      }
      this.#adopt();
      if (message.reason === "error") this.#canSpawn = false;
    };
    worker.onerror = (event: Event): void => {
      event.preventDefault?.();
      if (this.#worker !== worker) return;
      this.#adopt();
      this.#canSpawn = false;
    };
    this.#post({
      type: "start",
      path: this.#path,
      blockSize: this.#blockSize,
      from: this.#latest,
      limit: this.#limit,
      share: this.#options.share,
      lag: this.#options.behind,
    });
  }

  #post(message: ToWorker): void {
    this.#worker?.postMessage(message);
  }

  /**
   * The worker is gone, or must go: continue on this thread from its latest
   * progress. A worker that is still working is asked to stop rather than
   * terminated: it closes its descriptor of `.part` first (a terminated
   * worker's descriptor stays open in the process on Bun).
   */
  #adopt(how: "terminate" | "stop" = "terminate"): void {
    const worker = this.#worker;
    this.#worker = null;
    if (how === "stop") worker?.postMessage({ type: "stop" } satisfies ToWorker);
    else worker?.terminate();
    if (this.#latest.position > this.#inline.position) {
      this.#inline = BlockHasher.resume(this.#blockSize, this.#latest);
    }
  }

  #stopWorker(): void {
    if (this.#worker !== null) this.#adopt("stop");
  }
}
