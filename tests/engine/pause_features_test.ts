/**
 * Ownership through a pause, for the features beside the plain download (the plain one:
 * `pause_takeover_test.ts`): `revalidate` (a 304 that keeps `dest`), `remoteTime` (the mtime
 * stamped on `.part` before the commit) and `integrity` (sha512). A child is stopped with SIGSTOP
 * at one step (`HAUL_CHILD_DELAY_AT` in `tests/fixtures/haul_child.ts` holds it there) for longer
 * than the lock's lease, a Deno child that cannot see its liveness takes the destination over and
 * commits another version, and the first is continued. It must not report a file it no longer
 * owns, nor touch the taker's: it fails with a retryable "lock lost", and `dest` is the taker's
 * version, with the taker's mtime, nothing beside it. Killed (SIGKILL) at those steps instead, it
 * leaves what the next call finishes or removes. A `haulAll()` batch (the command line's
 * `-i LIST -j 2 --json`) stopped while one item is taken over reports for it the file at its `dest`;
 * `haulStream()` (`-o -`) leaves no file, stopped, continued or killed.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { readdir, stat, utimes, writeFile } from "node:fs/promises";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { startCli } from "../fixtures/cli_run.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";
import {
  type ChildPermissions,
  currentRuntime,
  type RuntimeChild,
  runtimeChild,
} from "../helpers/runtime.ts";

const CHILD = fileURLToPath(new URL("../fixtures/haul_child.ts", import.meta.url));
const STALE_MS = 800;
/** A short lease, so a test need not wait 5 s. */
const HOOKS = JSON.stringify({ lockTiming: { heartbeatMs: 100, staleMs: STALE_MS } });
const OLD = {
  body: randomBody(300_000),
  etag: '"old"',
  lastModified: "Mon, 02 Jun 2025 10:00:00 GMT",
};
const NEW = {
  body: randomBody(500_000),
  etag: '"new"',
  lastModified: "Tue, 03 Jun 2025 12:30:00 GMT",
};

interface Outcome {
  readonly ok: boolean;
  readonly sha256?: string | null;
  readonly sha512?: string | null;
  readonly size?: number;
  readonly status?: number;
  readonly message?: string;
  readonly retryable?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `child` to exit, for up to 30 s. */
async function exitOf(child: RuntimeChild): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise((resolve) => (timer = setTimeout(resolve, 30_000)));
  await Promise.race([child.exited, hung]).finally(() => clearTimeout(timer));
  assert.ok(child.hasExited, `the child finished: ${child.output()}`);
}

function sha512Integrity(body: Uint8Array): string {
  return `sha512-${createHash("sha512").update(body).digest("base64")}`;
}

