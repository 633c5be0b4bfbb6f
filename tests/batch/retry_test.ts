import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  haulWithRetry,
  PartialHaulError,
  type RetryInfo,
  UnexpectedStatusError,
} from "../../mod.ts";
import {
  startResourceServer,
  startScriptServer,
  startThrottledServer,
} from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";
import { FaultyFs, shimError } from "../helpers/fault_fs.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { haulWithRetry as retryWithHooks } from "../../src/batch/retry.ts";
import { readdirSync, renameSync, utimesSync, writeFileSync } from "node:fs";

describe("haulWithRetry()", () => {
  it(
    "retries through broken connections and returns the verified result",
    async () => {
      const body = randomBody(1_500_000);
      const server = await startResourceServer({ body }, (req, honest) => {
        return req.index < 3
          ? { ...honest, cutAfter: 200_000, chunkSize: 16_384, bytesPerSecond: 4_000_000 }
          : honest;
      });
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "file.bin");
          const retries: RetryInfo[] = [];
          const result = await haulWithRetry(server.url, {
            dest,
            retries: 5,
            minDelayMs: 1,
            onRetry: (info) => retries.push(info),
          });
          assert.equal(result.sha256, sha256(body));
          assert.deepEqual(await bytesOf(dest), body);
          assert.equal(server.requests.length, 4);
          assert.deepEqual(retries.map((info) => info.attempt), [1, 2, 3]);
          assert.ok(retries.every((info) => info.maxAttempts === 6));
          assert.ok(retries.every((info) => info.error instanceof PartialHaulError));
          assert.ok(result.resumedFrom > 0, "the last attempt resumed");
          assert.ok(server.requests.slice(1).every((req) => req.headers["range"] !== undefined));
        });
      } finally {
        await server.close();
      }
    },
  );

  it("gives up after retries + 1 attempts and records the attempt count on the error", async () => {
    const server = await startScriptServer(() => ({ status: 503, body: "busy" }));
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const error = await haulWithRetry(server.url, { dest, retries: 2, minDelayMs: 1 })
          .catch((e) => e);
        assert.ok(error instanceof UnexpectedStatusError, String(error));
        assert.equal(error.status, 503);
        assert.equal((error as unknown as { attempts: number }).attempts, 3);
        assert.equal(server.requests.length, 3);
        assert.equal(exists(dest), false);
      });
    } finally {
      await server.close();
    }
  });

  it("does not retry a status that cannot succeed", async () => {
    const server = await startScriptServer(() => ({ status: 404, body: "no" }));
    try {
      await withTempDir(async (dir) => {
        const error = await haulWithRetry(server.url, {
          dest: join(dir, "x"),
          retries: 5,
          minDelayMs: 1,
        }).catch((e) => e);
        assert.ok(error instanceof UnexpectedStatusError);
        assert.equal((error as unknown as { attempts: number }).attempts, 1);
        assert.equal(server.requests.length, 1);
      });
    } finally {
      await server.close();
    }
  });

  it("does not retry an invalid URL, which no request can fix", async () => {
    await withTempDir(async (dir) => {
      const started = performance.now();
      const error = await haulWithRetry("http://exa mple.com/", {
        dest: join(dir, "x"),
        retries: 5,
        minDelayMs: 2000,
      }).catch((e) => e);
      assert.ok(error instanceof TypeError, String(error));
      assert.equal((error as unknown as { attempts: number }).attempts, 1);
      assert.ok(performance.now() - started < 1000);
    });
  });

  it("waits at least as long as the server's Retry-After", async () => {
    const body = randomBody(1000);
    const server = await startResourceServer({ body }, (req, honest) => {
      return req.index === 0
        ? { status: 503, headers: { "Retry-After": "1" }, body: "later" }
        : honest;
    });
    try {
      await withTempDir(async (dir) => {
        const delays: number[] = [];
        const started = performance.now();
        const result = await haulWithRetry(server.url, {
          dest: join(dir, "x"),
          minDelayMs: 1,
          onRetry: (info) => delays.push(info.delayMs),
        });
        assert.equal(result.sha256, sha256(body));
        assert.ok(delays[0]! >= 1000, `delay ${delays[0]}`);
        assert.ok(performance.now() - started >= 950);
      });
    } finally {
      await server.close();
    }
  });

  it("waits, not retries at once, when the delays are beyond setTimeout's longest (minDelayMs Infinity)", async () => {
    await withTempDir(async (dir) => {
      let calls = 0;
      let controller = new AbortController();
      const fetch = () => {
        // The wait is cut 150 ms after the first answer, however late that came (a busy machine).
        const stop = controller;
        if (calls++ === 0) setTimeout(() => stop.abort(new DOMException("", "TimeoutError")), 150);
        return Promise.resolve(new Response("later", { status: 503 }));
      };
      for (
        const delays of [{ minDelayMs: Infinity }, { minDelayMs: 2 ** 40, maxDelayMs: 2 ** 41 }]
      ) {
        calls = 0;
        controller = new AbortController();
        const options = { dest: join(dir, "x"), fetch, signal: controller.signal, ...delays };
        const error = await haulWithRetry("https://example.com/x", options).catch((e) => e);
        assert.equal((error as Error).name, "TimeoutError", String(error));
        assert.equal(calls, 1, JSON.stringify(delays));
      }
    });
  });

  it("waits a day, not a year and not zero, for a Retry-After of a year", async () => {
    const server = await startScriptServer(() => ({
      status: 503,
      headers: { "Retry-After": "31536000" },
      body: "come back next year",
    }));
    try {
      await withTempDir(async (dir) => {
        const controller = new AbortController();
        const delays: number[] = [];
        const error = await haulWithRetry(server.url, {
          dest: join(dir, "x"),
          signal: controller.signal,
          onRetry: (info) => {
            delays.push(info.delayMs);
            setTimeout(() => controller.abort(new Error("stop now")), 300);
          },
        }).catch((e) => e);
        assert.equal((error as Error).message, "stop now");
        assert.deepEqual(delays, [24 * 60 * 60 * 1000]); // parseRetryAfter's cap, under setTimeout's
        assert.equal(server.requests.length, 1, "no retry during the wait");
      });
    } finally {
      await server.close();
    }
  });

  it("stops at once when the signal aborts during a wait", async () => {
    const server = await startScriptServer(() => ({
      status: 503,
      headers: { "Retry-After": "30" },
      body: "later",
    }));
    try {
      await withTempDir(async (dir) => {
        const controller = new AbortController();
        const started = performance.now();
        const pending = haulWithRetry(server.url, {
          dest: join(dir, "x"),
          signal: controller.signal,
          onRetry: () => setTimeout(() => controller.abort(new Error("stop now")), 50),
        });
        const error = await pending.catch((e) => e);
        assert.equal((error as Error).message, "stop now");
        assert.ok(performance.now() - started < 2000);
        assert.equal(server.requests.length, 1);
      });
    } finally {
      await server.close();
    }
  });

  it("keeps every wait under the full-jitter ceiling, doubling without progress", async () => {
    const server = await startScriptServer(() => ({ status: 503, body: "busy" }));
    try {
      await withTempDir(async (dir) => {
        const delays: number[] = [];
        await haulWithRetry(server.url, {
          dest: join(dir, "x"),
          retries: 5,
          minDelayMs: 8,
          maxDelayMs: 40,
          onRetry: (info) => delays.push(info.delayMs),
        }).catch(() => {});
        assert.equal(delays.length, 5);
        const ceilings = [8, 16, 32, 40, 40];
        delays.forEach((delay, i) => {
          assert.ok(delay >= 0 && delay <= ceilings[i]!, `delay ${i}: ${delay}`);
        });
      });
    } finally {
      await server.close();
    }
  });

  it("retries a joined call by its own policy while the call it joined retries", async () => {
    const body = randomBody(1_000_000);
    const server = await startResourceServer({ body }, (req, honest) => {
      return req.index < 3 ? { ...honest, hangUp: true } : honest;
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "shared.bin");
        const policy = { dest, retries: 5, minDelayMs: 1, maxDelayMs: 5 };
        const [a, b] = await Promise.all([
          haulWithRetry(server.url, policy),
          haulWithRetry(server.url, policy),
        ]);
        assert.equal(a.sha256, sha256(body));
        assert.equal(b.sha256, sha256(body));
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });

  it("ends only a joined call's wait when its own signal aborts", async () => {
    const body = randomBody(1_000_000);
    const server = await startThrottledServer(body, 4_000_000);
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "joined.bin");
        const leader = haulWithRetry(server.url, { dest, minDelayMs: 1 });
        const controller = new AbortController();
        const joiner = haulWithRetry(server.url, { dest, signal: controller.signal })
          .catch((e: unknown) => e);
        setTimeout(() => controller.abort(new Error("the joiner gave up")), 50);
        const reason = await joiner;
        assert.ok(reason instanceof Error && /joiner gave up/.test(reason.message), String(reason));
        assert.equal((await leader).sha256, sha256(body));
        assert.equal(server.requests.length, 1);
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });

  it("an attempt whose directory fsync failed after its rename reports the file it put at dest (done, with its digest)", async () => {
    const body = randomBody(300_000);
    const server = await startResourceServer({ body, etag: '"d1"' });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        let fired = false;
        const fs = new FaultyFs(await defaultFs(), (request) => {
          if (fired || request.op !== "syncDir" || !exists(dest)) return null;
          fired = true;
          return shimError("EMFILE", request.path);
        });
        const retried: unknown[] = [];
        const result = await retryWithHooks(server.url, {
          dest,
          minDelayMs: 1,
          onRetry: (info) => retried.push(info.error),
        }, { fs });
        assert.ok(fired && retried.length === 1, "the directory fsync failed once");
        assert.equal(result.alreadyComplete, false);
        assert.equal(result.sha256, sha256(body));
        assert.equal(result.size, body.length);
        assert.equal(result.status, 200);
        assert.equal(result.etag, '"d1"');
        assert.deepEqual(await bytesOf(dest), body);
        assert.deepEqual(readdirSync(dir), ["file.bin"]);
      });
    } finally {
      await server.close();
    }
  });

  it("after a directory fsync failed past its rename, reports no digest once another call replaced dest with a file of the same size", async () => {
    const body = randomBody(300_000);
    const other = randomBody(body.length); // another version, of the same size
    const server = await startResourceServer({ body, etag: '"d1"' });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        let fired = false;
        const fs = new FaultyFs(await defaultFs(), (request) => {
          if (fired || request.op !== "syncDir" || !exists(dest)) return null;
          fired = true;
          return shimError("EMFILE", request.path);
        });
        const result = await retryWithHooks(server.url, {
          dest,
          minDelayMs: 1,
          // Between the attempts, another process's `overwrite` commits its file onto dest.
          onRetry: () => {
            writeFileSync(join(dir, "other.tmp"), other);
            renameSync(join(dir, "other.tmp"), dest);
          },
        }, { fs });
        assert.ok(fired, "the directory fsync failed once");
        assert.deepEqual(await bytesOf(dest), other);
        assert.equal(result.alreadyComplete, true, "the file found at dest, not the one put there");
        assert.equal(result.sha256, null, `no digest of another file: ${JSON.stringify(result)}`);
        assert.equal(result.size, other.length);
        assert.deepEqual(readdirSync(dir), ["file.bin"]);
      });
    } finally {
      await server.close();
    }
  });

  it("waits for an empty lock's lease to run out, however short its own backoff (the busy error says when)", async () => {
    const body = randomBody(10_000);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        writeFileSync(`${dest}.part.lock`, ""); // a kill in the lock's first moments
        const aged = (Date.now() - 4000) / 1000; // 1 s of its 5 s lease left
        utimesSync(`${dest}.part.lock`, aged, aged);
        const started = performance.now();
        const result = await haulWithRetry(server.url, { dest, retries: 3, minDelayMs: 50 });
        assert.equal(result.sha256, sha256(body));
        assert.ok(performance.now() - started < 3000, "about when the lease ran out");
      });
    } finally {
      await server.close();
    }
  });

  it("refuses an invalid retry policy before any request", async () => {
    await assert.rejects(
      haulWithRetry("http://127.0.0.1:9/", { dest: "x", retries: -1 }),
      RangeError,
    );
    await assert.rejects(
      haulWithRetry("http://127.0.0.1:9/", { dest: "x", minDelayMs: 10, maxDelayMs: 5 }),
      RangeError,
    );
  });
});

describe("haulWithRetry() options", () => {
  it("rejects missing options or a missing dest with a TypeError, without retrying", async () => {
    const server = await startResourceServer({ body: randomBody(100) });
    const untyped = haulWithRetry as (input: string, options?: unknown) => Promise<unknown>;
    try {
      for (const options of [undefined, null, {}, { retries: 3 }]) {
        const error = await untyped(server.url, options).catch((e: unknown) => e);
        assert.ok(error instanceof TypeError, `${JSON.stringify(options)}: ${error}`);
        assert.match(error.message, /^Invalid options: haulWithRetry\(url, \{ dest \}\) needs /);
      }
      assert.equal(server.requests.length, 0);
    } finally {
      await server.close();
    }
  });
});
