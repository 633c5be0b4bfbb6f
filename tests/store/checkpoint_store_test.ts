/**
 * The checkpoint store writes only while its owner owns the destination
 * (src/store/checkpoint_store.ts): an owner found lost before the temp file
 * writes nothing, and one lost between the temp file and its rename (a
 * process stopped there past its lease) takes its temp file back and leaves
 * the checkpoint alone.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { CheckpointStore } from "../../src/store/checkpoint_store.ts";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import type { FsShim } from "../../src/runtime/fs_shim.ts";
import { sidecarPaths } from "../../src/store/destination.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { DestinationError } from "../../src/errors.ts";
import type { Checkpoint } from "../../src/protocol/checkpoint.ts";
import { crashStates, RecordingFs } from "../helpers/power_loss_fs.ts";
import { join, withTempDir } from "../helpers/temp.ts";

const CHECKPOINT: Checkpoint = {
  blockSize: 1024,
  extent: 4096,
  reportedLength: 8192,
  ranges: [{ start: 0, end: 4096, tailDigest: new Uint8Array(32) }],
  etag: '"v1"',
  lastModified: null,
  contentType: null,
};

/** An owner that is still the owner for its first `checks` checks, and lost after. */
function ownerFor(checks: number) {
  let made = 0;
  return {
    check(): Promise<void> {
      if (made++ < checks) return Promise.resolve();
      return Promise.reject(
        new DestinationError("Destination lock lost: test", "x", { retryable: true }),
      );
    },
  };
}

describe("CheckpointStore under a lost lock", () => {
  for (const checks of [0, 1]) {
    it(`writes no checkpoint and leaves no temp file when lost ${checks === 0 ? "before the temp file" : "before its rename"}`, async () => {
      await withTempDir(async (dir) => {
        const paths = sidecarPaths(join(dir, "x.bin"));
        await writeFile(paths.ctrl, "the new owner's checkpoint");
        const store = new CheckpointStore(await defaultFs(), paths, true, ownerFor(checks));
        await assert.rejects(store.save(CHECKPOINT), /lock lost/);
        assert.deepEqual(await readdir(dir), ["x.bin.part.ctrl"]);
        await assert.rejects(store.discard(), /lock lost/);
        assert.deepEqual(await readdir(dir), ["x.bin.part.ctrl"], "discard leaves it too");
      });
    });
  }

  for (const checks of [1, 2]) {
    it(`lets a woken owner's save, run while the new owner saves, spoil neither its temp file nor its checkpoint (lost after ${checks} checks)`, async () => {
      await withTempDir(async (dir) => {
        const paths = sidecarPaths(join(dir, "x.bin"));
        const fs = await defaultFs();
        // The old owner, stopped past its lease right after its first check (or its second, which
        // lets it remove the temp file it finds: the new owner's), wakes while the new owner's
        // temp file is written and synced but not yet renamed.
        const woken = new CheckpointStore(fs, paths, true, ownerFor(checks));
        let wokenSave: Promise<unknown> | null = null;
        const newOwnersFs: FsShim = {
          ...fs,
          async rename(from, to) {
            wokenSave ??= woken.save({ ...CHECKPOINT, etag: '"old"' }).then(() => null, (e) => e);
            await wokenSave;
            return await fs.rename(from, to);
          },
        };
        const store = new CheckpointStore(newOwnersFs, paths, false, ownerFor(Infinity));
        const mine = { ...CHECKPOINT, etag: '"mine"' };
        await store.save(mine);
        const lost = await (wokenSave as Promise<unknown> | null);
        assert.ok(lost instanceof DestinationError && /lock lost/.test(lost.message), String(lost));
        assert.deepEqual(await readdir(dir), ["x.bin.part.ctrl"]);
        assert.equal(decodeCheckpoint(await readFile(paths.ctrl)).etag, '"mine"');
      });
    });
  }
});

describe("CheckpointStore.save() under a power loss", () => {
  it("has made the new checkpoint durable, with .part's name, once it resolves", async () => {
    const dir = "/model";
    const fs = new RecordingFs([dir]);
    const paths = sidecarPaths(`${dir}/x.bin`);
    await (await fs.open(paths.part, "create-exclusive")).close();
    const store = new CheckpointStore(fs, paths, false);
    await store.save(CHECKPOINT);
    await store.save({ ...CHECKPOINT, extent: 8192 });
    // Every state a power loss right after it could leave holds both names and the second record.
    for (const state of crashStates(fs.points.at(-1)!, dir)) {
      assert.ok(state.files.has("x.bin.part"), `${state.variant}: .part's name lost`);
      const ctrl = state.files.get("x.bin.part.ctrl");
      assert.ok(ctrl !== undefined, `${state.variant}: the checkpoint's name lost`);
      assert.equal(decodeCheckpoint(ctrl).extent, 8192, `${state.variant}: an older checkpoint`);
    }
  });
});
