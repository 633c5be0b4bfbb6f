/**
 * The fast write path: a fresh download's digest comes from the native
 * hasher, while the resumable hash (the state checkpoints store) follows the
 * durable bytes of `.part` on a worker thread and may trail the durable
 * cursor. These tests force the worker on and make it trail, then check what
 * that leaves on disk and how a resume uses it:
 *
 * - an interrupted download records every byte received as its cursor, a
 *   hash state that stops short of it, and a tail digest for the bytes in
 *   between (all three checked against the body); without a worker, a lag
 *   below `hashWorkerAfter` is closed at each checkpoint and a larger one is
 *   left to the next resume;
 * - the resume asks the server for the bytes after the cursor, not after the
 *   hash, and ends with the right digest;
 * - a damaged tail falls back to the hashed length, damage below it to the
 *   anchor, a short `.part` to whatever still checks out;
 * - aborting while the worker trails returns at once, saves every byte
 *   received, and leaves no worker (nor its file descriptor: Bun keeps a
 *   terminated worker's descriptors open) behind;
 * - a 24 MiB download on the default settings (background sync at 16 MiB,
 *   hashing worker after 8 MiB, digest worker from 16 MiB) ends with the
 *   right digest and no descriptor left open.
 *
 * Kills by SIGKILL with these settings are in `crash_kill_test.ts`.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readlinkSync, realpathSync } from "node:fs";
import { readFile, truncate, writeFile } from "node:fs/promises";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type Checkpoint, type Sha256State, tailStart } from "../../src/store/checkpoint.ts";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { type EngineHooks, haulWith } from "../../src/engine/haul.ts";
import { Sha256 } from "../../src/hashing/sha256.ts";
import { haul, HaulState, PartialHaulError } from "../../mod.ts";
import { type RecordedOp, recordingFs } from "../helpers/recording_fs.ts";
import { type ScriptServer, startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const MiB = 1024 * 1024;
/** Bun's default limit is 5 s per test; some here resume ten downloads. */
const SLOW = { timeout: 30_000 };
const ETAG = '"fast-1"';
const BLOCK = 4096;
/** The worker reads `.part` back in pieces of this size (`hash_worker.ts`). */
const WORKER_PIECE = MiB;

/**
 * The worker forced on and made to trail. It starts only once more than one
 * read piece waits, so its first piece ends short of what it was told is
 * durable; it then rests 99 times as long as it worked (share 0.01, behind
 * 0) and hashes about 2 MiB/s, while the body arrives at 16 MiB/s.
 */
const TRAILING: EngineHooks = {
  hashWorker: true,
  hashWorkerAfter: WORKER_PIECE + MiB / 4,
  hashWorkerShare: 0.01,
  hashWorkerBehind: 0,
  syncEvery: 256 * 1024,
  writeBufferSize: 64 * 1024,
};
/**
 * Checkpoints every 1.5 MiB: more often, each one would close the hash lag on
 * the engine's thread (below `hashWorkerAfter` it is cheaper than a worker)
 * and the worker would never start.
 */
const TRAILING_OPTIONS = { blockSize: BLOCK, checkpointEvery: { bytes: 1.5 * MiB, ms: 60_000 } };
const RATE = 16 * MiB;
const BODY = randomBody(8 * MiB + 333);
const DIGEST = sha256(BODY);
/** Where the server breaks the first body: past two periodic checkpoints. */
const CUT = 4 * MiB + 12_345;
/** Bun's fetch needs the pause to see the last bytes before the close (script_server.ts). */
const CUT_LINGER_MS = 300;

function readCheckpoint(dest: string): Promise<Checkpoint> {
  return readFile(`${dest}.part.ctrl`).then((bytes) => decodeCheckpoint(new Uint8Array(bytes)));
}

function stateOf(prefix: Uint8Array): Sha256State {
  return new Sha256().update(prefix).snapshot();
}

