/**
 * One download per destination in one process (src/engine/single_flight.ts,
 * wired into `haul()`): a second call for the same destination and URL joins
 * the first (its result or its error, one request); another URL is refused;
 * another process's download stays a fast, retryable error.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { haul, haulWith } from "../../src/engine/haul.ts";
import { HaulState } from "../../src/types.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import type { ShimStat } from "../../src/runtime/fs_shim.ts";
import { FaultyFs } from "../helpers/fault_fs.ts";
import { destinationKey, requestHref } from "../../src/engine/single_flight.ts";
import { untilAborted } from "../../src/engine/stall.ts";
import {
  DestinationError,
  IntegrityError,
  isRetryable,
  UnexpectedStatusError,
} from "../../src/errors.ts";
import {
  startResourceServer,
  startScriptServer,
  startThrottledServer,
} from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, sha256, withServerDir, withTempDir } from "../helpers/temp.ts";
import { runtimeChild } from "../helpers/runtime.ts";

const HOLDER = fileURLToPath(new URL("../fixtures/lock_holder.ts", import.meta.url));
const MiB = 1024 * 1024;

describe("destinationKey and requestHref", () => {
  it("clean paths lexically and parse URLs", () => {
    assert.equal(destinationKey("a//b/./c"), "a/b/c");
    assert.equal(destinationKey("/tmp//x"), "/tmp/x");
    assert.equal(destinationKey(new URL("file:///tmp/x")), "/tmp/x");
    assert.equal(destinationKey(""), null);
    assert.equal(requestHref("HTTP://Example.com/a"), "http://example.com/a");
    assert.equal(requestHref("not a url"), null);
  });
});

describe("haul() twice on one destination in one process", () => {
  it("joins a running download of the same URL: one request, the same result", async () => {
    const body = randomBody(2 * MiB);
    const server = await startThrottledServer(body, 8 * MiB);
    await withServerDir(server, async (dir) => {
      const dest = join(dir, "same.bin");
      const first = haul(`${server.url}/same.bin`, { dest });
      await new Promise((resolve) => setTimeout(resolve, 30));
      const second = haul(`${server.url}/same.bin`, { dest: `${dir}//./same.bin` });
      const [a, b] = await Promise.all([first, second]);
      assert.equal(a.sha256, sha256(body));
      assert.deepEqual(b, a);
      assert.notEqual(b, a, "each caller gets its own result object");
      assert.equal(server.requests.length, 1);
      assert.equal(sha256(await bytesOf(dest)), sha256(body));
      // Once it is over, a new call runs on its own.
      const third = await haul(`${server.url}/same.bin`, { dest });
      assert.equal(third.alreadyComplete, true);
    });
  });

  it("gives a joined call's own state and onProgress the end: complete, at the file's size", async () => {
    const body = randomBody(MiB);
    const server = await startThrottledServer(body, 8 * MiB);
    await withServerDir(server, async (dir) => {
      const dest = join(dir, "same.bin");
      const first = haul(server.url, { dest });
      await new Promise((resolve) => setTimeout(resolve, 30));
      const state = new HaulState();
      const seen: number[] = [];
      const joined = await haul(server.url, {
        dest,
        state,
        onProgress: (s) => seen.push(s.validLength),
      });
      assert.equal((await first).sha256, joined.sha256);
      assert.equal(server.requests.length, 1, "joined");
      assert.deepEqual(seen, [body.length]);
      assert.equal(state.isComplete, true);
      assert.equal(state.validLength, body.length);
      assert.equal(state.reportedLength, body.length);
      assert.equal(state.bytesRead, 0, "it read no byte itself");
    });
  });

  it("hands the first call's error to the joined call", async () => {
    const server = await startScriptServer(() => ({
      status: 404,
      body: "gone",
      delayMs: 200,
    }));
    await withServerDir(server, async (dir) => {
      const dest = join(dir, "missing.bin");
      const first = haul(`${server.url}/missing`, { dest }).catch((e: unknown) => e);
      const second = haul(`${server.url}/missing`, { dest }).catch((e: unknown) => e);
      const [a, b] = await Promise.all([first, second]);
      assert.ok(a instanceof UnexpectedStatusError, String(a));
      assert.equal(b, a);
      assert.equal(server.requests.length, 1);
    });
  });

  it("checks a joined call's own integrity against the shared result", async () => {
    const body = randomBody(2 * MiB);
    const server = await startThrottledServer(body, 8 * MiB);
    await withServerDir(server, async (dir) => {
      const dest = join(dir, "checked.bin");
      const wrong = "sha256:" + "0".repeat(64);
      const first = haul(server.url, { dest });
      const mismatched = haul(server.url, { dest, integrity: wrong }).catch((e: unknown) => e);
      const matching = haul(server.url, { dest, integrity: `sha256:${sha256(body)}` });
      const [a, error, c] = await Promise.all([first, mismatched, matching]);
      assert.equal(a.sha256, sha256(body));
      assert.ok(error instanceof IntegrityError, String(error));
      assert.equal(error.actual, sha256(body));
      assert.deepEqual(error.expected, ["0".repeat(64)]);
      assert.equal(isRetryable(error), false);
      assert.match(error.message, /checked\.bin/);
      assert.deepEqual(c, a);
      assert.equal(server.requests.length, 1);
      assert.deepEqual(await bytesOf(dest), body, "the first call's file stays");
      const bad = await haul(server.url, { dest, integrity: "nonsense" }).catch((e) => e);
      assert.ok(bad instanceof TypeError, String(bad));
    });
  });

  it("a joined call whose integrity matches is not failed by the first call's mismatch", async () => {
    const body = randomBody(2 * MiB);
    const server = await startThrottledServer(body, 8 * MiB);
    await withServerDir(server, async (dir) => {
      const dest = join(dir, "theirs.bin");
      const wrong = "sha256:" + "0".repeat(64);
      const first = haul(server.url, { dest, integrity: wrong }).catch((e: unknown) => e);
      const joined = haul(server.url, { dest, integrity: `sha256:${sha256(body)}` })
        .catch((e: unknown) => e);
      const alike = haul(server.url, { dest, integrity: wrong }).catch((e: unknown) => e);
      const [error, result, same] = await Promise.all([first, joined, alike]);
      assert.ok(error instanceof IntegrityError, String(error));
      assert.deepEqual(error.expected, ["0".repeat(64)]);
      assert.equal(same, error, "the same integrity: the same verdict, no request of its own");
      // The first call's integrity was its own: the joined call downloads and checks its own.
      assert.ok(!(result instanceof Error), String(result));
      assert.equal((result as { sha256: string }).sha256, sha256(body));
      assert.deepEqual(await bytesOf(dest), body);
      assert.equal(server.requests.length, 2);
    });
  });

  it("runs an overwrite after a call that would keep the file, instead of joining it", async () => {
    const old = randomBody(4 * MiB);
    const body = randomBody(MiB);
    const server = await startResourceServer({ body });
    await withServerDir(server, async (dir) => {
      const dest = join(dir, "kept.bin");
      await writeFile(dest, old);
      // Both start in one tick: the first finds the old file and keeps it.
      const keeping = haul(server.url, { dest });
      const overwriting = haul(server.url, { dest, overwrite: true });
      const [kept, fresh] = await Promise.all([keeping, overwriting]);
      assert.equal(kept.alreadyComplete, true);
      assert.equal(kept.sha256, null); // kept unread: no integrity
      assert.equal(fresh.alreadyComplete, false);
      assert.equal(fresh.sha256, sha256(body));
      assert.equal(server.requests.length, 1);
      assert.deepEqual(await bytesOf(dest), body);
    });
  });

  it("lets an overwrite that waits for a running call stop through its signal", async () => {
    const body = randomBody(MiB);
    const server = await startThrottledServer(body, 4 * MiB);
    await withServerDir(server, async (dir) => {
      const dest = join(dir, "waiting.bin");
      const first = haul(server.url, { dest });
      let firstOver = false;
      void first.finally(() => firstOver = true);
      const controller = new AbortController();
      const waiting = haul(server.url, { dest, overwrite: true, signal: controller.signal })
        .catch((e: unknown) => e);
      controller.abort(new Error("the overwrite gave up"));
      const reason = await waiting;
      assert.ok(reason instanceof Error && /gave up/.test(reason.message), String(reason));
      assert.equal(firstOver, false, "the wait ended at the abort, not with the first call");
      assert.equal((await first).sha256, sha256(body));
      assert.equal(server.requests.length, 1);
    });
  });

  it("refuses another URL for a busy destination at once, not retryable", async () => {
    const body = randomBody(MiB);
    const server = await startThrottledServer(body, 4 * MiB);
    await withServerDir(server, async (dir) => {
      const dest = join(dir, "one.bin");
      const first = haul(`${server.url}/a`, { dest });
      const error = await haul(`${server.url}/b`, { dest }).catch((e: unknown) => e);
      assert.ok(error instanceof DestinationError, String(error));
      assert.equal(isRetryable(error), false);
      assert.match(error.message, /\/a to .*one\.bin; a second URL \(.*\/b\)/);
      await first;
      assert.deepEqual(server.requests.map((r) => r.path), ["/a"]);
    });
  });

  it("lets a joined caller stop waiting through its own signal, the download going on", async () => {
    const body = randomBody(MiB);
    const server = await startThrottledServer(body, 4 * MiB);
    await withServerDir(server, async (dir) => {
      const dest = join(dir, "abort.bin");
      const first = haul(server.url, { dest });
      const controller = new AbortController();
      const second = haul(server.url, { dest, signal: controller.signal }).catch((e) => e);
      controller.abort(new Error("the second caller gave up"));
      const reason = await second;
      assert.ok(reason instanceof Error && /gave up/.test(reason.message), String(reason));
      const result = await first;
      assert.equal(result.sha256, sha256(body));
      assert.equal(server.requests.length, 1);
    });
  });
});

describe("haul() joined to a call that fails by its own doing", () => {
  it("downloads itself when the call it joined is aborted by its own signal", async () => {
    const body = randomBody(MiB);
    const server = await startThrottledServer(body, 4 * MiB);
    await withServerDir(server, async (dir) => {
      const dest = join(dir, "left.bin");
      const controller = new AbortController();
      // The leader gives up once it has bytes (a timer could fire before its request on a busy machine).
      const leader = haul(server.url, {
        dest,
        signal: controller.signal,
        onProgress: (state) => {
          if (state.bytesRead > 0) controller.abort(new Error("the leader gave up"));
        },
      }).catch((e) => e);
      const joiner = haul(server.url, { dest });
      const reason = await leader;
      assert.ok(reason instanceof Error && /leader gave up/.test(reason.message), String(reason));
      const result = await joiner;
      assert.equal(result.sha256, sha256(body));
      assert.deepEqual(await bytesOf(dest), body);
      assert.equal(server.requests.length, 2, "the joiner resumed what the leader saved");
    });
  });

  it("downloads itself when the call it joined fails in its own onProgress", async () => {
    const body = randomBody(MiB);
    const server = await startThrottledServer(body, 4 * MiB);
    await withServerDir(server, async (dir) => {
      const dest = join(dir, "callback.bin");
      const broken = new Error("the leader's callback broke");
      const leader = haul(server.url, {
        dest,
        onProgress: (state) => {
          if (state.bytesRead > 0) throw broken;
        },
      }).catch((e: unknown) => e);
      const joiner = haul(server.url, { dest });
      assert.equal(await leader, broken);
      const result = await joiner;
      assert.equal(result.sha256, sha256(body));
      assert.deepEqual(await bytesOf(dest), body);
      assert.equal(server.requests.length, 2);
    });
  });
});

describe("haul() on a destination another process downloads to", () => {
  it("fails fast with a retryable DestinationError and sends no request", {
    timeout: 60_000,
  }, async () => {
    const server = await startResourceServer({ body: randomBody(1000) });
    await withServerDir(server, async (dir) => {
      const dest = join(dir, "held.bin");
      const holder = runtimeChild(HOLDER, [dest], { readWriteDir: dir });
      try {
        assert.deepEqual(JSON.parse(await holder.firstLine()), { held: true });
        const started = Date.now();
        const error = await haul(server.url, { dest }).catch((e: unknown) => e);
        assert.ok(error instanceof DestinationError, String(error));
        assert.equal(isRetryable(error), true);
        assert.match(error.message, /Destination busy/);
        assert.ok(Date.now() - started < 3000, "fast: the lease is not waited for");
        assert.equal(server.requests.length, 0);
      } finally {
        await holder.kill();
      }
    });
  });

  it("returns the file another download finished while this call waited to take the lock", async () => {
    const body = randomBody(2 * MiB);
    const server = await startResourceServer({ body });
    await withServerDir(server, async (dir) => {
      const dest = join(dir, "raced.bin");
      // The first download runs between the second call's look at dest (absent) and
      // its lock: the second call's look returns only once the first call is done.
      let firstDone: () => void = () => {};
      const gate = new Promise<void>((resolve) => firstDone = resolve);
      let looked = false;
      const fs = new (class extends FaultyFs {
        override async stat(path: string): Promise<ShimStat | null> {
          const found = await super.stat(path);
          if (path === dest && !looked) {
            looked = true;
            await gate;
          }
          return found;
        }
      })(await defaultFs());
      const second = haulWith(server.url, { dest }, { fs });
      const first = await haul(server.url, { dest });
      firstDone();
      const result = await second;
      assert.ok(looked);
      assert.equal(first.sha256, sha256(body));
      assert.equal(result.alreadyComplete, true);
      assert.equal(result.sha256, null); // kept unread: no integrity
      assert.equal(server.requests.length, 1, "the second call downloaded nothing");
      assert.deepEqual(await bytesOf(dest), body);
    });
  });
});

describe("untilAborted()", () => {
  it("passes the outcome through, with or without a signal", async () => {
    assert.equal(await untilAborted(Promise.resolve(1), undefined), 1);
    assert.equal(await untilAborted(Promise.resolve(2), new AbortController().signal), 2);
    const failure = new Error("failed");
    await assert.rejects(
      untilAborted(Promise.reject(failure), new AbortController().signal),
      (error) => error === failure,
    );
  });

  it("rejects with the reason at the abort, or at once when already aborted", async () => {
    const never = new Promise<number>(() => {});
    const controller = new AbortController();
    const waiting = untilAborted(never, controller.signal);
    const reason = new Error("stop");
    controller.abort(reason);
    await assert.rejects(waiting, (error) => error === reason);
    await assert.rejects(untilAborted(never, AbortSignal.abort(reason)), (e) => e === reason);
  });
});

describe("two spellings of one destination in one process", () => {
  it("leaves the live call's lock alone: the second call is busy, the first finishes", async () => {
    /** 1000 bytes of `fill` in ten paced chunks, under ETag "v<fill>". */
    const paced = (fill: number) => () => {
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          controller.enqueue(new Uint8Array(100).fill(fill));
          if (++sent === 10) controller.close();
        },
      });
      const headers = { etag: `"v${fill}"`, "content-length": "1000" };
      return Promise.resolve(new Response(body, { headers }));
    };
    await withTempDir(async (dir) => {
      await mkdir(join(dir, "sub"));
      const first = haul("https://e.test/1", { dest: join(dir, "a"), fetch: paced(1) })
        .then(() => "ok", (error: unknown) => String(error));
      await new Promise((resolve) => setTimeout(resolve, 40));
      const second = await haul("https://e.test/2", { dest: `${dir}/sub/../a`, fetch: paced(2) })
        .then(() => "ok", (error: unknown) => error);
      assert.match(String(second), /Destination busy/);
      assert.equal(isRetryable(second), true);
      assert.equal(await first, "ok");
      assert.deepEqual(await bytesOf(join(dir, "a")), new Uint8Array(1000).fill(1));
    });
  });
});
