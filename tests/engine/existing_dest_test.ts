/**
 * An existing `dest` costs a `stat`, not a read: without `integrity` the call
 * returns it with `sha256: null`; with `integrity` it is hashed and checked,
 * and so is it for a call with `integrity` that joins one without.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, symlink, writeFile } from "node:fs/promises";
import { haul, haulWith } from "../../src/engine/haul.ts";
import { DestinationError, IntegrityError } from "../../src/errors.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { type RecordedOp, recordingFs } from "../helpers/recording_fs.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

describe("haul() and a dest that already exists", () => {
  it("returns it after a stat, with sha256 null and none of its bytes read, when no integrity is given", async () => {
    const server = await startResourceServer({ body: randomBody(1000) });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "have.bin");
        const existing = randomBody(300_000);
        await writeFile(dest, existing);
        const log: RecordedOp[] = [];
        const fs = recordingFs(await defaultFs(), log);
        const result = await haulWith(server.url, { dest }, { fs });
        assert.equal(result.alreadyComplete, true);
        assert.equal(result.sha256, null);
        assert.equal(result.size, existing.length);
        assert.equal(result.resumedFrom, existing.length);
        assert.deepEqual(log.filter((op) => op.path === dest), [], "dest was not opened");
        assert.equal(server.requests.length, 0);
      });
    } finally {
      await server.close();
    }
  });

  it("gives the size of the file a symbolic link at dest leads to, unread", async () => {
    await withTempDir(async (dir) => {
      const target = join(dir, "target.bin");
      const dest = join(dir, "link.bin");
      await writeFile(target, randomBody(12_345));
      await symlink(target, dest);
      const log: RecordedOp[] = [];
      const fs = recordingFs(await defaultFs(), log);
      const result = await haulWith("http://127.0.0.1:9/x", { dest }, { fs });
      assert.equal(result.size, 12_345);
      assert.equal(result.sha256, null);
      assert.deepEqual(log.filter((op) => op.op === "read"), [], "no byte read");
    });
  });

  it("costs a look at dest, its directory and its checkpoint and lock names, no more, when none is there", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "a.bin");
      await writeFile(dest, randomBody(100));
      const real = await defaultFs();
      const looked: string[] = [];
      const stat = (path: string) => (looked.push(path), real.stat(path));
      const fs = Object.create(real, { stat: { value: stat } }) as typeof real;
      const result = await haulWith("http://127.0.0.1:9/x", { dest }, { fs });
      assert.equal(result.alreadyComplete, true);
      const lockNames = [`${dest}.part.lock`, `${dest}.part.unlock`]; // and a crashed release's
      const names = [dir, dest, `${dest}.part.ctrl`, `${dest}.part.ctrl.tmp`, ...lockNames];
      assert.deepEqual([...looked].sort(), names.sort());
    });
  });

  it("refuses a dangling symbolic link at dest, saying so, before any request; overwrite replaces it", async () => {
    const body = randomBody(10_000);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "link.bin");
        await symlink(join(dir, "nowhere.bin"), dest);
        const error = await haul(server.url, { dest }).then(() => null, (e) => e);
        assert.ok(error instanceof DestinationError, String(error));
        assert.equal(error.retryable, false);
        assert.match(error.message, /dangling symbolic link/);
        assert.equal(server.requests.length, 0);
        assert.deepEqual(await readdir(dir), ["link.bin"]);
        const result = await haul(server.url, { dest, overwrite: true });
        assert.equal(result.sha256, sha256(body));
        assert.equal(sha256(await bytesOf(dest)), sha256(body));
        assert.deepEqual(await readdir(dir), ["link.bin"]);
      });
    } finally {
      await server.close();
    }
  });

  it("still hashes and verifies it when integrity is given", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "have.bin");
      const existing = randomBody(300_000);
      await writeFile(dest, existing);
      const log: RecordedOp[] = [];
      const fs = recordingFs(await defaultFs(), log);
      const integrity = `sha256:${sha256(existing)}`;
      const result = await haulWith("http://127.0.0.1:9/x", { dest, integrity }, { fs });
      assert.equal(result.alreadyComplete, true);
      assert.equal(result.sha256, sha256(existing));
      const read = log.filter((op) => op.op === "read" && op.path === dest);
      assert.equal(read.reduce((sum, op) => sum + (op.length ?? 0), 0), existing.length);
      await assert.rejects(
        haulWith("http://127.0.0.1:9/x", { dest, integrity: `sha256:${"0".repeat(64)}` }, { fs }),
        IntegrityError,
      );
      assert.deepEqual(await bytesOf(dest), existing, "the file is left as it was");
    });
  });

  it("gives a call with integrity that joins a call without one a verified digest", async () => {
    const server = await startResourceServer({ body: randomBody(1000) });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "have.bin");
        const existing = randomBody(200_000);
        await writeFile(dest, existing);
        const good = `sha256:${sha256(existing)}`;
        const [lead, joined] = await Promise.all([
          haul(server.url, { dest }),
          haul(server.url, { dest, integrity: good }),
        ]);
        assert.equal(lead.sha256, null);
        assert.equal(joined.alreadyComplete, true);
        assert.equal(joined.sha256, sha256(existing));
        const bad = `sha256:${"0".repeat(64)}`;
        const [plain, refused] = await Promise.allSettled([
          haul(server.url, { dest }),
          haul(server.url, { dest, integrity: bad }),
        ]);
        assert.equal(plain.status, "fulfilled");
        assert.equal(refused.status, "rejected");
        assert.ok(refused.reason instanceof IntegrityError, String(refused.reason));
        assert.equal(server.requests.length, 0);
      });
    } finally {
      await server.close();
    }
  });
});