function sameState(actual: Sha256State, expected: Sha256State, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.deepEqual([...actual.words], [...expected.words], `${what}: chaining words`);
  assert.deepEqual([...actual.pending], [...expected.pending], `${what}: pending bytes`);
}

/**
 * Asserts that everything `checkpoint` says about `.part` is true of the
 * body: both hash states, the tail digest and its range, and the first
 * `cursor` bytes of `part`.
 */
function assertTruthful(checkpoint: Checkpoint, part: Uint8Array, where: string): void {
  const { cursor, anchor, hash } = checkpoint;
  assert.ok(part.length >= checkpoint.cursor, `${where}: cursor ${cursor} past .part's end`);
  assert.ok(
    Buffer.from(part.subarray(0, cursor)).equals(BODY.subarray(0, cursor)),
    `${where}: the first ${cursor} bytes of .part are not the body's`,
  );
  assert.equal(checkpoint.blockSize, BLOCK, `${where}: block size`);
  assert.ok(anchor % BLOCK === 0 && anchor <= hash.length, `${where}: anchor ${anchor}`);
  assert.ok(hash.length === 0 || anchor < hash.length, `${where}: anchor not below the hash`);
  assert.ok(hash.length - anchor <= BLOCK, `${where}: anchor more than a block below the hash`);
  sameState(hash, stateOf(BODY.subarray(0, hash.length)), `${where}: hash state`);
  sameState(checkpoint.anchorHash, stateOf(BODY.subarray(0, anchor)), `${where}: anchor state`);
  const from = tailStart(checkpoint);
  if (from === cursor) {
    assert.equal(checkpoint.tailDigest, null, `${where}: a tail digest of nothing`);
  } else {
    assert.ok(checkpoint.tailDigest !== null, `${where}: no tail digest for [${from}, ${cursor})`);
    assert.equal(
      Buffer.from(checkpoint.tailDigest).toString("hex"),
      sha256(BODY.subarray(from, cursor)),
      `${where}: tail digest of [${from}, ${cursor})`,
    );
  }
}

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

/**
 * Waits (at most `ms`) until no descriptor of this process is open under
 * `dir`, and returns those still open then (empty: none; always empty
 * without /proc). A hashing worker is told to stop when a call ends and
 * closes its descriptor of `.part` within moments.
 */
async function leftOpenUnder(dir: string, ms = 3000): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const open = openFilesUnder(dir) ?? [];
    if (open.length === 0 || Date.now() >= deadline) return open;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * An honest server for {@link BODY}. `/cut/<n>…` paths are paced and broken
 * after `n` body bytes; `/slow…` paths are paced; the rest are served at once.
 */
function startServer(): Promise<ScriptServer> {
  return startResourceServer({ body: BODY, etag: ETAG }, (req, honest) => {
    const cut = /^\/cut\/(\d+)/.exec(req.path);
    if (cut !== null) {
      const cutAfter = Number(cut[1]);
      return { ...honest, bytesPerSecond: RATE, cutAfter, cutLingerMs: CUT_LINGER_MS };
    }
    if (req.path.startsWith("/slow")) return { ...honest, bytesPerSecond: RATE };
    return honest;
  });
}

/** Every checkpoint a recorded download wrote, in order. */
function checkpointsIn(log: RecordedOp[], dest: string): Checkpoint[] {
  return log.flatMap((e) =>
    e.op === "write" && e.path === `${dest}.part.ctrl.tmp` ? [decodeCheckpoint(e.data!)] : []
  );
}

/** What an interrupted download with a trailing hash left on disk. */
interface Seed {
  readonly part: Uint8Array;
  readonly ctrl: Uint8Array;
  readonly checkpoint: Checkpoint;
  /** Every checkpoint written by the last call, in order. */
  readonly written: Checkpoint[];
  /** What the last call threw. */
  readonly error: unknown;
  /** Body bytes the last call received. */
  readonly bytesRead: number;
  /** The cursor the last call started from (0: a fresh download). */
  readonly startedAt: number;
  /** The Range header of the last call's request. */
  readonly range: string | undefined;
}

