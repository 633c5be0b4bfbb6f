/**
 * Writing and discarding `<dest>.part.ctrl`: the encoded checkpoint goes to
 * `<dest>.part.ctrl.tmp`, is `fsync`ed and renamed over `.part.ctrl`, so a
 * reader (or a crash) sees the old checkpoint or the new one, never a mix.
 *
 * @module
 */

import type { Checkpoint } from "../protocol/checkpoint.ts";
import { encodeCheckpoint } from "./control_file.ts";
import type { FsShim } from "../runtime/fs_shim.ts";
import type { SidecarPaths } from "./paths.ts";

/** Who may write the checkpoint: `check()` rejects once this call no longer owns the destination. */
interface Owner {
  check(): Promise<void>;
}

/** The checkpoint file of one destination, and whether one is on disk. */
export class CheckpointStore {
  readonly #fs: FsShim;
  readonly #paths: SidecarPaths;
  readonly #owner: Owner | null;
  #saved: boolean;

  /** `saved`: a checkpoint is on disk already; `owner` is checked before each write. */
  constructor(fs: FsShim, paths: SidecarPaths, saved: boolean, owner: Owner | null = null) {
    this.#fs = fs;
    this.#paths = paths;
    this.#saved = saved;
    this.#owner = owner;
  }

  /** Whether a checkpoint this call may resume from is on disk (so `.part` is worth keeping). */
  get saved(): boolean {
    return this.#saved;
  }

  /** Replaces the checkpoint atomically (tmp → fsync → rename). */
  async save(checkpoint: Checkpoint): Promise<void> {
    const bytes = encodeCheckpoint(checkpoint);
    await this.#owner?.check();
    const tmp = await this.#fs.open(this.#paths.ctrlTmp, "create-truncate");
    let written: string | undefined;
    try {
      await tmp.write(bytes, 0);
      await tmp.sync();
      written = await tmp.identity?.();
    } finally {
      await tmp.close();
    }
    try {
      await this.#owner?.check();
    } catch (error) {
      // Lost meanwhile (stopped between the two checks): take back the temp file this call wrote.
      const found = await this.#fs.stat(this.#paths.ctrlTmp).catch(() => null);
      if (written !== undefined && found?.identity === written) {
        await this.#fs.remove(this.#paths.ctrlTmp).catch(() => {});
      }
      throw error;
    }
    await this.#fs.rename(this.#paths.ctrlTmp, this.#paths.ctrl);
    this.#saved = true;
  }

  /** Removes the checkpoint durably (the next call starts from byte 0). */
  async discard(): Promise<void> {
    await this.#owner?.check();
    await this.#fs.remove(this.#paths.ctrl);
    await this.#fs.syncDir(this.#paths.dir);
    this.#saved = false;
  }
}
