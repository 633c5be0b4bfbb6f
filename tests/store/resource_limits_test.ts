/**
 * haul under real resource limits and filesystem limits, on the runtime running the tests (so on
 * Deno, Bun and Node): a file-size limit (`ulimit -f`, SIGXFSZ), a full tmpfs, a path at PATH_MAX,
 * a name that is not Unicode. Children run `tests/fixtures/haul_child.ts`. The tmpfs test needs
 * root and `mount` (CI runs as root): it fails, naming what is missing, where it cannot mount.
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { readdir } from "node:fs/promises";
import process from "node:process";
import { basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { DestinationError, haul, HaulState } from "../../mod.ts";
import { describeError } from "../../src/cli/error_wording.ts";
import { haulWith } from "../../src/engine/haul.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { FaultyFs, shimError } from "../helpers/fault_fs.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";
import { outputOf, REPO_ROOT, runtimeCommand } from "../helpers/runtime.ts";

const CHILD = fileURLToPath(new URL("../fixtures/haul_child.ts", import.meta.url));
const BODY = randomBody(3 << 20);
const ETAG = '"limits-1"';
/** A checkpoint every 256 KiB, so one is on disk well before a 1 MiB limit. */
const OPTIONS = JSON.stringify({ checkpointEvery: { bytes: 256 << 10 } });

interface ChildLine {
  ok: boolean;
  name?: string;
  message?: string;
  retryable?: boolean;
  validLength?: number;
}

/** Runs the child (all permissions) under `bash -c "<limit> && exec …"`; its exit code and last line. */
async function runChild(limit: string, url: string, dest: string) {
  const [command, args] = runtimeCommand(CHILD, [url, dest, OPTIONS], { allowAll: true });
  // Deno's V8 code cache (an SQLite file of MiBs, written as it starts and ends) would meet the
  // limit itself, before haul handles SIGXFSZ and after: this test is about haul's own writes.
  if (args[0] === "run") args.splice(1, 0, "--no-code-cache");
  const child = spawn("bash", ["-c", `${limit} && exec "$@"`, "bash", command, ...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const { code, output } = await outputOf(child, 60_000);
  const last = output.trim().split("\n").filter((line) => line.startsWith("{")).at(-1);
  return { code, output, line: JSON.parse(last ?? "{}") as ChildLine };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The names in `dir`, sorted. */
async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** The next call resumes at `saved` and leaves the whole file alone beside nothing else. */
async function resumesWhole(url: string, dest: string, saved: number | undefined): Promise<void> {
  const result = await haul(url, { dest });
  assert.equal(result.resumedFrom, saved);
  assert.equal(result.sha256, sha256(BODY));
  assert.deepEqual(await entries(dirname(dest)), [basename(dest)]);
}

describe("A file-size limit (RLIMIT_FSIZE, ulimit -f)", () => {
  it(
    "is a typed EFBIG error with the checkpoint saved, not a death by SIGXFSZ; the next call resumes",
    {
      timeout: 120_000,
    },
    async () => {
      const server = await startResourceServer({ body: BODY, etag: ETAG });
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "big.bin");
          // Deno caches what it compiles: warm that first, without a limit.
          await runChild("true", "", "");
          const { code, output, line } = await runChild("ulimit -f 1024", server.url, dest);
          assert.equal(code, 1, `the child ends on its own (not by SIGXFSZ): ${code} ${output}`);
          assert.equal(line.name, "DestinationError", output);
          assert.equal(line.retryable, false, "the same process would meet the same limit");
          assert.match(line.message ?? "", /file-size limit \(ulimit -f\)/, output);
          assert.ok((line.validLength ?? 0) >= 256 << 10, `a checkpoint was saved: ${output}`);
          assert.deepEqual(await entries(dir), ["big.bin.part", "big.bin.part.ctrl"]);
          await resumesWhole(server.url, dest, line.validLength);
        });
      } finally {
        await server.close();
      }
    },
  );
});

/** Whether this process may mount a tmpfs (root, with `mount` and `umount` found). */
function canMount(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return "not root";
  const found = spawnSync("sh", ["-c", "command -v mount && command -v umount"]);
  return found.status === 0 ? null : "no mount or umount";
}

