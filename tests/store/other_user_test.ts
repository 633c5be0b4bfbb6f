/**
 * haul run by a user who may not write what it finds: a `0555` directory, a download another user
 * left (`.part` and `.part.ctrl` it owns), and another user's dead lock in a sticky directory
 * (`/tmp`'s `1777`, where only a file's owner may remove it). Each is a non-retryable
 * `DestinationError` that names the path, before any request, and the other user's files are left
 * as they were. As root (CI), the child runs as `nobody` (setpriv); otherwise as this user, with
 * the files made read-only instead (the sticky case needs a second user, so only root runs it).
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { encodeCheckpoint } from "../../src/store/control_file.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { join, randomBody } from "../helpers/temp.ts";
import { REPO_ROOT, runtimeCommand } from "../helpers/runtime.ts";

const CHILD = fileURLToPath(new URL("../fixtures/least_privilege_child.ts", import.meta.url));
const ROOT = typeof process.getuid === "function" && process.getuid() === 0;
const NOBODY = 65534;

interface ChildLine {
  readonly ok: boolean;
  readonly name?: string;
  readonly message?: string;
  readonly retryable?: boolean;
}

/** Runs the haul child of this runtime (as `nobody` when root); resolves to its JSON line. */
async function haulAsOtherUser(url: string, dest: string, dir: string, home: string) {
  const [command, args] = runtimeCommand(CHILD, ["haul", url, dest], {
    net: new URL(url).host,
    readWriteDir: dir,
  });
  const [program, argv] = ROOT
    ? ["setpriv", [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", command, ...args]]
    : [command, args];
  const child = spawn(program, argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, HOME: home, DENO_DIR: join(home, "deno"), XDG_CACHE_HOME: home },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Uint8Array) => (output += String(chunk)));
  child.stderr.on("data", (chunk: Uint8Array) => (output += String(chunk)));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await new Promise((resolve) => child.once("close", resolve)).finally(() => clearTimeout(timer));
  try {
    return JSON.parse(output.trim().split("\n").at(-1) ?? "") as ChildLine;
  } catch {
    throw new Error(`no JSON line from the child: ${output}`);
  }
}

/** A directory tree the child's user can reach: `base` (0755) with `home` (the child's own). */
async function withReachableDirs(fn: (base: string, home: string) => Promise<void>) {
  if (ROOT) {
    const setpriv = spawnSync("setpriv", ["--version"], { stdio: "ignore" }).status === 0;
    assert.ok(setpriv, "running as root without setpriv(1) (util-linux): cannot run as nobody");
  }
  const base = await mkdtemp(join(tmpdir(), "haul-test-"));
  try {
    await chmod(base, 0o755);
    const home = join(base, "home");
    await mkdir(home);
    if (ROOT) await chown(home, NOBODY, NOBODY);
    await fn(base, home);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

function expectRefused(outcome: ChildLine, path: string, why: RegExp): void {
  assert.equal(outcome.ok, false, JSON.stringify(outcome));
  assert.equal(outcome.name, "DestinationError", JSON.stringify(outcome));
  assert.equal(outcome.retryable, false, JSON.stringify(outcome));
  assert.ok(outcome.message?.includes(path), JSON.stringify(outcome));
  assert.match(outcome.message ?? "", why);
}

describe("Files haul may not write", () => {
  it("a 0555 directory: refused when the lock is created, before any request", {
    timeout: 60_000,
  }, async () => {
    const server = await startResourceServer({ body: randomBody(10_000) });
    try {
      await withReachableDirs(async (base, home) => {
        const dir = join(base, "ro");
        await mkdir(dir);
        await chmod(dir, 0o555);
        const dest = join(dir, "f.bin");
        const outcome = await haulAsOtherUser(`${server.url}/f.bin`, dest, dir, home);
        expectRefused(outcome, `${dest}.part.lock`, /permission denied/);
        assert.equal(server.requests.length, 0);
        assert.deepEqual(await readdir(dir), []);
      });
    } finally {
      await server.close();
    }
  });

  it("a download another user left (.part, .part.ctrl): refused, and left as it was", {
    timeout: 60_000,
  }, async () => {
    const server = await startResourceServer({ body: randomBody(10_000) });
    try {
      await withReachableDirs(async (base, home) => {
        const dir = join(base, "shared");
        await mkdir(dir);
        const dest = join(dir, "f.bin");
        const part = randomBody(5000);
        await writeFile(`${dest}.part`, part, { mode: 0o644 });
        const checkpoint = encodeCheckpoint({
          blockSize: 1024,
          extent: 5000,
          reportedLength: 10_000,
          etag: '"v1"',
          lastModified: null,
          contentType: null,
          ranges: [{ start: 0, end: 5000, tailDigest: new Uint8Array(32) }],
        });
        await writeFile(`${dest}.part.ctrl`, checkpoint, { mode: 0o644 });
        if (ROOT) await chown(dir, NOBODY, NOBODY); // the directory is the child's, the files root's
        else await chmod(`${dest}.part`, 0o444);
        const outcome = await haulAsOtherUser(`${server.url}/f.bin`, dest, dir, home);
        expectRefused(outcome, `${dest}.part`, /permission denied/);
        assert.equal(server.requests.length, 0);
        assert.deepEqual((await readdir(dir)).sort(), ["f.bin.part", "f.bin.part.ctrl"]);
        assert.deepEqual(new Uint8Array(await readFile(`${dest}.part`)), part);
        assert.deepEqual(new Uint8Array(await readFile(`${dest}.part.ctrl`)), checkpoint);
      });
    } finally {
      await server.close();
    }
  });

  it(
    "another user's dead lock in a sticky directory: refused by name (root only: it needs two users)",
    {
      timeout: 60_000,
    },
    async () => {
      const server = await startResourceServer({ body: randomBody(10_000) });
      try {
        await withReachableDirs(async (base, home) => {
          const dir = join(base, "sticky");
          await mkdir(dir);
          await chmod(dir, 0o1777);
          const dest = join(dir, "f.bin");
          // A lock of this user's whose lease ran out an hour ago: stale, whoever its owner was.
          await writeFile(`${dest}.part.lock`, '{"haul":"lock","pid":4194305}\n', { mode: 0o644 });
          const anHourAgo = new Date(Date.now() - 3_600_000);
          await utimes(`${dest}.part.lock`, anHourAgo, anHourAgo);
          const outcome = await haulAsOtherUser(`${server.url}/f.bin`, dest, dir, home);
          if (ROOT) {
            expectRefused(outcome, `${dest}.part.lock`, /operation not permitted/);
            assert.equal(server.requests.length, 0);
            assert.deepEqual(await readdir(dir), ["f.bin.part.lock"]);
          } else {
            assert.equal(outcome.ok, true, JSON.stringify(outcome)); // this user's own lock: taken over
          }
        });
      } finally {
        await server.close();
      }
    },
  );
});
