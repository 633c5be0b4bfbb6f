/**
 * `integrity` with SHA-512, the digest npm publishes (`dist.integrity`), on a
 * real tarball made by `npm pack` in the test and served from 127.0.0.1:
 *
 * - a fresh download is checked against what npm printed, and a wrong SHA-512
 *   is an `IntegrityError` with nothing at `dest`, even beside a right SHA-256
 *   (the strongest algorithm decides);
 * - the SHA-512 follows every path a digest takes to the one commit: a resume
 *   in a new process (reads `.part` back), a retry loop's next attempt (a kept
 *   hasher, nothing read back), `haulWithRetry()`, several connections and
 *   their resume, an existing `dest`, the 416 finish of a complete `.part`,
 *   and a call that joins one of this process without `integrity`.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  haul,
  type HaulResult,
  haulWithRetry,
  IntegrityError,
  PartialHaulError,
} from "../../mod.ts";
import { type EngineHooks, haulWith } from "../../src/engine/haul.ts";
import { KeptHasher } from "../../src/engine/kept_hashes.ts";
import { durablePrefix } from "../../src/protocol/checkpoint.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import { type RecordedOp, recordingFs } from "../helpers/recording_fs.ts";
import { runtimeChild } from "../helpers/runtime.ts";
import { type ScriptServer, startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const MiB = 1024 * 1024;
const SLOW = { timeout: 120_000 };
const BLOCK = 65536;
const OPTIONS = { blockSize: BLOCK, checkpointEvery: { bytes: 256 * 1024, ms: 60_000 } };
const HOOKS: EngineHooks = {
  rangeFloor: 64 * 1024,
  writeBufferSize: 16 * 1024,
  syncEvery: 64 * 1024,
};
const CHILD = fileURLToPath(new URL("../fixtures/haul_child.ts", import.meta.url));
const NAME = "haul-digest-fixture-1.0.0.tgz";

/** A tarball `npm pack` made, and what npm said about it. */
interface Packed {
  readonly tarball: Uint8Array;
  /** npm's `integrity`: `sha512-<base64>`. */
  readonly integrity: string;
  /** The same SHA-512, hex. */
  readonly sha512: string;
}

let packing: Promise<Packed> | null = null;

/** `npm pack --json` of a package holding 3 MiB of random bytes (made once per run). */
function npmTarball(): Promise<Packed> {
  packing ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "haul-npm-"));
    try {
      const manifest = { name: "haul-digest-fixture", version: "1.0.0", files: ["*.js", "*.bin"] };
      await writeFile(join(dir, "package.json"), JSON.stringify(manifest));
      await writeFile(join(dir, "index.js"), "module.exports = 'haul';\n");
      await writeFile(join(dir, "data.bin"), randomBody(3 * MiB));
      const stdout = await new Promise<string>((resolve, reject) => {
        const env = {
          ...process.env,
          npm_config_update_notifier: "false",
          npm_config_fund: "false",
        };
        execFile("npm", ["pack", "--json"], { cwd: dir, env }, (error, out) => {
          if (error !== null) reject(error);
          else resolve(String(out));
        });
      });
      const [report] = JSON.parse(stdout) as { filename: string; integrity: string }[];
      assert.equal(report?.filename, NAME);
      const integrity = report.integrity;
      assert.match(integrity, /^sha512-[A-Za-z0-9+/]{86}==$/, "npm's integrity is a sha512");
      const tarball = await bytesOf(join(dir, report.filename));
      return { tarball, integrity, sha512: hexOf(integrity.slice("sha512-".length)) };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return packing;
}

