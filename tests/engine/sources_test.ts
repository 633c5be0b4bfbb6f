/**
 * Sources (issue 20, items 2 and 3), against real loopback servers:
 *
 * - mirrors: the first dies mid-download (its connection cut, then its port
 *   closed) and the file completes from the second with a resume; two
 *   mirrors with different ETags and an `integrity` make one file without a
 *   restart (without `integrity`, the second starts over); a mirror serving
 *   other bytes is an `IntegrityError` that says which source served what,
 *   and nothing is left at `dest`; `haulAll()` items take `urls`;
 * - a function source is called for every request: against a server whose
 *   tokens expire every 2 s and which cuts a body when its token expires,
 *   a 10 s download finishes by resuming (no request from byte 0 after the
 *   first), a 403 to an expired token being retryable once bytes are saved;
 *   the same 403 to a plain URL stays final;
 * - the CLI's list takes several URLs before the path.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { runCli } from "../fixtures/cli_run.ts";
import {
  haul,
  haulAll,
  haulWithRetry,
  IntegrityError,
  PartialHaulError,
  UnexpectedStatusError,
} from "../../mod.ts";
import { haulWith } from "../../src/engine/haul.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { type ScriptServer, startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const KiB = 1024;
const SIZE = 512 * KiB;
const FAST = { retries: 5, minDelayMs: 10, maxDelayMs: 50 };

function integrityOf(body: Uint8Array): string {
  return `sha256:${sha256(body)}`;
}

/** A mirror that cuts its first response after `cut` bytes and then stops listening. */
async function dyingMirror(body: Uint8Array, etag: string, cut: number): Promise<ScriptServer> {
  let first = true;
  const server: ScriptServer = await startResourceServer({ body, etag }, (_req, honest) => {
    if (!first) return honest;
    first = false;
    setTimeout(() => void server.close(), 300); // then refused
    return { ...honest, cutAfter: cut, cutLingerMs: 100 };
  });
  return server;
}

async function withServers(
  servers: ScriptServer[],
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  try {
    await withTempDir(fn);
  } finally {
    for (const server of servers) await server.close();
  }
}

