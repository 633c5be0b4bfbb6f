import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import {
  haul,
  haulAll,
  HaulState,
  haulStream,
  haulWithRetry,
  PartialHaulError,
} from "../../mod.ts";
import { type EngineHooks, haulWith } from "../../src/engine/haul.ts";
import { type LimiterClock, RateLimiter, readRateLimit } from "../../src/engine/rate_limit.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const MiB = 1 << 20;
/** Small ranges, so that a 6 MiB body is split over 4 connections. */
const HOOKS: EngineHooks = { rangeFloor: 256 * 1024 };

/** A clock that only moves when a taker sleeps. */
function fakeClock(): LimiterClock & { slept: number[] } {
  let now = 1000;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: (ms) => {
      slept.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}

/** Milliseconds `run` takes. */
async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

describe("RateLimiter", () => {
  it("paces in bursts: a debt under a burst is carried, a burst's is slept whole", () => {
    // 1000 B/s: 512 KiB would take longer than 500 ms, so a burst is 500 ms (a slow limit wakes less).
    const slow = new RateLimiter(1000);
    assert.equal(slow.burst, 500);
    assert.equal(slow.charge(200, 0), 0, "the first read earns no credit; 200 ms owed, carried");
    assert.equal(slow.charge(200, 0), 0, "400 ms owed, carried");
    assert.equal(slow.charge(200, 0), 600, "the burst is paid for whole");
    assert.equal(slow.charge(500, 600), 500, "paid until 1100");
    // Idle for 10 s: only 100 ms of credit comes back.
    assert.equal(slow.charge(100, 11_100), 0);
    assert.equal(slow.charge(500, 11_100), 500);
    // 4 MB/s: 512 KiB is under 250 ms of it, so a burst is 250 ms (1 MB).
    const fast = new RateLimiter(4e6);
    assert.equal(fast.burst, 1e6);
    assert.equal(fast.charge(800_000, 0), 0, "200 ms owed, carried");
    assert.equal(fast.charge(200_000, 0), 250, "a quarter second: slept");
    // 1 MiB/s: 512 KiB is exactly 500 ms; 2 MiB/s: 250 ms.
    assert.equal(new RateLimiter(MiB).burst, MiB / 2);
    assert.equal(new RateLimiter(2 * MiB).burst, MiB / 2);
  });

  it("shares one pace between readers: their bytes add up", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter(MiB, clock);
    const signal = new AbortController().signal;
    const start = clock.now();
    for (let i = 0; i < 32; i++) await limiter.take(64 * 1024, signal); // two readers' turns
    // 2 MiB at 1 MiB/s: 2 s, slept in 4 bursts of 500 ms (8 reads of 64 KiB each).
    assert.ok(Math.abs(clock.now() - start - 2000) < 1, `${clock.now() - start} ms`);
    assert.deepEqual(clock.slept, Array(4).fill(500));
  });

  it("holds the rate over 10 s in bursts: within 3 %, at most 4 sleeps a second (2 when slow)", async () => {
    for (const [limit, chunk] of [[MiB, 16 * 1024], [10 * MiB, 64 * 1024], [100 * MiB, MiB]]) {
      const clock = fakeClock();
      const limiter = new RateLimiter(limit!, clock);
      const signal = new AbortController().signal;
      const start = clock.now();
      let read = 0;
      while (read < limit! * 10) {
        await clock.sleep(0.1, signal); // a read takes 0.1 ms of the clock
        read += chunk!;
        await limiter.take(chunk!, signal);
      }
      const seconds = (clock.now() - start) / 1000;
      const rate = read / seconds / limit!;
      assert.ok(rate >= 0.97 && rate <= 1.03, `${limit} B/s: ${rate} of the limit`);
      const sleeps = clock.slept.filter((ms) => ms >= 1).length;
      assert.ok(sleeps <= (limit === MiB ? 2 : 4) * 10, `${limit} B/s: ${sleeps} sleeps`);
    }
  });

  it("ends a wait when the signal aborts", async () => {
    const limiter = new RateLimiter(1);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 50);
    assert.ok((await timed(() => limiter.take(60, stop.signal))) < 5000);
    assert.ok((await timed(() => limiter.take(60, stop.signal))) < 1000, "already aborted");
  });

  it("refuses a limit that is not a positive finite number", () => {
    assert.equal(readRateLimit({}), null);
    for (const bad of [0, -1, NaN, Infinity, "1M", null]) {
      assert.throws(
        () => readRateLimit({ maxBytesPerSecond: bad as number }),
        (e: unknown) => e instanceof RangeError && /Invalid maxBytesPerSecond/.test(e.message),
      );
    }
  });
});