/**
 * How a seed is made:
 *
 * - `worker`: one download broken at {@link CUT} with the worker trailing
 *   ({@link TRAILING}). Its hash stands wherever the worker got (a piece or
 *   two, none at all on a starved machine).
 * - `inline`: no worker. A first call, broken at {@link INLINE_CUT}, closes
 *   its small lag on the engine's thread (the hash covers its cursor); a
 *   second call resumes with `hashWorkerAfter` below its checkpoint cadence,
 *   so it leaves its lag to the next resume: its checkpoints keep the first
 *   call's hash, by design, whatever the timing.
 */
type SeedKind = "worker" | "inline";
const INLINE_CUT = 2 * MiB + 4321;
/** No worker; the lag at each checkpoint is closed on the engine's thread. */
const INLINE_CATCH_UP: EngineHooks = { ...TRAILING, hashWorker: false, hashWorkerAfter: 1 << 30 };
/** No worker; a lag of 64 KiB or more is left to the next resume. */
const INLINE_LEAVE: EngineHooks = { ...TRAILING, hashWorker: false, hashWorkerAfter: 64 * 1024 };
const seeds = new Map<SeedKind, Promise<Seed>>();

/** The seed of `kind`, made once for the whole file (the tests resume copies of it). */
function seed(kind: SeedKind): Promise<Seed> {
  let made = seeds.get(kind);
  if (made === undefined) {
    made = makeSeed(kind);
    seeds.set(kind, made);
  }
  return made;
}

async function makeSeed(kind: SeedKind): Promise<Seed> {
  const server = await startServer();
  try {
    return await withTempDir(async (dir) => {
      const dest = join(dir, `${kind}.bin`);
      const fs = await defaultFs();
      const call = async (path: string, hooks: EngineHooks) => {
        const log: RecordedOp[] = [];
        const state = new HaulState();
        const options = { dest, ...TRAILING_OPTIONS, state };
        const before = server.requests.length;
        const error = await haulWith(`${server.url}${path}`, options, {
          ...hooks,
          fs: recordingFs(fs, log),
        }).catch((e: unknown) => e);
        const range = server.requests[before]?.headers["range"];
        return { log, state, error, range };
      };
      let startedAt = 0;
      let last;
      if (kind === "worker") {
        last = await call(`/cut/${CUT}`, TRAILING);
      } else {
        const first = await call(`/cut/${INLINE_CUT}`, INLINE_CATCH_UP);
        assert.ok(first.error instanceof PartialHaulError, String(first.error));
        startedAt = first.error.validLength;
        last = await call(`/cut/${CUT - INLINE_CUT}`, INLINE_LEAVE);
      }
      return {
        part: await bytesOf(`${dest}.part`),
        ctrl: await bytesOf(`${dest}.part.ctrl`),
        checkpoint: await readCheckpoint(dest),
        written: checkpointsIn(last.log, dest),
        error: last.error,
        bytesRead: last.state.bytesRead,
        startedAt,
        range: last.range,
      };
    });
  } finally {
    await server.close();
  }
}

/** Puts the seed's `.part` and checkpoint at `dest`, `.part` changed by `alter`. */
async function plant(
  kind: SeedKind,
  dest: string,
  alter: (part: Uint8Array) => Uint8Array = (p) => p,
): Promise<Checkpoint> {
  const { part, ctrl, checkpoint } = await seed(kind);
  await writeFile(`${dest}.part`, alter(part.slice()));
  await writeFile(`${dest}.part.ctrl`, ctrl);
  return checkpoint;
}