describe("Mirrors", () => {
  it("completes from the second mirror with a resume when the first dies mid-download", async () => {
    const body = randomBody(SIZE);
    const a = await dyingMirror(body, '"same"', 200 * KiB);
    const b = await startResourceServer({ body, etag: '"same"' });
    await withServers([a, b], async (dir) => {
      const dest = join(dir, "file.bin");
      const result = await haulWithRetry([`${a.url}/f`, `${b.url}/f`], { dest, ...FAST });
      assert.equal(result.sha256, sha256(body));
      assert.ok(result.resumedFrom > 0, `resumed from ${result.resumedFrom}`);
      assert.deepEqual(await bytesOf(dest), body);
      assert.equal(b.requests.length, 1);
      assert.equal(b.requests[0]!.headers["range"], `bytes=${result.resumedFrom}-`);
      assert.equal(b.requests[0]!.headers["if-range"], '"same"');
    });
  });

  it("continues from a mirror with another ETag when integrity is given: one file, no restart", async () => {
    const body = randomBody(SIZE);
    const a = await dyingMirror(body, '"on-a"', 300 * KiB);
    const b = await startResourceServer({ body, etag: '"on-b"' });
    await withServers([a, b], async (dir) => {
      const dest = join(dir, "file.bin");
      const result = await haulWithRetry([`${a.url}/f`, `${b.url}/f`], {
        dest,
        integrity: integrityOf(body),
        ...FAST,
      });
      assert.deepEqual(await bytesOf(dest), body);
      assert.ok(result.resumedFrom > 0);
      assert.equal(b.requests.length, 1, "no restart from byte 0");
      assert.equal(b.requests[0]!.headers["range"], `bytes=${result.resumedFrom}-`);
      assert.equal(b.requests[0]!.headers["if-range"], undefined, "the digest, not the ETag");
    });
  });

  it("starts over on a mirror with another ETag when no integrity is given", async () => {
    const body = randomBody(SIZE);
    const a = await dyingMirror(body, '"on-a"', 300 * KiB);
    const b = await startResourceServer({ body, etag: '"on-b"' });
    await withServers([a, b], async (dir) => {
      const dest = join(dir, "file.bin");
      const result = await haulWithRetry([`${a.url}/f`, `${b.url}/f`], { dest, ...FAST });
      assert.deepEqual(await bytesOf(dest), body);
      assert.equal(result.resumedFrom, 0);
      assert.equal(b.requests[0]!.headers["if-range"], '"on-a"');
      assert.equal(result.status, 200);
    });
  });

  it("refuses a mirror serving other bytes: IntegrityError naming the sources, nothing at dest", async () => {
    const body = randomBody(SIZE);
    const other = randomBody(SIZE);
    const a = await dyingMirror(body, '"a"', 256 * KiB);
    const b = await startResourceServer({ body: other, etag: '"b"' });
    await withServers([a, b], async (dir) => {
      const dest = join(dir, "file.bin");
      const error = await haulWithRetry([`${a.url}/f`, `${b.url}/f`], {
        dest,
        integrity: integrityOf(body),
        ...FAST,
      }).catch((e) => e);
      assert.ok(error instanceof IntegrityError, String(error));
      assert.match(error.message, new RegExp(`${b.url}/f: bytes \\d+-${SIZE - 1}`));
      assert.match(error.message, /from an earlier attempt/);
      assert.equal(exists(dest), false);
      assert.deepEqual(readdirSync(dir), [], "nothing left beside dest");
    });
  });

  it("names a mirror whose cut bodies left other bytes in its IntegrityError, over 4 connections", async () => {
    // Each of b's bodies is cut: the bytes it wrote stay, so the message must say b served them.
    const [body, other] = [randomBody(SIZE), randomBody(SIZE)];
    const a = await startResourceServer({ body, etag: '"a"' });
    const b = await startResourceServer(
      { body: other, etag: '"b"' },
      (_req, honest) => ({ ...honest, cutAfter: 20 * KiB }),
    );
    await withServers([a, b], async (dir) => {
      const dest = join(dir, "f");
      const hooks = { rangeFloor: 32 * KiB, writeBufferSize: 8 * KiB };
      const error = await haulWith([`${a.url}/f`, `${b.url}/f`], {
        dest,
        integrity: integrityOf(body),
        connections: 4,
      }, hooks).catch((e) => e);
      assert.ok(error instanceof IntegrityError, String(error));
      assert.ok(b.requests.length > 0, "b served ranges");
      assert.match(error.message, new RegExp(`${b.url}/f: bytes \\d+-\\d+`));
      assert.deepEqual(readdirSync(dir), [], "nothing left beside dest");
    });
  });

  it("spreads ranges over the mirrors with several connections", async () => {
    const body = randomBody(12 * 1024 * KiB); // at least two 4 MiB ranges
    const a = await startResourceServer({ body, etag: '"m"' });
    const b = await startResourceServer({ body, etag: '"m"' });
    await withServers([a, b], async (dir) => {
      const dest = join(dir, "file.bin");
      const result = await haul([`${a.url}/f`, `${b.url}/f`], { dest, connections: 4 });
      assert.equal(result.sha256, sha256(body));
      assert.ok(a.requests.length > 0 && b.requests.length > 0, "both mirrors served ranges");
    });
  });

  it("finishes from the live mirror when another is dead or has no such file, over 4 connections", async () => {
    const body = randomBody(12 * 1024 * KiB); // at least two 4 MiB ranges
    const live = await startResourceServer({ body, etag: '"m"' });
    const missing = await startResourceServer(() => ({ body, etag: '"m"' }), () => ({
      status: 404,
      body: "gone",
    }));
    const dead = await startResourceServer({ body });
    await dead.close(); // its port refuses
    await withServers([live, missing], async (dir) => {
      for (const other of [dead, missing]) {
        const dest = join(dir, `from-${other.port}.bin`);
        const urls = [`${live.url}/f`, `${other.url}/f`];
        // The first source serves; the other's failure stops only its own connections.
        const result = await haul(urls, { dest, connections: 4 });
        assert.equal(result.sha256, sha256(body));
        assert.deepEqual(await bytesOf(dest), body);
      }
      // A dead first source: the retry loop moves to the next, which finishes in one attempt.
      let retried = 0;
      const second = await haulWithRetry([`${dead.url}/f`, `${live.url}/f`], {
        dest: join(dir, "again.bin"),
        connections: 4,
        ...FAST,
        onRetry: () => retried++,
      });
      assert.equal(second.sha256, sha256(body));
      assert.equal(retried, 1);
      assert.ok(missing.requests.length > 0);
    });
  });

  it("keeps the download when another mirror has another ETag over 4 connections, no integrity", async () => {
    const body = randomBody(12 * 1024 * KiB); // at least two 4 MiB ranges
    const a = await startResourceServer({ body, etag: '"on-a"' });
    const b = await startResourceServer({ body, etag: '"on-b"' });
    await withServers([a, b], async (dir) => {
      // B's bytes cannot be proved A's (If-Range "on-a" gets B's whole file): it is not used, and
      // nothing A served is discarded.
      const result = await haul([`${a.url}/f`, `${b.url}/f`], {
        dest: join(dir, "f"),
        connections: 4,
      });
      assert.equal(result.sha256, sha256(body));
      assert.ok(b.requests.length > 0);
      for (const req of b.requests) assert.equal(req.headers["if-range"], '"on-a"');
    });
  });

  it("finishes from the first source when another mirror cuts every range it serves, over 4 connections", async () => {
    const body = randomBody(12 * 1024 * KiB);
    const a = await startResourceServer({ body, etag: '"m"' });
    const b = await startResourceServer(
      { body, etag: '"m"' },
      (_req, honest) => ({ ...honest, cutAfter: 200 * KiB }),
    );
    await withServers([a, b], async (dir) => {
      const result = await haul([`${a.url}/f`, `${b.url}/f`], {
        dest: join(dir, "f"),
        connections: 4,
      });
      assert.equal(result.sha256, sha256(body));
    });
  });

  it("finishes from the first source when another mirror's body stalls, over 4 connections", async () => {
    const body = randomBody(12 * 1024 * KiB);
    const a = await startResourceServer({ body, etag: '"m"' });
    const b = await startResourceServer(
      { body, etag: '"m"' },
      (_req, honest) => ({ ...honest, cutAfter: 100 * KiB, cutLingerMs: 3000 }), // then silent
    );
    await withServers([a, b], async (dir) => {
      const urls = [`${a.url}/f`, `${b.url}/f`];
      const dest = join(dir, "f");
      const result = await haul(urls, { dest, connections: 4, stallTimeout: 300 });
      assert.equal(result.sha256, sha256(body));
      assert.deepEqual(await bytesOf(dest), body);
      assert.deepEqual(readdirSync(dir), ["f"]);
    });
  });

  it("a failed write into another mirror's range ends the call, whatever the error's class: no hole at dest", async () => {
    const body = randomBody(2 * 1024 * KiB);
    const a = await startResourceServer({ body, etag: '"m"' });
    const b = await startResourceServer({ body, etag: '"m"' });
    const base = await defaultFs();
    let failed = false;
    // A shim that breaks its contract (a plain Error, not an FsShimError) on one write in b's range.
    const failOnce = (position: number): boolean => {
      const range = /^bytes=(\d+)-(\d+)$/.exec(b.requests[0]?.headers["range"] ?? "");
      if (failed || range === null || position < Number(range[1])) return false;
      return failed = position <= Number(range[2]);
    };
    const wrap = <T extends object>(target: T, own: Partial<T>): T =>
      new Proxy(target, {
        get: (t, key) => {
          const value = key in own ? own[key as keyof T] : t[key as keyof T];
          return typeof value === "function" && !(key in own) ? value.bind(t) : value;
        },
      });
    const fs = wrap(base, {
      open: async (path, mode) => {
        const file = await base.open(path, mode);
        return wrap(file, {
          write: (bytes, at) =>
            failOnce(at) ? Promise.reject(new Error("the disk went away")) : file.write(bytes, at),
        });
      },
    });
    await withServers([a, b], async (dir) => {
      const dest = join(dir, "file.bin");
      const hooks = { fs, rangeFloor: 64 * KiB, writeBufferSize: 16 * KiB };
      const urls = [`${a.url}/f`, `${b.url}/f`];
      const outcome = await haulWith(urls, { dest, connections: 2 }, hooks).catch((e) => e);
      assert.ok(failed, "the write failed");
      assert.ok(outcome instanceof Error, `the call rejects, not ${JSON.stringify(outcome)}`);
      assert.match(outcome.message, /the disk went away/);
      assert.equal(exists(dest), false);
      const result = await haul(urls, { dest, connections: 2 });
      assert.deepEqual(await bytesOf(dest), body);
      assert.equal(result.sha256, sha256(body));
    });
  });

  it("moves on to the next mirror when the first has no such file (404)", async () => {
    const body = randomBody(SIZE);
    const missing = await startResourceServer({ body }, () => ({ status: 404, body: "gone" }));
    const live = await startResourceServer({ body, etag: '"m"' });
    await withServers([missing, live], async (dir) => {
      const urls = [`${missing.url}/f`, `${live.url}/f`];
      const result = await haulWithRetry(urls, { dest: join(dir, "f"), ...FAST });
      assert.equal(result.sha256, sha256(body));
      assert.equal(missing.requests.length, 1);
    });
  });

  it("a checkpoint of mirrors whose ETags differ, trusted to the digest, is not resumed by a call without integrity", async () => {
    // Mirror b serves another file of the same length: the integrity call saves b's bytes under
    // a's ETag when a cuts it; a call without integrity, If-Range with that ETag, spliced them.
    const [bodyA, bodyB] = [randomBody(SIZE), randomBody(SIZE)];
    let cut = true; // a's bodies, slower than b's, are cut: the call ends with b's bytes saved
    const a = await startResourceServer({ body: bodyA, etag: '"a"' }, (_req, honest) => ({
      ...honest,
      ...(cut ? { chunkSize: 8 * KiB, bytesPerSecond: 256 * KiB, cutAfter: 24 * KiB } : {}),
    }));
    const b = await startResourceServer({ body: bodyB, etag: '"b"' }, (_req, honest) => ({
      ...honest,
      chunkSize: 8 * KiB,
      bytesPerSecond: 1024 * KiB,
    }));
    await withServers([a, b], async (dir) => {
      const dest = join(dir, "f");
      const hooks = { rangeFloor: 32 * KiB, writeBufferSize: 8 * KiB, syncEvery: 32 * KiB };
      const first = await haulWith([`${a.url}/f`, `${b.url}/f`], {
        dest,
        integrity: integrityOf(bodyA),
        connections: 4,
        checkpointEvery: { bytes: 32 * KiB, ms: 10 },
      }, hooks).catch((error: unknown) => error);
      assert.ok(first instanceof PartialHaulError, String(first));
      assert.ok(b.requests.length > 0 && exists(`${dest}.part.ctrl`), "b's bytes were saved");
      cut = false;
      const result = await haulWith(`${a.url}/f`, { dest, connections: 1 }, hooks);
      assert.equal(sha256(await bytesOf(dest)), sha256(bodyA), "dest is a's file, not a splice");
      assert.equal(result.sha256, sha256(bodyA));
    });
  });

  it("haulAll() takes an item's urls", async () => {
    const body = randomBody(SIZE);
    const a = await dyingMirror(body, '"x"', 100 * KiB);
    const b = await startResourceServer({ body, etag: '"x"' });
    await withServers([a, b], async (dir) => {
      const dest = join(dir, "file.bin");
      const [report] = await haulAll(
        [{ url: `${a.url}/f`, urls: [`${a.url}/f`, `${b.url}/f`], dest }],
        FAST,
      );
      assert.equal(report!.status, "done", "error" in report! ? String(report.error) : "");
      assert.deepEqual(await bytesOf(dest), body);
    });
  });
});

