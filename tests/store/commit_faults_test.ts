/**
 * Filesystem faults during the commit (`PartOwner.publish`) and the lock's checks: a failed read of
 * the lock file is that failure, not a lost lock (which would leave the lock file behind); a
 * failure between the commit's two renames gives `.part` back instead of stranding the complete
 * file under its private name, so the next call ends exact with nothing left beside `dest`.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { readdir, writeFile } from "node:fs/promises";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { haulWith } from "../../src/engine/haul.ts";
import { DestinationError, isRetryable } from "../../mod.ts";
import { type FaultRequest, FaultyFs, shimError } from "../helpers/fault_fs.ts";
import { firstCutAfter } from "../helpers/cutting_fetch.ts";
import { lockFileOf } from "../helpers/lock_file.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const BODY = randomBody(200_000);
const PRIVATE = /\.part\.[0-9a-f]{8}$/;

/**
 * A download whose first call meets `fault` (once, or from its first on with `persist`: a disk
 * that stays full), `check` sees its error and what is left, then a clean call.
 */
async function faultThenResume(
  fault: (request: FaultRequest, dest: string) => boolean,
  code: string,
  check: (error: unknown, left: string[]) => void,
  checkpointEvery?: { readonly bytes: number },
  hooks: { readonly writeBufferSize?: number } = {},
  persist = false,
): Promise<number> {
  // Paced (8 KiB every 16 ms): each checkpoint due is written before the next one is due, also
  // on a loaded machine (a fault at the third checkpoint's fsync must be met).
  const server = await startResourceServer({ body: BODY }, (_, reply) => ({
    ...reply,
    bytesPerSecond: 500_000,
    chunkSize: 8192,
  }));
  try {
    return await withTempDir(async (dir) => {
      const dest = join(dir, "f.bin");
      let fired = false;
      const fs = new FaultyFs(await defaultFs(), (request) => {
        if ((fired && !persist) || !fault(request, dest)) return null;
        fired = true;
        return shimError(code, request.path);
      });
      const options = checkpointEvery === undefined ? { dest } : { dest, checkpointEvery };
      const error = await haulWith(server.url, options, { ...hooks, fs }).then(
        () => null,
        (e) => e,
      );
      assert.ok(fired, "the fault was met");
      check(error, (await readdir(dir)).sort());
      const result = await haulWith(server.url, options, { fs: await defaultFs() });
      assert.equal(sha256(await bytesOf(dest)), sha256(BODY));
      assert.equal(result.sha256, sha256(BODY));
      assert.deepEqual((await readdir(dir)).sort(), ["f.bin"]);
      return result.resumedFrom;
    });
  } finally {
    await server.close();
  }
}

describe("A fault during the commit", () => {
  it("reading the lock file is that fault, not a lost lock, and the lock file goes", async () => {
    let reads = 0;
    await faultThenResume(
      // The first read is the commit's check (nothing checkpoints a 200 KB body by default).
      (request, dest) =>
        request.op === "readFile" && request.path === `${dest}.part.lock` &&
        reads++ === 0,
      "EIO",
      (error, left) => {
        assert.ok(error instanceof DestinationError, String(error));
        assert.doesNotMatch(error.message, /lock lost/);
        assert.match(error.message, /EIO/);
        assert.ok(!left.includes("f.bin.part.lock"), `left ${left}`);
      },
    );
  });

  for (const code of ["EIO", "ENOSPC"]) {
    for (const op of ["stat", "rename"] as const) {
      it(`between the two renames (${op}: ${code}) gives .part back, and the next call resumes`, async () => {
        const resumedFrom = await faultThenResume(
          (request, dest) =>
            request.op === op && PRIVATE.test(request.path) && request.path.startsWith(dest),
          code,
          (error, left) => {
            assert.ok(error instanceof DestinationError, String(error));
            assert.deepEqual(left, ["f.bin.part", "f.bin.part.ctrl"]);
          },
          { bytes: 64 * 1024 }, // checkpointed: the complete .part is worth keeping
        );
        assert.ok(resumedFrom > 0, `resumed from ${resumedFrom}`);
      });
    }
  }
});