/** Polls `condition` every 20 ms for up to 20 s. */
async function until(
  condition: () => boolean,
  what: string,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (condition()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}; the child said: ${output()}`);
}

function outcomeIn(output: string): Outcome {
  const line = output.split("\n").find((text) => text.startsWith('{"ok"'));
  assert.ok(line !== undefined, `no outcome from the child: ${output}`);
  return JSON.parse(line) as Outcome;
}

interface Trial {
  /** The owner's options (besides `dest`). */
  readonly options: Record<string, unknown>;
  /** The step it is stopped at. */
  readonly stopAt: "close" | "size";
  /** What `dest` holds first: OLD (its Last-Modified as mtime), an older file, or nothing. */
  readonly existing: "current" | "older" | null;
}

/**
 * Serves `version()`: a 304 to an `If-Modified-Since` not older than its Last-Modified, else the
 * file with a `Date` long after its Last-Modified (a strong validator, stamped on the file).
 */
function revalidatingServer(version: () => typeof OLD) {
  return startResourceServer(version, (req, honest) => {
    const { lastModified } = version();
    const since = req.headers["if-modified-since"];
    if (since !== undefined && Date.parse(lastModified) <= Date.parse(since)) {
      return { status: 304, headers: [["Last-Modified", lastModified]] };
    }
    const date: [string, string] = ["Date", new Date().toUTCString()];
    return { ...honest, headers: [...honest.headers as [string, string][], date] };
  });
}

/**
 * The owner (a Node or Bun child) is stopped at `trial.stopAt` while the server serves OLD; the
 * server then serves NEW, a Deno child without `--allow-run` takes over and commits NEW with
 * `overwrite`, and the owner is continued. Returns the owner's outcome, after checking `dest` is
 * NEW, with the taker's mtime, that a success reports its size, and that nothing is beside it.
 */
async function stopAndTakeOver(trial: Trial): Promise<Outcome> {
  let current = OLD;
  const server = await revalidatingServer(() => current);
  const url = `${server.url}/file`;
  const children: RuntimeChild[] = [];
  let stopped: RuntimeChild | null = null;
  try {
    return await withTempDir(async (dir) => {
      const dest = join(dir, "kept.bin");
      if (trial.existing !== null) {
        await writeFile(dest, trial.existing === "current" ? OLD.body : randomBody(1000));
        const mtime = new Date(trial.existing === "current" ? OLD.lastModified : 0);
        await utimes(dest, mtime, mtime);
      }
      const here = currentRuntime();
      const owner = runtimeChild(
        CHILD,
        [url, dest, JSON.stringify(trial.options), HOOKS],
        { runtime: here === "deno" ? "node" : here },
        { HAUL_CHILD_DELAY_AT: `${trial.stopAt}:3000` },
      );
      children.push(owner);
      await until(
        () => owner.output().includes(`{"delay":"${trial.stopAt}"}`),
        `the step: ${trial.stopAt}`,
        owner.output,
      );
      process.kill(owner.proc.pid!, "SIGSTOP");
      stopped = owner;
      await sleep(STALE_MS * 2); // the lease runs out
      current = NEW;
      const blind: ChildPermissions = {
        runtime: "deno",
        readWriteDir: dir,
        net: new URL(server.url).host,
      };
      const overwrite = JSON.stringify({ overwrite: true });
      const taker = runtimeChild(CHILD, [url, dest, overwrite, HOOKS], blind);
      children.push(taker);
      await exitOf(taker);
      assert.equal(outcomeIn(taker.output()).ok, true, `the taker commits: ${taker.output()}`);
      const takerMtime = (await stat(dest)).mtimeMs;
      process.kill(owner.proc.pid!, "SIGCONT");
      stopped = null;
      await exitOf(owner);
      const first = outcomeIn(owner.output());
      const bytes = await bytesOf(dest);
      assert.equal(sha256(bytes), sha256(NEW.body), "dest is the taker's version");
      assert.equal((await stat(dest)).mtimeMs, takerMtime, "the taker's file is not touched");
      if (first.ok) {
        assert.equal(first.size, bytes.length, `a success reports dest: ${JSON.stringify(first)}`);
      }
      assert.deepEqual(await readdir(dir), ["kept.bin"], "nothing is left beside dest");
      return first;
    });
  } finally {
    if (stopped !== null) process.kill((stopped as RuntimeChild).proc.pid!, "SIGCONT");
    for (const child of children) await child.kill();
    await server.close();
  }
}

function assertLockLost(first: Outcome): void {
  assert.equal(first.ok, false, `the woken owner reports nothing: ${JSON.stringify(first)}`);
  assert.equal(first.retryable, true, JSON.stringify(first));
  assert.match(first.message ?? "", /lock lost/);
}

describe("An owner stopped past its lease, taken over by a call that cannot see it", () => {
  const trials: [string, Trial][] = [
    ["after a 304 (revalidate), woken once the taker replaced dest, fails: lock lost", {
      options: { revalidate: true },
      stopAt: "close",
      existing: "current",
    }],
    ["after a 304 with a sha512 integrity of the old file, fails: lock lost, no integrity error", {
      options: { revalidate: true, integrity: sha512Integrity(OLD.body) },
      stopAt: "close",
      existing: "current",
    }],
    ["before it stamps the server's time on .part (remoteTime), stamps nothing: lock lost", {
      options: { remoteTime: true },
      stopAt: "size",
      existing: null,
    }],
    ["before it stamps a revalidated 200's time, with sha512 integrity: lock lost", {
      options: { revalidate: true, integrity: sha512Integrity(OLD.body) },
      stopAt: "size",
      existing: "older",
    }],
  ];
  for (const [name, trial] of trials) {
    it(name, { timeout: 60_000 }, async () => assertLockLost(await stopAndTakeOver(trial)));
  }
});

/**
 * The owner is killed (SIGKILL) at `stopAt`; the next call, with `next` as options, must resume or
 * clean up: it succeeds, `dest` is OLD (mtime its Last-Modified when `stamped`), nothing beside it.
 */
async function killAndCallAgain(
  trial: Trial & { readonly next: Record<string, unknown>; readonly stamped: boolean },
): Promise<Outcome> {
  const server = await revalidatingServer(() => OLD);
  const url = `${server.url}/file`;
  const children: RuntimeChild[] = [];
  try {
    return await withTempDir(async (dir) => {
      const dest = join(dir, "kept.bin");
      if (trial.existing !== null) {
        await writeFile(dest, trial.existing === "current" ? OLD.body : randomBody(1000));
        const mtime = new Date(trial.existing === "current" ? OLD.lastModified : 0);
        await utimes(dest, mtime, mtime);
      }
      const owner = runtimeChild(CHILD, [url, dest, JSON.stringify(trial.options), HOOKS], {}, {
        HAUL_CHILD_DELAY_AT: `${trial.stopAt}:3000`,
      });
      children.push(owner);
      await until(
        () => owner.output().includes(`{"delay":"${trial.stopAt}"}`),
        `the step: ${trial.stopAt}`,
        owner.output,
      );
      await owner.kill();
      const again = runtimeChild(CHILD, [url, dest, JSON.stringify(trial.next), HOOKS]);
      children.push(again);
      await exitOf(again);
      const second = outcomeIn(again.output());
      assert.equal(second.ok, true, again.output());
      const bytes = await bytesOf(dest);
      assert.equal(sha256(bytes), sha256(OLD.body), "dest is the server's file");
      assert.equal(second.size, bytes.length);
      if (trial.stamped) {
        assert.equal((await stat(dest)).mtimeMs, Date.parse(OLD.lastModified), "its mtime");
      }
      assert.deepEqual(await readdir(dir), ["kept.bin"], "nothing is left beside dest");
      return second;
    });
  } finally {
    for (const child of children) await child.kill();
    await server.close();
  }
}

describe("An owner killed (SIGKILL) in the steps of revalidate and remoteTime", () => {
  for (const next of [{ revalidate: true }, {}]) {
    it(`after a 304, before it returns: the next call (${JSON.stringify(next)}) cleans up`, {
      timeout: 60_000,
    }, async () => {
      const second = await killAndCallAgain({
        options: { revalidate: true },
        stopAt: "close",
        existing: "current",
        next,
        stamped: true,
      });
      assert.equal(second.status, next.revalidate === true ? 304 : 0);
    });
  }

  it("in its commit, before the stamp: the next call finishes it with the server's time", {
    timeout: 60_000,
  }, async () => {
    await killAndCallAgain({
      options: { remoteTime: true },
      stopAt: "size",
      existing: null,
      next: { remoteTime: true },
      stamped: true,
    });
  });

  it("in a revalidated 200's commit: the next -N call finishes it, no 304 for the old file", {
    timeout: 60_000,
  }, async () => {
    await killAndCallAgain({
      options: { revalidate: true },
      stopAt: "size",
      existing: "older",
      next: { revalidate: true },
      stamped: true,
    });
  });
});

describe("haulStream through the command line's -o -, stopped and killed", () => {
  it("creates no file, lock or sidecar: while it streams, stopped, continued or killed", {
    timeout: 60_000,
  }, async () => {
    const body = randomBody(2 << 20);
    const server = await startResourceServer(
      { body },
      (_req, honest) => ({ ...honest, bytesPerSecond: 256 * 1024 }),
    );
    try {
      await withTempDir(async (dir) => {
        const cli = startCli([`${server.url}/file.bin`, "-o", "-"], { cwd: dir });
        try {
          await until(() => cli.stdout().length > 64 * 1024, "streamed bytes", cli.stderr);
          assert.deepEqual(await readdir(dir), [], "nothing while it streams");
          process.kill(cli.child.pid!, "SIGSTOP");
          await sleep(STALE_MS);
          assert.deepEqual(await readdir(dir), [], "nothing while it is stopped");
          process.kill(cli.child.pid!, "SIGCONT");
          await until(() => cli.stdout().length > 256 * 1024, "more bytes", cli.stderr);
          assert.deepEqual(await readdir(dir), [], "nothing once continued");
          cli.kill();
          const { signal } = await cli.done;
          assert.equal(signal, "SIGKILL");
          assert.deepEqual(await readdir(dir), [], "nothing after a kill");
        } finally {
          if (cli.child.exitCode === null && cli.child.signalCode === null) {
            process.kill(cli.child.pid!, "SIGCONT");
          }
          cli.kill();
          await cli.done;
        }
      });
    } finally {
      await server.close();
    }
  });
});

describe("A haulAll() batch (the command line's -i LIST -j 2) stopped while one item is taken over", () => {
  it("reports for that item the file at its dest, and finishes the other", {
    timeout: 90_000,
  }, async () => {
    const SIZE = 512 * 1024;
    const a = { old: randomBody(SIZE), new: randomBody(SIZE + 4321), other: randomBody(SIZE) };
    let aNow = { body: a.old, etag: '"a-old"' };
    const server = await startResourceServer(
      (req) => (req.path === "/a.bin" ? aNow : { body: a.other, etag: '"b"' }),
      (_req, honest) => ({ ...honest, bytesPerSecond: 256 * 1024 }),
    );
    const children: RuntimeChild[] = [];
    let stopped: RuntimeChild | null = null;
    try {
      await withTempDir(async (dir) => {
        const out = join(dir, "out");
        const list = join(dir, "list.txt");
        await writeFile(list, `${server.url}/a.bin\n${server.url}/b.bin\n`);
        const here = currentRuntime();
        const cli = fileURLToPath(new URL("../../cli.ts", import.meta.url));
        const args = ["-i", list, "--dir", out, "-j", "2", "--json"];
        const batch = runtimeChild(cli, args, { runtime: here === "deno" ? "node" : here });
        children.push(batch);
        const destA = join(out, "a.bin");
        await until(
          () => existsSync(`${destA}.part`) && statSync(`${destA}.part`).size > 64 * 1024,
          "a.bin's first bytes",
          batch.output,
        );
        process.kill(batch.proc.pid!, "SIGSTOP");
        stopped = batch;
        await sleep(STALE_MS * 2); // a.bin's lease (and b.bin's) runs out
        aNow = { body: a.new, etag: '"a-new"' };
        const blind: ChildPermissions = {
          runtime: "deno",
          readWriteDir: dir,
          net: new URL(server.url).host,
        };
        const taker = runtimeChild(CHILD, [`${server.url}/a.bin`, destA, "{}", HOOKS], blind);
        children.push(taker);
        await exitOf(taker);
        assert.equal(outcomeIn(taker.output()).ok, true, `the taker commits: ${taker.output()}`);
        process.kill(batch.proc.pid!, "SIGCONT");
        stopped = null;
        await exitOf(batch);
        const reports = batch.output().split("\n").filter((line) => line.startsWith('{"status"'))
          .map((line) => JSON.parse(line) as Outcome & { dest: string; status: string });
        const bytesA = await bytesOf(destA);
        assert.equal(sha256(bytesA), sha256(a.new), "a.bin is the taker's version");
        assert.equal(sha256(await bytesOf(join(out, "b.bin"))), sha256(a.other));
        const reportA = reports.find((report) => report.dest.endsWith("a.bin"));
        const reportB = reports.find((report) => report.dest.endsWith("b.bin"));
        assert.ok(reportA !== undefined && reportB !== undefined, batch.output());
        assert.equal(reportB.status, "done", JSON.stringify(reportB));
        assert.equal(reportB.sha256, sha256(a.other));
        if (reportA.status !== "failed") {
          assert.equal(reportA.size, bytesA.length, `a.bin's report: ${JSON.stringify(reportA)}`);
          assert.ok(reportA.sha256 === null || reportA.sha256 === sha256(bytesA));
        }
        assert.deepEqual((await readdir(out)).sort(), ["a.bin", "b.bin"], "nothing beside them");
      });
    } finally {
      if (stopped !== null) process.kill((stopped as RuntimeChild).proc.pid!, "SIGCONT");
      for (const child of children) await child.kill();
      await server.close();
    }
  });
});
