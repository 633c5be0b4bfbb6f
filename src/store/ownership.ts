/**
 * What the holder of a destination's lock may do to `.part`, `.part.ctrl` and
 * `dest`, checked as it does it, so that an owner who lost the lock changes
 * nothing the new owner relies on (`docs/architecture.md`, "Ownership").
 *
 * - `.part` is an inode, not a name: {@link PartOwner.adopt} records it.
 * - An owner that took the lock from one that may be alive gives `.part` a
 *   new inode first ({@link PartOwner.settle}: a reflink or copy renamed over it).
 * - {@link PartOwner.check} runs before each checkpoint, removal and commit:
 *   the lock is still ours and `.part` still our inode.
 * - {@link PartOwner.publish} moves `.part` to a name of its own
 *   (`<dest>.part.` and 8 hex digits), checks it moved its own inode, then
 *   renames it onto `dest`: a commit never publishes an inode it did not
 *   write. A crash in between leaves that name; the next owner puts it back
 *   as `.part` or removes it.
 * @module
 */

import { DestinationError } from "../errors.ts";
import type { FsShim, ShimFile } from "../runtime/fs_shim.ts";
import type { DestinationLock } from "./lock.ts";
import { randomHex } from "./lock_record.ts";
import { basename, type SidecarPaths } from "./paths.ts";

/** Names this module gives `.part` for a moment: `<dest>.part.` and 8 hex digits. */
const PRIVATE_SUFFIX = /^\.part\.[0-9a-f]{8}$/;

/** The lock holder's rights over a destination's files. */
export class PartOwner {
  readonly #fs: FsShim;
  readonly #paths: SidecarPaths;
  readonly #lock: DestinationLock;
  #identity: string | null = null;

  /**
   * @param fs filesystem shim.
   * @param paths the destination's sidecars.
   * @param lock the held lock.
   */
  constructor(fs: FsShim, paths: SidecarPaths, lock: DestinationLock) {
    this.#fs = fs;
    this.#paths = paths;
    this.#lock = lock;
  }

  /** The destination. */
  get dest(): string {
    return this.#paths.dest;
  }

  /** Aborted, with a retryable error, when the lock is found lost. */
  get signal(): AbortSignal {
    return this.#lock.signal;
  }

  /**
   * Right after a takeover: puts back or removes what a crashed owner left
   * mid-commit or mid-copy, and when the old owner may be alive, moves `.part`
   * to a new inode (without `copyFile`, the download starts over instead).
   */
  async settle(): Promise<void> {
    if (!this.#lock.takenOver) return;
    const fs = this.#fs;
    const { part, dir, ctrl } = this.#paths;
    const leftovers = await this.#leftovers();
    let partExists = (await fs.stat(part)) !== null;
    for (const leftover of leftovers) {
      if (!partExists) {
        await fs.rename(leftover, part); // a commit cut short: its file is the download
        partExists = true;
      } else {
        await fs.remove(leftover);
      }
    }
    if (this.#lock.fenced && partExists) {
      if (fs.copyFile === undefined) {
        await fs.remove(ctrl);
        await fs.remove(part);
      } else {
        const copy = this.#privateName();
        await fs.copyFile(part, copy);
        const file = await fs.open(copy, "readwrite");
        try {
          await file.sync();
        } finally {
          await file.close();
        }
        await fs.rename(copy, part);
      }
    }
    if (leftovers.length > 0 || this.#lock.fenced) await fs.syncDir(dir);
  }

  /**
   * Records which inode this owner writes: the open `.part`.
   *
   * @param file the `.part` handle.
   */
  async adopt(file: ShimFile): Promise<void> {
    this.#identity = (await file.identity?.()) ?? null;
  }

  /**
   * Resolves while this owner still owns the destination: the lock file is
   * its lock's and `.part` (when adopted) is its inode.
   *
   * @throws {DestinationError} retryable, when it does not.
   */
  async check(): Promise<void> {
    await this.#lock.check();
    if (this.#identity === null) return;
    const found = await this.#fs.stat(this.#paths.part);
    if (found?.identity !== undefined && found.identity !== this.#identity) {
      throw this.#lost(`${this.#paths.part} is no longer the file this call wrote`);
    }
  }

  /**
   * Removes `.part`, its checkpoint and the checkpoint's temp file, if this
   * owner still owns them (otherwise leaves them to their owner).
   */
  async remove(): Promise<void> {
    try {
      await this.check();
    } catch {
      return;
    }
    const { part, ctrl, ctrlTmp } = this.#paths;
    await this.#fs.remove(part);
    await this.#fs.remove(ctrl);
    await this.#fs.remove(ctrlTmp);
  }

  /**
   * Sets `.part`'s modification time (`FsShim.utime`); the commit's `fsync`
   * that follows makes it durable.
   *
   * @param mtimeMs milliseconds since the epoch.
   */
  async stamp(mtimeMs: number): Promise<void> {
    await this.#fs.utime?.(this.#paths.part, mtimeMs);
  }

  /**
   * The commit's renames: `.part` (complete, synced, verified) onto `dest`
   * through a name of this owner's own, then the directory's fsync and the
   * checkpoint's removal.
   *
   * @param overwrite whether an existing `dest` may be replaced.
   * @param checkpointed whether a checkpoint may be on disk; when not (none was
   *   found when `.part` was opened and this call wrote none, and only the
   *   lock's holder writes one), there is none to remove.
   * @throws {DestinationError} when `dest` appeared meanwhile (and not
   * `overwrite`), or, retryable, when this owner lost the destination.
   */
  async publish(overwrite: boolean, checkpointed = true): Promise<void> {
    const fs = this.#fs;
    const { part, dest, dir, ctrl } = this.#paths;
    await this.check();
    if (!overwrite && (await fs.stat(dest)) !== null) {
      throw new DestinationError(
        `Destination appeared during the download: ${dest}; not replaced`,
        dest,
      );
    }
    const mine = this.#privateName();
    await fs.rename(part, mine);
    const moved = await fs.stat(mine);
    if (this.#identity !== null && moved?.identity !== this.#identity) {
      // Another owner's .part: give it back (unless that name is taken again meanwhile).
      if ((await fs.stat(part)) === null) await fs.rename(mine, part).catch(() => {});
      else await fs.remove(mine).catch(() => {});
      throw this.#lost(`${part} was replaced by another owner's file`);
    }
    try {
      await fs.rename(mine, dest);
    } catch (error) {
      await fs.rename(mine, part).catch(() => {});
      throw error;
    }
    const published = await fs.stat(dest);
    await fs.syncDir(dir);
    if (this.#identity !== null && published?.identity !== this.#identity) {
      throw this.#lost(`${dest} was replaced while this call committed`);
    }
    if (checkpointed) await fs.remove(ctrl);
  }

  #privateName(): string {
    return `${this.#paths.part}.${randomHex(4)}`;
  }

  async #leftovers(): Promise<string[]> {
    const names = await this.#fs.list?.(this.#paths.dir) ?? [];
    const base = basename(this.#paths.dest);
    return names
      .filter((name) => name.startsWith(base) && PRIVATE_SUFFIX.test(name.slice(base.length)))
      .map((name) => `${this.#paths.dir}/${name}`);
  }

  #lost(why: string): DestinationError {
    return new DestinationError(
      `Destination lock lost: ${why}; nothing more was saved; call again`,
      this.#paths.dest,
      { retryable: true },
    );
  }
}
