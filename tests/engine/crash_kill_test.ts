/**
 * Crash consistency under SIGKILL: a child process (`fixtures/haul_child.ts`,
 * run by the same runtime as this test) downloads from a throttled loopback
 * server and is killed at many points: spread across the body, while a
 * checkpoint is being written, right after the request, just before and just
 * after the final rename. After every kill the disk must satisfy the
 * invariants, and the next call must resume exactly where the checkpoint
 * says and finish with the right bytes. The same holds with the fast path
 * forced on small files (`HAUL_CHILD_HOOKS`: background sync, small write
 * buffers), and for a kill while a resume in a new process hashes the bytes
 * already on disk again (the catch-up) as the rest downloads.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { setImmediate } from "node:timers";
import { fileURLToPath } from "node:url";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import { type Checkpoint, durablePrefix, tailStart } from "../../src/protocol/checkpoint.ts";
import { type EngineHooks, haulWith } from "../../src/engine/haul.ts";
import { nodeFs } from "../../src/runtime/node_fs.ts";
import { haul, HaulError, PartialHaulError } from "../../mod.ts";
import { cuttingFetch } from "../helpers/cutting_fetch.ts";
import { FaultyFs, shimError } from "../helpers/fault_fs.ts";
import { lockFileOf } from "../helpers/lock_file.ts";
import { type RuntimeChild, runtimeChild, waitFor, WarmChildren } from "../helpers/runtime.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { makeRng } from "../helpers/prng.ts";
import { bytesOf, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const CHILD_SCRIPT = fileURLToPath(new URL("../fixtures/haul_child.ts", import.meta.url));
const BODY_SIZE = 4 * 1024 * 1024 + 4321;
const RATE = 4 * 1024 * 1024;
const OPTIONS = { blockSize: 65536, checkpointEvery: { bytes: 128 * 1024, ms: 20 } };
const ETAG = '"kill-1"';
/** Small paced slices, so that `.part` grows in many small steps. */
const PACE = { bytesPerSecond: RATE, chunkSize: 16 * 1024 };

/**
 * Starts the child (from `warm`, loaded already, when given); with `hooks`, it downloads through
 * `haulWith()` with those engine hooks (passed as `HAUL_CHILD_HOOKS`).
 */
