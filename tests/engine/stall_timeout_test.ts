import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import {
  haul,
  haulAll,
  HaulState,
  haulStream,
  haulWithRetry,
  isRetryable,
  PartialHaulError,
} from "../../mod.ts";
import { type EngineHooks, haulWith } from "../../src/engine/haul.ts";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

/** Small ranges, so that a 2 MiB body is split over several connections. */
const HOOKS: EngineHooks = { rangeFloor: 64 * 1024, writeBufferSize: 16 * 1024 };

/** The bytes the checkpoint at `dest` records as durable. */
async function savedBytes(dest: string): Promise<number> {
  const checkpoint = decodeCheckpoint(new Uint8Array(await readFile(`${dest}.part.ctrl`)));
  return checkpoint.ranges.reduce((sum, range) => sum + range.end - range.start, 0);
}

describe("haul() stallTimeout", () => {
  it("ends a body that stalls with a retryable PartialHaulError, progress saved, and the next call resumes", async () => {
    const body = randomBody(400_000);
    const server = await startResourceServer(
      { body },
      (req, honest) =>
        req.index === 0 ? { ...honest, stallAfter: 100_000, chunkSize: 16_384 } : honest,
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "s.bin");
        const state = new HaulState();
        const started = performance.now();
        const error = await haul(server.url, {
          dest,
          state,
          stallTimeout: 1000, // it bounds the head too: 300 ms was once too short under load
          checkpointEvery: { ms: 5 },
        }).catch((e) => e);
        const elapsed = performance.now() - started;
        assert.ok(error instanceof PartialHaulError, String(error));
        assert.ok(isRetryable(error));
        assert.match(error.message, /No body byte for 1000 ms/);
        assert.equal((error.cause as Error).name, "TimeoutError");
        assert.ok(elapsed >= 950 && elapsed < 5000, `${elapsed} ms`);
        assert.ok(exists(`${dest}.part.ctrl`));
        const saved = await savedBytes(dest);
        assert.ok(saved > 0, "bytes saved");
        assert.equal(error.validLength, saved);
        assert.equal(state.validLength, saved);
        const result = await haul(server.url, { dest, stallTimeout: 1000 });
        assert.equal(result.resumedFrom, saved);
        assert.equal(result.sha256, sha256(body));
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(server.requests[1]!.headers["range"], `bytes=${saved}-`);
      });
    } finally {
      await server.close();
    }
  });

  it("ends a stalled range of a download over 4 connections, saves every range, and the next call resumes", async () => {
    const body = randomBody(2 * 1024 * 1024 + 123);
    const server = await startResourceServer(
      { body, etag: '"st"' },
      (req, honest) =>
        req.index === 2 ? { ...honest, stallAfter: 20_000, chunkSize: 4096 } : honest,
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "m.bin");
        const started = performance.now();
        const error = await haulWith(server.url, {
          dest,
          connections: 4,
          stallTimeout: 300,
          checkpointEvery: { ms: 5 },
        }, HOOKS).catch((e) => e);
        const elapsed = performance.now() - started;
        assert.ok(error instanceof PartialHaulError, String(error));
        assert.ok(isRetryable(error));
        assert.match(error.message, /No body byte for 300 ms/);
        assert.equal((error.cause as Error).name, "TimeoutError");
        assert.ok(elapsed < 2000, `${elapsed} ms`);
        assert.ok(server.requests[2]!.headers["range"] !== undefined, "the stalled one is a range");
        const saved = await savedBytes(dest);
        assert.ok(saved > 0 && saved < body.length, `${saved} bytes saved`);
        assert.equal(error.validLength, saved);
        const asked = server.requests.length;
        const result = await haulWith(
          server.url,
          { dest, connections: 4, stallTimeout: 300 },
          HOOKS,
        );
        assert.equal(result.resumedFrom, saved);
        assert.equal(result.sha256, sha256(body));
        assert.deepEqual(await bytesOf(dest), body);
        for (const req of server.requests.slice(asked)) {
          assert.notEqual(req.headers["range"], undefined, "only the gaps are asked for");
        }
      });
    } finally {
      await server.close();
    }
  });

  it("ends the wait for a response head that never comes with a retryable TimeoutError", async () => {
    const server = await startResourceServer(
      { body: randomBody(1000) },
      (_req, honest) => ({ ...honest, delayMs: 10_000 }),
    );
    try {
      await withTempDir(async (dir) => {
        const started = performance.now();
        const error = await haul(server.url, { dest: join(dir, "h.bin"), stallTimeout: 200 })
          .catch((e) => e);
        const elapsed = performance.now() - started;
        assert.equal((error as Error).name, "TimeoutError", String(error));
        assert.match((error as Error).message, /No response .* 200 ms/);
        assert.ok(isRetryable(error));
        assert.ok(elapsed < 2000, `${elapsed} ms`);
      });
    } finally {
      await server.close();
    }
  });

  it("lets a slow body finish that is never silent for as long as the timeout", async () => {
    // A chunk every 100 ms for about 4.5 s: three times the timeout in all, never 1.5 s silent
    // (a loaded machine can hold a timer or a read back by several hundred ms).
    const body = randomBody(90_000);
    const server = await startResourceServer(
      { body },
      (_req, honest) => ({ ...honest, bytesPerSecond: 20_000, chunkSize: 2000 }),
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "slow.bin");
        const started = performance.now();
        const result = await haul(server.url, { dest, stallTimeout: 1500 });
        assert.ok(performance.now() - started > 3000, "the body took longer than the timeout");
        assert.equal(result.sha256, sha256(body));
        assert.equal(server.requests.length, 1);
      });
    } finally {
      await server.close();
    }
  });

  it("haulWithRetry() and haulAll() pass it on, and retry a stalled attempt to the end", async () => {
    const body = randomBody(300_000);
    const server = await startResourceServer(
      { body },
      (req, honest) =>
        req.index % 2 === 0 ? { ...honest, stallAfter: 50_000 * (req.index + 1) } : honest,
    );
    try {
      await withTempDir(async (dir) => {
        const retried: unknown[] = [];
        const result = await haulWithRetry(`${server.url}/a`, {
          dest: join(dir, "a.bin"),
          stallTimeout: 300,
          minDelayMs: 1,
          maxDelayMs: 10,
          onRetry: ({ error }) => retried.push(error),
        });
        assert.equal(result.sha256, sha256(body));
        assert.equal(retried.length, 1);
        assert.ok(retried[0] instanceof PartialHaulError);
        const [report] = await haulAll([{ url: `${server.url}/b`, dest: join(dir, "b.bin") }], {
          stallTimeout: 300,
          minDelayMs: 1,
          maxDelayMs: 10,
        });
        assert.equal(
          report?.status,
          "done",
          report?.status === "failed" ? String(report.error) : "",
        );
        assert.equal(report?.attempts, 2);
        assert.deepEqual(await bytesOf(join(dir, "b.bin")), body);
      });
    } finally {
      await server.close();
    }
  });

  it("refuses a negative, NaN, non-number or over-long stallTimeout with a RangeError before any request", async () => {
    const server = await startResourceServer({ body: randomBody(10) });
    try {
      await withTempDir(async (dir) => {
        // Above setTimeout's 2^31-1 ms (24.8 days) a head's deadline was silently cut to 24.8 days.
        for (const bad of [-1, Number.NaN, "5" as unknown as number, 2 ** 31, 1e12]) {
          await assert.rejects(
            haul(server.url, { dest: join(dir, "x.bin"), stallTimeout: bad }),
            (error: Error) =>
              error instanceof RangeError && /Invalid stallTimeout/.test(error.message),
            String(bad),
          );
        }
        assert.equal(server.requests.length, 0);
        const error = await haul(server.url, { dest: join(dir, "x.bin"), stallTimeout: 2 ** 31 })
          .catch((e) => e);
        assert.match(String(error), /2147483647 ms \(24\.8 days\)/);
        assert.throws(() => haulStream(server.url, { stallTimeout: 2 ** 31 }), RangeError);
        for (const off of [0, Infinity, 2 ** 31 - 1]) {
          const dest = join(dir, `off-${off}.bin`);
          const result = await haul(server.url, { dest, stallTimeout: off });
          assert.equal(result.size, 10, String(off));
        }
      });
    } finally {
      await server.close();
    }
  });
});
