/**
 * haul under Deno as Deno users run scripts: exactly `--allow-net=HOST
 * --allow-read=DIR --allow-write=DIR` (no `--allow-run`, no `-A`). A child
 * with those flags is SIGKILLed mid-download, and a child with the same
 * flags resumes it at once: the kernel dropped the killed child's flock on
 * its lock file (a user's retry loop is kept, in case it is still busy). A missing flag is a clear, non-retryable error that names it.
 * On a terminal, where Deno prompts for what it was not granted, haul never makes it prompt. And
 * Node's permission model (`--permission`), which refuses every fsync from Node 24.13 on, is a
 * clear error that says so. Runs under every runtime: the children are always the pinned Deno
 * (or Node).
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";
import {
  type ChildPermissions,
  onTerminal,
  outputOf,
  REPO_ROOT,
  runtimeChild,
  runtimeCommand,
  runtimeExecutable,
} from "../helpers/runtime.ts";

const CHILD = fileURLToPath(new URL("../fixtures/least_privilege_child.ts", import.meta.url));
const BODY_SIZE = 4 * 1024 * 1024 + 777;

interface ChildLine {
  readonly ok: boolean;
  readonly sha256?: string;
  readonly resumedFrom?: number;
  readonly name?: string;
  readonly message?: string;
  readonly retryable?: boolean;
}

/** Runs the haul child to its end and returns its JSON line. */
async function haulChild(
  url: string,
  dest: string,
  permissions: ChildPermissions,
) {
  const child = runtimeChild(CHILD, ["haul", url, dest], { ...permissions, runtime: "deno" });
  try {
    const line = await child.firstLine();
    await child.exited;
    return JSON.parse(line) as ChildLine;
  } finally {
    await child.kill();
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

describe("Deno with only --allow-net, --allow-read and --allow-write", () => {
  it("resumes a SIGKILLed download at once: the dead child's flock is gone", {
    timeout: 120_000,
  }, async () => {
    const body = randomBody(BODY_SIZE);
    const server = await startResourceServer({ body, etag: '"lp-1"' }, (_req, honest) => ({
      ...honest,
      bytesPerSecond: 2 * 1024 * 1024,
      chunkSize: 32 * 1024,
    }));
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "data.tar");
        const flags: ChildPermissions = { net: `127.0.0.1:${server.port}`, readWriteDir: dir };
        const first = runtimeChild(CHILD, ["haul", `${server.url}/data.tar`, dest], {
          ...flags,
          runtime: "deno",
        });
        try {
          const deadline = Date.now() + 60_000;
          while (Date.now() < deadline && sizeOf(`${dest}.part`) < BODY_SIZE * 0.3) {
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          assert.ok(
            existsSync(`${dest}.part.ctrl`),
            `a checkpoint before the kill: ${first.output()}`,
          );
        } finally {
          await first.kill();
        }
        assert.equal(existsSync(dest), false);
        assert.ok(existsSync(`${dest}.part.lock`), "the killed child's lock stays behind");

        const outcomes: ChildLine[] = [];
        for (let attempt = 0; attempt < 40; attempt++) {
          const outcome = await haulChild(`${server.url}/data.tar`, dest, flags);
          outcomes.push(outcome);
          if (outcome.ok || outcome.retryable !== true) break;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        const last = outcomes.at(-1)!;
        assert.equal(last.ok, true, JSON.stringify(outcomes));
        // The killed child held a flock on its lock file, which the kernel dropped: the next
        // Deno child takes the lock over at once, with no pid check and no wait for the lease.
        assert.equal(outcomes.length, 1, JSON.stringify(outcomes));
        assert.ok((last.resumedFrom ?? 0) > 0, "resumed, not restarted");
        assert.equal(last.sha256, sha256(body));
        assert.equal(sha256(await bytesOf(dest)), sha256(body));
        assert.deepEqual(await readdir(dir), ["data.tar"]);
        const resumes = server.requests.filter((r) => r.headers["range"] !== undefined);
        assert.equal(resumes.length, 1, "one resume request (busy attempts send none)");
      });
    } finally {
      await server.close();
    }
  });

  it("names the missing flag in a non-retryable error and leaves nothing behind", {
    timeout: 60_000,
  }, async () => {
    const body = randomBody(1000);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "f.bin");
        const url = `${server.url}/f.bin`;
        const net = `127.0.0.1:${server.port}`;
        const cases: [ChildPermissions, RegExp, string][] = [
          [{ readWriteDir: dir }, new RegExp(`--allow-net=${net}`), "HaulError"],
          [{ net }, new RegExp(`--allow-read=${dir}`), "DestinationError"],
        ];
        for (const [permissions, flag, name] of cases) {
          const outcome = await haulChild(url, dest, permissions);
          assert.equal(outcome.ok, false, JSON.stringify(outcome));
          assert.equal(outcome.name, name, JSON.stringify(outcome));
          assert.match(outcome.message ?? "", flag);
          assert.match(outcome.message ?? "", /^Missing Deno permission/);
          assert.equal(outcome.retryable, false);
          // No dest and no lock; the engine opens an empty .part before its request (as for
          // any network failure), which the next call reuses.
          assert.equal(sizeOf(`${dest}.part`), 0);
          assert.deepEqual((await readdir(dir)).filter((name) => name !== "f.bin.part"), []);
          await rm(`${dest}.part`, { force: true });
        }
        // Read but not write: refused when the lock is created, before any request.
        const child = runtimeChild(CHILD, ["haul", url, dest], {
          runtime: "deno",
          net,
          readOnlyDir: dir,
        });
        const outcome = JSON.parse(await child.firstLine()) as ChildLine;
        await child.kill();
        assert.equal(outcome.name, "DestinationError", JSON.stringify(outcome));
        assert.match(outcome.message ?? "", new RegExp(`--allow-write=${dir}`));
        assert.equal(outcome.retryable, false);
        assert.deepEqual(await readdir(dir), []);
        assert.equal(server.requests.length, 0, "every case was refused before a request");
      });
    } finally {
      await server.close();
    }
  });
});