/** Resumes `dest` from `server` and checks the result: the Range it asked and the exact file. */
async function resumeAndCheck(
  server: ScriptServer,
  dest: string,
  expectedStart: number,
  hooks: EngineHooks = TRAILING,
): Promise<void> {
  const path = `/resume/${server.requests.length}`;
  const result = await haulWith(`${server.url}${path}`, { dest, ...TRAILING_OPTIONS }, hooks);
  const sent = server.requests.filter((r) => r.path === path);
  assert.equal(sent.length, 1, "one request");
  const range = sent[0]!.headers["range"];
  assert.equal(range, expectedStart === 0 ? undefined : `bytes=${expectedStart}-`, "Range");
  if (expectedStart > 0) assert.equal(sent[0]!.headers["if-range"], ETAG);
  assert.equal(result.resumedFrom, expectedStart, "resumedFrom");
  assert.equal(result.size, BODY.length);
  assert.equal(result.sha256, DIGEST, "the digest haul computed");
  assert.equal(sha256(await bytesOf(dest)), DIGEST, "the file's digest");
  assert.equal(exists(`${dest}.part`) || exists(`${dest}.part.ctrl`), false, "sidecars left");
}

/** Asserts what every seed must show: all bytes received saved, a hash that trails. */
async function checkSeed(kind: SeedKind): Promise<Seed> {
  const made = await seed(kind);
  const { checkpoint, error, bytesRead, range, part, startedAt } = made;
  const where = `${kind} seed`;
  assert.equal(range, startedAt === 0 ? undefined : `bytes=${startedAt}-`, `${where}: Range`);
  assert.ok(error instanceof PartialHaulError, `${where}: expected a PartialHaulError: ${error}`);
  // Every byte received is saved (Bun's fetch may drop a few just before the cut).
  assert.ok(startedAt + bytesRead > CUT - 256 * 1024, `${where}: received ${bytesRead}`);
  assert.ok(startedAt + bytesRead <= CUT, `${where}: received ${bytesRead}`);
  assert.equal(error.validLength, startedAt + bytesRead, `${where}: validLength`);
  assert.equal(checkpoint.cursor, startedAt + bytesRead, `${where}: the cursor`);
  const { cursor, hash } = checkpoint;
  assert.ok(hash.length < cursor, `${where}: the hash (${hash.length}) does not trail ${cursor}`);
  assert.ok(cursor - hash.length > BLOCK, `${where}: hash ${hash.length} within a block`);
  assert.equal(tailStart(checkpoint), cursor - BLOCK, `${where}: the tail is the last block`);
  assert.ok(checkpoint.tailDigest !== null, `${where}: no tail digest`);
  assertTruthful(checkpoint, part, `${where}: final checkpoint`);
  assert.equal(checkpoint.etag, ETAG);
  assert.equal(checkpoint.reportedLength, BODY.length);
  assert.ok(checkpoint.extent >= cursor && checkpoint.extent <= part.length);
  return made;
}