function hexOf(base64: string): string {
  return Array.from(atob(base64), (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
}

/** npm's integrity with its first digest byte changed: still a well-formed sha512. */
function wrongIntegrity(packed: Packed): { integrity: string; sha512: string } {
  const first = packed.integrity["sha512-".length] === "A" ? "B" : "A";
  const integrity = `sha512-${first}${packed.integrity.slice("sha512-".length + 1)}`;
  return { integrity, sha512: hexOf(integrity.slice("sha512-".length)) };
}

/** Serves the tarball; `/cut/<n>/…` responses break after `n` body bytes. */
function startServer(body: Uint8Array): Promise<ScriptServer> {
  return startResourceServer({ body, etag: '"npm-1"' }, (req, honest) => {
    const cut = /^\/cut\/(\d+)\//.exec(req.path);
    return cut === null ? honest : { ...honest, cutAfter: Number(cut[1]), cutLingerMs: 200 };
  });
}

async function cursorOf(dest: string): Promise<number> {
  return durablePrefix(decodeCheckpoint(await bytesOf(`${dest}.part.ctrl`)));
}

/** Asserts the mismatch was reported as a SHA-512 one and nothing is left in `dir`. */
async function assertRefused(error: unknown, wrong: string, packed: Packed, dir: string) {
  assert.ok(error instanceof IntegrityError, String(error));
  assert.equal(error.algorithm, "sha512");
  assert.deepEqual(error.expected, [wrong]);
  assert.equal(error.actual, packed.sha512);
  assert.match(error.message, /got sha512 [0-9a-f]{128}, expected [0-9a-f]{128}/);
  assert.deepEqual(await readdir(dir), [], "nothing at dest, no sidecar left");
}

/** Asserts a success left the tarball at `dest` and reported both digests. */
async function assertTarball(result: HaulResult, packed: Packed, dest: string) {
  assert.deepEqual(await bytesOf(dest), packed.tarball);
  assert.equal(result.sha256, sha256(packed.tarball));
  assert.equal(result.sha512, packed.sha512);
  assert.equal(result.sha384, undefined, "only what integrity asked is computed");
}

describe("A tarball made by npm pack, checked against npm's own integrity", () => {
  it("downloads and matches the sha512 npm printed (and node:crypto agrees)", SLOW, async () => {
    const packed = await npmTarball();
    assert.equal(createHash("sha512").update(packed.tarball).digest("hex"), packed.sha512);
    const server = await startServer(packed.tarball);
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, NAME);
        const result = await haul(`${server.url}/${NAME}`, { dest, integrity: packed.integrity });
        await assertTarball(result, packed, dest);
        assert.deepEqual(await readdir(dir), [NAME]);
      });
    } finally {
      await server.close();
    }
  });

  it("refuses a wrong sha512, even beside a right sha256: nothing at dest", SLOW, async () => {
    const packed = await npmTarball();
    const wrong = wrongIntegrity(packed);
    const right256 = `sha256-${createHash("sha256").update(packed.tarball).digest("base64")}`;
    const server = await startServer(packed.tarball);
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, NAME);
        const integrity = `${right256} ${wrong.integrity}`;
        const error = await haul(`${server.url}/${NAME}`, { dest, integrity }).catch((e) => e);
        await assertRefused(error, wrong.sha512, packed, dir);
      });
    } finally {
      await server.close();
    }
  });
});

