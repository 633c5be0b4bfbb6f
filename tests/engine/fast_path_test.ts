/**
 * The file's SHA-256 comes from one native hasher on the download's thread:
 *
 * - a resume with no hasher kept (a new process) hashes the bytes already on
 *   disk again by reading `.part` back while the rest downloads, and reads
 *   each of them back at most once;
 * - a retry loop's next attempt continues the interrupted one's hasher and
 *   reads back no more than the bytes it has not seen (here: none), so a
 *   download cut many times costs one pass, not one per cut;
 * - a kept hasher is not used for a checkpoint it does not fit (fewer bytes
 *   than it has seen), and the digest is still right;
 * - aborting while the catch-up runs returns at once, saves every byte
 *   received, and leaves no descriptor behind;
 * - a 24 MiB download on the default settings (background sync at 16 MiB)
 *   ends with the right digest and no descriptor left open.
 *
 * Kills by SIGKILL during the catch-up are in `crash_kill_test.ts`.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readlinkSync, realpathSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { durablePrefix } from "../../src/protocol/checkpoint.ts";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { haulWith } from "../../src/engine/haul.ts";
import { KeptHasher } from "../../src/engine/kept_hashes.ts";
import { haul, type HaulResult, HaulState, PartialHaulError } from "../../mod.ts";
import { type RecordedOp, recordingFs } from "../helpers/recording_fs.ts";
import { type ScriptServer, startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const MiB = 1024 * 1024;
const SLOW = { timeout: 60_000 };
const ETAG = '"fast-2"';
const BLOCK = 65536;
const OPTIONS = { blockSize: BLOCK, checkpointEvery: { bytes: 512 * 1024, ms: 60_000 } };
const RATE = 16 * MiB;
const BODY = randomBody(12 * MiB + 333);
const DIGEST = sha256(BODY);
const CUT_LINGER_MS = 200;

/** File descriptors of this process open on files under `dir`; `null` where /proc is missing. */
function openFilesUnder(dir: string): string[] | null {
  if (!existsSync("/proc/self/fd")) return null;
  const root = realpathSync(dir) + "/";
  const found: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(root)) found.push(target);
    } catch {
      // Closed in the meantime (e.g. the fd readdir itself used).
    }
  }
  return found;
}

/** Waits (at most `ms`) until no descriptor is open under `dir`; returns those still open. */
async function leftOpenUnder(dir: string, ms = 3000): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const open = openFilesUnder(dir) ?? [];
    if (open.length === 0 || Date.now() >= deadline) return open;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * An honest server for {@link BODY}. `/cut/<n>…` paths are broken after `n`
 * body bytes of their response; `/slow…` paths are paced; the rest are
 * served at once.
 */
function startServer(): Promise<ScriptServer> {
  return startResourceServer({ body: BODY, etag: ETAG }, (req, honest) => {
    const cut = /^\/cut\/(\d+)/.exec(req.path);
    if (cut !== null) {
      return { ...honest, cutAfter: Number(cut[1]), cutLingerMs: CUT_LINGER_MS };
    }
    if (req.path.startsWith("/slow")) return { ...honest, bytesPerSecond: RATE };
    return honest;
  });
}

/** Bytes of `.part` read back, per call, from a recorded log. */
function bytesReadBack(log: RecordedOp[], dest: string): number {
  return log
    .filter((e) => e.op === "read" && e.path === `${dest}.part`)
    .reduce((sum, e) => sum + (e.length ?? 0), 0);
}

async function cursorOf(dest: string): Promise<number> {
  return durablePrefix(decodeCheckpoint(await bytesOf(`${dest}.part.ctrl`)));
}

describe("A resume with no hasher kept (as in a new process)", () => {
  it(
    "hashes the bytes on disk again, reading each back at most once, and ends exact",
    SLOW,
    async () => {
      const server = await startServer();
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "new.bin");
          const cut = 9 * MiB + 4321;
          const first = await haul(`${server.url}/cut/${cut}`, { dest, ...OPTIONS }).catch((e) =>
            e
          );
          assert.ok(first instanceof PartialHaulError, String(first));
          const cursor = await cursorOf(dest);
          assert.equal(cursor, cut);
          // No retry loop carries a hasher here: as in a new process.

          const log: RecordedOp[] = [];
          const fs = recordingFs(await defaultFs(), log);
          const result = await haulWith(`${server.url}/slow`, { dest, ...OPTIONS }, { fs });
          assert.equal(result.resumedFrom, cursor);
          assert.equal(result.sha256, DIGEST);
          assert.equal(sha256(await bytesOf(dest)), DIGEST);
          const readBack = bytesReadBack(log, dest);
          // The catch-up reads [0, cursor), plus one block for the tail check and
          // one per checkpoint written (the digest of its newest block).
          const checkpoints = log.filter((e) => e.op === "rename" && e.to === `${dest}.part.ctrl`);
          const bound = cursor + BLOCK * (1 + checkpoints.length) + (BODY.length - cursor);
          assert.ok(readBack >= cursor, `only ${readBack} bytes read back: no catch-up?`);
          assert.ok(readBack <= bound, `${readBack} bytes read back, more than ${bound}`);
          const catchUp = log.filter((e) =>
            e.op === "read" && e.path === `${dest}.part` && (e.position ?? 0) < cursor - BLOCK
          );
          const starts = catchUp.map((e) => e.position);
          assert.equal(new Set(starts).size, starts.length, "a byte on disk was hashed twice");
        });
      } finally {
        await server.close();
      }
    },
  );
});