/** Runs `fn` with a tmpfs of `size` mounted on a fresh directory, always unmounted after. */
async function withTmpfs(size: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const missing = canMount();
  if (missing !== null) {
    assert.fail(`this test mounts a tmpfs and needs root and mount: ${missing}`);
  }
  await withTempDir(async (base) => {
    const dir = join(base, "mnt");
    mkdirSync(dir);
    const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
    assert.equal(mounted.status, 0, `mount -t tmpfs failed: ${mounted.stderr}`);
    try {
      await fn(dir);
    } finally {
      spawnSync("umount", [dir]);
    }
  });
}

describe("A full disk (a 2 MiB tmpfs, a 3 MiB body)", () => {
  it("is a retryable DestinationError; the saved checkpoint resumes once space is freed", {
    timeout: 120_000,
  }, async () => {
    // Paced (8 MiB/s), so the body comes in pieces and a checkpoint lands before the disk fills.
    const server = await startResourceServer(
      { body: BODY, etag: ETAG },
      (_req, honest) => ({ ...honest, bytesPerSecond: 8 << 20 }),
    );
    try {
      await withTmpfs("2m", async (dir) => {
        const dest = join(dir, "big.bin");
        const { code, output, line } = await runChild("true", server.url, dest);
        assert.equal(code, 1, output);
        assert.equal(line.name, "DestinationError", output);
        assert.equal(line.retryable, true, output);
        assert.match(line.message ?? "", /the disk is full; free space and call again/, output);
        assert.ok((line.validLength ?? 0) >= 256 << 10, `a checkpoint was saved: ${output}`);
        assert.deepEqual(await entries(dir), ["big.bin.part", "big.bin.part.ctrl"]);
        const grown = spawnSync("mount", ["-o", "remount,size=8m", dir]);
        assert.equal(grown.status, 0, `remount failed: ${grown.stderr}`);
        await resumesWhole(server.url, dest, line.validLength);
      });
    } finally {
      await server.close();
    }
  });
});

describe("A disk full before the lock (a 1 MiB tmpfs, filled)", () => {
  it("is a retryable DestinationError that says call again, not resume: nothing was saved", {
    timeout: 60_000,
  }, async () => {
    const server = await startResourceServer({ body: BODY, etag: ETAG });
    try {
      await withTmpfs("1m", async (dir) => {
        const fill = spawnSync("sh", ["-c", `head -c 2097152 /dev/zero > "${dir}/fill"`]);
        assert.notEqual(fill.status, 0, "the filler meets the full disk");
        const dest = join(dir, "big.bin");
        const outcome = await haul(server.url, { dest }).catch((e: unknown) => e);
        assert.ok(outcome instanceof DestinationError, String(outcome));
        assert.equal(outcome.retryable, true);
        assert.match(
          outcome.message,
          /big\.bin\.part\.lock: the disk is full; free space and call again$/,
        );
        const line = describeError(outcome, { url: new URL(server.url), dest }, 1);
        assert.match(line, /the disk is full; free space, then run the same command again$/);
        assert.equal(server.requests.length, 0, "no request");
        assert.deepEqual(await entries(dir), ["fill"], "no lock file left");
        rmSync(join(dir, "fill"));
        const grown = spawnSync("mount", ["-o", "remount,size=8m", dir]); // room for the body
        assert.equal(grown.status, 0, `remount failed: ${grown.stderr}`);
        await resumesWhole(server.url, dest, 0);
      });
    } finally {
      await server.close();
    }
  });
});

