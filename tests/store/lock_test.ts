/**
 * The destination lock as a lease (src/store/lock.ts): the decision table,
 * then real lock files on disk (aged with utimes instead of waiting), a lost
 * lease, the takeover guard, and a real child process that holds a lock and
 * is SIGKILLed.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { lstat, readdir, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import {
  acquireLock,
  type DestinationLock,
  encodeLockRecord,
  judgeLock,
  type LockJudge,
  type LockTiming,
  parseLockRecord,
} from "../../src/store/lock.ts";

import { defaultFs } from "../../src/runtime/default_fs.ts";
import { nodeFs } from "../../src/runtime/node_fs.ts";
import type { FsShim } from "../../src/runtime/fs_shim.ts";
import process from "node:process";
import { DestinationError } from "../../src/errors.ts";
import { join, withTempDir } from "../helpers/temp.ts";
import { currentRuntime, runtimeChild } from "../helpers/runtime.ts";

const TIMING: LockTiming = { heartbeatMs: 1000, staleMs: 5000 };
const FAST: LockTiming = { heartbeatMs: 40, staleMs: 2000 };
const HOLDER = fileURLToPath(new URL("../fixtures/lock_holder.ts", import.meta.url));

const alive = (): boolean | null => true;
const dead = (): boolean | null => false;
const me: LockJudge = { instance: "me", scope: "host=a;pid:[1]", isProcessAlive: alive };

function record(fields: Partial<{ pid: number; scope: string | null; instance: string }>) {
  return parseLockRecord(encodeLockRecord({
    pid: fields.pid ?? 4242,
    scope: fields.scope ?? null,
    instance: fields.instance ?? "other",
    nonce: `${fields.instance ?? "other"}.1`,
  }));
}

/** Sets a file's mtime `ms` into the past (negative: the future). */
async function age(path: string, ms: number): Promise<void> {
  const when = new Date(Date.now() - ms);
  await utimes(path, when, when);
}

function expectBusy(error: unknown, retryable = true): DestinationError {
  assert.ok(error instanceof DestinationError, String(error));
  assert.match(error.message, /Destination busy/);
  assert.equal(error.retryable, retryable);
  return error;
}