describe("A retry loop's next attempt", () => {
  it(
    "continues the interrupted call's hasher: a body cut six times is read back only for tail checks",
    SLOW,
    async () => {
      const server = await startServer();
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "retry.bin");
          const log: RecordedOp[] = [];
          const fs = recordingFs(await defaultFs(), log);
          const kept = new KeptHasher(); // what haulWithRetry() hands from attempt to attempt
          let cuts = 0;
          let result: HaulResult | null = null;
          for (let attempt = 0; attempt < 10 && result === null; attempt++) {
            const path = attempt < 6 ? `/cut/${2 * MiB}` : "/";
            const outcome = await haulWith(`${server.url}${path}`, { dest, ...OPTIONS }, {
              fs,
              kept,
            })
              .catch((e: unknown) => e);
            if (outcome instanceof PartialHaulError) cuts++;
            else if (outcome instanceof Error) throw outcome;
            else result = outcome as HaulResult;
          }
          assert.equal(cuts, 6);
          assert.ok(result !== null);
          assert.equal(result.sha256, DIGEST);
          assert.equal(sha256(await bytesOf(dest)), DIGEST);
          const checkpoints = log.filter((e) => e.op === "rename" && e.to === `${dest}.part.ctrl`);
          const readBack = bytesReadBack(log, dest);
          // One block per tail check (a resume's, a checkpoint's); never the body again.
          const bound = BLOCK * (cuts + checkpoints.length);
          assert.ok(readBack <= bound, `${readBack} bytes read back, more than ${bound}`);
        });
      } finally {
        await server.close();
      }
    },
  );

  it("does not continue a hasher that has seen more than the checkpoint counts", SLOW, async () => {
    const server = await startServer();
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "older.bin");
        const hooks = { kept: new KeptHasher() };
        const first = await haulWith(`${server.url}/cut/${3 * MiB}`, { dest, ...OPTIONS }, hooks)
          .catch((e) => e);
        assert.ok(first instanceof PartialHaulError, String(first));
        const older = await readFile(`${dest}.part.ctrl`);
        const second = await haulWith(`${server.url}/cut/${3 * MiB}`, { dest, ...OPTIONS }, hooks)
          .catch((e) => e);
        assert.ok(second instanceof PartialHaulError, String(second));
        assert.equal(await cursorOf(dest), 6 * MiB);
        // The older checkpoint comes back (its bytes are still on disk): the
        // kept hasher has seen 6 MiB, the checkpoint counts 3.
        await writeFile(`${dest}.part.ctrl`, older);
        const result = await haulWith(server.url, { dest, ...OPTIONS }, hooks);
        assert.equal(result.resumedFrom, 3 * MiB);
        assert.equal(result.sha256, DIGEST);
        assert.equal(sha256(await bytesOf(dest)), DIGEST);
      });
    } finally {
      await server.close();
    }
  });
});

describe("Aborting a resume right after it starts (the catch-up may still run)", () => {
  it("returns promptly with the reason, saving every byte received", SLOW, async () => {
    const server = await startServer();
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "abort.bin");
        const cut = 8 * MiB;
        const first = await haul(`${server.url}/cut/${cut}`, { dest, ...OPTIONS }).catch((e) => e);
        assert.ok(first instanceof PartialHaulError, String(first));
        const controller = new AbortController();
        const reason = new Error("stop now");
        const state = new HaulState();
        const options = { dest, ...OPTIONS, signal: controller.signal, state };
        const running = haul(`${server.url}/slow`, options);
        const settled = running.then(() => "resolved", () => "rejected");
        const deadline = Date.now() + 10_000;
        while (state.bytesRead < 256 * 1024 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        assert.ok(state.bytesRead >= 256 * 1024, `only ${state.bytesRead} bytes in 10 s`);
        assert.ok(state.validLength < BODY.length, "finished before the abort");
        const abortedAt = performance.now();
        controller.abort(reason);
        await assert.rejects(running, (error) => error === reason);
        const took = performance.now() - abortedAt;
        assert.equal(await settled, "rejected");
        assert.ok(took < 5000, `the call took ${Math.round(took)} ms to return after the abort`);
        const saved = await cursorOf(dest);
        assert.equal(saved, cut + state.bytesRead, "the cursor: every byte received");
        assert.equal(state.validLength, saved, "validLength");
        assert.deepEqual(await leftOpenUnder(dir), [], "descriptors left open after the call");
        const result = await haul(server.url, { dest, ...OPTIONS });
        assert.equal(result.resumedFrom, saved);
        assert.equal(result.sha256, DIGEST);
      });
    } finally {
      await server.close();
    }
  });
});

describe("The default settings on a larger file", () => {
  it("download 24 MiB exactly (background sync at 16 MiB)", SLOW, async () => {
    const body = randomBody(24 * MiB + 17);
    const server = await startResourceServer({ body, etag: ETAG });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "big.bin");
        const result = await haul(server.url, { dest });
        assert.equal(result.size, body.length);
        assert.equal(result.resumedFrom, 0);
        assert.equal(result.sha256, sha256(body));
        assert.equal(sha256(await bytesOf(dest)), sha256(body));
        assert.equal(server.requests.length, 1);
        assert.equal(exists(`${dest}.part.ctrl`), false);
        assert.deepEqual(await leftOpenUnder(dir), [], "descriptors left open after the call");
      });
    } finally {
      await server.close();
    }
  });
});
