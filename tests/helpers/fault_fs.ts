/**
 * {@link FaultyFs}: wraps a real filesystem shim and lets a test make any
 * operation fail (a full disk, a read-only directory), optionally after a
 * partial write; {@link shimError} builds the errors the real shims throw.
 *
 * @module
 */

import {
  type FsShim,
  FsShimError,
  type OpenMode,
  type ShimFile,
  type ShimStat,
} from "../../src/runtime/fs_shim.ts";

function fsError(code: string, path: string, what: string): FsShimError {
  return new FsShimError(code, path, `${what} '${path}' failed: ${code}`);
}

/** One call that reached a {@link FaultyFs}. */
export interface FaultRequest {
  /** The operation. */
  readonly op:
    | "open"
    | "write"
    | "read"
    | "datasync"
    | "sync"
    | "truncate"
    | "size"
    | "close"
    | "rename"
    | "remove"
    | "stat"
    | "readFile"
    | "syncDir";
  /** The path (for file operations: the path the file was opened at). */
  readonly path: string;
  /** `open`: the mode. */
  readonly mode?: OpenMode;
  /** `write`/`read`: the position. */
  readonly position?: number;
  /** `write`: bytes asked; `truncate`: the new length. */
  readonly length?: number;
  /** `rename`: the target. */
  readonly to?: string;
}

/** What a rule decides: let the call through, fail it, or write part of it and then fail. */
export type FaultDecision =
  | null
  | undefined
  | FsShimError
  | { readonly writeFirst: number; readonly error: FsShimError };

/**
 * A shim over a real one whose `rule` (changeable at any time) may fail any
 * call. Every call is recorded in {@link FaultyFs.calls}.
 */
export class FaultyFs implements FsShim {
  readonly name: string;
  /** Every call, in order. */
  readonly calls: FaultRequest[] = [];
  /** Decides each call's fate; replace it to "free space" and so on. */
  rule: (request: FaultRequest) => FaultDecision;
  readonly #base: FsShim;

  /**
   * @param base the real shim.
   * @param rule the initial rule.
   */
  constructor(base: FsShim, rule: (request: FaultRequest) => FaultDecision = () => null) {
    this.#base = base;
    this.rule = rule;
    this.name = `faulty(${base.name})`;
  }

  get pid(): number {
    return this.#base.pid;
  }

  isProcessAlive(pid: number): boolean | null {
    return this.#base.isProcessAlive(pid);
  }

  /** Records `request` and throws what the rule says, or returns a partial-write decision. */
  decide(request: FaultRequest): { writeFirst: number; error: FsShimError } | null {
    this.calls.push(request);
    const decision = this.rule(request);
    if (decision === null || decision === undefined) return null;
    if (decision instanceof FsShimError) throw decision;
    return decision;
  }

  async open(path: string, mode: OpenMode): Promise<ShimFile> {
    this.decide({ op: "open", path, mode });
    return new FaultyFile(this, await this.#base.open(path, mode), path);
  }

  async rename(from: string, to: string): Promise<void> {
    this.decide({ op: "rename", path: from, to });
    await this.#base.rename(from, to);
  }

  async remove(path: string): Promise<void> {
    this.decide({ op: "remove", path });
    await this.#base.remove(path);
  }

  async stat(path: string): Promise<ShimStat | null> {
    this.decide({ op: "stat", path });
    return await this.#base.stat(path);
  }

  async readFile(path: string): Promise<Uint8Array | null> {
    this.decide({ op: "readFile", path });
    return await this.#base.readFile(path);
  }

  async syncDir(path: string): Promise<void> {
    this.decide({ op: "syncDir", path });
    await this.#base.syncDir(path);
  }
}

class FaultyFile implements ShimFile {
  readonly #fs: FaultyFs;
  readonly #file: ShimFile;
  readonly #path: string;

  constructor(fs: FaultyFs, file: ShimFile, path: string) {
    this.#fs = fs;
    this.#file = file;
    this.#path = path;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    const partial = this.#fs.decide({
      op: "write",
      path: this.#path,
      position,
      length: data.length,
    });
    if (partial !== null) {
      const first = Math.max(0, Math.min(partial.writeFirst, data.length));
      if (first > 0) await this.#file.write(data.subarray(0, first), position);
      throw partial.error;
    }
    await this.#file.write(data, position);
  }

  async read(buffer: Uint8Array, position: number): Promise<number> {
    this.#fs.decide({ op: "read", path: this.#path, position, length: buffer.length });
    return await this.#file.read(buffer, position);
  }

  async datasync(): Promise<void> {
    this.#fs.decide({ op: "datasync", path: this.#path });
    await this.#file.datasync();
  }

  async sync(): Promise<void> {
    this.#fs.decide({ op: "sync", path: this.#path });
    await this.#file.sync();
  }

  async truncate(length: number): Promise<void> {
    this.#fs.decide({ op: "truncate", path: this.#path, length });
    await this.#file.truncate(length);
  }

  async size(): Promise<number> {
    this.#fs.decide({ op: "size", path: this.#path });
    return await this.#file.size();
  }

  async identity(): Promise<string | null> {
    return (await this.#file.identity?.()) ?? null;
  }

  async close(): Promise<void> {
    try {
      this.#fs.decide({ op: "close", path: this.#path });
    } finally {
      await this.#file.close();
    }
  }
}

/**
 * An errno-style failure as the real shims report it.
 *
 * @param code e.g. `ENOSPC`.
 * @param path the path.
 * @returns the error.
 */
export function shimError(code: string, path: string): FsShimError {
  return fsError(code, path, "injected");
}