describe("A checkpoint whose hash trails the durable cursor", () => {
  it("records every byte received, the worker's hash and the tail's digest", SLOW, async () => {
    const { written, checkpoint, part } = await checkSeed("worker");
    // The worker hashes a piece or two of the 4 MiB at most: far behind.
    assert.ok(checkpoint.hash.length <= 2 * WORKER_PIECE, `hash ${checkpoint.hash.length}`);
    // The periodic checkpoints before it (every 1.5 MiB) trailed too.
    assert.ok(written.length >= 2, `only ${written.length} checkpoints were written`);
    assert.deepEqual(written.at(-1), checkpoint, "the last checkpoint written is on disk");
    for (const [i, saved] of written.entries()) {
      assert.ok(saved.hash.length < saved.cursor, `checkpoint ${i}: the hash does not trail`);
      assert.ok(saved.tailDigest !== null, `checkpoint ${i}: no tail digest`);
      assertTruthful(saved, part, `checkpoint ${i}`);
      if (i > 0) assert.ok(saved.cursor > written[i - 1]!.cursor, `checkpoint ${i}: cursor`);
    }
  });

  it("without a worker, leaves a lag past hashWorkerAfter to the next resume", SLOW, async () => {
    const { written, checkpoint, part, startedAt } = await checkSeed("inline");
    // The first call closed its lag: its cursor is where the hash stays.
    assert.equal(checkpoint.hash.length, startedAt, "the hash moved without a worker");
    assert.ok(written.length >= 2, `only ${written.length} checkpoints were written`);
    for (const [i, saved] of written.entries()) {
      assert.equal(saved.hash.length, startedAt, `checkpoint ${i}: the hash moved`);
      assertTruthful(saved, part, `checkpoint ${i}`);
    }
  });

  it("without a worker, closes a lag below hashWorkerAfter at each checkpoint", SLOW, async () => {
    const server = await startServer();
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "inline.bin");
        const log: RecordedOp[] = [];
        const fs = recordingFs(await defaultFs(), log);
        const options = { dest, blockSize: BLOCK, checkpointEvery: { bytes: 512 * 1024 } };
        const url = `${server.url}/cut/${INLINE_CUT}`;
        const error = await haulWith(url, options, { ...INLINE_CATCH_UP, fs }).catch((e) => e);
        assert.ok(error instanceof PartialHaulError, String(error));
        const part = await bytesOf(`${dest}.part`);
        const written = checkpointsIn(log, dest);
        assert.ok(written.length >= 2, `only ${written.length} checkpoints were written`);
        for (const [i, saved] of written.entries()) {
          assert.equal(saved.hash.length, saved.cursor, `checkpoint ${i}: the hash trails`);
          assert.equal(saved.tailDigest, null, `checkpoint ${i}: a tail digest`);
          assertTruthful(saved, part, `checkpoint ${i}`);
        }
        assert.equal(written.at(-1)!.cursor, error.validLength);
      });
    } finally {
      await server.close();
    }
  });
});

const KINDS: readonly SeedKind[] = ["worker", "inline"];

describe("Resuming from a checkpoint whose hash trails its cursor", () => {
  it("asks for the bytes after the cursor, not after the hash, and ends exact", SLOW, async () => {
    const server = await startServer();
    try {
      await withTempDir(async (dir) => {
        // With the worker (a resumed download's digest is the hash: it runs
        // at a full core) and without one (the engine's thread hashes).
        for (const kind of KINDS) {
          for (const [name, hooks] of [["worker", TRAILING], ["inline", INLINE_LEAVE]] as const) {
            const dest = join(dir, `${kind}-${name}.bin`);
            const saved = await plant(kind, dest);
            assert.ok(saved.hash.length < saved.cursor);
            await resumeAndCheck(server, dest, saved.cursor, hooks);
          }
        }
      });
    } finally {
      await server.close();
    }
  });

  it(
    "is interrupted again, saves true progress, and the third call ends exact",
    SLOW,
    async () => {
      const more = 2 * MiB + 999;
      const server = await startServer();
      try {
        await withTempDir(async (dir) => {
          for (const kind of KINDS) {
            const dest = join(dir, `${kind}-twice.bin`);
            const first = await plant(kind, dest);
            const state = new HaulState();
            const options = { dest, ...TRAILING_OPTIONS, state };
            const path = `/cut/${more}/${kind}`;
            const error = await haulWith(`${server.url}${path}`, options, TRAILING).catch((e) => e);
            assert.ok(error instanceof PartialHaulError, String(error));
            const sent = server.requests.filter((r) => r.path === path);
            assert.equal(sent[0]!.headers["range"], `bytes=${first.cursor}-`);
            const second = await readCheckpoint(dest);
            assert.ok(state.bytesRead > more - 256 * 1024, `received ${state.bytesRead}`);
            assert.equal(
              second.cursor,
              first.cursor + state.bytesRead,
              "every byte received saved",
            );
            assert.equal(error.validLength, second.cursor);
            assert.ok(second.hash.length >= first.hash.length, "the hash went back");
            assertTruthful(second, await bytesOf(`${dest}.part`), `${kind}: second checkpoint`);
            await resumeAndCheck(server, dest, second.cursor);
          }
        });
      } finally {
        await server.close();
      }
    },
  );
});