function startChild(
  url: string,
  dest: string,
  options: object = OPTIONS,
  hooks: EngineHooks | null = null,
  extraEnv: Record<string, string> = {},
  warm?: WarmChildren,
): RuntimeChild {
  const env = hooks === null ? extraEnv : { ...extraEnv, HAUL_CHILD_HOOKS: JSON.stringify(hooks) };
  const args = [url, dest, JSON.stringify(options)];
  return warm?.start(args, env) ?? runtimeChild(CHILD_SCRIPT, args, { allowAll: true }, env);
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function sizeOf(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A decoded checkpoint and its resume cursor. */
type Saved = Checkpoint & { readonly cursor: number };

function readSaved(path: string): Saved {
  const checkpoint = decodeCheckpoint(new Uint8Array(readFileSync(path)));
  return { ...checkpoint, cursor: durablePrefix(checkpoint) };
}

/** Where the tail digest of the checkpoint's range from byte 0 begins. */
function tailOf(saved: Saved): number {
  return tailStart({ start: 0, end: saved.cursor }, saved.blockSize);
}

interface DiskState {
  /** Bytes in `.part` (null: no `.part`). */
  readonly partSize: number | null;
  /** The checkpoint, if `.part.ctrl` exists. */
  readonly checkpoint: Saved | null;
  /** Whether `dest` exists (then it is byte-exact). */
  readonly complete: boolean;
}

/** Checks invariants (1) and (2) on the disk as a kill left it. */
function checkInvariants(dest: string, body: Uint8Array, where: string): DiskState {
  let complete = false;
  if (existsSync(dest)) {
    assert.ok(sameBytes(new Uint8Array(readFileSync(dest)), body), `${where}: dest is wrong`);
    complete = true;
  }
  const part = existsSync(`${dest}.part`) ? new Uint8Array(readFileSync(`${dest}.part`)) : null;
  let checkpoint: Saved | null = null;
  if (existsSync(`${dest}.part.ctrl`)) {
    try {
      checkpoint = readSaved(`${dest}.part.ctrl`);
    } catch (error) {
      assert.fail(`${where}: a kill left an undecodable checkpoint: ${String(error)}`);
    }
    if (part !== null) {
      assert.ok(
        checkpoint.cursor <= part.length,
        `${where}: cursor ${checkpoint.cursor} beyond the ${part.length} bytes of .part`,
      );
      assert.ok(
        sameBytes(part.subarray(0, checkpoint.cursor), body.subarray(0, checkpoint.cursor)),
        `${where}: the first ${checkpoint.cursor} bytes of .part are not the resource's`,
      );
    }
  }
  return { partSize: part?.length ?? null, checkpoint, complete };
}

/** What the next call must send, given the disk state (the tail always verifies after a kill). */
function expectedRange(state: DiskState): string | undefined {
  if (state.complete || state.checkpoint === null || state.partSize === null) return undefined;
  return `bytes=${state.checkpoint.cursor}-`;
}

type Trigger =
  | { readonly kind: "bytes"; readonly at: number }
  | { readonly kind: "ctrl-tmp"; readonly after: number }
  | { readonly kind: "delay"; readonly ms: number }
  | { readonly kind: "part-complete" }
  | { readonly kind: "dest" };

describe("SIGKILL during haul()", () => {
  it(
    "leaves no dest and a checkpoint from which the next call resumes at its cursor",
    {
      timeout: 60_000,
    },
    async () => {
      const body = randomBody(BODY_SIZE);
      const server = await startResourceServer({ body, etag: ETAG }, (_req, honest) => ({
        ...honest,
        ...PACE,
      }));
      const running = new Set<RuntimeChild>();
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "accept.bin");
          const child = startChild(`${server.url}/first`, dest, OPTIONS);
          running.add(child);
          const hit = await waitFor(
            child,
            () => (sizeOf(`${dest}.part`) ?? 0) >= BODY_SIZE * 0.4,
          );
          assert.ok(hit, `the child finished before the kill: ${child.output()}`);
          await child.kill();
          assert.equal(existsSync(dest), false, "dest after the kill");
          const state = checkInvariants(dest, body, "after the kill");
          assert.ok(state.checkpoint !== null, "a checkpoint was written before 40%");
          const saved = state.checkpoint;
          assert.ok(saved.cursor > 0);
          const part = new Uint8Array(readFileSync(`${dest}.part`));
          const tailVerifies = part.length >= saved.cursor &&
            sameBytes(
              part.subarray(tailOf(saved), saved.cursor),
              body.subarray(tailOf(saved), saved.cursor),
            );

          const result = await haul(`${server.url}/second`, { dest, ...OPTIONS });
          const resumed = server.requests.filter((r) => r.path === "/second");
          assert.equal(resumed.length, 1);
          const range = resumed[0]!.headers["range"] ?? "";
          const match = /^bytes=(\d+)-$/.exec(range);
          assert.ok(match !== null, `resume asked ${range}`);
          const n = Number(match[1]);
          // A tail that does not verify starts over from byte 0.
          assert.equal(n, tailVerifies ? saved.cursor : 0, `Range start ${n}`);
          assert.equal(resumed[0]!.headers["if-range"], ETAG);
          assert.equal(result.resumedFrom, n);
          assert.equal(result.sha256, sha256(body));
          assert.equal(sha256(await bytesOf(dest)), sha256(body));
        });
      } finally {
        for (const child of running) await child.kill();
        await server.close();
      }
    },
  );

  it("keeps the invariants at 30 or more kill offsets and always resumes to the exact file", {
    timeout: 120_000,
  }, async () => {
    const body = randomBody(BODY_SIZE);
    const digest = sha256(body);
    const rng = makeRng(0x6b696c6c);
    const server = await startResourceServer({ body, etag: ETAG }, (_req, honest) => ({
      ...honest,
      ...PACE,
    }));
    const offsets = new Set<number>();
    const kinds = new Set<string>();
    const running = new Set<RuntimeChild>();
    const warm = new WarmChildren(CHILD_SCRIPT, { allowAll: true });
    const failures: string[] = [];

    /** Runs one chain of kills on a fresh destination, then finishes it in-process. */
    const chain = async (dir: string, name: string, triggers: Trigger[]): Promise<void> => {
      const dest = join(dir, `${name}.bin`);
      let state = checkInvariants(dest, body, `${name} start`);
      for (let i = 0; i < triggers.length; i++) {
        const trigger = triggers[i]!;
        const path = `/${name}/${i}`;
        const where = `${name} kill ${i} (${JSON.stringify(trigger)})`;
        const expected = expectedRange(state);
        const requested = (): boolean => server.requests.some((r) => r.path === path);
        // A complete .part lasts only until the rename: the child holds it there a while.
        const env: Record<string, string> = trigger.kind === "part-complete"
          ? { HAUL_CHILD_SYNC_DELAY_MS: "500" }
          : {};
        const current = startChild(`${server.url}${path}`, dest, OPTIONS, null, env, warm);
        running.add(current);
        let hit: boolean;
        switch (trigger.kind) {
          case "bytes": {
            // Past the last kill's size too: on a loaded machine a kill lands late, and a trigger
            // already passed would otherwise kill the next child where the last one stopped.
            // (A complete `.part` has no "past": the trigger is then as written.)
            const past = (state.partSize ?? 0) + PACE.chunkSize;
            const at = past < body.length ? Math.max(trigger.at, past) : trigger.at;
            hit = await waitFor(current, () => (sizeOf(`${dest}.part`) ?? 0) >= at);
            break;
          }
          case "ctrl-tmp":
            hit = await waitFor(current, () => (sizeOf(`${dest}.part`) ?? 0) >= trigger.after) &&
              await waitFor(current, () => existsSync(`${dest}.part.ctrl.tmp`));
            break;
          case "delay": {
            hit = await waitFor(current, requested);
            const until = Date.now() + trigger.ms;
            while (hit && Date.now() < until && !current.hasExited) await tick();
            hit = hit && !current.hasExited;
            break;
          }
          case "part-complete":
            hit = await waitFor(current, () => sizeOf(`${dest}.part`) === body.length);
            break;
          case "dest":
            hit = await waitFor(current, () => existsSync(dest));
            break;
        }
        await current.kill();
        running.delete(current);
        state = checkInvariants(dest, body, where);
        const sent = server.requests.filter((r) => r.path === path);
        if (sent.length === 1) {
          assert.equal(sent[0]!.headers["range"], expected, `${where}: the resume's Range`);
        }
        if (!hit) {
          // The child ended before the trigger: it must have produced the file.
          if (!current.output().includes('"ok":true')) {
            failures.push(`${where}: the child failed: ${current.output().trim()}`);
            continue;
          }
          assert.ok(state.complete, `${where}: finished without a dest`);
          break;
        }
        kinds.add(trigger.kind);
        offsets.add(state.partSize ?? (state.complete ? body.length : 0));
      }
      const expected = expectedRange(state);
      const path = `/${name}/final`;
      const result = await haul(`${server.url}${path}`, { dest, ...OPTIONS });
      // A dest the crash left complete is kept unread (no integrity): no digest then.
      assert.equal(result.sha256, result.alreadyComplete ? null : digest, `${name}: final sha256`);
      assert.equal(sha256(await bytesOf(dest)), digest, `${name}: final bytes`);
      const sent = server.requests.filter((r) => r.path === path);
      if (state.complete) {
        assert.equal(sent.length, 0, `${name}: complete dest, yet a request`);
      } else {
        assert.equal(sent.length, 1);
        assert.equal(sent[0]!.headers["range"], expected, `${name}: the final resume's Range`);
      }
    };

    try {
      await withTempDir(async (dir) => {
        const spread: Trigger[] = [];
        for (let k = 0; k < 16; k++) {
          const at = Math.floor(((k + 0.3 + 0.4 * rng.next()) / 16) * BODY_SIZE);
          spread.push({ kind: "bytes", at });
        }
        await chain(dir, "spread", spread);
        const random: Trigger[] = Array.from({ length: 10 }, (_, k) => ({
          kind: "bytes",
          at: Math.floor(((k + rng.next()) / 10) * BODY_SIZE),
        }));
        await chain(dir, "random", random);
        await chain(
          dir,
          "checkpoints",
          Array.from({ length: 12 }, (_, k) => ({
            kind: "ctrl-tmp",
            after: Math.floor(((k + rng.next()) / 12) * BODY_SIZE * 0.9),
          })),
        );
        const delays: Trigger[] = Array.from({ length: 12 }, (_, k) => ({
          kind: "delay",
          ms: k % 4 === 0 ? 0 : rng.int(20, 300),
        }));
        await chain(dir, "timed", delays);
        for (let e = 0; e < 3; e++) {
          await chain(dir, `end${e}`, [
            { kind: "bytes", at: Math.floor(BODY_SIZE * (0.85 + 0.03 * e)) },
            { kind: "part-complete" },
            { kind: "bytes", at: Math.floor(BODY_SIZE * (0.95 + 0.01 * e)) },
            { kind: "dest" },
          ]);
        }
      });
      assert.deepEqual(failures, [], "children that failed instead of downloading");
      assert.ok(offsets.size >= 30, `only ${offsets.size} distinct kill offsets`);
      for (const kind of ["bytes", "ctrl-tmp", "delay", "part-complete", "dest"]) {
        assert.ok(kinds.has(kind), `no kill was triggered by ${kind}`);
      }
    } finally {
      for (const child of running) await child.kill();
      await warm.close();
      await server.close();
    }
  });
});