describe("sha512 on every path to the commit", () => {
  it(
    "a resume in a new process hashes .part again with sha512, and a wrong one is refused",
    SLOW,
    async () => {
      const packed = await npmTarball();
      const server = await startServer(packed.tarball);
      try {
        for (const wrong of [null, wrongIntegrity(packed)]) {
          await withTempDir(async (dir) => {
            const dest = join(dir, NAME);
            const cut = 1_300_000;
            const first = await haul(`${server.url}/cut/${cut}/${NAME}`, { dest, ...OPTIONS })
              .catch((e) => e);
            assert.ok(first instanceof PartialHaulError, String(first));
            const cursor = await cursorOf(dest);
            assert.ok(cursor > 0, "something was saved");
            const integrity = wrong?.integrity ?? packed.integrity;
            const child = runtimeChild(CHILD, [
              `${server.url}/${NAME}`,
              dest,
              JSON.stringify({ ...OPTIONS, integrity }),
            ], { allowAll: true });
            const line = JSON.parse(await child.firstLine());
            await child.exited;
            if (wrong === null) {
              assert.equal(line.ok, true, child.output());
              assert.equal(line.resumedFrom, cursor, "the child resumed");
              assert.equal(line.sha512, packed.sha512);
              assert.deepEqual(await bytesOf(dest), packed.tarball);
            } else {
              assert.equal(line.name, "IntegrityError", child.output());
              assert.match(line.message, new RegExp(`got sha512 ${packed.sha512}`));
              assert.deepEqual(await readdir(dir), [], "nothing at dest, no sidecar left");
            }
          });
        }
      } finally {
        await server.close();
      }
    },
  );

  it(
    "a retry loop's next attempt continues the kept sha512: nothing is read back but tail checks",
    SLOW,
    async () => {
      const packed = await npmTarball();
      const server = await startServer(packed.tarball);
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, NAME);
          const log: RecordedOp[] = [];
          const hooks = { fs: recordingFs(await defaultFs(), log), kept: new KeptHasher() };
          const options = { dest, ...OPTIONS, integrity: packed.integrity };
          let cuts = 0;
          let result: HaulResult | null = null;
          for (let attempt = 0; attempt < 8 && result === null; attempt++) {
            const path = attempt < 3 ? `/cut/${MiB}/${NAME}` : `/${NAME}`;
            const outcome = await haulWith(`${server.url}${path}`, options, hooks).catch((e) => e);
            if (outcome instanceof PartialHaulError) cuts++;
            else if (outcome instanceof Error) throw outcome;
            else result = outcome as HaulResult;
          }
          assert.equal(cuts, 3);
          assert.ok(result !== null);
          assert.ok(result.resumedFrom > 0);
          await assertTarball(result, packed, dest);
          const readBack = log
            .filter((e) => e.op === "read" && e.path === `${dest}.part`)
            .reduce((sum, e) => sum + (e.length ?? 0), 0);
          const checkpoints = log.filter((e) => e.op === "rename" && e.to === `${dest}.part.ctrl`);
          const bound = BLOCK * (cuts + checkpoints.length);
          assert.ok(readBack <= bound, `${readBack} bytes read back, more than ${bound}`);
        });
      } finally {
        await server.close();
      }
    },
  );

  it("haulWithRetry() resumes after cuts and checks the sha512", SLOW, async () => {
    const packed = await npmTarball();
    let responses = 0;
    const server = await startResourceServer(
      { body: packed.tarball, etag: '"npm-1"' },
      (_, honest) => ++responses <= 2 ? { ...honest, cutAfter: 700_000, cutLingerMs: 200 } : honest,
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, NAME);
        let retries = 0;
        const result = await haulWithRetry(`${server.url}/${NAME}`, {
          dest,
          ...OPTIONS,
          integrity: packed.integrity,
          retries: 5,
          minDelayMs: 1,
          maxDelayMs: 5,
          onRetry: () => void retries++,
        });
        assert.equal(retries, 2);
        assert.ok(result.resumedFrom > 0, "the last attempt resumed");
        await assertTarball(result, packed, dest);
      });
    } finally {
      await server.close();
    }
  });

  it("several connections, their resume after a cut range, and a wrong sha512", SLOW, async () => {
    const packed = await npmTarball();
    let cut = true;
    const server = await startResourceServer(
      { body: packed.tarball, etag: '"npm-1"' },
      (req, honest) => {
        const start = Number(/^bytes=(\d+)-/.exec(req.headers["range"] ?? "")?.[1] ?? 0);
        if (!cut || start === 0) return honest;
        cut = false;
        return { ...honest, cutAfter: 100_000, cutLingerMs: 100 };
      },
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, NAME);
        const options = { dest, ...OPTIONS, connections: 4, integrity: packed.integrity };
        const error = await haulWith(server.url, options, HOOKS).catch((e) => e);
        assert.ok(error instanceof PartialHaulError, String(error));
        assert.equal(cut, false, "a range after the first was asked (and cut)");
        const result = await haulWith(server.url, options, HOOKS);
        assert.ok(result.resumedFrom > 0, "the second call resumed the saved ranges");
        await assertTarball(result, packed, dest);
      });
      await withTempDir(async (dir) => {
        const dest = join(dir, NAME);
        const wrong = wrongIntegrity(packed);
        const options = { dest, ...OPTIONS, connections: 4, integrity: wrong.integrity };
        const before = server.requests.length;
        const error = await haulWith(server.url, options, HOOKS).catch((e) => e);
        await assertRefused(error, wrong.sha512, packed, dir);
        assert.ok(server.requests.length - before > 1, "several connections were used");
      });
    } finally {
      await server.close();
    }
  });

  it("an existing dest is read and checked with sha512, no request made", SLOW, async () => {
    const packed = await npmTarball();
    const server = await startServer(packed.tarball);
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, NAME);
        await writeFile(dest, packed.tarball);
        const result = await haul(server.url, { dest, integrity: packed.integrity });
        assert.equal(result.alreadyComplete, true);
        await assertTarball(result, packed, dest);
        const wrong = wrongIntegrity(packed);
        const error = await haul(server.url, { dest, integrity: wrong.integrity }).catch((e) => e);
        assert.ok(error instanceof IntegrityError, String(error));
        assert.equal(error.algorithm, "sha512");
        assert.equal(error.actual, packed.sha512);
        assert.deepEqual(await bytesOf(dest), packed.tarball, "the existing file is kept");
        assert.equal(server.requests.length, 0);
      });
    } finally {
      await server.close();
    }
  });

  it(
    "a complete .part finished by a 416 is hashed with sha512 (right, then wrong)",
    SLOW,
    async () => {
      const packed = await npmTarball();
      const server = await startServer(packed.tarball);
      /** A fetch whose body sends every byte, then breaks before it ends. */
      const brokenAtEnd = async (request: Request): Promise<Response> => {
        const response = await fetch(request);
        const reader = response.body!.getReader();
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            const { done, value } = await reader.read();
            if (done) controller.error(new Error("connection reset after the last byte"));
            else controller.enqueue(value);
          },
        });
        return new Response(body, { status: response.status, headers: response.headers });
      };
      try {
        for (const wrong of [null, wrongIntegrity(packed)]) {
          await withTempDir(async (dir) => {
            const dest = join(dir, NAME);
            const integrity = wrong?.integrity ?? packed.integrity;
            const options = { dest, ...OPTIONS, integrity };
            const first = await haul(server.url, { ...options, fetch: brokenAtEnd }).catch((e) =>
              e
            );
            assert.ok(first instanceof PartialHaulError, String(first));
            assert.equal(first.validLength, packed.tarball.length);
            const second = await haul(server.url, options).catch((e) => e);
            if (wrong !== null) return await assertRefused(second, wrong.sha512, packed, dir);
            assert.equal(second.status, 416);
            await assertTarball(second, packed, dest);
          });
        }
      } finally {
        await server.close();
      }
    },
  );

  it(
    "a call with sha512 that joins a call without integrity has the file checked",
    SLOW,
    async () => {
      const packed = await npmTarball();
      const server = await startResourceServer(
        { body: packed.tarball, etag: '"npm-1"' },
        (_, honest) => ({ ...honest, bytesPerSecond: 8 * MiB }),
      );
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, NAME);
          const first = haul(`${server.url}/${NAME}`, { dest });
          await new Promise((resolve) => setTimeout(resolve, 30));
          const joined = haul(`${server.url}/${NAME}`, { dest, integrity: packed.integrity });
          const [a, b] = await Promise.all([first, joined]);
          assert.equal(a.sha512, undefined, "the first call asked for no sha512");
          assert.equal(b.alreadyComplete, true, "the joined call read the file it found");
          await assertTarball(b, packed, dest);
          assert.equal(server.requests.length, 1);
          assert.equal(exists(`${dest}.part`), false);
        });
      } finally {
        await server.close();
      }
    },
  );
});