describe("Resuming checks the tail digest and the hash state", () => {
  it("falls back to the hashed length when a byte of the tail changed", SLOW, async () => {
    const server = await startServer();
    try {
      await withTempDir(async (dir) => {
        for (const kind of KINDS) {
          const { checkpoint } = await seed(kind);
          const { cursor } = checkpoint;
          const from = tailStart(checkpoint);
          for (const at of [from, Math.floor((from + cursor) / 2), cursor - 1]) {
            const dest = join(dir, `${kind}-tail-${at}.bin`);
            await plant(kind, dest, (part) => {
              part[at]! ^= 0x01;
              return part;
            });
            // A worker starved of CPU may have hashed nothing: then start over.
            await resumeAndCheck(server, dest, checkpoint.hash.length);
          }
        }
      });
    } finally {
      await server.close();
    }
  });

  it(
    "rewinds to the anchor when a byte between the anchor and the hash changed",
    SLOW,
    async () => {
      const server = await startServer();
      try {
        await withTempDir(async (dir) => {
          let checked = 0;
          for (const kind of KINDS) {
            const { checkpoint } = await seed(kind);
            const { anchor, cursor } = checkpoint;
            const hashed = checkpoint.hash.length;
            // Only the worker's seed may have hashed nothing (a starved machine).
            if (kind === "worker" && hashed === 0) continue;
            assert.ok(anchor > 0 && anchor < hashed, `${kind}: anchor ${anchor}, hash ${hashed}`);
            const cases: [string, number[]][] = [
              ["first", [anchor]],
              ["last", [hashed - 1]],
              // Both checks fail: the tail's fallback, then the anchor's.
              ["and-tail", [anchor + 7, cursor - 1]],
            ];
            for (const [name, offsets] of cases) {
              const dest = join(dir, `${kind}-anchor-${name}.bin`);
              await plant(kind, dest, (part) => {
                for (const at of offsets) part[at]! ^= 0x80;
                return part;
              });
              await resumeAndCheck(server, dest, anchor);
              checked++;
            }
          }
          assert.ok(checked >= 3);
        });
      } finally {
        await server.close();
      }
    },
  );

  it(
    "falls back to what still checks out when .part is shorter than the cursor",
    SLOW,
    async () => {
      const server = await startServer();
      try {
        await withTempDir(async (dir) => {
          for (const kind of KINDS) {
            const { checkpoint } = await seed(kind);
            const { anchor, cursor } = checkpoint;
            const hashed = checkpoint.hash.length;
            const cases: [number, number][] = [
              [cursor - 1, hashed], // the tail is short: back to the hash
              [hashed, hashed], // exactly the hashed bytes remain
            ];
            if (anchor > 0) {
              cases.push(
                [hashed - 1, anchor], // the hashed bytes are short: back to the anchor
                [anchor, anchor],
                [anchor - 1, 0], // not even the anchor: start over
              );
            }
            for (const [size, expected] of cases) {
              const dest = join(dir, `${kind}-short-${size}.bin`);
              await plant(kind, dest);
              await truncate(`${dest}.part`, size);
              await resumeAndCheck(server, dest, expected);
            }
          }
        });
      } finally {
        await server.close();
      }
    },
  );
});