/** Background sync and small write buffers on a small file (`FAST_PATH` in haul_engine_test.ts). */
const FAST_HOOKS: EngineHooks = { syncEvery: 128 * 1024, writeBufferSize: 64 * 1024 };
const SPARSE_OPTIONS = { blockSize: 4096, checkpointEvery: { bytes: 1.5 * 1024 * 1024 } };

/** Asserts that the checkpoint holds one range from byte 0 whose tail digest is the body's. */
function checkTail(checkpoint: Saved, body: Uint8Array, where: string): void {
  const { cursor } = checkpoint;
  assert.deepEqual(checkpoint.ranges.map((r) => [r.start, r.end]), [[0, cursor]], where);
  const from = tailOf(checkpoint);
  const actual = Array.from(
    checkpoint.ranges[0]!.tailDigest,
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  assert.equal(
    actual,
    sha256(body.subarray(from, cursor)),
    `${where}: tail digest of [${from}, ${cursor})`,
  );
}

describe("SIGKILL with the fast path (background sync, small buffers)", () => {
  it("resumes each kill at the cursor on disk and ends exact", {
    timeout: 120_000,
  }, async () => {
    const body = randomBody(BODY_SIZE);
    const digest = sha256(body);
    const rng = makeRng(0x66617374);
    const server = await startResourceServer({ body, etag: ETAG }, (_req, honest) => ({
      ...honest,
      ...PACE,
    }));
    const running = new Set<RuntimeChild>();
    const warm = new WarmChildren(CHILD_SCRIPT, { allowAll: true });
    let checkpoints = 0;
    let kills = 0;
    const failures: string[] = [];

    const chain = async (
      dir: string,
      name: string,
      hooks: EngineHooks,
      options: object,
      offsets: number[],
    ): Promise<void> => {
      const dest = join(dir, `${name}.bin`);
      let state = checkInvariants(dest, body, `${name} start`);
      for (const [i, at] of offsets.entries()) {
        const path = `/${name}/${i}`;
        const where = `${name} kill ${i} (at ${at})`;
        const expected = expectedRange(state);
        const previous = state.checkpoint;
        const child = startChild(`${server.url}${path}`, dest, options, hooks, {}, warm);
        running.add(child);
        const hit = await waitFor(child, () => (sizeOf(`${dest}.part`) ?? 0) >= at);
        await child.kill();
        running.delete(child);
        // No checkpoint claims a cursor past `.part`'s end or bytes that are not the body's.
        state = checkInvariants(dest, body, where);
        const sent = server.requests.filter((r) => r.path === path);
        if (sent.length === 1) {
          assert.equal(sent[0]!.headers["range"], expected, `${where}: the resume's Range`);
        }
        if (!hit) {
          if (!child.output().includes('"ok":true')) {
            failures.push(`${where}: the child failed: ${child.output().trim()}`);
            continue;
          }
          assert.ok(state.complete, `${where}: finished without a dest`);
          break;
        }
        kills++;
        const saved = state.checkpoint;
        if (saved !== null) {
          checkpoints++;
          checkTail(saved, body, where);
          if (previous !== null) {
            assert.ok(saved.cursor >= previous.cursor, `${where}: the cursor went back`);
          }
        }
      }
      const expected = expectedRange(state);
      const path = `/${name}/final`;
      const result = await haulWith(`${server.url}${path}`, { dest, ...options }, hooks);
      // A dest the crash left complete is kept unread (no integrity): no digest then.
      assert.equal(result.sha256, result.alreadyComplete ? null : digest, `${name}: final sha256`);
      assert.equal(sha256(await bytesOf(dest)), digest, `${name}: final bytes`);
      const sent = server.requests.filter((r) => r.path === path);
      if (state.complete) {
        assert.equal(sent.length, 0, `${name}: complete dest, yet a request`);
      } else {
        assert.equal(sent.length, 1);
        assert.equal(sent[0]!.headers["range"], expected, `${name}: the final resume's Range`);
        assert.equal(result.resumedFrom, state.checkpoint?.cursor ?? 0);
      }
    };

    /** `n` increasing random offsets spread over `[lo, hi)` of the body. */
    const spread = (n: number, lo: number, hi: number): number[] =>
      Array.from(
        { length: n },
        (_, k) => Math.floor(BODY_SIZE * (lo + (hi - lo) * ((k + rng.next()) / n))),
      );

    try {
      await withTempDir(async (dir) => {
        await chain(dir, "fast", FAST_HOOKS, OPTIONS, spread(8, 0.05, 0.95));
        // Rare checkpoints: the first kill comes after the first one (1.5 MiB).
        await chain(dir, "sparse", FAST_HOOKS, SPARSE_OPTIONS, spread(3, 0.5, 0.95));
      });
      assert.deepEqual(failures, [], "children that failed instead of downloading");
      assert.ok(kills >= 9, `only ${kills} kills hit a running download`);
      assert.ok(checkpoints >= 8, `only ${checkpoints} kills left a checkpoint`);
    } finally {
      for (const child of running) await child.kill();
      await warm.close();
      await server.close();
    }
  });
});

describe("SIGKILL during the catch-up re-hash of a resume", () => {
  it("keeps the checkpoints it wrote while re-hashing, and the next call ends exact", {
    timeout: 60_000,
  }, async () => {
    const MiB = 1024 * 1024;
    // The catch-up reads back 8 MiB per step (hashing/prefix_hasher.ts): four steps before the cut.
    const body = randomBody(34 * MiB + 123);
    const cut = 32 * MiB;
    const server = await startResourceServer({ body, etag: ETAG }, (_req, honest) => ({
      ...honest,
      ...PACE,
    }));
    const running = new Set<RuntimeChild>();
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "catch-up.bin");
        // A checkpoint at 8 MiB, written in this process: the child has no hash kept.
        const fetch = cuttingFetch(body, () => cut, [], ETAG);
        const first = await haul("http://haul.test/c", { dest, fetch, ...OPTIONS }).catch((e) => e);
        assert.ok(first instanceof PartialHaulError, String(first));
        assert.equal(readSaved(`${dest}.part.ctrl`).cursor, cut);

        // Each read of .part takes 200 ms: re-hashing 32 MiB in 8 MiB reads takes >= 800 ms.
        const child = startChild(`${server.url}/resume`, dest, OPTIONS, null, {
          HAUL_CHILD_READ_DELAY_MS: "200",
        });
        running.add(child);
        const progressed = () => {
          try {
            return readSaved(`${dest}.part.ctrl`).cursor > cut;
          } catch {
            return false; // mid-rename: look again
          }
        };
        const hit = await waitFor(child, progressed, 30_000);
        await child.kill();
        running.delete(child);
        assert.ok(hit, `the child ended first: ${child.output()}`);
        const lines = child.output().split("\n").filter((line) => line.startsWith('{"read'))
          .map((line) => JSON.parse(line) as { read?: number; readDone?: number; length: number });
        // Catch-up reads start below the tail the resume checks (cut - blockSize).
        const below = (at: number | undefined) => at !== undefined && at < cut - OPTIONS.blockSize;
        const started = lines.filter((r) => below(r.read));
        const done = lines.filter((r) => below(r.readDone));
        assert.ok(started.length > 0, `the catch-up had not started: ${child.output()}`);
        const reached = Math.max(0, ...done.map((r) => r.readDone! + r.length));
        assert.ok(reached < cut, `the catch-up had read back all ${cut} bytes before the kill`);

        const state = checkInvariants(dest, body, "after the kill");
        const saved = state.checkpoint!;
        assert.ok(saved.cursor > cut, "a checkpoint past the cut, written during the catch-up");
        checkTail(saved, body, "after the kill");
        const result = await haul(`${server.url}/final`, { dest, ...OPTIONS });
        assert.equal(result.resumedFrom, saved.cursor);
        assert.equal(result.sha256, sha256(body));
        assert.equal(sha256(await bytesOf(dest)), sha256(body));
      });
    } finally {
      for (const child of running) await child.kill();
      await server.close();
    }
  });
});