describe("Too many open files (EMFILE, as under ulimit -n with haulAll)", () => {
  it("creating the lock is a retryable DestinationError that says so, and leaves nothing", async () => {
    await faultThenResume(
      (request, dest) => request.op === "open" && request.path === `${dest}.part.lock`,
      "EMFILE",
      (error, left) => {
        assert.ok(error instanceof DestinationError, String(error));
        assert.equal(error.retryable, true);
        assert.equal(isRetryable(error), true);
        assert.match(error.message, /too many open files; call again/);
        assert.deepEqual(left, []);
      },
    );
  });

  it("reading the lock file, even to release it, is retryable and the lock file still goes", async () => {
    await faultThenResume(
      (request, dest) => request.op === "readFile" && request.path === `${dest}.part.lock`,
      "EMFILE",
      (error, left) => {
        assert.ok(error instanceof DestinationError, String(error));
        assert.equal(error.retryable, true);
        assert.match(error.message, /too many open files/);
        // Left, the lock would keep every other process out for as long as this one lives.
        assert.ok(!left.includes("f.bin.part.lock"), `left ${left}`);
      },
      undefined,
      {},
      true,
    );
  });
});

/** The pid of a process that has exited. */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const proc = spawn("true", [], { stdio: "ignore" });
    proc.on("error", reject);
    proc.on(
      "exit",
      () => (proc.pid === undefined ? reject(new Error("no pid")) : resolve(proc.pid)),
    );
  });
}

describe("A crash between the commit's two renames of an overwrite", () => {
  it("leaves the new file resumable for the next overwrite, never stranded beside dest", async () => {
    const v2 = randomBody(150_000);
    const server = await startResourceServer({ body: v2, etag: '"v2"' });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "f.bin");
        await writeFile(dest, BODY); // the version in place
        // The process "dies" once .part has its private name: nothing it does after takes effect.
        let dead = false;
        const fs = new FaultyFs(await defaultFs(), (request) => {
          if (dead) return shimError("EIO", request.path);
          dead = request.op === "rename" && PRIVATE.test(request.to ?? "");
          return null;
        });
        const options = { dest, overwrite: true, checkpointEvery: { bytes: 64 * 1024 } };
        await haulWith(server.url, options, { fs }).then(() => assert.fail("it died"), () => {});
        await writeFile(`${dest}.part.lock`, await lockFileOf(await deadPid()));
        assert.equal((await readdir(dir)).filter((name) => PRIVATE.test(name)).length, 1);

        const kept = await haulWith(server.url, { dest }, { fs: await defaultFs() });
        assert.equal(kept.alreadyComplete, true);
        assert.equal(sha256(await bytesOf(dest)), sha256(BODY));
        assert.deepEqual((await readdir(dir)).sort(), ["f.bin", "f.bin.part", "f.bin.part.ctrl"]);

        const replaced = await haulWith(server.url, options, { fs: await defaultFs() });
        assert.ok(replaced.resumedFrom > 0, `resumed from ${replaced.resumedFrom}`);
        assert.equal(sha256(await bytesOf(dest)), sha256(v2));
        assert.equal(replaced.sha256, sha256(v2));
        assert.deepEqual((await readdir(dir)).sort(), ["f.bin"]);
      });
    } finally {
      await server.close();
    }
  });
});

describe("A power loss between the commit's two renames", () => {
  it("that lost the lock's creation still gives the file back as .part, never stranded", async () => {
    const server = await startResourceServer({ body: BODY });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "f.bin");
        // The power goes once .part has its private name: nothing done after reaches the disk.
        let dead = false;
        const fs = new FaultyFs(await defaultFs(), (request) => {
          if (dead) return shimError("EIO", request.path);
          dead = request.op === "rename" && PRIVATE.test(request.to ?? "");
          return null;
        });
        const options = { dest, checkpointEvery: { bytes: 64 * 1024 } };
        await haulWith(server.url, options, { fs }).then(() => assert.fail("it died"), () => {});
        // No directory sync since the lock was created: its entry was lost, the rename kept.
        rmSync(`${dest}.part.lock`);
        const left = (await readdir(dir)).map((name) => name.replace(PRIVATE, ".part.X")).sort();
        assert.deepEqual(left, [
          "f.bin.part.X",
          "f.bin.part.ctrl",
        ]);

        const result = await haulWith(server.url, options, { fs: await defaultFs() });
        assert.ok(result.resumedFrom > 0, `resumed from ${result.resumedFrom}`);
        assert.equal(sha256(await bytesOf(dest)), sha256(BODY));
        assert.equal(result.sha256, sha256(BODY));
        assert.deepEqual((await readdir(dir)).sort(), ["f.bin"]);
      });
    } finally {
      await server.close();
    }
  });
});