describe("Names at the limit", () => {
  it("refuses a path whose sidecar names pass PATH_MAX before any request, leaving nothing", async () => {
    const server = await startResourceServer({ body: BODY.subarray(0, 1000), etag: ETAG });
    try {
      await withTempDir(async (base) => {
        // Directories down to 4034 bytes, then a 50-byte name: `dest` is 4085 bytes long, so
        // `<dest>.part.lock` fits in PATH_MAX (4095 and a NUL), `<dest>.part.ctrl.tmp` does not.
        let dir = base;
        while (4085 - dir.length > 300) dir = join(dir, "d".repeat(150));
        dir = join(dir, "e".repeat(4085 - dir.length - 2 - 50));
        mkdirSync(dir, { recursive: true });
        const dest = join(dir, "f".repeat(50));
        assert.equal(dest.length, 4085);
        const outcome = await haul(server.url, { dest }).catch((e: unknown) => e);
        assert.ok(outcome instanceof DestinationError, String(outcome));
        assert.match(outcome.message, /Destination path too long/);
        assert.equal(outcome.retryable, false);
        assert.equal(server.requests.length, 0, "no request");
        assert.deepEqual(await entries(dir), [], "no lock file left");
      });
    } finally {
      await server.close();
    }
  });

  it("refuses a lone surrogate (not Unicode: it would be saved as U+FFFD) with a TypeError", async () => {
    const server = await startResourceServer({ body: BODY.subarray(0, 1000), etag: ETAG });
    try {
      await withTempDir(async (dir) => {
        for (const name of ["a\uD800.bin", "b\uDC00x.bin"]) {
          const outcome = await haul(server.url, { dest: `${dir}/${name}` }).catch((e) => e);
          assert.ok(outcome instanceof TypeError, String(outcome));
          assert.match(outcome.message, /^Invalid dest: .*lone surrogate/);
        }
        assert.equal(server.requests.length, 0, "no request");
        assert.deepEqual(await entries(dir), []);
        assert.ok(!existsSync(join(dir, "a\uFFFD.bin")));
      });
    } finally {
      await server.close();
    }
  });
});

describe("A destination directory moved or removed mid-download", () => {
  for (const move of ["renamed", "removed"] as const) {
    it(`(${move}) is a retryable lost lock that says so, not "another process took over"`, async () => {
      const server = await startResourceServer(
        { body: BODY, etag: ETAG },
        (_req, honest) => ({ ...honest, stallAfter: 300_000 }),
      );
      try {
        await withTempDir(async (base) => {
          const dir = join(base, "sub");
          mkdirSync(dir);
          const state = new HaulState();
          const options = { dest: join(dir, "a.bin"), state, checkpointEvery: { bytes: 64 << 10 } };
          const hooks = { lockTiming: { heartbeatMs: 50, staleMs: 5000 } };
          const running = haulWith(server.url, options, hooks).catch((e: unknown) => e);
          for (let i = 0; i < 2000 && state.bytesRead < 300_000; i++) await sleep(5);
          assert.equal(state.bytesRead, 300_000, "the body stalls at 300 000 bytes");
          if (move === "renamed") renameSync(dir, join(base, "moved"));
          else rmSync(dir, { recursive: true });
          const outcome = await running;
          assert.ok(outcome instanceof DestinationError, String(outcome));
          assert.equal(outcome.retryable, true);
          assert.match(outcome.message, /removed, or its directory moved/);
          assert.doesNotMatch(outcome.message, /another process took over/);
        });
      } finally {
        await server.close();
      }
    });
  }
});

describe("A disk quota exceeded (EDQUOT, injected: a tmpfs here has no quotas)", () => {
  it("is worded and retryable like a full disk, with the checkpoint kept", async () => {
    const server = await startResourceServer({ body: BODY, etag: ETAG });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "q.bin");
        const fs = new FaultyFs(await defaultFs(), (call) => {
          if (call.op !== "write" || call.path !== `${dest}.part`) return null;
          return (call.position ?? 0) >= 1 << 20 ? shimError("EDQUOT", call.path) : null;
        });
        const options = { dest, checkpointEvery: { bytes: 256 << 10 } };
        const outcome = await haulWith(server.url, options, { fs }).catch((e: unknown) => e);
        assert.ok(outcome instanceof DestinationError, String(outcome));
        assert.equal(outcome.retryable, true);
        assert.match(outcome.message, /the disk quota is exceeded; free space and call again/);
        assert.deepEqual(await entries(dir), ["q.bin.part", "q.bin.part.ctrl"]);
      });
    } finally {
      await server.close();
    }
  });
});
