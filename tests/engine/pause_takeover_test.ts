/**
 * Ownership through a pause (src/store/lock.ts, src/store/ownership.ts): a
 * child process downloading is stopped with SIGSTOP for longer than the
 * lock's lease (or in its commit, before the fsync of the complete `.part`),
 * a second child asks for the same destination, and the first
 * is continued while the second streams or after it has committed; the file
 * on the server stays the same or is replaced by another version meanwhile.
 * Whatever happens, `dest` is exactly one version the server served and every
 * child that reports success reports the SHA-256 of the file at `dest`.
 *
 * - Where the second can tell the first is alive (same host and pid
 *   namespace, or a held flock), it is refused as busy (retryable), however
 *   old the lease; the first, continued, finishes.
 * - Where it cannot (a Deno child without `--allow-run` facing a Node or Bun
 *   owner), it takes over once the lease has run out and fences the first
 *   out: the first, continued, saves nothing and fails with a retryable error.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, stat } from "node:fs/promises";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";
import {
  type ChildPermissions,
  currentRuntime,
  type RuntimeChild,
  runtimeChild,
} from "../helpers/runtime.ts";

const CHILD = fileURLToPath(new URL("../fixtures/haul_child.ts", import.meta.url));
const SIZE = 1536 * 1024 + 321;
const RATE = 768 * 1024;
const STALE_MS = 800;
/** A short lease, so a test need not wait 5 s; and frequent checkpoints. */
const HOOKS = JSON.stringify({ lockTiming: { heartbeatMs: 100, staleMs: STALE_MS } });
const OPTIONS = JSON.stringify({ checkpointEvery: { bytes: 64 * 1024, ms: 50 } });

interface Outcome {
  readonly ok: boolean;
  readonly sha256?: string | null;
  readonly size?: number;
  readonly alreadyComplete?: boolean;
  readonly resumedFrom?: number;
  readonly message?: string;
  readonly retryable?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function sizeOf(path: string): Promise<number> {
  return await stat(path).then((info) => info.size, () => -1);
}

/** Polls `condition` every 20 ms for up to 20 s. */
async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function outcomeOf(child: RuntimeChild): Promise<Outcome> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise((resolve) => (timer = setTimeout(() => resolve("hung"), 30_000)));
  const code = await Promise.race([child.exited, hung]);
  clearTimeout(timer);
  assert.notEqual(code, "hung", `the child did not finish: ${child.output()}`);
  const line = child.output().split("\n").find((text) => text.startsWith('{"ok"'));
  assert.ok(line !== undefined, `no outcome from the child: ${child.output()}`);
  return JSON.parse(line) as Outcome;
}

interface Trial {
  /** Who downloads first, and who comes second. */
  readonly owner: ChildPermissions;
  readonly taker: (dir: string, host: string) => ChildPermissions;
  /** Whether the server's file is replaced by another version while the owner is stopped. */
  readonly changed: boolean;
  /** When the owner is continued: as soon as the taker has its answer or is streaming, or once it is done. */
  readonly resume: "taker-running" | "taker-done";
  /** Where the owner is stopped: while it streams (default), or in its commit, before the fsync. */
  readonly stopAt?: "streaming" | "commit";
  /** The owner downloads over 4 connections from two mirrors, the second cutting every body. */
  readonly mirrors?: boolean;
}

/** The taker finished and the stopped owner, continued, failed with a retryable "lock lost". */
function assertFencedOut(first: Outcome, second: Outcome): void {
  assert.equal(second.ok, true, `the second call takes over: ${JSON.stringify(second)}`);
  assert.equal(first.ok, false, `the first call is fenced out: ${JSON.stringify(first)}`);
  assert.equal(first.retryable, true);
  assert.match(first.message ?? "", /lock lost/);
}