/**
 * Runs the haul child under Deno in a pseudo-terminal, where a permission Deno was not granted would
 * be asked for: resolves to the terminal's output, ended early (killed) as soon as a prompt shows.
 */
async function haulChildOnTerminal(url: string, dest: string, flags: ChildPermissions) {
  const [command, args] = runtimeCommand(CHILD, ["haul", url, dest], { ...flags, runtime: "deno" });
  const env = { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
  return (await outputOf(onTerminal([command, ...args], { cwd: REPO_ROOT, env }))).output;
}

describe("Deno with narrow permissions on a terminal", () => {
  it(
    "never prompts: what it was not granted (/proc for the lock's start time) it only asks about",
    {
      timeout: 60_000,
    },
    async () => {
      const hasScript = spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;
      assert.ok(hasScript, "script(1) is missing: run bash scripts/setup.sh (installs bsdutils)");
      const body = randomBody(100_000);
      const server = await startResourceServer({ body });
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "f.bin");
          const flags = { net: `127.0.0.1:${server.port}`, readWriteDir: dir };
          const output = await haulChildOnTerminal(`${server.url}/f.bin`, dest, flags);
          assert.doesNotMatch(output, /Deno requests/, output);
          assert.match(output, /"ok":true/, output);
          assert.equal(sha256(await bytesOf(dest)), sha256(body));
          assert.deepEqual(await readdir(dir), ["f.bin"]);
        });
      } finally {
        await server.close();
      }
    },
  );
});

describe("Deno with --allow-read and --allow-write on a directory under /dev", () => {
  it(
    "names --allow-all, the only flag Deno takes for paths there, not a flag that does not exist",
    {
      timeout: 60_000,
    },
    async () => {
      assert.ok(existsSync("/dev/shm"), "no /dev/shm: this test needs Linux");
      const dir = await mkdtemp("/dev/shm/haul-test-");
      const server = await startResourceServer({ body: randomBody(1000) });
      try {
        const dest = join(dir, "f.bin");
        const outcome = await haulChild(`${server.url}/f.bin`, dest, {
          net: `127.0.0.1:${server.port}`,
          readWriteDir: dir,
        });
        assert.equal(outcome.name, "DestinationError", JSON.stringify(outcome));
        assert.match(
          outcome.message ?? "",
          /^Missing Deno permission: .*run Deno with --allow-all$/,
        );
        assert.equal(outcome.retryable, false);
        assert.deepEqual(await readdir(dir), []);
      } finally {
        await server.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});

describe("Node with --permission", () => {
  it("is a clear, non-retryable DestinationError that names it, and leaves nothing", {
    timeout: 60_000,
  }, async () => {
    const body = randomBody(100_000);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "f.bin");
        // Write and read granted (Node 24.13 and later refuse every fsync all the same), or read only.
        for (const write of [[`--allow-fs-write=${dir}`], []]) {
          const child = spawn(runtimeExecutable("node"), [
            "--no-warnings",
            "--permission",
            `--allow-fs-read=${REPO_ROOT.replace(/\/$/, "")}`,
            `--allow-fs-read=${dir}`,
            ...write,
            CHILD,
            "haul",
            `${server.url}/f.bin`,
            dest,
          ], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
          const run = { stdout: "", stderr: "" };
          child.stdout.on("data", (chunk: Uint8Array) => (run.stdout += String(chunk)));
          child.stderr.on("data", (chunk: Uint8Array) => (run.stderr += String(chunk)));
          const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
          await new Promise((resolve) => child.once("close", resolve)).finally(() =>
            clearTimeout(timer)
          );
          const outcome = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as ChildLine;
          assert.equal(outcome.name, "DestinationError", `${run.stdout}${run.stderr}`);
          assert.match(outcome.message ?? "", /Node's --permission refuses it.*run without it$/);
          assert.equal(outcome.retryable, false);
          assert.deepEqual(await readdir(dir), []);
        }
      });
    } finally {
      await server.close();
    }
  });
});
