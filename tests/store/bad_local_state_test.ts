/**
 * Bad local state: whatever is found beside the destination (a damaged
 * checkpoint, a short or altered `.part`, links and directories where files
 * belong, a read-only or full disk, awkward names), `haul()` either gives a
 * typed {@link HaulError} or starts cleanly, then produces the exact file. It
 * never throws an untyped error and never writes outside the destination's
 * directory.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  chmod,
  link,
  mkdir,
  readdir,
  readFile,
  rm,
  symlink,
  truncate,
  writeFile,
} from "node:fs/promises";
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type Checkpoint, durablePrefix, tailStart } from "../../src/protocol/checkpoint.ts";
import { crc32, decodeCheckpoint, encodeCheckpoint } from "../../src/store/control_file.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { haulWith } from "../../src/engine/haul.ts";
import {
  ControlFileError,
  DestinationError,
  haul,
  type HaulError,
  type HaulOptions,
  type HaulResult,
  IntegrityError,
  isRetryable,
  PartialHaulError,
} from "../../mod.ts";
import { cuttingFetch } from "../helpers/cutting_fetch.ts";
import { type FaultRequest, FaultyFs, shimError } from "../helpers/fault_fs.ts";
import { lockFileOf } from "../helpers/lock_file.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const ETAG = '"local-1"';
const URL_ = "http://haul.test/file.bin";
const BLOCK = 4096;
const OPTIONS = { blockSize: BLOCK, checkpointEvery: { bytes: 16 * 1024, ms: 600_000 } };
const BODY = randomBody(256 * 1024 + 77);
const DIGEST = sha256(BODY);
const CUT = 150_000;
/** No checkpoints: for the many clean downloads that only need to be correct. */
const QUICK = { checkpointEvery: { bytes: 1 << 30, ms: 600_000 } };
const CHILD_SCRIPT = fileURLToPath(new URL("../fixtures/haul_child.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** A download "site" served by an in-memory fetch that breaks the body at `cut`. */
class Site {
  cut = BODY.length;
  readonly ranges: string[] = [];
  readonly fetch = cuttingFetch(BODY, () => this.cut, this.ranges, ETAG);

  /** `haul()` with this site's fetch; resolves to the result or the error (never rejects). */
  async call(dest: string, extra: Partial<HaulOptions> = {}): Promise<HaulResult | unknown> {
    return await haul(URL_, { ...OPTIONS, ...extra, dest, fetch: this.fetch }).catch((e) => e);
  }
}

/** Asserts that `outcome` is a `HaulError` of `type` and returns it. */
function expectError<T extends HaulError>(
  outcome: unknown,
  type: new (...args: never[]) => T,
  where: string,
): T {
  assert.ok(
    outcome instanceof type,
    `${where}: expected a ${type.name}, got ${
      outcome instanceof Error ? `${outcome.name}: ${outcome.message}` : JSON.stringify(outcome)
    }`,
  );
  return outcome;
}

/** Asserts that `outcome` is a successful result with the exact file at `dest`. */
async function expectExact(outcome: unknown, dest: string, where: string): Promise<HaulResult> {
  if (outcome instanceof Error) assert.fail(`${where}: ${outcome.name}: ${outcome.message}`);
  const result = outcome as HaulResult;
  assert.equal(result.sha256, DIGEST, `${where}: reported sha256`);
  assert.equal(sha256(await bytesOf(dest)), DIGEST, `${where}: bytes at dest`);
  return result;
}

interface Sandbox {
  /** The destination's directory (`<root>/dl`). */
  readonly dir: string;
  /** A file outside that directory that must never change. */
  readonly outside: string;
  /** `<dir>/file.bin`. */
  readonly dest: string;
}

/**
 * Runs `fn` in `<root>/dl` beside `<root>/outside.bin`, then checks that
 * nothing outside `dl` was created or changed.
 */
async function inSandbox(fn: (box: Sandbox) => Promise<void>): Promise<void> {
  await withTempDir(async (root) => {
    const dir = join(root, "dl");
    await mkdir(dir);
    const outside = join(root, "outside.bin");
    const outsideBytes = randomBody(4096);
    await writeFile(outside, outsideBytes);
    await fn({ dir, outside, dest: join(dir, "file.bin") });
    assert.deepEqual((await readdir(root)).sort(), ["dl", "outside.bin"], "entries beside dl");
    // Digests, not bytes: a failed deepEqual of two large arrays can take minutes to describe.
    assert.equal(
      sha256(await bytesOf(outside)),
      sha256(outsideBytes),
      "the file outside dl changed",
    );
  });
}

/** A decoded checkpoint with its resume cursor and where its tail digest begins. */
type Saved = Checkpoint & { readonly cursor: number; readonly tail: number };

function saved(bytes: Uint8Array): Saved {
  const checkpoint = decodeCheckpoint(bytes);
  const cursor = durablePrefix(checkpoint);
  const tail = tailStart({ start: 0, end: cursor }, checkpoint.blockSize);
  return { ...checkpoint, cursor, tail };
}

/** A real interrupted download: `.part` holds `CUT` bytes and `.part.ctrl` its checkpoint. */
async function interrupted(site: Site, dest: string): Promise<Saved> {
  site.cut = CUT;
  const outcome = await site.call(dest);
  expectError(outcome, PartialHaulError, "the interrupted download");
  site.cut = BODY.length;
  const checkpoint = saved(await bytesOf(`${dest}.part.ctrl`));
  assert.equal(checkpoint.cursor, CUT);
  assert.equal(checkpoint.tail, CUT - BLOCK);
  return checkpoint;
}

/** A valid checkpoint of `BODY` at `cursor` (its tail digest: the body's block below it). */
function craftCheckpoint(cursor: number, blockSize = BLOCK): Uint8Array {
  const from = tailStart({ start: 0, end: cursor }, blockSize);
  const tailDigest = new Uint8Array(
    createHash("sha256").update(BODY.subarray(from, cursor)).digest(),
  );
  return encodeCheckpoint({
    blockSize,
    extent: cursor,
    reportedLength: BODY.length,
    etag: ETAG,
    lastModified: null,
    contentType: "application/octet-stream",
    ranges: [{ start: 0, end: cursor, tailDigest }],
  });
}

/** The resume cursor of the checkpoint on disk. */
async function cursorAt(dest: string): Promise<number> {
  return saved(await bytesOf(`${dest}.part.ctrl`)).cursor;
}

/** The sidecars (and dest) present in `dir`, sorted. */
async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

describe("A damaged checkpoint", () => {
  it(
    "with any one bit flipped is refused once with ControlFileError, then the next call downloads cleanly",
    {
      timeout: 120_000,
    },
    async () => {
      await inSandbox(async ({ dir, dest }) => {
        const site = new Site();
        await interrupted(site, dest);
        const ctrl = await bytesOf(`${dest}.part.ctrl`);
        const part = await bytesOf(`${dest}.part`);
        for (let i = 0; i < ctrl.length; i++) {
          const where = `bit ${i % 8} of byte ${i}`;
          const flipped = ctrl.slice();
          flipped[i]! ^= 1 << (i % 8);
          await writeFile(`${dest}.part`, part);
          await writeFile(`${dest}.part.ctrl`, flipped);
          const calls = site.ranges.length;
          const error = expectError(await site.call(dest), ControlFileError, where);
          assert.equal(isRetryable(error), true, where);
          assert.equal(site.ranges.length, calls, `${where}: no request before the refusal`);
          assert.equal(exists(`${dest}.part.ctrl`), false, `${where}: checkpoint discarded`);
          assert.equal(exists(dest), false, where);
          await expectExact(await site.call(dest, QUICK), dest, `${where}, next call`);
          assert.equal(site.ranges.at(-1), "", `${where}: the next call starts from byte 0`);
          assert.deepEqual(await entries(dir), ["file.bin"], where);
          await rm(dest);
        }
      });
    },
  );

  it(
    "cut short at any length is refused once with ControlFileError, then the next call downloads cleanly",
    {
      timeout: 120_000,
    },
    async () => {
      await inSandbox(async ({ dir, dest }) => {
        const site = new Site();
        await interrupted(site, dest);
        const ctrl = await bytesOf(`${dest}.part.ctrl`);
        const part = await bytesOf(`${dest}.part`);
        for (let length = 0; length < ctrl.length; length++) {
          const where = `checkpoint cut to ${length} bytes`;
          await writeFile(`${dest}.part`, part);
          await writeFile(`${dest}.part.ctrl`, ctrl.subarray(0, length));
          expectError(await site.call(dest), ControlFileError, where);
          assert.equal(exists(`${dest}.part.ctrl`), false, where);
          await expectExact(await site.call(dest, QUICK), dest, `${where}, next call`);
          assert.equal(site.ranges.at(-1), "", `${where}: the next call starts from byte 0`);
          assert.deepEqual(await entries(dir), ["file.bin"], where);
          await rm(dest);
        }
      });
    },
  );

  it("written by an older haul (format v1 or v2) is discarded with a clear ControlFileError, and the next call starts from byte 0", async () => {
    await inSandbox(async ({ dir, dest }) => {
      const site = new Site();
      await interrupted(site, dest);
      const ctrl = await bytesOf(`${dest}.part.ctrl`);
      for (const version of [1, 2]) {
        // A genuine header of that version (valid CRCs): only the version differs.
        const old = ctrl.slice();
        const view = new DataView(old.buffer);
        view.setUint16(8, version, true);
        view.setUint32(20, crc32(old.subarray(0, 20)), true);
        await writeFile(`${dest}.part.ctrl`, old);
        const calls = site.ranges.length;
        const error = expectError(await site.call(dest), ControlFileError, `v${version}`);
        assert.equal(
          error.message,
          `Checkpoint discarded: ${dest}.part.ctrl: Checkpoint version ${version} is not supported: ` +
            "it was written by an older haul, and this haul reads version 3 only; " +
            "the next call starts from byte 0",
        );
        assert.equal(isRetryable(error), true);
        assert.equal(site.ranges.length, calls, "no request before the refusal");
        assert.equal(exists(`${dest}.part.ctrl`), false, "the old checkpoint is gone");
        await expectExact(await site.call(dest, QUICK), dest, `after the v${version} refusal`);
        assert.equal(site.ranges.at(-1), "", "the next call starts from byte 0");
        assert.deepEqual(await entries(dir), ["file.bin"]);
        await rm(dest);
        await interrupted(site, dest);
      }
    });
  });

  it("that is a directory is reported as a DestinationError before any request", async () => {
    await inSandbox(async ({ dest }) => {
      const site = new Site();
      await interrupted(site, dest);
      const calls = site.ranges.length;
      await rm(`${dest}.part.ctrl`);
      await mkdir(`${dest}.part.ctrl`);
      expectError(await site.call(dest), DestinationError, ".part.ctrl is a directory");
      assert.equal(site.ranges.length, calls);
      assert.equal(exists(dest), false);
      assert.equal(exists(`${dest}.part.lock`), false, "the lock is released");
    });
  });

  it("that is an empty directory, with no .part, is refused and kept (Deno removed it)", async () => {
    for (const sidecar of [".part.ctrl", ".part.ctrl.tmp"]) {
      await inSandbox(async ({ dest }) => {
        const site = new Site();
        await mkdir(`${dest}${sidecar}`);
        expectError(await site.call(dest), DestinationError, `${sidecar} an empty directory`);
        assert.equal(site.ranges.length, 0, "no request");
        assert.equal(statSync(`${dest}${sidecar}`).isDirectory(), true, `${sidecar} is kept`);
        assert.equal(exists(dest), false);
        assert.equal(exists(`${dest}.part.lock`), false, "the lock is released");
      });
    }
  });

  it("that is a symlink to a file outside is never written through", async () => {
    await inSandbox(async ({ outside, dest }) => {
      const site = new Site();
      await interrupted(site, dest);
      await rm(`${dest}.part.ctrl`);
      await symlink(outside, `${dest}.part.ctrl`);
      const first = await site.call(dest);
      if (first instanceof Error) {
        expectError(first, ControlFileError, "a link to garbage");
        await expectExact(await site.call(dest), dest, "after the refusal");
      } else {
        await expectExact(first, dest, "a link to garbage");
      }
    });
  });

  it("written with another blockSize resumes or restarts cleanly", async () => {
    await inSandbox(async ({ dest }) => {
      const site = new Site();
      const saved = await interrupted(site, dest);
      const outcome = await site.call(dest, { blockSize: 65536 });
      const result = await expectExact(outcome, dest, "resumed with blockSize 65536");
      assert.ok(
        result.resumedFrom === saved.cursor || result.resumedFrom === 0,
        `resumed from ${result.resumedFrom}`,
      );
    });
  });
});

describe("A .part that disagrees with its checkpoint", () => {
  it("is restarted from byte 0 when the checkpoint's cursor is past the end of .part", async () => {
    await inSandbox(async ({ dest }) => {
      const site = new Site();
      await interrupted(site, dest);
      const part = await bytesOf(`${dest}.part`);
      // Checkpoints "from the future": valid, but covering bytes .part does not have.
      for (const beyond of [1000, 3000, 40_000]) {
        const where = `cursor ${beyond} bytes past the end of .part`;
        await writeFile(`${dest}.part`, part);
        await writeFile(`${dest}.part.ctrl`, craftCheckpoint(part.length + beyond));
        const result = await expectExact(await site.call(dest), dest, where);
        assert.equal(site.ranges.at(-1), "", where);
        assert.equal(result.resumedFrom, 0, where);
        await rm(dest);
      }
    });
  });

  it("is restarted from byte 0 when .part is shorter than the checkpoint says", async () => {
    await inSandbox(async ({ dest }) => {
      const site = new Site();
      const saved = await interrupted(site, dest);
      const part = await bytesOf(`${dest}.part`);
      const ctrl = await bytesOf(`${dest}.part.ctrl`);
      const lengths = [saved.cursor - 1, saved.tail + 1, saved.tail, saved.tail - 1, 1, 0];
      for (const length of lengths) {
        const where = `.part cut to ${length} of ${saved.cursor}`;
        await writeFile(`${dest}.part`, part);
        await truncate(`${dest}.part`, length);
        await writeFile(`${dest}.part.ctrl`, ctrl);
        const result = await expectExact(await site.call(dest), dest, where);
        assert.equal(site.ranges.at(-1), "", `${where}: the Range asked`);
        assert.equal(result.resumedFrom, 0, where);
        await rm(dest);
      }
    });
  });

  it("is restarted from byte 0, before any request, when a byte of the tail was altered", async () => {
    await inSandbox(async ({ dest }) => {
      const site = new Site();
      const saved = await interrupted(site, dest);
      const part = await bytesOf(`${dest}.part`);
      const ctrl = await bytesOf(`${dest}.part.ctrl`);
      const positions = [saved.tail, saved.tail + 17, saved.cursor - 1];
      for (const position of positions) {
        const where = `byte ${position} of .part altered`;
        const altered = part.slice();
        altered[position]! ^= 0x40;
        await writeFile(`${dest}.part`, altered);
        await writeFile(`${dest}.part.ctrl`, ctrl);
        const result = await expectExact(await site.call(dest), dest, where);
        assert.equal(site.ranges.at(-1), "", `${where}: the Range asked`);
        assert.equal(result.resumedFrom, 0, where);
        await rm(dest);
      }
    });
  });

  it("altered below the tail gives, after a new process resumes it, the sha256 of the file on disk, which integrity refuses", async () => {
    await inSandbox(async ({ dir, dest }) => {
      const site = new Site();
      const saved = await interrupted(site, dest);
      const part = await bytesOf(`${dest}.part`);
      const ctrl = await bytesOf(`${dest}.part.ctrl`);
      const altered = part.slice();
      altered[1000]! ^= 0x40; // below the tail: not checked before the request
      for (const integrity of [`sha256:${DIGEST}`, undefined]) {
        await writeFile(`${dest}.part`, altered);
        await writeFile(`${dest}.part.ctrl`, ctrl);
        // No retry loop carries a hasher: the bytes on disk are hashed again, as in a new process.
        const outcome = await site.call(dest, integrity === undefined ? {} : { integrity });
        assert.equal(site.ranges.at(-1), `bytes=${saved.cursor}-`);
        if (integrity !== undefined) {
          expectError(outcome, IntegrityError, "a byte altered below the tail");
          assert.deepEqual(await entries(dir), [], "nothing is kept after a mismatch");
          continue;
        }
        const result = outcome as HaulResult;
        const onDisk = await bytesOf(dest);
        assert.notEqual(sha256(onDisk), DIGEST);
        assert.equal(result.sha256, sha256(onDisk), "the result's sha256 is the file's");
        await rm(dest);
      }
    });
  });

  it("keeps the cursor when only bytes past the cursor are junk", async () => {
    await inSandbox(async ({ dest }) => {
      const site = new Site();
      const saved = await interrupted(site, dest);
      const part = await bytesOf(`${dest}.part`);
      const junk = new Uint8Array(part.length + 5000);
      junk.set(part);
      junk.fill(0xee, saved.cursor);
      await writeFile(`${dest}.part`, junk);
      const result = await expectExact(await site.call(dest), dest, "junk past the cursor");
      assert.equal(site.ranges.at(-1), `bytes=${saved.cursor}-`);
      assert.equal(result.resumedFrom, saved.cursor);
      assert.equal((await bytesOf(dest)).length, BODY.length, "the junk was cut off");
    });
  });
});

describe("Links and directories where haul's files belong", () => {
  it("refuse a destination that is a fifo, with overwrite or not, before any request", async () => {
    await inSandbox(async ({ dir, dest }) => {
      const made = spawnSync("mkfifo", [dest]);
      assert.equal(made.status, 0, `mkfifo: ${made.stderr}`);
      const site = new Site();
      for (const overwrite of [false, true]) {
        // Reading it would wait for a writer forever; replacing it is not haul's to do.
        const error = expectError(
          await site.call(dest, { overwrite }),
          DestinationError,
          `a fifo, overwrite ${overwrite}`,
        );
        assert.match(error.message, /not a regular file/);
      }
      assert.deepEqual(site.ranges, [], "no request was made");
      assert.deepEqual(await readdir(dir), ["file.bin"], "nothing beside the fifo");
    });
  });

  it("refuse a destination that is a symlink to a fifo, with overwrite or not, before any request", async () => {
    await inSandbox(async ({ dir, dest }) => {
      const fifo = join(dir, "pipe");
      const made = spawnSync("mkfifo", [fifo]);
      assert.equal(made.status, 0, `mkfifo: ${made.stderr}`);
      await symlink(fifo, dest);
      const site = new Site();
      for (const overwrite of [false, true]) {
        // As for the fifo itself: following the link to read it would wait forever.
        const error = expectError(
          await site.call(dest, { overwrite }),
          DestinationError,
          `a link to a fifo, overwrite ${overwrite}`,
        );
        assert.match(error.message, /not a regular file/);
      }
      assert.deepEqual(site.ranges, [], "no request was made");
      assert.deepEqual((await readdir(dir)).sort(), ["file.bin", "pipe"], "nothing beside them");
    });
  });

  for (const [sidecar, withPart] of [[".part.lock", false], [".part.ctrl", true]] as const) {
    it(`refuse a ${sidecar} that is a fifo with a DestinationError, without waiting on it`, async () => {
      await inSandbox(async ({ dir, dest }) => {
        if (withPart) await writeFile(`${dest}.part`, BODY.subarray(0, CUT));
        const made = spawnSync("mkfifo", [`${dest}${sidecar}`]);
        assert.equal(made.status, 0, `mkfifo: ${made.stderr}`);
        // Read synchronously, a fifo would block the whole process: this test would never end.
        const error = expectError(await new Site().call(dest), DestinationError, sidecar);
        assert.match(error.message, /not a regular file/);
        assert.equal(await exists(dest), false);
        assert.ok(
          (await readdir(dir)).includes(`file.bin${sidecar}`),
          "the fifo is left to its owner",
        );
      });
    });
  }

  it("replace a .part symlink to a file outside instead of writing through it", async () => {
    await inSandbox(async ({ outside, dest }) => {
      const site = new Site();
      await interrupted(site, dest);
      await rm(`${dest}.part`);
      await symlink(outside, `${dest}.part`);
      const result = await expectExact(await site.call(dest), dest, ".part is a symlink");
      assert.equal(result.resumedFrom, 0);
      assert.equal(site.ranges.at(-1), "", "a link is never resumed from");
    });
  });

  it("replace a .part hard-linked to a file outside instead of emptying or writing into it", async () => {
    await inSandbox(async ({ outside, dest }) => {
      const site = new Site();
      await interrupted(site, dest);
      await rm(`${dest}.part`);
      await link(outside, `${dest}.part`);
      const result = await expectExact(await site.call(dest), dest, ".part is a hard link");
      assert.equal(result.resumedFrom, 0);
      assert.equal(site.ranges.at(-1), "", "a link is never resumed from");
      // inSandbox checks that outside.bin is unchanged.
    });
  });

  it("never write checkpoints through a .part.ctrl.tmp symlink to a file outside", async () => {
    await inSandbox(async ({ outside, dest }) => {
      const site = new Site();
      await interrupted(site, dest);
      await symlink(outside, `${dest}.part.ctrl.tmp`);
      site.cut = CUT + 40_000; // at least one more checkpoint
      expectError(await site.call(dest), PartialHaulError, "the second cut");
      site.cut = BODY.length;
      await expectExact(await site.call(dest), dest, "finished");
      // inSandbox checks that outside.bin is unchanged.
    });
  });

  it("refuse a .part that is a directory with a DestinationError before any request", async () => {
    await inSandbox(async ({ dest }) => {
      const site = new Site();
      await mkdir(`${dest}.part`);
      await writeFile(join(`${dest}.part`, "keep.txt"), "mine");
      const error = expectError(await site.call(dest), DestinationError, ".part is a directory");
      assert.equal(error.retryable, false);
      assert.equal(site.ranges.length, 0, "no request");
      assert.equal(exists(dest), false);
      assert.equal(exists(`${dest}.part.lock`), false, "the lock is released");
      assert.equal(await readFile(join(`${dest}.part`, "keep.txt"), "utf8"), "mine");
    });
  });

  it("refuse a dest that is a directory with a DestinationError before any request", async () => {
    await inSandbox(async ({ dest }) => {
      const site = new Site();
      await mkdir(dest);
      expectError(await site.call(dest), DestinationError, "dest is a directory");
      assert.equal(site.ranges.length, 0);
    });
  });

  it("refuse a destination locked by a live process with a retryable DestinationError", async () => {
    await inSandbox(async ({ dir, dest }) => {
      const site = new Site();
      const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
      try {
        assert.ok(sleeper.pid !== undefined);
        await writeFile(`${dest}.part.lock`, await lockFileOf(sleeper.pid));
        const error = expectError(await site.call(dest), DestinationError, "a live lock");
        assert.equal(error.retryable, true);
        assert.equal(site.ranges.length, 0);
        assert.deepEqual(await entries(dir), ["file.bin.part.lock"]);
      } finally {
        sleeper.kill("SIGKILL");
      }
    });
  });
});

/** Whether `unshare -rm` (an unprivileged user and mount namespace) works here. */
function canUnshare(): boolean {
  if (process.platform !== "linux") return false;
  const probe = spawnSync("unshare", ["-rm", "true"], { stdio: "ignore" });
  return probe.status === 0;
}

/** Runs the child script in a private mount namespace where `dir` is a read-only bind mount. */
function runChildReadOnly(dir: string, url: string, dest: string): Promise<string> {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  const runtime = deno !== undefined ? [deno.execPath(), "run", "-A"] : [process.execPath];
  const script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"';
  const args = ["-rm", "sh", "-c", script, dir, ...runtime, CHILD_SCRIPT, url, dest];
  return new Promise((resolve, reject) => {
    const child = spawn("unshare", args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (data: Uint8Array) => (out += new TextDecoder().decode(data)));
    child.stderr.on("data", (data: Uint8Array) => (out += new TextDecoder().decode(data)));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

describe("A destination directory that cannot be written", () => {
  it("gives a DestinationError before any request when every create fails with EROFS", async () => {
    await inSandbox(async ({ dir, dest }) => {
      const site = new Site();
      const fs = new FaultyFs(
        await defaultFs(),
        (call: FaultRequest) =>
          (call.op === "open" && call.mode !== "read") || call.op === "rename" ||
            call.op === "remove"
            ? shimError("EROFS", call.path)
            : null,
      );
      const outcome = await haulWith(URL_, { ...OPTIONS, dest, fetch: site.fetch }, { fs })
        .catch((e: unknown) => e);
      expectError(outcome, DestinationError, "a read-only directory");
      assert.equal(site.ranges.length, 0, "no request");
      assert.deepEqual(await entries(dir), []);
    });
  });

  it("is refused by the OS, or the test proves it is root and uses a read-only mount instead", {
    timeout: 60_000,
  }, async () => {
    const server = await startResourceServer({ body: BODY, etag: ETAG });
    try {
      await inSandbox(async ({ dir, dest }) => {
        await chmod(dir, 0o555);
        try {
          const root = typeof process.getuid === "function" && process.getuid() === 0;
          if (!root) {
            const outcome = await haul(server.url, { ...OPTIONS, dest }).catch((e: unknown) => e);
            expectError(outcome, DestinationError, "a 0555 directory");
            assert.equal(server.requests.length, 0, "no request");
            assert.deepEqual(await entries(dir), []);
            return;
          }
          // Root ignores permission bits: a write into the 0555 directory succeeds.
          await writeFile(join(dir, "probe"), "x");
          await rm(join(dir, "probe"));
          if (!canUnshare()) return; // the EROFS fault test above covers this machine
          const out = await runChildReadOnly(dir, server.url, dest);
          const line = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as {
            ok?: boolean;
            name?: string;
            haulError?: boolean;
          };
          assert.equal(line.ok, false, out);
          assert.equal(line.name, "DestinationError", out);
          assert.equal(line.haulError, true, out);
          assert.equal(server.requests.length, 0, "no request");
          assert.deepEqual(await entries(dir), [], "nothing was written");
        } finally {
          await chmod(dir, 0o755);
        }
      });
    } finally {
      await server.close();
    }
  });
});

describe("A full disk", () => {
  /** A real shim that fails writes to `.part` past `limit` bytes (writing what fits first). */
  async function fullDisk(dest: string, limit: { bytes: number; tmp: boolean }) {
    return new FaultyFs(await defaultFs(), (call) => {
      if (call.op !== "write") return null;
      if (limit.tmp && call.path === `${dest}.part.ctrl.tmp`) {
        return shimError("ENOSPC", call.path);
      }
      if (call.path !== `${dest}.part`) return null;
      const end = (call.position ?? 0) + (call.length ?? 0);
      if (end <= limit.bytes) return null;
      return {
        writeFirst: Math.max(0, limit.bytes - (call.position ?? 0)),
        error: shimError("ENOSPC", call.path),
      };
    });
  }

  for (
    const [label, options, writeBufferSize] of [
      ["with frequent checkpoints", OPTIONS, 16 * 1024],
      ["with the default checkpoint cadence", {}, 16 * 1024],
    ] as const
  ) {
    it(`gives a retryable DestinationError ${label}, and the next call resumes once space is freed`, async () => {
      await inSandbox(async ({ dir, dest }) => {
        const site = new Site();
        const limit = { bytes: 200_000, tmp: false };
        const fs = await fullDisk(dest, limit);
        const outcome = await haulWith(URL_, { ...options, dest, fetch: site.fetch }, {
          fs,
          writeBufferSize,
        })
          .catch((e: unknown) => e);
        const error = expectError(outcome, DestinationError, "ENOSPC while writing .part");
        assert.equal(error.retryable, true);
        assert.equal(exists(dest), false);
        assert.equal(exists(`${dest}.part.lock`), false);
        const saved = exists(`${dest}.part.ctrl`) ? await cursorAt(dest) : null;
        if (saved !== null) assert.ok(saved <= limit.bytes);
        limit.bytes = Infinity; // space freed
        const result = await expectExact(await site.call(dest, options), dest, "after freeing");
        const expected = saved === null ? "" : `bytes=${saved}-`;
        assert.equal(site.ranges.at(-1), expected, "the resume's Range");
        assert.equal(result.resumedFrom, saved ?? 0);
        if (options === OPTIONS) assert.ok(saved !== null && saved > 0, "progress kept");
        assert.deepEqual(await entries(dir), ["file.bin"]);
      });
    });
  }

  it("while writing a checkpoint keeps the previous checkpoint, and the download goes on", async () => {
    await inSandbox(async ({ dest }) => {
      const site = new Site();
      const before = await interrupted(site, dest);
      let refused = 0;
      const fs = await fullDisk(dest, { bytes: Infinity, tmp: true });
      const full = fs.rule;
      fs.rule = (call) => {
        const decision = full(call);
        if (decision) refused++;
        return decision;
      };
      site.cut = BODY.length;
      // A periodic checkpoint is insurance: one without room leaves the last (the rest may fit).
      const outcome = await haulWith(URL_, { ...OPTIONS, dest, fetch: site.fetch }, { fs })
        .catch((e: unknown) => e);
      const result = await expectExact(outcome, dest, "with no room for a checkpoint");
      assert.ok(refused > 0, "a checkpoint met the full disk");
      assert.equal(result.resumedFrom, before.cursor);
    });
  });
});

describe("Destination names", () => {
  it("with non-ASCII characters download, resume and clean up like any other", async () => {
    await inSandbox(async ({ dir }) => {
      const site = new Site();
      const name = "データ-ünïcödé-Ω≈ç-😀.bin";
      const dest = join(dir, name);
      site.cut = CUT;
      expectError(await site.call(dest), PartialHaulError, "cut");
      site.cut = BODY.length;
      const result = await expectExact(await site.call(dest), dest, name);
      assert.equal(result.resumedFrom, CUT);
      assert.deepEqual(await entries(dir), [name]);
    });
  });

  it("too long with the longest suffix are refused with a DestinationError before any request", async () => {
    const server = await startResourceServer({ body: BODY, etag: ETAG });
    try {
      await inSandbox(async ({ dir }) => {
        // 242 bytes + ".part.ctrl.tmp" (14) = 256 > 255; the second is 121 characters.
        for (const name of ["a".repeat(242), "é".repeat(121)]) {
          const dest = join(dir, name);
          const outcome = await haul(server.url, { ...OPTIONS, dest }).catch((e: unknown) => e);
          const error = expectError(outcome, DestinationError, `${name.length}-character name`);
          assert.equal(error.retryable, false);
        }
        assert.equal(server.requests.length, 0, "the server saw no request");
        assert.deepEqual(await entries(dir), []);
        // The longest accepted name: 241 bytes, so every sidecar fits in 255.
        const longest = join(dir, "b".repeat(241));
        const result = await haul(server.url, { ...OPTIONS, dest: longest });
        assert.equal(result.sha256, DIGEST);
        assert.deepEqual(await entries(dir), ["b".repeat(241)]);
      });
    } finally {
      await server.close();
    }
  });

  it('as file: URLs that are not UTF-8, or encode a "/" (another file), are a TypeError before any request', async () => {
    const server = await startResourceServer({ body: BODY, etag: ETAG });
    try {
      await inSandbox(async ({ dir }) => {
        await mkdir(join(dir, "x"));
        const base = pathToFileURL(dir).href;
        // %2F would have been read as x/y; %FF and a cut %E2%82 are no UTF-8 (Node's fileURLToPath
        // refuses the first, and no string can name the bytes of the others).
        for (
          const spelled of [`${base}/x%2Fy`, `${base}/a%FFb`, `${base}/a%E2%82`, `${base}/n%00`]
        ) {
          for (const dest of [spelled, new URL(spelled)]) {
            const outcome = await haul(server.url, { ...OPTIONS, dest }).catch((e: unknown) => e);
            assert.ok(outcome instanceof TypeError, `${spelled}: ${outcome}`);
            assert.match(outcome.message, /^Invalid dest: /);
            assert.equal(isRetryable(outcome), false);
          }
        }
        assert.equal(server.requests.length, 0, "the server saw no request");
        assert.deepEqual(await entries(dir), ["x"]);
        assert.deepEqual(await entries(join(dir, "x")), []);
        // A space and a non-ASCII name, percent-encoded, are the names they spell.
        const result = await haul(server.url, { ...OPTIONS, dest: `${base}/a%20b%C3%A9` });
        assert.equal(result.dest, join(dir, "a bé"));
        assert.equal(result.sha256, DIGEST);
      });
    } finally {
      await server.close();
    }
  });
});