/** Runs one trial; returns both outcomes, after checking `dest` against every success. */
async function pauseAndTakeOver(trial: Trial) {
  const versions = [
    { body: randomBody(SIZE), etag: '"version-a"' },
    { body: randomBody(SIZE), etag: '"version-b"' },
  ];
  let current = versions[0]!;
  const server = await startResourceServer(
    () => ({ body: current.body, etag: current.etag }),
    (_req, honest) => ({ ...honest, bytesPerSecond: RATE }),
  );
  // Its bodies are cut part-way: the owner keeps their bytes and gives the rest back.
  const mirror = trial.mirrors
    ? await startResourceServer(
      () => ({ body: current.body, etag: current.etag }),
      (_req, honest) => ({ ...honest, bytesPerSecond: RATE, cutAfter: 48 * 1024 }),
    )
    : null;
  const children: RuntimeChild[] = [];
  try {
    return await withTempDir(async (dir) => {
      const dest = join(dir, "paused.bin");
      const url = `${server.url}/file`;
      const ownerSource = mirror === null ? url : JSON.stringify([url, `${mirror.url}/file`]);
      const ownerOptions = mirror === null ? OPTIONS : OPTIONS.replace("{", '{"connections":4,');
      const inCommit = trial.stopAt === "commit";
      // In its commit, the owner's fsync of the complete `.part` waits 3 s: it is stopped then.
      const env: Record<string, string> = inCommit ? { HAUL_CHILD_SYNC_DELAY_MS: "3000" } : {};
      const owner = runtimeChild(CHILD, [ownerSource, dest, ownerOptions, HOOKS], trial.owner, env);
      children.push(owner);
      await until(
        async () =>
          (await sizeOf(`${dest}.part.ctrl`)) > 0 &&
          (await sizeOf(`${dest}.part`)) > (inCommit ? SIZE - 1 : 128e3),
        inCommit ? "the owner's last byte" : "the owner's first checkpoint",
      );
      process.kill(owner.proc.pid!, "SIGSTOP");
      let continued = false;
      const resumeOwner = () => {
        if (!continued) process.kill(owner.proc.pid!, "SIGCONT");
        continued = true;
      };
      try {
        await sleep(STALE_MS * 2); // the lease runs out
        if (trial.changed) current = versions[1]!;
        const requests = server.requests.length;
        const host = new URL(server.url).host;
        const taker = runtimeChild(CHILD, [url, dest, OPTIONS, HOOKS], trial.taker(dir, host));
        children.push(taker);
        if (trial.resume === "taker-running") {
          await until(
            () => Promise.resolve(taker.hasExited || server.requests.length > requests),
            "the second child's request or answer",
          );
          resumeOwner();
        } else {
          await taker.exited;
          resumeOwner();
        }
        const [first, second] = [await outcomeOf(owner), await outcomeOf(taker)];
        const names = (await readdir(dir)).sort();
        const bytes = await bytesOf(dest).catch(() => null);
        assert.ok(bytes !== null, `dest exists: ${JSON.stringify({ first, second, names })}`);
        const digest = sha256(bytes);
        assert.ok(
          versions.some((version) => sha256(version.body) === digest),
          "dest is exactly one version the server served",
        );
        for (const outcome of [first, second]) {
          if (!outcome.ok) continue;
          // A dest found complete is kept unread (no integrity): no digest then.
          const reported = outcome.alreadyComplete === true ? null : digest;
          assert.equal(outcome.sha256, reported, "a success reports the file at dest");
          assert.equal(outcome.size, bytes.length);
        }
        assert.deepEqual(names, ["paused.bin"], "nothing is left beside dest");
        return { first, second, digest, versions: versions.map((v) => sha256(v.body)) };
      } finally {
        resumeOwner();
      }
    });
  } finally {
    for (const child of children) await child.kill();
    await server.close();
    await mirror?.close();
  }
}

const here = currentRuntime();

