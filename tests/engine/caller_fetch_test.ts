import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { haul, haulStream, isRetryable } from "../../mod.ts";
import { join, withTempDir } from "../helpers/temp.ts";

const URL_ = "https://example.com/f.bin";

/** A caller's `fetch` that never answers and ignores its signal; `late` answers after `ms`. */
function deafFetch(late?: { ms: number; cancelled: () => void }) {
  let calls = 0;
  const fetch = () => {
    calls++;
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
        const { fetch, calls } = deafFetch();
        const stop = new AbortController();
        const reason = new Error("stopped by the caller");
        setTimeout(() => stop.abort(reason), 50);
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
      const { fetch } = deafFetch({ ms: 100, cancelled: () => void (cancelled = true) });
      const signal = AbortSignal.timeout(20);
      await assert.rejects(haul(URL_, { dest: join(dir, "a"), fetch, signal }), {
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
