/**
 * The SHA-256 of `.part` in file order, each byte hashed once: from memory where the hash stands,
 * else read back behind the written prefix (`docs/architecture.md`, "What runs concurrently").
 *
 * @module
 */

import type { ShimFile } from "../runtime/fs_shim.ts";
import type { Digests, NativeHash } from "../runtime/multi_hash.ts";

/** Within this many bytes of the read-back, bytes that extend the written prefix wait for it. */
const NEAR = 4 << 20;
/**
 * Bytes read back per step: few enough steps that a catch-up keeps pace with the bodies sharing
 * its thread (docs/performance.md, "The catch-up of a resume").
 */
const READ_BACK = 8 << 20;

/** The running SHA-256 of `.part` bytes `[0, position)`, behind a moving written prefix. */
export class PrefixHasher {
  readonly #file: ShimFile;
  readonly #hash: NativeHash;
  #target = 0;
  #running: Promise<void> | null = null;
  #failure: { error: unknown } | null = null;
  #closed = false;
  /** A read-back read is in flight: the bytes it brings are not hashed yet. */
  #reading = false;
  #buffer: Uint8Array | null = null;

  /** `file`: `.part`, open for reading; `hash` covers its bytes `[0, hash.length)`. */
  constructor(file: ShimFile, hash: NativeHash) {
    this.#file = file;
    this.#hash = hash;
    this.#target = hash.length;
  }

  /** Bytes hashed so far. */
  get position(): number {
    return this.#hash.length;
  }

  /**
   * Bytes about to be written at `at` (not retained): hashed now as {@link take} does, else read
   * back once written; within {@link NEAR} of the read-back they wait for it, which stops chasing.
   */
  async offer(bytes: Uint8Array, at: number): Promise<void> {
    if (at === this.#target && at > this.#hash.length && at - this.#hash.length <= NEAR) {
      while (this.#running !== null) await this.#running;
    }
    this.take(bytes, at);
  }

  /**
   * Bytes at `at` (not retained): the ones past the hash hashed now if it stands within them and
   * no read-back is in flight. Called with each chunk as it arrives, still in the CPU's cache.
   */
  take(bytes: Uint8Array, at: number): void {
    const hashed = this.#hash.length - at;
    if (this.#reading || this.#closed || this.#failure !== null || hashed < 0) return;
    if (hashed < bytes.length) this.#hash.update(bytes.subarray(hashed));
  }

  /** Bytes `[0, end)` of `.part` are written: they may be read back and hashed. */
  advance(end: number): void {
    if (end <= this.#target) return;
    this.#target = end;
    if (this.#running === null) this.#start();
  }

  /**
   * Starts reading back if anything is left to hash. A target raised while a run was ending (its
   * loop done, its promise not yet settled) starts the next run, so no advance is ever lost.
   */
  #start(): void {
    if (this.#closed || this.#failure !== null || this.#hash.length >= this.#target) return;
    const run: Promise<void> = this.#run().finally(() => {
      if (this.#running !== run) return;
      this.#running = null;
      this.#start();
    });
    this.#running = run;
  }

  /** The hex digests of the whole file, `length` bytes, once all are written; throws if a read failed. */
  async digests(length: number): Promise<Digests> {
    this.advance(length);
    while (this.#running !== null) await this.#running;
    if (this.#failure !== null) throw this.#failure.error;
    if (this.#hash.length !== length) {
      throw new Error(`PrefixHasher: hashed ${this.#hash.length} bytes, the file has ${length}`);
    }
    return this.#hash.digests();
  }

  /** An independent copy of the hash where it stands (its `length` says how far). */
  copy(): NativeHash {
    return this.#hash.copy();
  }

  /** Stops reading back and waits for the read in flight; never throws. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#running !== null) await this.#running;
  }

  async #run(): Promise<void> {
    try {
      this.#buffer ??= new Uint8Array(READ_BACK);
      while (!this.#closed && this.#hash.length < this.#target) {
        this.#reading = true;
        const at = this.#hash.length;
        const end = this.#target;
        const view = this.#buffer.subarray(0, Math.min(this.#buffer.length, end - at));
        let n;
        try {
          n = await this.#file.read(view, at);
        } finally {
          this.#reading = false;
        }
        if (n <= 0) throw new Error(`.part ended at byte ${at}, before the ${end} written`);
        if (this.#closed) return;
        this.#hash.update(view.subarray(0, n));
      }
    } catch (error) {
      this.#failure ??= { error };
    }
  }
}