describe("An owner stopped past its lease, where its liveness can be seen", () => {
  for (const changed of [false, true]) {
    it(
      `is never taken over: the second call is busy and the first finishes (file ${
        changed ? "changed" : "unchanged"
      })`,
      {
        timeout: 90_000,
      },
      async () => {
        const { first, second, digest, versions } = await pauseAndTakeOver({
          owner: { runtime: here, allowAll: true },
          taker: () => ({ runtime: here, allowAll: true }),
          changed,
          resume: "taker-done",
        });
        assert.equal(second.ok, false, JSON.stringify(second));
        assert.equal(second.retryable, true);
        assert.match(second.message ?? "", /Destination busy.*may be stopped/);
        assert.equal(first.ok, true, JSON.stringify(first));
        assert.equal(digest, versions[0], "the first call's version: its response was under way");
      },
    );
  }

  it("is never taken over by its flock when both are least-privileged Deno processes", {
    timeout: 90_000,
  }, async () => {
    const deno = (dir: string, host: string): ChildPermissions => ({
      runtime: "deno",
      readWriteDir: dir,
      net: host,
    });
    const { first, second } = await pauseAndTakeOver({
      owner: { runtime: "deno", allowAll: true },
      taker: deno,
      changed: false,
      resume: "taker-done",
    });
    assert.equal(second.ok, false, JSON.stringify(second));
    assert.match(second.message ?? "", /Destination busy/);
    assert.equal(first.ok, true, JSON.stringify(first));
  });

  it("is never taken over while it gives a cut mirror's ranges back over 4 connections", {
    timeout: 90_000,
  }, async () => {
    const { first, second, digest, versions } = await pauseAndTakeOver({
      owner: { runtime: here, allowAll: true },
      taker: () => ({ runtime: here, allowAll: true }),
      changed: true,
      resume: "taker-done",
      mirrors: true,
    });
    assert.equal(second.ok, false, JSON.stringify(second));
    assert.match(second.message ?? "", /Destination busy/);
    assert.equal(first.ok, true, JSON.stringify(first));
    assert.equal(digest, versions[0]);
  });
});

describe("An owner stopped past its lease, where its liveness cannot be seen", () => {
  // A Deno taker without --allow-run cannot check a Node or Bun owner's pid, and those have no flock.
  const owner: ChildPermissions = { runtime: here === "deno" ? "node" : here };
  const blindDeno = (dir: string, host: string): ChildPermissions => ({
    runtime: "deno",
    readWriteDir: dir,
    net: host,
  });
  for (const changed of [false, true]) {
    for (const resume of ["taker-running", "taker-done"] as const) {
      const when = resume === "taker-running" ? "while the second streams" : "after it committed";
      it(
        `is fenced out: continued ${when}, it saves nothing and fails (file ${
          changed ? "changed" : "unchanged"
        })`,
        {
          timeout: 90_000,
        },
        async () => {
          const { first, second, digest, versions } = await pauseAndTakeOver({
            owner,
            taker: blindDeno,
            changed,
            resume,
          });
          assertFencedOut(first, second);
          assert.equal(digest, versions[changed ? 1 : 0]);
        },
      );
    }
  }

  it(
    "is fenced out while it gives a cut mirror's ranges back over 4 connections, the file changed",
    {
      timeout: 90_000,
    },
    async () => {
      const { first, second, digest, versions } = await pauseAndTakeOver({
        owner,
        taker: blindDeno,
        changed: true,
        resume: "taker-running",
        mirrors: true,
      });
      assertFencedOut(first, second);
      assert.equal(digest, versions[1]);
    },
  );

  it(
    "is fenced out with ranges of 4 connections mid-flight and others done, the file unchanged: the second resumes them",
    {
      timeout: 90_000,
    },
    async () => {
      const { first, second, digest, versions } = await pauseAndTakeOver({
        owner,
        taker: blindDeno,
        changed: false,
        resume: "taker-running",
        mirrors: true,
      });
      assertFencedOut(first, second);
      assert.equal(digest, versions[0]);
      assert.ok((second.resumedFrom ?? 0) > 0, `the second resumes: ${JSON.stringify(second)}`);
    },
  );

  it(
    "is fenced out when stopped in its commit, before its fsync, while the file changes: it publishes nothing and fails",
    {
      timeout: 90_000,
    },
    async () => {
      const { first, second, digest, versions } = await pauseAndTakeOver({
        owner,
        taker: blindDeno,
        changed: true,
        resume: "taker-done",
        stopAt: "commit",
      });
      assertFencedOut(first, second);
      assert.equal(digest, versions[1], "the second call's version");
    },
  );
});