describe("judgeLock (the decision table)", () => {
  const blind: LockJudge = { instance: "me", scope: null, isProcessAlive: () => null };

  it("takes over at once a lock whose owner's flock is free, and never one whose flock is held", () => {
    const flocked = parseLockRecord(encodeLockRecord({
      pid: 4242,
      scope: null,
      instance: "other",
      nonce: "other.1",
      flock: true,
    }));
    assert.equal(flocked.flock, true);
    assert.deepEqual(judgeLock(flocked, 0, blind, TIMING, "free"), {
      stale: true,
      why: "its owner's file lock was released",
      fence: false,
    });
    assert.equal(judgeLock(flocked, 0, blind, TIMING, "held").stale, false);
    const held = judgeLock(flocked, 3_600_000, blind, TIMING, "held");
    assert.equal(held.stale, false, "a held flock means a live owner, however old the lease");
    assert.match(held.why, /process may be stopped/);
    // A record without the flock is never judged by one: its owner may run on Node or Bun.
    assert.equal(record({}).flock, false);
    assert.equal(judgeLock(record({}), 0, blind, TIMING, "free").stale, false);
    assert.doesNotMatch(
      encodeLockRecord({ pid: 1, scope: null, instance: "a", nonce: "a.1" }),
      /flock/,
    );
  });

  it("where liveness is unknown: keeps a fresh lock, takes a stale one over with a fence", () => {
    const other = record({});
    assert.equal(judgeLock(other, 0, blind, TIMING).stale, false);
    assert.equal(judgeLock(other, 4999, blind, TIMING).stale, false);
    assert.deepEqual(judgeLock(other, 5000, blind, TIMING), {
      stale: true,
      why: "not refreshed for 5 s",
      fence: true,
    });
    assert.match(judgeLock(other, 61_000, blind, TIMING).why, /not refreshed for 61 s/);
  });

  it("takes over with a fence a lock whose mtime is far in the future (a clock stepped back)", () => {
    assert.equal(judgeLock(record({}), -6000, blind, TIMING).stale, true);
    assert.equal(judgeLock(record({}), -100, blind, TIMING).stale, false);
  });

  it("never takes over a live owner in the same scope, however old its lease (a stopped process)", () => {
    const live = record({ pid: 4242, scope: me.scope });
    for (const ageMs of [0, 10_000, 3_600_000]) {
      assert.equal(judgeLock(live, ageMs, me, TIMING).stale, false, `age ${ageMs}`);
    }
    assert.match(judgeLock(live, 10_000, me, TIMING).why, /pid 4242.*may be stopped/);
  });

  it("takes a pid reused by another process (another start time) for a dead owner", () => {
    const started = parseLockRecord(encodeLockRecord({
      pid: 4242,
      scope: me.scope,
      instance: "other",
      nonce: "other.1",
      start: "1000",
    }));
    assert.equal(started.start, "1000");
    const same = { ...me, processStart: () => "1000" };
    const reused = { ...me, processStart: () => "2000" };
    const unknown = { ...me, processStart: () => null };
    assert.equal(judgeLock(started, 10_000, same, TIMING).stale, false);
    assert.deepEqual(judgeLock(started, 10, reused, TIMING), {
      stale: true,
      why: "its owner (pid 4242) is gone",
      fence: false,
    });
    assert.equal(judgeLock(started, 10_000, unknown, TIMING).stale, false, "cannot tell: alive");
  });

  it("takes a lock over at once, without a fence, when its owner is known dead in the same scope", () => {
    const sameScope = record({ scope: me.scope });
    const verdict = judgeLock(sameScope, 10, { ...me, isProcessAlive: dead }, TIMING);
    assert.deepEqual(verdict, { stale: true, why: "its owner (pid 4242) is gone", fence: false });
    const otherScope = record({ scope: "host=b;pid:[9]" });
    const elsewhere = { ...me, isProcessAlive: dead };
    assert.equal(
      judgeLock(otherScope, 10, elsewhere, TIMING).stale,
      false,
      "another host or pid namespace: its pid means nothing here",
    );
    assert.equal(judgeLock(otherScope, 6000, elsewhere, TIMING).stale, true);
    const unknownScope = record({ scope: null });
    const noScope = { ...me, scope: null, isProcessAlive: dead };
    assert.equal(judgeLock(unknownScope, 10, noScope, TIMING).stale, false, "no scope: lease only");
  });

  it("judges an empty or unreadable record by its age alone", () => {
    const empty = parseLockRecord("");
    assert.equal(judgeLock(empty, 10, { ...me, isProcessAlive: dead }, TIMING).stale, false);
    assert.deepEqual(judgeLock(empty, 5000, me, TIMING), {
      stale: true,
      why: "not refreshed for 5 s",
      fence: true,
    });
    assert.equal(parseLockRecord("{not json").pid, null);
    assert.equal(parseLockRecord("4242\n").pid, null, "a bare pid is not a record");
  });

  it("takes over a leftover of this very process (same instance id)", () => {
    assert.equal(judgeLock(record({ instance: "me" }), 10, me, TIMING).stale, true);
  });
});