describe("A function source", () => {
  /** Tokens are valid for 2 s; a body whose token expires is cut. */
  async function expiringServer(body: Uint8Array): Promise<ScriptServer> {
    return await startResourceServer({ body, etag: '"t"' }, (req, honest) => {
      const issued = Number(/token=(\d+)/.exec(req.path)?.[1] ?? 0);
      const left = issued + 2000 - Date.now();
      if (left <= 0) return { status: 403, body: "<Error><Code>AccessDenied</Code></Error>" };
      const rate = 200 * KiB; // 2 MiB in about 10 s
      return { ...honest, bytesPerSecond: rate, cutAfter: Math.floor((left / 1000) * rate) };
    });
  }

  it(
    "is called for every request: a 10 s download whose tokens expire every 2 s resumes to the end",
    {
      timeout: 60_000,
    },
    async () => {
      const body = randomBody(2 * 1024 * KiB);
      const server = await expiringServer(body);
      let calls = 0;
      const source = () => {
        calls++;
        // The second call hands out a stale token: its 403 comes after bytes were saved.
        const issued = calls === 2 ? Date.now() - 5000 : Date.now();
        return `${server.url}/f?token=${issued}`;
      };
      await withServers([server], async (dir) => {
        const dest = join(dir, "file.bin");
        const result = await haulWithRetry(source, {
          dest,
          retries: 30,
          minDelayMs: 10,
          maxDelayMs: 50,
        });
        assert.equal(result.sha256, sha256(body));
        assert.ok(calls >= 5, `${calls} calls`);
        const statuses = server.requests.slice(1);
        assert.ok(statuses.length >= 4);
        for (const req of statuses) assert.match(req.headers["range"] ?? "", /^bytes=[1-9]\d*-$/);
      });
    },
  );

  it("reads a 400's body for an expired signature within stallTimeout: a stalled one ends the call", async () => {
    const body = randomBody(SIZE);
    const expired = "<Error><Code>ExpiredToken</Code></Error>";
    for (const answer of ["expired", "other", "stalled"]) {
      const server = await startResourceServer({ body, etag: '"t"' }, (req, honest) => {
        if (req.index === 0) return { ...honest, cutAfter: 200 * KiB, cutLingerMs: 100 };
        if (req.index > 1) return honest;
        if (answer === "stalled") {
          return { status: 400, body: "x".repeat(100 * KiB), stallAfter: 10 };
        }
        return { status: 400, body: answer === "expired" ? expired : "<Error>BadRequest</Error>" };
      });
      await withServers([server], async (dir) => {
        const dest = join(dir, "file.bin");
        const source = () => `${server.url}/f`;
        assert.ok((await haul(source, { dest }).catch((e) => e)) instanceof PartialHaulError);
        const startedAt = performance.now();
        const outcome = await haulWithRetry(source, { dest, stallTimeout: 500, ...FAST })
          .catch((e: unknown) => e);
        if (answer === "expired") {
          assert.equal((outcome as { sha256?: string }).sha256, sha256(body), String(outcome));
          return;
        }
        assert.ok(outcome instanceof UnexpectedStatusError, `${answer}: ${outcome}`);
        assert.equal(outcome.status, 400);
        assert.equal(outcome.retryable, false, "not said to be an expired signature");
        assert.ok(performance.now() - startedAt < 5000, `${answer}: the call waited for the body`);
        assert.deepEqual(readdirSync(dir).sort(), ["file.bin.part", "file.bin.part.ctrl"]);
      });
    }
  });

  it("a plain URL's 403 after bytes were saved stays final", async () => {
    const body = randomBody(2 * 1024 * KiB);
    const server = await expiringServer(body);
    await withServers([server], async (dir) => {
      const dest = join(dir, "file.bin");
      const url = `${server.url}/f?token=${Date.now()}`;
      const first = await haul(url, { dest }).catch((e) => e);
      assert.ok(first instanceof PartialHaulError, String(first));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const error = await haulWithRetry(url, { dest, ...FAST }).catch((e) => e);
      assert.ok(error instanceof UnexpectedStatusError, String(error));
      assert.equal(error.status, 403);
      assert.equal(error.retryable, false);
      assert.equal((error as unknown as { attempts: number }).attempts, 1);
    });
  });
});

describe("The CLI's list with mirrors", () => {
  it("downloads a line of two mirrors from the second when the first dies", async () => {
    const body = randomBody(SIZE);
    const a = await dyingMirror(body, '"l"', 200 * KiB);
    const b = await startResourceServer({ body, etag: '"l"' });
    await withServers([a, b], async (dir) => {
      const list = join(dir, "list.txt");
      writeFileSync(list, `${a.url}/f.bin\t${b.url}/f.bin out.bin\n`);
      const result = await runCli(["-i", list, "-d", dir, "--retry-delay", "0.01"]);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(await bytesOf(join(dir, "out.bin")), body);
      assert.match(b.requests[0]!.headers["range"] ?? "", /^bytes=[1-9]\d*-$/, "a resume");
    });
  });
});
