/**
 * What the holder of a destination's lock may do to `.part`, `.part.ctrl` and `dest`, checked as it
 * does it: the steps and what each rules out are in `docs/architecture.md`, "Ownership".
 *
 * @module
 */

import { DestinationError } from "../errors.ts";
import type { FsShim, ShimFile } from "../runtime/fs_shim.ts";
import { acquireLock, type DestinationLock, randomHex } from "./lock.ts";
import { basename, type SidecarPaths } from "./destination.ts";

/** Names this module gives `.part` for a moment: `<dest>.part.` and 8 hex digits. */
const PRIVATE_SUFFIX = /^\.part\.[0-9a-f]{8}$/;

/** The lock holder's rights over a destination's files. */
export class PartOwner {
  readonly #fs: FsShim;
  readonly #paths: SidecarPaths;
  readonly #lock: DestinationLock;
  #identity: string | null = null;

  constructor(fs: FsShim, paths: SidecarPaths, lock: DestinationLock) {
    this.#fs = fs;
    this.#paths = paths;
    this.#lock = lock;
  }

  /** Aborted, with a retryable error, when the lock is found lost. */
  get signal(): AbortSignal {
    return this.#lock.signal;
  }

  /**
   * After a takeover, or a checkpoint without `.part` (a commit cut short by a power loss that lost
   * the lock file): puts back or removes what a crashed owner left mid-commit or mid-copy; when the
   * old owner may be alive, moves `.part` to a new inode (no `copyFile`: the download starts over).
   */
  async settle(): Promise<void> {
    const fs = this.#fs;
    const { part, dir, ctrl } = this.#paths;
    let partExists = (await fs.stat(part)) !== null;
    if (!this.#lock.takenOver && (partExists || (await fs.stat(ctrl)) === null)) return;
    const leftovers = await this.#leftovers();
    for (const leftover of leftovers) {
      if (partExists) await fs.remove(leftover);
      else await fs.rename(leftover, part); // a commit cut short: its file is the download
      partExists = true;
    }
    if (this.#lock.fenced && partExists) {
      if (fs.copyFile === undefined) {
        for (const path of [ctrl, part]) await fs.remove(path);
      } else {
        const copy = this.#privateName();
        await fs.copyFile(part, copy);
        const file = await fs.open(copy, "readwrite");
        await file.sync().finally(() => file.close());
        await fs.rename(copy, part);
      }
    }
    if (leftovers.length > 0 || this.#lock.fenced) await fs.syncDir(dir);
  }

  /** Records which inode this owner writes: the open `.part`. */
  async adopt(file: ShimFile): Promise<void> {
    this.#identity = (await file.identity?.()) ?? null;
  }

  /**
   * Resolves while this owner still owns the destination (the lock file is its
   * lock's and `.part`, once adopted, its inode); else a retryable {@link DestinationError}.
   */
  async check(): Promise<void> {
    await this.#lock.check();
    if (this.#identity === null) return;
    const found = await this.#fs.stat(this.#paths.part);
    if (found?.identity !== undefined && found.identity !== this.#identity) {
      throw this.#lost(`${this.#paths.part} is no longer the file this call wrote`);
    }
  }

  /** Removes `.part`, `.part.ctrl` and its temp file, if this owner still owns them. */
  async remove(): Promise<void> {
    if (!(await this.check().then(() => true, () => false))) return;
    const { part, ctrl, ctrlTmp } = this.#paths;
    for (const path of [part, ctrl, ctrlTmp]) await this.#fs.remove(path);
  }

  /** Sets `.part`'s mtime (`FsShim.utime`) while owned; the commit's `fsync` makes it durable. */
  async stamp(mtimeMs: number): Promise<void> {
    await this.check(); // by path: never another owner's `.part`
    await this.#fs.utime?.(this.#paths.part, mtimeMs);
  }

  /**
   * The commit of a complete, synced, verified `.part` (step 4 of "Ownership"), then the
   * checkpoint's removal (`checkpointed`, still owned). A {@link DestinationError} when `dest`
   * appeared meanwhile (and not `overwrite`), or, retryable, when this owner lost the destination.
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
    if (!checkpointed) await fs.syncDir(dir); // `.part`'s and the lock's names: a crash finds `mine`
    await fs.rename(part, mine);
    try {
      if (this.#identity !== null && (await fs.stat(mine))?.identity !== this.#identity) {
        throw this.#lost(`${part} was replaced by another owner's file`);
      }
      await fs.rename(mine, dest);
    } catch (error) {
      // Given back as `.part` (never left under its private name), unless that name is taken again.
      const there = await fs.stat(part).catch(() => undefined);
      if (there === null) await fs.rename(mine, part).catch(() => {});
      else if (there !== undefined) await fs.remove(mine).catch(() => {});
      throw await this.check().then(() => error, (lost: unknown) => lost); // or lost meanwhile
    }
    const published = await fs.stat(dest);
    await fs.syncDir(dir);
    if (this.#identity !== null && published?.identity !== this.#identity) {
      throw this.#lost(`${dest} was replaced while this call committed`);
    }
    if (checkpointed && (await this.check().then(() => true, () => false))) await fs.remove(ctrl);
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

/**
 * After a crash right after the final rename, `dest` exists beside a checkpoint with no `.part`, or
 * (a `revalidate` killed before its answer) an empty one, and a dead owner's lock: removed, under
 * the lock. A `.part` with data (an `overwrite` commit cut short puts it back) is left to resume.
 */
export async function removeStaleSidecars(fs: FsShim, paths: SidecarPaths): Promise<void> {
  const leftovers = await Promise.all(
    [paths.ctrl, paths.ctrlTmp, paths.lock, `${paths.part}.unlock`].map((path) => fs.stat(path)),
  );
  const hasData = async () => ((await fs.stat(paths.part))?.size ?? 0) > 0;
  if (leftovers.every((stat) => stat === null) || (await hasData())) return; // usual: one stat each
  const lock = await acquireLock(fs, paths.lock, paths.dest).catch(() => null);
  if (lock === null) return; // another call is working here: its business
  try {
    await new PartOwner(fs, paths, lock).settle();
    if (await hasData()) return;
    for (const path of [paths.ctrl, paths.ctrlTmp, paths.part]) await fs.remove(path);
  } finally {
    await lock.release().catch(() => {});
  }
}