/** The pid of a process that has exited and been reaped. */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const proc = spawn("true", [], { stdio: "ignore" });
    proc.on("error", reject);
    proc.on("exit", () => {
      if (proc.pid === undefined) reject(new Error("no pid"));
      else resolve(proc.pid);
    });
  });
}

describe("Sidecars left by a crash", () => {
  it("are removed by the next call after a crash right after the final rename", async () => {
    const body = randomBody(300_000);
    const server = await startResourceServer({ body, etag: ETAG });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "renamed.bin");
        // The process "dies" right after the rename and directory sync: the
        // checkpoint removal never happens and its lock stays behind.
        const dying = new FaultyFs(
          nodeFs,
          (call) =>
            call.op === "remove" && call.path === `${dest}.part.ctrl`
              ? shimError("EIO", call.path)
              : null,
        );
        const crashed = await haulWith(server.url, {
          dest,
          ...OPTIONS,
          checkpointEvery: { bytes: 1024, ms: 1 },
        }, {
          fs: dying,
        }).catch((error: unknown) => error);
        assert.ok(crashed instanceof HaulError, String(crashed));
        assert.ok(existsSync(dest) && existsSync(`${dest}.part.ctrl`), "the crash state");
        writeFileSync(`${dest}.part.lock`, await lockFileOf(await deadPid()));

        const result = await haul(server.url, { dest });
        assert.equal(result.alreadyComplete, true);
        assert.equal(sha256(await bytesOf(dest)), sha256(body));
        assert.deepEqual((await readdir(dir)).sort(), ["renamed.bin"], "stale sidecars remain");
      });
    } finally {
      await server.close();
    }
  });

  it("are removed by the next call after a crash mid-release (the lock moved aside, not removed)", async () => {
    const body = randomBody(300_000);
    const server = await startResourceServer({ body, etag: ETAG });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "released.bin");
        // The process "dies" after its release renamed the lock file to `.part.unlock`.
        const dying = new FaultyFs(
          nodeFs,
          (call) =>
            call.op === "remove" && call.path === `${dest}.part.unlock`
              ? shimError("EIO", call.path)
              : null,
        );
        const first = await haulWith(server.url, { dest, ...OPTIONS }, { fs: dying });
        assert.equal(first.sha256, sha256(body));
        const crashState = ["released.bin", "released.bin.part.unlock"];
        assert.deepEqual((await readdir(dir)).sort(), crashState, "the crash state");

        const result = await haul(server.url, { dest });
        assert.equal(result.alreadyComplete, true);
        assert.equal(sha256(await bytesOf(dest)), sha256(body));
        assert.deepEqual((await readdir(dir)).sort(), ["released.bin"], "stale sidecars remain");
      });
    } finally {
      await server.close();
    }
  });

  it("leave no .part.ctrl.tmp once a download killed mid-checkpoint completes", async () => {
    const body = randomBody(300_000);
    let cut = 200_000;
    const fetch = cuttingFetch(body, () => cut, [], ETAG);
    await withTempDir(async (dir) => {
      const dest = join(dir, "tmp.bin");
      const first = await haul("http://haul.test/tmp.bin", { dest, fetch, ...OPTIONS }).catch((
        e: unknown,
      ) => e);
      assert.ok(first instanceof PartialHaulError, String(first));
      assert.equal(first.validLength, 200_000);
      // What a kill between creating and renaming the checkpoint leaves behind.
      writeFileSync(`${dest}.part.ctrl.tmp`, new Uint8Array(100));
      writeFileSync(`${dest}.part.lock`, await lockFileOf(await deadPid()));
      cut = body.length;
      const result = await haul("http://haul.test/tmp.bin", {
        dest,
        fetch,
        ...OPTIONS,
        checkpointEvery: { bytes: 1 << 30, ms: 600_000 },
      });
      assert.equal(result.resumedFrom, 200_000);
      assert.equal(sha256(await bytesOf(dest)), sha256(body));
      assert.deepEqual((await readdir(dir)).sort(), ["tmp.bin"], "stale sidecars remain");
    });
  });
});

