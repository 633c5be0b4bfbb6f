/**
 * Further ranges of several connections that a server answers wrongly, yet without sign that the
 * file changed for the whole download: the connection that asked stops (or asks again), the others
 * go on, and the call finishes as one connection would.
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PartialHaulError, UnexpectedStatusError } from "../../mod.ts";
import { type EngineHooks, haulWith } from "../../src/engine/haul.ts";
import type { HaulOptions, HaulResult } from "../../src/types.ts";
import { type RecordedRequest, startResourceServer } from "../helpers/script_server.ts";
import { readCheckpointOf } from "../helpers/retry_loop.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const KiB = 1024;
const HOOKS: EngineHooks = { rangeFloor: 64 * KiB, writeBufferSize: 16 * KiB, syncEvery: 64 * KiB };
const SIZE = 2 * 1024 * KiB + 123;
/** The first answer's pace: slow enough that further ranges are asked while it streams. */
const PACE = 8 * 1024 * KiB;

function get(url: string, options: HaulOptions): Promise<HaulResult> {
  return haulWith(url, { checkpointEvery: { bytes: 32 * KiB, ms: 5 }, ...options }, HOOKS);
}

/** A closed range asked (`bytes=N-M`): a further range of several connections. */
function closedRange(req: RecordedRequest): boolean {
  return /^bytes=\d+-\d+$/.test(req.headers["range"] ?? "");
}

describe("further ranges answered wrongly", () => {
  it("a balancer whose two backends tag the same bytes apart: 4 connections finish in one call", async () => {
    // Round robin over two backends with their own ETags: a range that reaches the other one fails
    // its If-Range and gets the whole file, 200, under the other tag.
    const body = randomBody(SIZE);
    const server = await startResourceServer(
      (req) => ({ body, etag: req.index % 2 === 0 ? '"backend-a"' : '"backend-b"' }),
      (_req, honest) => ({ ...honest, bytesPerSecond: PACE }),
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const result = await get(server.url, { dest, connections: 4 });
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(result.sha256, sha256(body));
        assert.ok(server.requests.some(closedRange), "further ranges were asked");
      });
    } finally {
      await server.close();
    }
  });

  it("a file replaced after the first answer: the first connection carries its version whole", async () => {
    const v1 = randomBody(SIZE);
    const v2 = randomBody(SIZE);
    const server = await startResourceServer(
      (req) => req.index === 0 ? { body: v1, etag: '"v1"' } : { body: v2, etag: '"v2"' },
      (_req, honest) => ({ ...honest, bytesPerSecond: PACE }),
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const result = await get(server.url, { dest, connections: 4 });
        assert.deepEqual(await bytesOf(dest), v1);
        assert.equal(result.sha256, sha256(v1));
        const asked = server.requests.filter(closedRange).length;
        assert.ok(asked >= 1 && asked <= 3 + 2 * 4, `${asked} further ranges asked`);
      });
    } finally {
      await server.close();
    }
  });

  it("a server that serves one connection at a time (503 to the others): 4 connections finish in one call", async () => {
    const body = randomBody(SIZE);
    const server = await startResourceServer(
      { body, etag: '"one"' },
      (req, honest) =>
        closedRange(req)
          ? { status: 503, headers: [["Retry-After", "1"]], body: "" }
          : { ...honest, bytesPerSecond: PACE },
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const result = await get(server.url, { dest, connections: 4 });
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(result.sha256, sha256(body));
        assert.ok(server.requests.some(closedRange), "further ranges were asked");
      });
    } finally {
      await server.close();
    }
  });

  // A server that takes a few connections and resets, or never answers, the others.
  const unanswered = [
    ["resets the connection of every further range", { status: 200, hangUp: true }],
    ["never sends the head of a further range (past stallTimeout)", {
      status: 200,
      delayMs: 60_000,
    }],
  ] as const;
  for (const [what, reply] of unanswered) {
    it(`a server that ${what}: 4 connections finish in one call, through the first`, async () => {
      const body = randomBody(SIZE);
      const server = await startResourceServer(
        { body, etag: '"one"' },
        (req, honest) => closedRange(req) ? { ...reply } : { ...honest, bytesPerSecond: PACE },
      );
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "file.bin");
          const result = await get(server.url, { dest, connections: 4, stallTimeout: 500 });
          assert.deepEqual(await bytesOf(dest), body);
          assert.equal(result.sha256, sha256(body));
          assert.ok(server.requests.some(closedRange), "further ranges were asked");
        });
      } finally {
        await server.close();
      }
    });
  }

  it("a server that serves two connections and resets the others: a resume of saved ranges over 8 finishes in one call", async () => {
    const body = randomBody(SIZE);
    let cut = true;
    let served = new Set<number>();
    const server = await startResourceServer({ body, etag: '"two"' }, (req, honest) => {
      if (cut) { // every range written in part, then one cut: several ranges saved
        return {
          ...honest,
          bytesPerSecond: 1024 * KiB,
          ...(req.index === 2 ? { cutAfter: 100_000 } : {}),
        };
      }
      if (!served.has(req.connection) && served.size >= 2) return { status: 200, hangUp: true };
      served.add(req.connection);
      return honest;
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const error = await get(server.url, { dest, connections: 4 }).catch((e) => e);
        assert.ok(error instanceof PartialHaulError, String(error));
        const saved = await readCheckpointOf(dest);
        assert.ok(saved !== null && saved.ranges.length >= 3, JSON.stringify(saved?.ranges));
        cut = false;
        served = new Set();
        const before = server.requests.length;
        const result = await get(server.url, { dest, connections: 8 });
        assert.equal(result.resumedFrom, error.validLength);
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(result.sha256, sha256(body));
        const resets = server.requests.slice(before).filter((req) => !served.has(req.connection));
        assert.ok(resets.length > 0, "connections were reset");
      });
    } finally {
      await server.close();
    }
  });

  it("a 503 to every range of a resume keeps the progress, says when to come back, and the next call resumes", async () => {
    const body = randomBody(SIZE);
    let mode: "cut" | "busy" | "honest" = "cut";
    const server = await startResourceServer({ body, etag: '"b1"' }, (req, honest) => {
      if (!closedRange(req)) return honest;
      if (mode === "busy") return { status: 503, headers: [["Retry-After", "7"]], body: "" };
      if (mode === "cut") {
        mode = "honest";
        return { ...honest, cutAfter: 100_000, cutLingerMs: 100 };
      }
      return honest;
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const cut = await get(server.url, { dest, connections: 4 }).catch((e) => e);
        assert.ok(cut instanceof PartialHaulError, String(cut));
        const saved = cut.validLength;
        mode = "busy";
        const busy = await get(server.url, { dest, connections: 4 }).catch((e) => e);
        assert.ok(busy instanceof UnexpectedStatusError, String(busy));
        assert.equal(busy.status, 503);
        assert.equal(busy.retryable, true);
        assert.equal(busy.retryAfterMs, 7000);
        assert.equal(exists(dest), false);
        assert.ok(exists(`${dest}.part.ctrl`), "the progress is kept");
        mode = "honest";
        const result = await get(server.url, { dest, connections: 4 });
        assert.equal(result.resumedFrom, saved);
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(result.sha256, sha256(body));
      });
    } finally {
      await server.close();
    }
  });
});
