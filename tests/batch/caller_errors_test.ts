/**
 * What the caller brings ends the call as the caller's options would: the signal of a `Request`
 * input aborts like `options.signal`, and an `onProgress` that throws (a `TypeError` too, which
 * looks like `fetch`'s network failure) ends a retry loop or a batch at once, unretried, with
 * its own error, leaving nothing running.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { haul, haulAll, haulStream, haulWithRetry } from "../../mod.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { exists, join, randomBody, withTempDir } from "../helpers/temp.ts";

/** 4 MB at 400 kB/s: a body that only an abort ends within 10 s (and a loaded machine's 5). */
function slowServer() {
  return startResourceServer({ body: randomBody(4_000_000) }, (_req, honest) => ({
    ...honest,
    chunkSize: 16 * 1024,
    bytesPerSecond: 400_000,
  }));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("a Request input's own signal", () => {
  /** Each call, given a `Request`; `abort` is called once the first body bytes are saved. */
  const calls = {
    haul: (request: Request, dest: string, abort: () => void) =>
      haul(request, { dest, onProgress: (s) => s.validLength > 0 && abort() }),
    haulWithRetry: (request: Request, dest: string, abort: () => void) =>
      haulWithRetry(request, {
        dest,
        minDelayMs: 1,
        onProgress: (s) => s.validLength > 0 && abort(),
      }),
    "haulAll (mirrors)": async (request: Request, dest: string, abort: () => void) => {
      const [report] = await haulAll([{ url: request.url, urls: [request, request.url], dest }], {
        minDelayMs: 1,
        onProgress: (progress) => progress.items[0]!.validLength > 0 && abort(),
      });
      if (report!.status === "failed") throw report!.error;
      return report!.result;
    },
  };
  for (const [name, call] of Object.entries(calls)) {
    it(`aborts ${name} as options.signal would, its progress saved`, async () => {
      const server = await slowServer();
      try {
        await withTempDir(async (dir) => {
          const controller = new AbortController();
          const reason = new Error("stopped by the request's signal");
          const request = new Request(`${server.url}/f.bin`, { signal: controller.signal });
          const started = performance.now();
          const dest = join(dir, "f.bin");
          const error = await call(request, dest, () => controller.abort(reason)).catch((e) => e);
          assert.equal(error, reason);
          assert.ok(performance.now() - started < 5000, "ended at the abort, not the body's end");
          assert.equal(server.requests.length, 1, "no retry");
          assert.equal(exists(dest), false);
          assert.ok(exists(`${dest}.part`));
        });
      } finally {
        await server.close();
      }
    });
  }
});

describe("a callback of the caller's that throws", () => {
  it("ends haulWithRetry() at once with onProgress's TypeError, unretried", async () => {
    const server = await slowServer();
    try {
      await withTempDir(async (dir) => {
        const bug = new TypeError("Cannot read properties of undefined (reading 'x')");
        let retries = 0;
        const error = await haulWithRetry(`${server.url}/f.bin`, {
          dest: join(dir, "f.bin"),
          minDelayMs: 1,
          onRetry: () => retries++,
          onProgress: (state) => {
            if (state.validLength > 0) throw bug;
          },
        }).catch((e) => e);
        assert.equal(error, bug);
        assert.equal(retries, 0);
        assert.equal(server.requests.length, 1);
        assert.ok(exists(join(dir, "f.bin.part")), "progress saved");
      });
    } finally {
      await server.close();
    }
  });

  it("ends haulAll() with onProgress's TypeError once every item has stopped, none retried", async () => {
    const server = await slowServer();
    try {
      await withTempDir(async (dir) => {
        const bug = new TypeError("Cannot read properties of undefined (reading 'x')");
        const items = ["a", "b", "c"].map((name) => ({
          url: `${server.url}/${name}`,
          dest: join(dir, name),
        }));
        let retries = 0;
        const error = await haulAll(items, {
          concurrency: 2,
          minDelayMs: 1,
          onRetry: () => retries++,
          onProgress: (progress) => {
            if (progress.items.some((item) => item.validLength > 0)) throw bug;
          },
        }).catch((e) => e);
        assert.equal(error, bug);
        assert.equal(retries, 0);
        assert.equal(server.requests.length, 2, "the third item never started");
        await sleep(300);
        assert.equal(server.requests.length, 2, "nothing runs after the call ended");
        for (const item of items) assert.equal(exists(item.dest), false);
      });
    } finally {
      await server.close();
    }
  });

  it("ends haulAll() when onItemDone throws, the items still running stopped", async () => {
    const small = randomBody(1000);
    const big = randomBody(1_000_000);
    let bAsked = (): void => {};
    const bRunning = new Promise<void>((resolve) => (bAsked = resolve));
    const server = await startResourceServer(
      (req) => ({ body: req.path === "/a" ? small : big }),
      async (req, honest) => {
        if (req.path === "/b") bAsked();
        // a (whose end throws) ends only once b has been sending for a while: b has progress.
        if (req.path === "/a") await bRunning;
        const delayMs = req.path === "/a" ? 300 : 0;
        return { ...honest, chunkSize: 16 * 1024, bytesPerSecond: 400_000, delayMs };
      },
    );
    try {
      await withTempDir(async (dir) => {
        const bug = new TypeError("a bug in the caller's code");
        const items = ["a", "b", "c"].map((name) => ({
          url: `${server.url}/${name}`,
          dest: join(dir, name),
        }));
        const error = await haulAll(items, {
          onItemDone: () => {
            throw bug;
          },
        }).catch((e) => e);
        assert.equal(error, bug);
        const seen = server.requests.length;
        await sleep(300);
        assert.equal(server.requests.length, seen, "nothing runs after the call ended");
        assert.equal(exists(join(dir, "b")), false);
        assert.ok(exists(join(dir, "b.part")), "the running items' progress saved");
        assert.equal(exists(join(dir, "b.part.lock")), false, "and their locks released");
      });
    } finally {
      await server.close();
    }
  });
});

describe("haulStream() options that are no object", () => {
  it("throw a TypeError that names the options argument, before any request", async () => {
    const server = await startResourceServer({ body: randomBody(100) });
    const untyped = haulStream as (input: string, options?: unknown) => ReadableStream;
    try {
      for (const options of [5, "fast", true, () => {}]) {
        assert.throws(() => untyped(server.url, options), {
          name: "TypeError",
          message: /^Invalid options: haulStream\(url, options\) needs an options object/,
        }, String(options));
      }
      assert.equal(server.requests.length, 0);
    } finally {
      await server.close();
    }
  });
});
