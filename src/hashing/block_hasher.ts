/**
 * A resumable SHA-256 that also remembers its state at the last two block
 * boundaries it crossed: what a checkpoint needs (the state at the cursor,
 * and the anchor, the state at the last block boundary strictly below it).
 * Shared by the main thread and the hashing worker (`hash_worker.ts`).
 *
 * @module
 */

import type { Sha256State } from "../store/checkpoint.ts";
import { Sha256 } from "./sha256.ts";

/** The hash state at a block boundary. */
export interface Boundary {
  /** Offset of the boundary (a multiple of the block size). */
  readonly offset: number;
  /** SHA-256 state after the first `offset` bytes. */
  readonly state: Sha256State;
}

/** Where a {@link BlockHasher} stands: all a checkpoint needs about the hash. */
export interface HashProgress {
  /** Bytes hashed (the offset the next byte belongs at). */
  readonly position: number;
  /** State after `position` bytes. */
  readonly state: Sha256State;
  /** The last block boundary at or below `position`. */
  readonly last: Boundary;
  /** The boundary before `last`, if known. */
  readonly previous: Boundary | null;
}

/** Incremental SHA-256 with block-boundary snapshots. */
export class BlockHasher {
  readonly #blockSize: number;
  readonly #hasher: Sha256;
  #last: Boundary;
  #previous: Boundary | null;

  /**
   * @param blockSize verification block size (a multiple of 64).
   * @param from where to resume: the state after some bytes and the
   *   boundaries known at that point; `null` for a fresh hash at offset 0.
   */
  constructor(
    blockSize: number,
    from: { state: Sha256State | null; last: Boundary | null; previous: Boundary | null } | null,
  ) {
    this.#blockSize = blockSize;
    this.#hasher = new Sha256(from?.state ?? undefined);
    this.#last = from?.last ?? { offset: 0, state: new Sha256().snapshot() };
    this.#previous = from?.previous ?? null;
  }

  /** Bytes hashed so far. */
  get position(): number {
    return this.#hasher.length;
  }

  /**
   * Hashes the next bytes, snapshotting the state at every block boundary
   * they reach.
   *
   * @param chunk the bytes at offset {@link BlockHasher.position}.
   */
  update(chunk: Uint8Array): void {
    const block = this.#blockSize;
    let offset = 0;
    while (offset < chunk.length) {
      const position = this.#hasher.length;
      const toBoundary = block - (position % block);
      const take = Math.min(toBoundary, chunk.length - offset);
      this.#hasher.update(take === chunk.length ? chunk : chunk.subarray(offset, offset + take));
      offset += take;
      if (take === toBoundary) {
        this.#previous = this.#last;
        this.#last = { offset: this.#hasher.length, state: this.#hasher.snapshot() };
      }
    }
  }

  /**
   * A copy of where the hash stands.
   *
   * @returns position, state and the last two boundaries.
   */
  progress(): HashProgress {
    return {
      position: this.#hasher.length,
      state: this.#hasher.snapshot(),
      last: this.#last,
      previous: this.#previous,
    };
  }

  /**
   * Lowercase hex digest of everything hashed so far.
   *
   * @returns 64 hex digits.
   */
  hex(): string {
    return this.#hasher.hex();
  }

  /**
   * A hasher that continues from `progress` (as returned by {@link BlockHasher.progress}).
   *
   * @param blockSize verification block size.
   * @param progress where to continue from.
   * @returns the hasher.
   */
  static resume(blockSize: number, progress: HashProgress): BlockHasher {
    return new BlockHasher(blockSize, {
      state: progress.state,
      last: progress.last,
      previous: progress.previous,
    });
  }
}
