/**
 * The SHA-256 of `.part`, kept on the download's thread with the native
 * hasher, in order, in pieces of at most 1 MiB.
 *
 * A download from byte 0 hashes each body buffer just before it is written
 * (*inline*). A resume starts behind: the bytes already on disk, from where
 * its hasher stands (0 in a new process) to the cursor, are read back and
 * hashed (the *catch-up*), 1 MiB per step with an `await` between steps, while
 * the rest downloads. Body bytes that arrive before the catch-up reaches them
 * are hashed from disk too (they were written by then); while it is far
 * behind, each body buffer waits until the catch-up has moved
 * {@link CATCH_UP_LEAD} times its size (never, on a link slower than the
 * catch-up), and once it is within a few MiB of the bytes arriving, the
 * writer waits for it to get there and the hasher switches to inline. So
 * every byte is hashed exactly once, and the bytes already on disk are read
 * back at most once.
 *
 * @module
 */

import type { ShimFile } from "../runtime/fs_shim.ts";
import type { Digests, NativeHash } from "../runtime/native_hash.ts";
import { READ_PIECE, readPiece } from "./file_digest.ts";

/** Within this many bytes of the body, the writer waits for the catch-up and then hashes inline. */
const SWITCH_DISTANCE = 4 << 20;
/**
 * Farther behind, each body buffer waits until the catch-up has moved this
 * many times its size. So the catch-up always gains on the body and reaches
 * it after reading back at most the cursor's worth of new bytes, while the
 * body still flows at half the catch-up's speed or more (about 1 GB/s here);
 * on a link slower than that it never waits.
 */
const CATCH_UP_LEAD = 2;

/**
 * The running SHA-256 of `.part` bytes `[0, position)`.
 *
 * @example
 * ```ts ignore
 * // Needs an open .part (a ShimFile) holding `cursor` bytes; engine/download.ts is the real use.
 * const hasher = new PartHasher(file, createNativeHash(), cursor); // the catch-up starts
 * console.log((await hasher.digests(cursor)).sha256);
 * ```
 */
export class PartHasher {
  readonly #file: ShimFile;
  readonly #hash: NativeHash;
  /** End of the bytes of `.part` whose writes completed (readable back). */
  #written: number;
  /** Hashing the bytes as they are written, rather than reading them back. */
  #inline: boolean;
  /** The catch-up in progress, if any. */
  #catchUp: Promise<void> | null = null;
  #buffer: Uint8Array | null = null;
  #failure: { error: unknown } | null = null;
  #closed = false;
  /** Woken after each catch-up step and when the catch-up stops. */
  #waiters: (() => void)[] = [];

  /**
   * @param file `.part`, open for reading.
   * @param hash a hasher that covers `.part` bytes `[0, hash.length)`.
   * @param written bytes of `.part` already written (the resume cursor).
   */
  constructor(file: ShimFile, hash: NativeHash, written: number) {
    if (hash.length > written) throw new RangeError("the hash covers more than .part holds");
    this.#file = file;
    this.#hash = hash;
    this.#written = written;
    this.#inline = hash.length === written;
    if (!this.#inline) this.#startCatchUp();
  }

  /** Bytes hashed so far. */
  get position(): number {
    return this.#hash.length;
  }

  /**
   * Bytes about to be written at `at` (the end of everything written so far).
   * Hashes them now when inline; waits for a nearby catch-up first; leaves
   * them to the catch-up (which reads them back once written) otherwise.
   *
   * @param bytes the bytes (not retained).
   * @param at their position in `.part`.
   */
  async offer(bytes: Uint8Array, at: number): Promise<void> {
    this.#throwFailure();
    if (!this.#inline) {
      if (at - this.#hash.length > SWITCH_DISTANCE) {
        await this.reach(Math.min(at, this.#hash.length + CATCH_UP_LEAD * bytes.length));
        if (at - this.#hash.length > SWITCH_DISTANCE) return;
      }
      await this.reach(at);
      this.#inline = true;
    }
    if (at !== this.#hash.length) {
      throw new Error(
        `PartHasher: bytes at ${at} offered while the hash is at ${this.#hash.length}`,
      );
    }
    for (let offset = 0; offset < bytes.length; offset += READ_PIECE) {
      this.#hash.update(bytes.subarray(offset, Math.min(bytes.length, offset + READ_PIECE)));
    }
  }

  /**
   * A write ending at `end` completed: the catch-up may read up to there.
   *
   * @param end the end of the completed write.
   */
  written(end: number): void {
    if (end <= this.#written) return;
    this.#written = end;
    if (!this.#inline && this.#catchUp === null) this.#startCatchUp();
  }

  /**
   * Hashes up to `end` (reading back from `.part` what was not hashed inline).
   *
   * @param end a position at most the end of the completed writes.
   * @throws {Error} when reading `.part` failed, or `end` was not written.
   */
  async reach(end: number): Promise<void> {
    while (this.#hash.length < end) {
      this.#throwFailure();
      if (this.#closed) throw new Error("PartHasher: closed");
      if (end > this.#written) {
        throw new Error(`PartHasher: asked to reach ${end}, but only ${this.#written} are written`);
      }
      if (this.#catchUp === null) this.#startCatchUp();
      // One step of the catch-up (or its end), then look again.
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    this.#throwFailure();
  }

  /**
   * The hex digests of `.part` bytes `[0, length)`.
   *
   * @param length every byte of the file (all written).
   * @returns the hex digests.
   */
  async digests(length: number): Promise<Digests> {
    await this.reach(length);
    if (this.#hash.length !== length) {
      throw new Error(`PartHasher: hashed ${this.#hash.length} bytes, the file has ${length}`);
    }
    return this.#hash.digests();
  }

  /** An independent copy of the hasher where it stands (its `length` says how far). */
  copy(): NativeHash {
    return this.#hash.copy();
  }

  /** Stops the catch-up and waits for it; never throws. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#catchUp?.catch(() => {});
    this.#wake();
  }

  #startCatchUp(): void {
    const run: Promise<void> = this.#runCatchUp().finally(() => {
      if (this.#catchUp !== run) return;
      this.#catchUp = null;
      // Writes that completed while the last read was in flight.
      if (this.#wanted()) this.#startCatchUp();
      else this.#wake();
    });
    this.#catchUp = run;
  }

  #wanted(): boolean {
    return !this.#inline && !this.#closed && this.#failure === null &&
      this.#hash.length < this.#written;
  }

  /** Reads back and hashes written bytes until none are left; keeps a failure. */
  async #runCatchUp(): Promise<void> {
    try {
      this.#buffer ??= new Uint8Array(READ_PIECE);
      while (!this.#closed && this.#hash.length < this.#written) {
        const piece = await readPiece(this.#file, this.#buffer, this.#hash.length, this.#written);
        if (this.#closed) break;
        this.#hash.update(piece);
        this.#wake();
      }
    } catch (error) {
      this.#failure ??= { error };
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  #throwFailure(): void {
    if (this.#failure !== null) throw this.#failure.error;
  }
}
