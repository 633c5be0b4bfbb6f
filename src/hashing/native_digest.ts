/**
 * The SHA-256 digest of a download that starts at byte 0, from the native
 * `node:crypto` hasher: on the download's thread for small bodies, on a
 * worker thread (`digest_worker.ts`) that reads `.part` back for large ones,
 * where hashing on the download's thread would slow the download itself.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import type { FromDigestWorker, ToDigestWorker } from "../runtime/digest_worker.ts";
import { digestPrefix } from "./file_digest.ts";
import type { ShimFile } from "../runtime/fs_shim.ts";

/** Native SHA-256 of `.part` from byte 0, inline or on a worker. */
export class NativeDigest {
  readonly #file: ShimFile;
  #inline: Hash | null = null;
  #worker: Worker | null = null;
  #result: Promise<string> | null = null;
  #settle: ((outcome: { hex: string } | { error: string }) => void) | null = null;
  #failed = false;

  /**
   * @param file `.part`, for hashing it here if the worker fails.
   * @param path its path, for the worker to open.
   * @param useWorker whether to hash on a worker thread (when one can start).
   */
  constructor(file: ShimFile, path: string, useWorker: boolean) {
    this.#file = file;
    if (useWorker && typeof globalThis.Worker === "function") this.#spawn(path);
    if (this.#worker === null) this.#inline = createHash("sha256");
  }

  /** Whether the hashing happens on a worker (then {@link NativeDigest.update} does nothing). */
  get onWorker(): boolean {
    return this.#worker !== null;
  }

  /**
   * Feeds the next bytes, in order, when hashing on this thread.
   *
   * @param bytes the bytes at the current end.
   */
  update(bytes: Uint8Array): void {
    this.#inline?.update(bytes);
  }

  /**
   * Tells the worker that the first `end` bytes of `.part` are written.
   *
   * @param end the end of the completed writes.
   */
  written(end: number): void {
    this.#worker?.postMessage({ type: "limit", limit: end } satisfies ToDigestWorker);
  }

  /**
   * The hex digest of the first `length` bytes (all bytes written, in order).
   *
   * @param length the file's final length.
   * @returns 64 hex digits.
   */
  async digest(length: number): Promise<string> {
    if (this.#inline !== null) return this.#inline.digest("hex");
    const worker = this.#worker;
    if (worker !== null && this.#result !== null && !this.#failed) {
      worker.postMessage({ type: "finish", length } satisfies ToDigestWorker);
      const hex = await this.#result.catch(() => null);
      this.close();
      if (hex !== null) return hex;
    }
    this.close();
    return await this.#rehash(length);
  }

  /** Stops the worker, if any (it closes its descriptor of `.part` and ends). */
  close(): void {
    const worker = this.#worker;
    this.#worker = null;
    worker?.postMessage({ type: "stop" } satisfies ToDigestWorker);
    this.#settle?.({ error: "closed" });
    this.#settle = null;
  }

  #spawn(path: string): void {
    let worker: Worker;
    try {
      worker = new Worker(new URL("../runtime/digest_worker.ts", import.meta.url).href, {
        type: "module",
      });
    } catch {
      return;
    }
    this.#worker = worker;
    (worker as Worker & { unref?: () => void }).unref?.();
    this.#result = new Promise<string>((resolve, reject) => {
      this.#settle = (outcome) => {
        if ("hex" in outcome) resolve(outcome.hex);
        else reject(new Error(outcome.error));
      };
    });
    this.#result.catch(() => {});
    worker.onmessage = (event: MessageEvent<FromDigestWorker>): void => {
      const message = event.data;
      if (message.type === "digest") {
        this.#settle?.({ hex: message.hex });
      } else {
        this.#failed = true;
        this.#settle?.({ error: message.detail });
      }
      this.#settle = null;
    };
    worker.onerror = (event: Event): void => {
      event.preventDefault?.();
      this.#failed = true;
      this.#settle?.({ error: "the digest worker failed" });
      this.#settle = null;
    };
    worker.postMessage({ type: "start", path } satisfies ToDigestWorker);
  }

  /** Hashes `.part` from byte 0 on this thread (the worker failed). */
  async #rehash(length: number): Promise<string> {
    return (await digestPrefix(this.#file, length)).sha256;
  }
}
