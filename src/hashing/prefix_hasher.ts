/**
 * The SHA-256 of `.part` for a download whose bytes land out of order
 * (several connections). Bytes about to be written exactly where the hash
 * stands are hashed from memory ({@link PrefixHasher.offer}); the others are
 * read back: in the background, in order and in pieces of at most 1 MiB, up
 * to the end of the contiguous written prefix, which the download moves
 * forward as writes complete. So each byte is hashed once, while the rest
 * downloads, and the bytes of the range at the head of the file (all of them
 * when one connection does the work) are never read back.
 *
 * @module
 */

import type { ShimFile } from "../runtime/fs_shim.ts";
import type { Digests, NativeHash } from "../runtime/native_hash.ts";
import { READ_PIECE, readPiece } from "./file_digest.ts";

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

  /**
   * @param file `.part`, open for reading.
   * @param hash a fresh hasher (it covers `[0, hash.length)`).
   *
   * @example
   * ```ts ignore
   * // Needs an open .part: range_download.ts makes one per call.
   * const hasher = new PrefixHasher(file, createNativeHash());
   * hasher.advance(written);
   * const { sha256 } = await hasher.digests(total);
   * ```
   */
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
   * Bytes about to be written at `at`: hashed now, from memory, when they are
   * the very next bytes to hash and no read-back read is in flight; else left
   * to be read back once written. The caller writes them at `at` (or the call
   * fails).
   *
   * @param bytes the bytes; not retained.
   * @param at where they are written.
   */
  offer(bytes: Uint8Array, at: number): void {
    if (this.#reading || this.#closed || this.#failure !== null) return;
    if (at === this.#hash.length) this.#hash.update(bytes);
  }

  /**
   * Bytes `[0, end)` of `.part` are written: they may be read back and hashed.
   *
   * @param end the end of the contiguous written prefix.
   */
  advance(end: number): void {
    if (end <= this.#target) return;
    this.#target = end;
    if (this.#running === null) this.#start();
  }

  /**
   * Starts reading back if anything is left to hash. A target raised while a
   * run was ending (its loop done, its promise not yet settled) starts the
   * next run, so no advance is ever lost.
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

  /**
   * The hex digests of `.part` bytes `[0, length)`, once they are all written.
   *
   * @param length every byte of the file.
   * @returns the hex digests.
   * @throws {Error} when reading `.part` failed.
   */
  async digests(length: number): Promise<Digests> {
    this.advance(length);
    while (this.#running !== null) await this.#running;
    if (this.#failure !== null) throw this.#failure.error;
    if (this.#hash.length !== length) {
      throw new Error(`PrefixHasher: hashed ${this.#hash.length} bytes, the file has ${length}`);
    }
    return this.#hash.digests();
  }

  /** Stops reading back and waits for the read in flight; never throws. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#running !== null) await this.#running;
  }

  async #run(): Promise<void> {
    try {
      this.#buffer ??= new Uint8Array(READ_PIECE);
      while (!this.#closed && this.#hash.length < this.#target) {
        this.#reading = true;
        let piece;
        try {
          piece = await readPiece(this.#file, this.#buffer, this.#hash.length, this.#target);
        } finally {
          this.#reading = false;
        }
        if (this.#closed) return;
        this.#hash.update(piece);
      }
    } catch (error) {
      this.#failure ??= { error };
    }
  }
}