describe("maxBytesPerSecond", () => {
  for (const connections of [1, 4]) {
    it(`limits 6 MiB to 2 MiB/s over ${connections} connection(s)`, async () => {
      const body = randomBody(6 * MiB);
      const server = await startResourceServer({ body });
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "a.bin");
          let used = 0;
          const ms = await timed(async () => {
            const result = await haulWith(
              server.url,
              { dest, connections, maxBytesPerSecond: 2 * MiB },
              HOOKS,
            );
            used = result.connections;
            assert.equal(result.sha256, sha256(body));
          });
          assert.equal(used, connections);
          assert.ok(ms >= 2400 && ms < 9000, `${ms} ms`);
        });
      } finally {
        await server.close();
      }
    });
  }

  it("limits haulWithRetry() over all its attempts: a body cut every 150 KB keeps the pace", async () => {
    const body = randomBody(3_000_000);
    const server = await startResourceServer({ body, etag: '"r"' }, (_req, honest) => ({
      ...honest,
      cutAfter: 150_000,
    }));
    try {
      await withTempDir(async (dir) => {
        const options = {
          maxBytesPerSecond: 1_000_000,
          retries: 100,
          minDelayMs: 1,
          maxDelayMs: 5,
        };
        const ms = await timed(async () => {
          const result = await haulWithRetry(server.url, { dest: join(dir, "f"), ...options });
          assert.equal(result.sha256, sha256(body));
        });
        assert.ok(server.requests.length >= 20);
        assert.ok(ms >= 2400, `3 MB at 1 MB/s in ${ms} ms`);
      });
    } finally {
      await server.close();
    }
  });

  it("haulWithRetry() under a limit: an abort mid-wait ends it at once, progress saved; the next call resumes", async () => {
    const body = randomBody(1_000_000);
    const server = await startResourceServer({ body, etag: '"r"' }, (_req, honest) => ({
      ...honest,
      cutAfter: 150_000,
    }));
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "f");
        const retry = { retries: 100, minDelayMs: 1, maxDelayMs: 5 };
        for (const abortAfterMs of [400, 1100]) { // in the first attempt, and in a later one
          const stop = new AbortController();
          const reason = new Error("stopped");
          const timer = setTimeout(() => stop.abort(reason), abortAfterMs);
          const started = performance.now();
          const error = await haulWithRetry(server.url, {
            dest,
            maxBytesPerSecond: 200_000,
            signal: stop.signal,
            ...retry,
          }).catch((e) => e);
          clearTimeout(timer);
          assert.equal(error, reason);
          assert.ok(performance.now() - started < abortAfterMs + 500, "ended at the abort");
          assert.ok(exists(`${dest}.part`) && exists(`${dest}.part.ctrl`), "progress saved");
        }
        const result = await haulWithRetry(server.url, { dest, ...retry });
        assert.ok(result.resumedFrom > 0);
        assert.equal(result.sha256, sha256(body));
        assert.equal(sha256(await bytesOf(dest)), sha256(body));
      });
    } finally {
      await server.close();
    }
  });

  it("limits a haulAll() batch as a whole", async () => {
    const bodies = [randomBody(2 * MiB), randomBody(2 * MiB), randomBody(2 * MiB)];
    const server = await startResourceServer((req) => ({ body: bodies[Number(req.path[1])]! }));
    try {
      await withTempDir(async (dir) => {
        const items = bodies.map((_, i) => ({
          url: `${server.url}/${i}`,
          dest: join(dir, `${i}`),
        }));
        let reports: Awaited<ReturnType<typeof haulAll>> = [];
        const ms = await timed(async () => {
          reports = await haulAll(items, { concurrency: 3, maxBytesPerSecond: 2 * MiB });
        });
        assert.deepEqual(reports.map((r) => r.status), ["done", "done", "done"]);
        for (const [i, body] of bodies.entries()) {
          assert.deepEqual(await bytesOf(join(dir, `${i}`)), body);
        }
        assert.ok(ms >= 2400 && ms < 9000, `${ms} ms`);
      });
    } finally {
      await server.close();
    }
  });

  it("slows the sender: the server cannot hand its bytes to the kernel faster", async () => {
    // A raw server that counts the bytes each write handed to the kernel.
    const body = randomBody(48 * MiB);
    let flushed = 0;
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.once("data", async () => {
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nETag: "x"\r\n\r\n`,
        );
        for (let at = 0; at < body.length && !socket.destroyed; at += 64 * 1024) {
          await new Promise<void>((resolve) =>
            socket.write(body.subarray(at, at + 64 * 1024), () => resolve())
          );
          flushed = at + 64 * 1024;
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      await withTempDir(async (dir) => {
        const stop = new AbortController();
        const call = haul(`http://127.0.0.1:${port}/`, {
          dest: join(dir, "a.bin"),
          maxBytesPerSecond: MiB,
          signal: stop.signal,
        }).catch((e) => e);
        await new Promise((resolve) => setTimeout(resolve, 2500));
        const sent = flushed;
        stop.abort();
        const error = await call;
        assert.ok(error instanceof PartialHaulError || (error as Error).name === "AbortError");
        // At 1 MiB/s, 2.5 s read ~2.6 MiB; the rest is the sockets' and the runtime's buffers.
        console.log(`sent by the server after 2.5 s: ${(sent / MiB).toFixed(1)} MiB`);
        assert.ok(sent < 20 * MiB, `${sent} bytes sent`);
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("is no stall: a 1 KiB/s limit with a 2 s stallTimeout completes", async () => {
    const body = randomBody(5 * 1024); // read at once, then waited for ~5 s between reads
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        const ms = await timed(async () => {
          const result = await haul(server.url, {
            dest,
            maxBytesPerSecond: 1024,
            stallTimeout: 2000,
          });
          assert.equal(result.sha256, sha256(body));
        });
        assert.ok(ms >= 3500, `${ms} ms`);
        assert.equal(server.requests.length, 1);
      });
    } finally {
      await server.close();
    }
  });

  it("reads a slow limit's body a burst at a time, not a network chunk at a time", async () => {
    // 256 KiB reaches the runtime at once; at 8 KiB/s a read of it all would be slept for 32 s.
    const body = randomBody(256 * 1024);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        const stop = new AbortController();
        const seen: number[] = [];
        setTimeout(() => stop.abort(), 1200);
        const error = await haul(server.url, {
          dest: join(dir, "a.bin"),
          maxBytesPerSecond: 8 * 1024,
          signal: stop.signal,
          onProgress: (state) => void seen.push(state.bytesRead),
        }).catch((e) => e);
        assert.equal((error as Error).name, "AbortError", String(error));
        const read = Math.max(0, ...seen);
        // 1.2 s at 8 KiB/s, plus a burst (4 KiB) ahead: about 14 KiB.
        assert.ok(read > 0 && read <= 16 * 1024, `${read} bytes read in 1.2 s`);
      });
      // haulStream() gives its reader the same pace.
      const reader = haulStream(server.url, { maxBytesPerSecond: 8 * 1024 }).getReader();
      let given = 0;
      for (const until = performance.now() + 1200; performance.now() < until;) {
        given += (await reader.read()).value?.length ?? 0;
      }
      await reader.cancel();
      assert.ok(given > 0 && given <= 16 * 1024, `${given} bytes given in 1.2 s`);
    } finally {
      await server.close();
    }
  });

  it("asks no read ahead of the pace (a default reader asks 4 ahead without a limit)", async () => {
    const body = randomBody(512 * 1024);
    const server = await startResourceServer({ body });
    const CHUNK = 16 * 1024;
    /** A limiter that counts the bytes it paced. */
    class CountingLimiter extends RateLimiter {
      paced = 0;
      override take(bytes: number, signal: AbortSignal): Promise<void> {
        this.paced += bytes;
        return super.take(bytes, signal);
      }
    }
    /**
     * One download whose body is the server's in 16 KiB chunks, pulled one read at a time (a
     * high-water mark of 0: `pull()` runs only for a read haul asked); at each `pull()`, the
     * chunks haul was given but had not yet stored, and (under a limit) not yet paced.
     */
    const run = async (dest: string, limiter?: CountingLimiter) => {
      const state = new HaulState();
      let given = 0;
      let pulls = 0;
      const ahead = { unstored: 0, unpaced: 0 };
      const fetch = async (request: Request) => {
        const response = await globalThis.fetch(request);
        const source = response.body!.getReader();
        let rest = new Uint8Array(0);
        const chunked = new ReadableStream<Uint8Array>({
          async pull(controller) {
            pulls++;
            ahead.unstored = Math.max(ahead.unstored, (given - state.bytesRead) / CHUNK);
            ahead.unpaced = Math.max(ahead.unpaced, (given - (limiter?.paced ?? 0)) / CHUNK);
            if (rest.length === 0) {
              const { done, value } = await source.read();
              if (done) return controller.close();
              rest = value;
            }
            const chunk = rest.subarray(0, CHUNK);
            rest = rest.subarray(chunk.length);
            given += chunk.length;
            controller.enqueue(chunk);
          },
          cancel: (reason) => source.cancel(reason),
        }, { highWaterMark: 0 });
        return new Response(chunked, response);
      };
      const hooks = limiter === undefined ? {} : { limiter };
      const result = await haulWith(server.url, { dest, fetch, state }, hooks);
      assert.equal(result.sha256, sha256(body));
      assert.ok(pulls > body.length / CHUNK, `${pulls} reads`);
      return ahead;
    };
    try {
      await withTempDir(async (dir) => {
        // Without a limit: reads are asked while a chunk given is still being stored.
        const free = await run(join(dir, "free.bin"));
        assert.ok(free.unstored >= 1, `${free.unstored} chunks given, not stored, at a read`);
        // Under a limit (1 MiB/s: 0.5 s, slept in bursts): a read only once all given is paced.
        const limiter = new CountingLimiter(MiB);
        const limited = await run(join(dir, "limited.bin"), limiter);
        assert.equal(limiter.paced, body.length);
        assert.deepEqual(limited, { unstored: 0, unpaced: 0 });
      });
    } finally {
      await server.close();
    }
  });

  it("refuses an invalid limit before any request: a RangeError", async () => {
    const server = await startResourceServer({ body: randomBody(1000) });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        for (const bad of [0, -5, NaN, Infinity]) {
          await assert.rejects(haul(server.url, { dest, maxBytesPerSecond: bad }), RangeError);
          await assert.rejects(
            haulAll([{ url: server.url, dest }], { maxBytesPerSecond: bad }),
            RangeError,
          );
        }
        assert.equal(server.requests.length, 0);
        assert.ok(!exists(dest));
      });
    } finally {
      await server.close();
    }
  });

  it("paces a haulStream() body, and its abort ends a wait at once", async () => {
    const body = randomBody(3 * MiB / 2);
    const server = await startResourceServer({ body });
    try {
      let got = 0;
      const ms = await timed(async () => {
        const stream = haulStream(server.url, { maxBytesPerSecond: MiB });
        for await (const chunk of stream) got += chunk.length;
      });
      assert.equal(got, body.length);
      // 1.5 s at the limit, less the last burst (500 ms at 1 MiB/s), whose debt ends unslept.
      assert.ok(ms >= 950 && ms < 6000, `${ms} ms`);
      const stop = new AbortController();
      const reader = haulStream(server.url, { maxBytesPerSecond: 64 * 1024, signal: stop.signal })
        .getReader();
      await reader.read(); // the next read waits for the limit
      setTimeout(() => stop.abort(), 300);
      let error: unknown;
      const waited = await timed(async () => {
        try {
          for (;;) if ((await reader.read()).done) break;
        } catch (e) {
          error = e;
        }
      });
      assert.equal((error as Error | undefined)?.name, "AbortError", String(error));
      assert.ok(waited < 1500, `${waited} ms`);
    } finally {
      await server.close();
    }
  });

  it("aborts at once, resumes, and checks the integrity under a limit", async () => {
    const body = randomBody(3 * MiB);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        const stop = new AbortController();
        const options = { dest, maxBytesPerSecond: 2 * MiB, checkpointEvery: { ms: 50 } };
        setTimeout(() => stop.abort(), 700);
        let error: unknown;
        const ms = await timed(async () => {
          error = await haul(server.url, { ...options, signal: stop.signal }).catch((e) => e);
        });
        assert.ok(ms < 1500, `the abort ended the limiter's wait: ${ms} ms`);
        assert.equal((error as Error).name, "AbortError", String(error));
        const result = await haul(server.url, {
          ...options,
          integrity: `sha256:${sha256(body)}`,
        });
        assert.ok(result.resumedFrom > 0 && result.resumedFrom < body.length, "resumed");
        assert.equal(server.requests[1]!.headers["range"], `bytes=${result.resumedFrom}-`);
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });
});
