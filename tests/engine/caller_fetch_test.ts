import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { haul, haulStream, haulWithRetry, isRetryable } from "../../mod.ts";
import { join, withTempDir } from "../helpers/temp.ts";

const URL_ = "https://example.com/f.bin";

/**
 * A caller's `fetch` that never answers and ignores its signal; `late` answers after `ms`.
 * `onCall` runs at each call: a test aborts from there, as a timer started earlier may fire before
 * a loaded machine gets to the request.
 */
function deafFetch(late?: { ms: number; cancelled: () => void }, onCall = () => {}) {
  let calls = 0;
  const fetch = () => {
    calls++;
    onCall();
    if (late === undefined) return new Promise<Response>(() => {});
    const body = new ReadableStream<Uint8Array>({ cancel: late.cancelled });
    return new Promise<Response>((resolve) =>
      setTimeout(() => resolve(new Response(body, { headers: { etag: '"v1"' } })), late.ms)
    );
  };
  return { fetch, calls: () => calls };
}

describe("haul() with a caller's fetch that ignores its signal", () => {
  it("ends the call at the caller's abort, with its reason, nothing left behind", async () => {
    await withTempDir(async (dir) => {
      for (const stallTimeout of [60_000, 0]) {
        const stop = new AbortController();
        const reason = new Error("stopped by the caller");
        const { fetch, calls } = deafFetch(
          undefined,
          () => setTimeout(() => stop.abort(reason), 20),
        );
        const started = performance.now();
        const error = await haul(URL_, {
          dest: join(dir, "a"),
          fetch,
          signal: stop.signal,
          stallTimeout,
        })
          .catch((e: unknown) => e);
        assert.equal(error, reason, `stallTimeout ${stallTimeout}`);
        assert.ok(performance.now() - started < 2000);
        assert.equal(calls(), 1);
        assert.deepEqual(await readdir(dir), []);
      }
    });
  });

  it("ends the wait for a head at stallTimeout with a retryable TimeoutError", async () => {
    await withTempDir(async (dir) => {
      const { fetch } = deafFetch();
      const error = await haul(URL_, { dest: join(dir, "a"), fetch, stallTimeout: 100 })
        .catch((e: unknown) => e);
      assert.equal((error as Error).name, "TimeoutError", String(error));
      assert.equal(isRetryable(error), true);
      assert.deepEqual(await readdir(dir), []);
    });
  });

  it("cancels the body of an answer that comes after the abort", async () => {
    await withTempDir(async (dir) => {
      let cancelled = false;
      const stop = new AbortController();
      const abort = () =>
        setTimeout(() => stop.abort(new DOMException("late", "TimeoutError")), 20);
      const { fetch } = deafFetch({ ms: 100, cancelled: () => void (cancelled = true) }, abort);
      await assert.rejects(haul(URL_, { dest: join(dir, "a"), fetch, signal: stop.signal }), {
        name: "TimeoutError",
      });
      for (let i = 0; i < 100 && !cancelled; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(cancelled);
      assert.deepEqual(await readdir(dir), []);
    });
  });

  it("haulStream(): errors the stream with the abort's reason", async () => {
    const { fetch } = deafFetch();
    const stop = new AbortController();
    const reason = new Error("stopped by the caller");
    setTimeout(() => stop.abort(reason), 50);
    const reader = haulStream(URL_, { fetch, signal: stop.signal, stallTimeout: 0 }).getReader();
    assert.equal(await reader.read().catch((e: unknown) => e), reason);
  });
});

describe("haul() and haulStream() with a fetch that gives no Response", () => {
  for (const value of [{ status: 200 }, "a body", 42]) {
    it(`reject with a TypeError that is not retryable (${JSON.stringify(value)})`, async () => {
      await withTempDir(async (dir) => {
        let calls = 0;
        const fetch = () => (calls++, Promise.resolve(value as unknown as Response));
        const options = { dest: join(dir, "a"), fetch, minDelayMs: 1 };
        for (const call of [haul, haulWithRetry]) {
          const error = await call(URL_, options).catch((e: unknown) => e);
          assert.ok(error instanceof TypeError, String(error));
          assert.match(error.message, /^Invalid options: fetch /);
          assert.equal(isRetryable(error), false);
        }
        assert.equal(calls, 2);
        const body = haulStream(URL_, { fetch, minDelayMs: 1 });
        const error = await body.getReader().read().catch((e: unknown) => e);
        assert.match(String(error), /^TypeError: Invalid options: fetch /);
        assert.equal(calls, 3);
        assert.deepEqual(await readdir(dir), []);
      });
    });
  }
});

describe("haul() and haulStream() given a Request that is not a GET", () => {
  for (const method of ["HEAD", "POST"]) {
    it(`refuse a ${method} Request with a TypeError before any request`, async () => {
      await withTempDir(async (dir) => {
        let calls = 0;
        const fetch = () => (calls++, Promise.resolve(new Response("x")));
        const input = () => new Request(URL_, { method, body: method === "POST" ? "q" : null });
        for (const call of [haul, haulWithRetry]) {
          const error = await call(input(), { dest: join(dir, "a"), fetch }).catch((e: unknown) =>
            e
          );
          assert.ok(error instanceof TypeError, String(error));
          assert.match(error.message, /^Invalid request: /);
          assert.equal(isRetryable(error), false);
        }
        assert.throws(() => haulStream(input(), { fetch }), /^TypeError: Invalid request: /);
        assert.equal(calls, 0);
        assert.deepEqual(await readdir(dir), []);
      });
    });
  }
});

describe("haul() with a source function that never resolves", () => {
  it("ends the call at the caller's abort, with its reason, nothing left behind", async () => {
    await withTempDir(async (dir) => {
      const stop = new AbortController();
      const reason = new Error("stopped by the caller");
      setTimeout(() => stop.abort(reason), 50);
      const outcome = await Promise.race([
        haul(() => new Promise<string>(() => {}), { dest: join(dir, "a"), signal: stop.signal })
          .catch((e: unknown) => e),
        new Promise((r) => setTimeout(() => r("still waiting after 2 s"), 2000)),
      ]);
      assert.equal(outcome, reason);
      assert.deepEqual(await readdir(dir), []);
    });
  });
});

describe("haul() with a fetch that resolves to nothing", () => {
  for (const value of [undefined, null]) {
    it(`is a TypeError that is not retryable (${value})`, async () => {
      await withTempDir(async (dir) => {
        const fetch = () => Promise.resolve(value as unknown as Response);
        const error = await haul(URL_, { dest: join(dir, "a"), fetch }).catch((e: unknown) => e);
        assert.match(String(error), /^TypeError: Invalid options: fetch /);
        assert.equal(isRetryable(error), false);
        assert.deepEqual(await readdir(dir), []);
      });
    });
  }
});