describe("A fault while opening .part", () => {
  it("(EIO on its first stat) with no checkpoint leaves nothing, and the next call downloads", async () => {
    await faultThenResume(
      (request, dest) => request.op === "size" && request.path === `${dest}.part`,
      "EIO",
      (error, left) => {
        assert.ok(error instanceof DestinationError, String(error));
        assert.deepEqual(left, []);
      },
    );
  });
});

describe("A fault while saving a checkpoint", () => {
  // A periodic checkpoint is insurance: one that finds no room leaves the last one and the
  // download goes on (the rest may fit: a full disk frees up, the quota's or inodes' limit).
  for (const op of ["open", "write", "sync", "rename"] as const) {
    it(`(${op}: ENOSPC from the second on) lets the download go on to the whole file, no temp file left`, async () => {
      const server = await startResourceServer({ body: BODY }, (_, reply) => ({
        ...reply,
        bytesPerSecond: 500_000, // paced: each checkpoint due is tried before the next is due
        chunkSize: 8192,
      }));
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "f.bin");
          let [seen, failed] = [0, 0];
          const fs = new FaultyFs(await defaultFs(), (request) => {
            if (request.op !== op || request.path !== `${dest}.part.ctrl.tmp`) return null;
            if (seen++ < 1) return null; // the first save goes through
            failed++;
            return shimError("ENOSPC", request.path);
          });
          const options = { dest, checkpointEvery: { bytes: 16 * 1024 } };
          const result = await haulWith(server.url, options, { fs, writeBufferSize: 16 * 1024 })
            .catch((error) => assert.fail(`a checkpoint's full disk ended it: ${error}`));
          assert.ok(failed >= 1, `${failed} saves failed`);
          assert.equal(result.sha256, sha256(BODY));
          assert.equal(sha256(await bytesOf(dest)), sha256(BODY));
          assert.deepEqual((await readdir(dir)).sort(), ["f.bin"]);
        });
      } finally {
        await server.close();
      }
    });
  }

  for (const code of ["ENOSPC", "EDQUOT"]) {
    it(`(${code} from the second on, then the body cut) fails retryably, keeps the first checkpoint and no temp file, and the next call resumes`, async () => {
      const server = await startResourceServer({ body: BODY }, (_, reply) => ({
        ...reply,
        bytesPerSecond: 500_000,
        chunkSize: 8192,
      }));
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "f.bin");
          let saves = 0;
          const fs = new FaultyFs(await defaultFs(), (request) => {
            if (request.op !== "open" || request.path !== `${dest}.part.ctrl.tmp`) return null;
            return saves++ >= 1 ? shimError(code, request.path) : null;
          });
          const options = { dest, checkpointEvery: { bytes: 16 * 1024 } };
          const cut = { ...options, fetch: firstCutAfter(150_000) };
          const error = await haulWith(server.url, cut, { fs, writeBufferSize: 16 * 1024 })
            .then(() => null, (e) => e);
          assert.ok(error instanceof DestinationError, String(error));
          assert.equal(error.retryable, true);
          assert.match(error.message, /free space and call again to resume/);
          assert.deepEqual((await readdir(dir)).sort(), ["f.bin.part", "f.bin.part.ctrl"]);
          const result = await haulWith(server.url, options, { fs: await defaultFs() });
          assert.ok(result.resumedFrom > 0, `resumed from ${result.resumedFrom}`);
          assert.equal(sha256(await bytesOf(dest)), sha256(BODY));
          assert.deepEqual((await readdir(dir)).sort(), ["f.bin"]);
        });
      } finally {
        await server.close();
      }
    });
  }

  it("(the .part's fdatasync: ENOSPC) still ends the call: bytes it may have lost are never counted", async () => {
    const resumedFrom = await faultThenResume(
      (request, dest) => request.op === "datasync" && request.path === `${dest}.part`,
      "ENOSPC",
      (error, left) => {
        assert.ok(error instanceof DestinationError, String(error));
        assert.equal(error.retryable, true);
        assert.ok(!left.includes("f.bin"), `left ${left}`);
      },
      { bytes: 16 * 1024 },
      { writeBufferSize: 16 * 1024 },
    );
    assert.ok(resumedFrom < BODY.length, `resumed from ${resumedFrom}`);
  });
});

describe("A full disk while taking the lock", () => {
  for (const op of ["open", "write"] as const) {
    it(`(${op}: ENOSPC) is retryable like every full disk, and leaves nothing`, async () => {
      await faultThenResume(
        (request, dest) => request.op === op && request.path === `${dest}.part.lock`,
        "ENOSPC",
        (error, left) => {
          assert.ok(error instanceof DestinationError, String(error));
          assert.equal(error.retryable, true);
          // Nothing to resume may be there: "call again", not "call again to resume".
          assert.match(error.message, /\.part\.lock: the disk is full; free space and call again$/);
          assert.deepEqual(left, []);
        },
      );
    });
  }
});