describe("Resuming from a checkpoint", () => {
  it("checkpoints again after resuming from a cursor that falls on a block boundary", async () => {
    const body = randomBody(300_000);
    const block = OPTIONS.blockSize;
    let cut = 2 * block;
    const ranges: string[] = [];
    const fetch = cuttingFetch(body, () => cut, ranges, ETAG);
    await withTempDir(async (dir) => {
      const dest = join(dir, "aligned.bin");
      const url = "http://haul.test/aligned.bin";
      const first = await haul(url, { dest, fetch, ...OPTIONS }).catch((e: unknown) => e);
      assert.ok(first instanceof PartialHaulError, String(first));
      assert.equal(first.validLength, 2 * block);
      const saved = readSaved(`${dest}.part.ctrl`);
      assert.equal(saved.cursor, 2 * block);
      assert.equal(tailOf(saved), block, "the tail digest covers the newest block");

      // Cut again inside the next block: the interrupted call must save its progress.
      cut = 2 * block + 10_000;
      const second = await haul(url, { dest, fetch, ...OPTIONS }).catch((e: unknown) => e);
      assert.ok(
        second instanceof PartialHaulError,
        `expected a PartialHaulError: ${String(second)}`,
      );
      assert.equal(second.validLength, 2 * block + 10_000);

      cut = body.length;
      const result = await haul(url, { dest, fetch, ...OPTIONS });
      assert.equal(result.resumedFrom, 2 * block + 10_000);
      assert.equal(result.sha256, sha256(body));
      assert.deepEqual(ranges, ["", `bytes=${2 * block}-`, `bytes=${2 * block + 10_000}-`]);
    });
  });
});