describe("acquireLock on real files", () => {
  it("creates the lock, refuses a second holder in this process, and removes it on release", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "a.bin");
      const fs = await defaultFs();
      const lock = await acquireLock(fs, `${dest}.part.lock`, dest);
      const written = parseLockRecord(await readFile(`${dest}.part.lock`, "utf8"));
      assert.equal(written.pid, fs.pid);
      assert.ok(written.nonce !== null && written.instance !== null);
      expectBusy(await acquireLock(fs, `${dest}.part.lock`, dest).catch((e) => e));
      await lock.release();
      await lock.release();
      assert.deepEqual(await readdir(dir), []);
      const again = await acquireLock(fs, `${dest}.part.lock`, dest);
      await again.release();
    });
  });

  it("refreshes the lock file's mtime while held (the heartbeat)", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "h.bin");
      const lock = await acquireLock(nodeFs, `${dest}.part.lock`, dest, FAST);
      try {
        await age(`${dest}.part.lock`, 60_000);
        const deadline = Date.now() + 10_000;
        let fresh = false;
        while (!fresh && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          fresh = Date.now() - (await stat(`${dest}.part.lock`)).mtimeMs < 30_000;
        }
        assert.ok(fresh, "the heartbeat moved the mtime back to now");
        assert.equal(lock.signal.aborted, false);
      } finally {
        await lock.release();
      }
    });
  });

  it("judges a lock that is a dangling symlink by its age, then replaces the link", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "s.bin");
      const lockPath = `${dest}.part.lock`;
      await symlink(join(dir, "nowhere"), lockPath);
      const timing: LockTiming = { heartbeatMs: 40, staleMs: 200 };
      expectBusy(await acquireLock(nodeFs, lockPath, dest, timing).catch((e) => e));
      await new Promise((resolve) => setTimeout(resolve, 250));
      const lock = await acquireLock(nodeFs, lockPath, dest, timing);
      assert.ok((await lstat(lockPath)).isFile(), "the link was replaced by a lock file");
      await lock.release();
      assert.deepEqual(await readdir(dir), [], "no lock and no takeover file left");
    });
  });

  it("refuses a fresh foreign lock (retryable) and takes it over once it is stale", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "s.bin");
      const lockPath = `${dest}.part.lock`;
      const foreign = encodeLockRecord({
        pid: 1,
        scope: "host=elsewhere;pid:[1]",
        instance: "x",
        nonce: "x.1",
      });
      await writeFile(lockPath, foreign);
      const error = expectBusy(await acquireLock(nodeFs, lockPath, dest).catch((e) => e));
      assert.match(error.message, /pid 1/);
      assert.equal(await readFile(lockPath, "utf8"), foreign, "a busy lock is left alone");
      await age(lockPath, 6000);
      const lock = await acquireLock(nodeFs, lockPath, dest);
      assert.notEqual(await readFile(lockPath, "utf8"), foreign);
      await lock.release();
      assert.deepEqual(await readdir(dir), [], "no lock and no takeover file left");
    });
  });

  it("aborts its signal when another process took the lock over, and leaves that lock alone", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "lost.bin");
      const lockPath = `${dest}.part.lock`;
      const lock = await acquireLock(nodeFs, lockPath, dest, FAST);
      const usurper = encodeLockRecord({ pid: 1, scope: null, instance: "u", nonce: "u.1" });
      await rm(lockPath); // a taker removes the stale file and creates its own
      await writeFile(lockPath, usurper);
      const reason = await new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("the lease loss was not noticed")), 10_000);
        lock.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve(lock.signal.reason);
        }, { once: true });
      });
      assert.ok(reason instanceof DestinationError, String(reason));
      assert.match(reason.message, /lock lost/);
      assert.equal(reason.retryable, true);
      await lock.release();
      assert.equal(await readFile(lockPath, "utf8"), usurper);
    });
  });

  it("leaves a taker's lock alone when its release was stopped right after finding the lock its own", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "late.bin");
      const lockPath = `${dest}.part.lock`;
      const taker = encodeLockRecord({ pid: 1, scope: null, instance: "t", nonce: "t.1" });
      let releasing = false;
      // The release's read of its own record, then (the owner stopped past its lease) a takeover:
      // the taker's guard renamed over the lock, as takeOver() does.
      const fs: FsShim = {
        ...nodeFs,
        async readFile(path) {
          const bytes = await nodeFs.readFile(path);
          if (releasing && path === lockPath) {
            releasing = false;
            await writeFile(`${dest}.part.takeover`, taker);
            await nodeFs.rename(`${dest}.part.takeover`, lockPath);
          }
          return bytes;
        },
      };
      const lock = await acquireLock(fs, lockPath, dest, TIMING);
      releasing = true;
      await lock.release();
      assert.equal(await readFile(lockPath, "utf8"), taker, "the taker's lock is still there");
      assert.deepEqual(await readdir(dir), ["late.bin.part.lock"]);
    });
  });

  it("lets one taker at a time take a stale lock over (the takeover guard)", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "g.bin");
      const lockPath = `${dest}.part.lock`;
      await writeFile(lockPath, "");
      await age(lockPath, 60_000);
      await writeFile(`${dest}.part.takeover`, "");
      expectBusy(await acquireLock(nodeFs, lockPath, dest).catch((e) => e));
      assert.equal((await readdir(dir)).length, 2, "neither file was touched");
      await age(`${dest}.part.takeover`, 60_000); // its taker died mid-takeover
      expectBusy(await acquireLock(nodeFs, lockPath, dest).catch((e) => e));
      const lock = await acquireLock(nodeFs, lockPath, dest);
      await lock.release();
      assert.deepEqual(await readdir(dir), []);
    });
  });

  it("never removes the takeover guard of a taker that is alive, however old (stopped mid-takeover)", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "stopped.bin");
      const guardPath = `${dest}.part.takeover`;
      await writeFile(`${dest}.part.lock`, "");
      await age(`${dest}.part.lock`, 60_000);
      const pid = process.ppid; // alive: stands for another process's taker, stopped
      const guard = encodeLockRecord({
        pid,
        scope: nodeFs.processScope ?? null,
        instance: "taker",
        nonce: "taker.1",
        start: nodeFs.processStart?.(pid) ?? null,
      });
      await writeFile(guardPath, guard);
      await age(guardPath, 60_000);
      for (let call = 0; call < 2; call++) {
        expectBusy(await acquireLock(nodeFs, `${dest}.part.lock`, dest).catch((e) => e));
      }
      assert.equal(await readFile(guardPath, "utf8"), guard, "the stopped taker's guard is left");
    });
  });

  it("lets no other call take the lock while a taker in this process is paused mid-takeover", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "paused.bin");
      const lockPath = `${dest}.part.lock`;
      await writeFile(lockPath, "");
      await age(lockPath, 60_000);
      let pause!: () => void;
      const paused = new Promise<void>((resolve) => (pause = resolve));
      let resume!: () => void;
      const resumed = new Promise<void>((resolve) => (resume = resolve));
      const stop = () => (pause(), resumed);
      const slow: FsShim = {
        ...nodeFs,
        async rename(from: string, to: string) {
          if (to === lockPath) await stop(); // between its judgement and its replacing the stale lock
          return await nodeFs.rename(from, to);
        },
        async remove(path: string) {
          if (path === lockPath) await stop(); // (or its removing it)
          return await nodeFs.remove(path);
        },
      };
      const first = acquireLock(slow, lockPath, dest);
      await paused;
      await age(`${dest}.part.takeover`, 60_000); // stopped for longer than the lease
      const others: DestinationLock[] = [];
      for (let call = 0; call < 2; call++) {
        const other = await acquireLock(nodeFs, lockPath, dest).catch((e) => e);
        if (other instanceof Error) expectBusy(other);
        else others.push(other);
      }
      resume();
      const taken = await first.catch((e) => e);
      for (const held of [...others, taken]) if (!(held instanceof Error)) await held.release();
      assert.equal(others.length, 0, "another call took the lock while its taker was paused");
      assert.ok(!(taken instanceof Error), String(taken));
    });
  });

  it("never lets a call take the lock unfenced while a taker replaces a stale one", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "swap.bin");
      const lockPath = `${dest}.part.lock`;
      // An owner whose liveness cannot be seen (another host), silent for a minute: it may be stopped.
      const stale = encodeLockRecord({
        pid: 7,
        scope: "host=elsewhere",
        instance: "x",
        nonce: "x.1",
      });
      await writeFile(lockPath, stale);
      await age(lockPath, 60_000);
      let pause!: () => void;
      const paused = new Promise<void>((resolve) => (pause = resolve));
      let resume!: () => void;
      const resumed = new Promise<void>((resolve) => (resume = resolve));
      const slow: FsShim = {
        ...nodeFs,
        async remove(path: string) {
          await nodeFs.remove(path);
          if (path === lockPath) {
            pause();
            await resumed; // between the stale lock's removal and its own lock's creation
          }
        },
        async rename(from: string, to: string) {
          await nodeFs.rename(from, to);
          if (to === lockPath) {
            pause();
            await resumed;
          }
        },
      };
      const taker = acquireLock(slow, lockPath, dest);
      await paused;
      const other = await acquireLock(nodeFs, lockPath, dest).catch((e) => e);
      resume();
      const lock = await taker.catch((e) => e);
      for (const held of [other, lock]) {
        if (held instanceof Error) expectBusy(held);
        else {
          assert.equal(held.fenced, true, "whoever holds it must fence the silent owner");
          await held.release();
        }
      }
    });
  });

  it("gives exactly one of many concurrent takers a stale lock", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "race.bin");
      const lockPath = `${dest}.part.lock`;
      await writeFile(lockPath, "");
      await age(lockPath, 60_000);
      // One process refuses a second holder of a path by itself, so the takers are processes.
      const takers = await Promise.all(
        [0, 1, 2, 3].map(() => runtimeChild(HOLDER, [dest], { readWriteDir: dir })),
      );
      try {
        const lines = await Promise.all(takers.map((child) => child.firstLine()));
        const held = lines.filter((line) => JSON.parse(line).held === true);
        assert.equal(held.length, 1, lines.join("\n"));
        for (const line of lines) {
          const parsed = JSON.parse(line) as { held: boolean; retryable?: boolean };
          if (!parsed.held) assert.equal(parsed.retryable, true, line);
        }
      } finally {
        for (const child of takers) await child.kill();
      }
    });
  });

  it("takes over a SIGKILLed Deno holder's lock without pids: at once by its flock on Deno, else after its lease", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "k.bin");
      const lockPath = `${dest}.part.lock`;
      // A Deno child with only read and write on dir: no run, no sys, no /proc.
      const holder = runtimeChild(HOLDER, [dest], { readWriteDir: dir, runtime: "deno" });
      try {
        assert.deepEqual(JSON.parse(await holder.firstLine()), { held: true });
        const record = parseLockRecord(await readFile(lockPath, "utf8"));
        assert.equal(record.scope, null);
        assert.equal(record.flock, true, "a Deno owner holds a flock on its lock file");
      } finally {
        await holder.kill();
      }
      const killedAt = Date.now();
      const fs = await defaultFs();
      // Only a taker that can take flocks (Deno) sees at once that the kernel dropped it.
      const canFlock = currentRuntime() === "deno";
      let lock = null;
      let busy = 0;
      for (let tries = 0; lock === null && tries < 300; tries++) {
        lock = await acquireLock(fs, lockPath, dest).catch((error: unknown) => {
          expectBusy(error);
          busy++;
          return null;
        });
        if (lock === null) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(lock !== null, "taken over within 30 s");
      const waited = Date.now() - killedAt;
      if (canFlock) {
        assert.equal(busy, 0, "taken over at the first try");
      } else {
        assert.ok(busy >= 1, "busy while the lease was fresh");
        assert.ok(waited >= 3500, `taken over after ${waited} ms, before the lease ran out`);
      }
      await lock.release();
      assert.deepEqual(await readdir(dir), []);
    });
  });

  it("never takes a live Deno holder's lock by its flock", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "live.bin");
      const lockPath = `${dest}.part.lock`;
      const holder = runtimeChild(HOLDER, [dest], { readWriteDir: dir, runtime: "deno" });
      try {
        assert.deepEqual(JSON.parse(await holder.firstLine()), { held: true });
        const fs = await defaultFs();
        for (let tries = 0; tries < 5; tries++) {
          expectBusy(await acquireLock(fs, lockPath, dest).catch((e) => e));
        }
        assert.equal(parseLockRecord(await readFile(lockPath, "utf8")).flock, true);
      } finally {
        await holder.kill();
      }
    });
  });

  it("takes over at once the lock of a SIGKILLed holder whose pid it can check", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "q.bin");
      const lockPath = `${dest}.part.lock`;
      const holder = runtimeChild(HOLDER, [dest], { readWriteDir: dir, runtime: "node" });
      try {
        assert.deepEqual(JSON.parse(await holder.firstLine()), { held: true });
      } finally {
        await holder.kill();
      }
      const fs = await defaultFs();
      if (fs.processScope === null || fs.processScope === undefined) {
        // This runtime cannot compare pids (Deno without --allow-all): the lease decides.
        expectBusy(await acquireLock(fs, lockPath, dest).catch((e) => e));
        return;
      }
      const lock = await acquireLock(fs, lockPath, dest);
      await lock.release();
      assert.deepEqual(await readdir(dir), []);
    });
  });
});