describe("Aborting while the hashing worker trails", () => {
  it("returns promptly with the reason, saving every byte received", SLOW, async () => {
    const server = await startServer();
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "abort.bin");
        const controller = new AbortController();
        const reason = new Error("stop now");
        const state = new HaulState();
        const options = { dest, ...TRAILING_OPTIONS, signal: controller.signal, state };
        const running = haulWith(`${server.url}/slow`, options, TRAILING);
        const settled = running.then(() => "resolved", () => "rejected");
        const deadline = Date.now() + 10_000;
        while (state.validLength < 4 * MiB && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        assert.ok(state.validLength >= 4 * MiB, `only ${state.validLength} bytes in 10 s`);
        assert.ok(state.validLength < BODY.length, "finished before the abort");
        const abortedAt = performance.now();
        controller.abort(reason);
        await assert.rejects(running, (error) => error === reason);
        const took = performance.now() - abortedAt;
        assert.equal(await settled, "rejected");
        // The worker is MiBs behind: waiting for it would take seconds (and
        // leave no trailing hash, which is checked below).
        assert.ok(took < 5000, `the call took ${Math.round(took)} ms to return after the abort`);
        const saved = await readCheckpoint(dest);
        assert.equal(saved.cursor, state.bytesRead, "the cursor: every byte received");
        assert.equal(state.validLength, saved.cursor, "validLength");
        assert.ok(saved.hash.length < saved.cursor, "the final checkpoint waited for the hash");
        assertTruthful(saved, await bytesOf(`${dest}.part`), "the abort's checkpoint");
        assert.deepEqual(await leftOpenUnder(dir), [], "descriptors left open after the call");
        const result = await haul(server.url, { dest });
        assert.equal(result.resumedFrom, saved.cursor);
        assert.equal(result.sha256, DIGEST);
        assert.equal(server.requests[1]!.headers["range"], `bytes=${saved.cursor}-`);
      });
    } finally {
      await server.close();
    }
  });

  it(
    "lets the process exit as soon as the call returns (no worker left)",
    SLOW,
    async () => {
      const server = await startServer();
      let child: ChildProcess | null = null;
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "child.bin");
          const abortAt = 5 * MiB;
          const script = fileURLToPath(new URL("../fixtures/haul_child.ts", import.meta.url));
          const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
          const args = [script, `${server.url}/slow`, dest, JSON.stringify(TRAILING_OPTIONS)];
          const env = {
            ...process.env,
            HAUL_CHILD_HOOKS: JSON.stringify(TRAILING),
            HAUL_CHILD_ABORT_AFTER: String(abortAt),
          };
          const proc = deno === undefined
            ? spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] })
            : spawn(deno.execPath(), ["run", "-A", ...args], {
              env,
              stdio: ["ignore", "pipe", "pipe"],
            });
          child = proc;
          let out = "";
          let printedAt = 0;
          proc.stdout!.on("data", (data: Uint8Array) => {
            out += new TextDecoder().decode(data);
            if (printedAt === 0 && out.includes("\n")) printedAt = performance.now();
          });
          proc.stderr!.on("data", (data: Uint8Array) => (out += new TextDecoder().decode(data)));
          const exited = new Promise<number | null>((resolve) => proc.once("close", resolve));
          const timedOut = new Promise<"timeout">((resolve) => {
            const timer = setTimeout(() => resolve("timeout"), 20_000);
            void exited.then(() => clearTimeout(timer));
          });
          const code = await Promise.race([exited, timedOut]);
          assert.notEqual(code, "timeout", `the child did not exit within 20 s: ${out}`);
          const lingered = performance.now() - printedAt;
          const line = JSON.parse(out.split("\n")[0]!) as Record<string, unknown>;
          assert.equal(line["ok"], false, out);
          assert.equal(line["message"], "child abort", out);
          assert.equal(code, 1);
          // A worker left hashing (MiBs behind at a 1% share, then idle for a
          // second) would hold a Deno process for seconds.
          assert.ok(lingered < 2000, `the child lived ${Math.round(lingered)} ms after returning`);
          const saved = await readCheckpoint(dest);
          assert.ok(saved.cursor >= abortAt, `cursor ${saved.cursor}`);
          assert.equal(saved.cursor, line["bytesRead"], "the cursor: every byte received");
          assert.equal(saved.cursor, line["validLength"]);
          assert.ok(saved.hash.length < saved.cursor, "the worker did not trail");
          assertTruthful(saved, await bytesOf(`${dest}.part`), "the child's checkpoint");
        });
      } finally {
        (child as ChildProcess | null)?.kill("SIGKILL");
        await server.close();
      }
    },
  );
});

describe("The default settings on a larger file", () => {
  it("download 24 MiB exactly (sync at 16 MiB, workers after 8 and 16 MiB)", SLOW, async () => {
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