describe("An owner taken over between its commit's two renames", () => {
  it("fails with a retryable lost lock and leaves the taker's .part alone", async () => {
    const server = await startResourceServer({ body: BODY });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "f.bin");
        const taker = await lockFileOf(1);
        // Stopped just before its second rename while a taker (lease run out) puts the file back
        // as `.part` (PartOwner.settle) and holds the lock: done here at once, as the taker would.
        const fs = new FaultyFs(await defaultFs(), (request) => {
          if (request.op === "rename" && PRIVATE.test(request.path) && request.to === dest) {
            renameSync(request.path, `${dest}.part`);
            rmSync(`${dest}.part.lock`);
            writeFileSync(`${dest}.part.lock`, taker);
          }
          return null;
        });
        const error = await haulWith(server.url, { dest }, { fs }).then(() => null, (e) => e);
        assert.ok(error instanceof DestinationError, String(error));
        assert.equal(error.retryable, true);
        assert.match(error.message, /lock lost/);
        assert.deepEqual((await readdir(dir)).sort(), ["f.bin.part", "f.bin.part.lock"]);
        assert.equal(sha256(await bytesOf(`${dest}.part`)), sha256(BODY), "the taker's .part");
        assert.equal(readFileSync(`${dest}.part.lock`, "utf8"), taker);
      });
    } finally {
      await server.close();
    }
  });
});

describe("An owner taken over right after its commit's rename onto dest", () => {
  it("resolves with its file and leaves the taker's checkpoint alone", async () => {
    const server = await startResourceServer({ body: BODY });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "f.bin");
        const taker = await lockFileOf(1);
        const takersCheckpoint = "the taker's checkpoint";
        // Stopped before its directory sync while a taker (overwrite: true) holds the lock and
        // has checkpointed a new download: done here at once, as the taker would.
        let done = false;
        const fs = new FaultyFs(await defaultFs(), (request) => {
          if (request.op === "syncDir" && existsSync(dest) && !done) {
            done = true;
            rmSync(`${dest}.part.lock`);
            writeFileSync(`${dest}.part.lock`, taker);
            writeFileSync(`${dest}.part.ctrl`, takersCheckpoint);
          }
          return null;
        });
        const result = await haulWith(server.url, { dest, checkpointEvery: { bytes: 64 * 1024 } }, {
          fs,
        });
        assert.equal(result.sha256, sha256(await bytesOf(dest)));
        assert.equal(readFileSync(`${dest}.part.ctrl`, "utf8"), takersCheckpoint);
        assert.equal(readFileSync(`${dest}.part.lock`, "utf8"), taker);
      });
    } finally {
      await server.close();
    }
  });
});

describe("A disk fault during the download", () => {
  const cases = [
    ["EIO on a write of .part", "write", ".part", "EIO"],
    ["EIO on .part's fdatasync", "datasync", ".part", "EIO"],
    ["EIO on the directory fsync after a checkpoint's rename", "syncDir", "", "EIO"],
    ["EROFS on a write of .part (a remount read-only)", "write", ".part", "EROFS"],
  ] as const;
  for (const [label, op, suffix, code] of cases) {
    it(`(${label}) is a typed error, never a file at dest, and the next call ends exact`, async () => {
      let seen = 0;
      let ctrlRenamed = false; // the directory's syncs counted are a checkpoint's, not the commit's
      await faultThenResume(
        // Past the first few: after a checkpoint or two.
        (request, dest) => {
          if (request.op === "rename") ctrlRenamed = request.to === `${dest}.part.ctrl`;
          const mine = op === "syncDir" ? ctrlRenamed : request.path === `${dest}${suffix}`;
          return request.op === op && mine && ++seen === 3;
        },
        code,
        (error, left) => {
          assert.ok(error instanceof DestinationError, String(error));
          assert.match(error.message, new RegExp(code === "EROFS" ? "read-only" : code));
          assert.ok(!left.includes("f.bin"), `left ${left}`);
          assert.ok(!left.some((name) => PRIVATE.test(name)), `left ${left}`);
        },
        { bytes: 16 * 1024 },
        { writeBufferSize: 16 * 1024 },
      );
    });
  }
});
