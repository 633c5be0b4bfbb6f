/**
 * Answers whose body is not the file's bytes as they stand: a `multipart/byteranges` 206 (to a
 * resume, and to the ranges of several connections), even with the `Content-Range` asked for, and
 * a body under a `Transfer-Encoding` that no runtime's `fetch` decodes (gzip): never written.
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { haul, haulStream, ServerMisconfiguredError } from "../../mod.ts";
import { type RecordedRequest, type Reply, startResourceServer } from "../helpers/script_server.ts";
import { assertSucceeded, describeOutcome, haulWithRetries } from "../helpers/retry_loop.ts";
import { exists, join, randomBody, withTempDir } from "../helpers/temp.ts";
import { firstCutAfter } from "../helpers/cutting_fetch.ts";

const KiB = 1024;
const TIGHT = { blockSize: 64 * KiB, checkpointEvery: { bytes: 64 * KiB } };

/**
 * `honest` (a 206) as a multipart/byteranges body of one part, chunked (so no Content-Length
 * gives it away), the top-level `Content-Range` kept as a careless server would.
 */
function asMultipart(honest: Reply): Reply {
  const headers = (honest.headers as [string, string][]).filter(([name]) =>
    name.toLowerCase() !== "content-type"
  );
  const range = headers.find(([name]) => name === "Content-Range")![1];
  const head = `--SEP\r\nContent-Type: application/octet-stream\r\nContent-Range: ${range}\r\n\r\n`;
  const part = honest.body as Uint8Array;
  const body = new Uint8Array([
    ...new TextEncoder().encode(head),
    ...part.subarray(0, 1000),
    ...new TextEncoder().encode("\r\n--SEP--\r\n"),
  ]);
  headers.push(["Content-Type", "multipart/byteranges; boundary=SEP"]);
  return { ...honest, headers, body, framing: "chunked" };
}

describe("a multipart/byteranges 206", () => {
  for (const connections of [1, 4]) {
    it(`is refused, never written as the file's bytes (${connections} connection${connections > 1 ? "s" : ""})`, async () => {
      const body = randomBody(768 * KiB);
      let multipart = true;
      const server = await startResourceServer(
        { body },
        (_req: RecordedRequest, honest) =>
          multipart && honest.status === 206 ? asMultipart(honest) : honest,
      );
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "file.bin");
          const cut = firstCutAfter(300 * KiB);
          const outcome = await haulWithRetries(
            server.url,
            // One connection cut at 300 KiB, then a resume with `connections`.
            (i) => ({ dest, ...TIGHT, connections: i === 0 ? 1 : connections, fetch: cut }),
            {
              server,
              maxAttempts: 6,
              hooks: { rangeFloor: 64 * KiB },
              beforeAttempt: (i) => {
                multipart = i <= 1;
              },
            },
          );
          await assertSucceeded(outcome, dest, body);
          if (connections === 1) {
            const refused = outcome.attempts[1]!.error;
            assert.ok(refused instanceof ServerMisconfiguredError, describeOutcome(outcome));
            assert.match(refused.message, /Content-Type: multipart\/byteranges/);
            assert.equal(refused.retryable, true);
            assert.equal(outcome.attempts[1]!.after, null, "the checkpoint was discarded");
          }
        });
      } finally {
        await server.close();
      }
    });
  }
});

/** `honest` with its body gzipped as a transfer coding (`Transfer-Encoding: gzip, chunked`). */
function transferGzip(honest: Reply): Reply {
  const headers = [...(honest.headers as [string, string][]), [
    "Transfer-Encoding",
    "gzip, chunked",
  ]];
  const body = new Uint8Array(gzipSync(honest.body as Uint8Array));
  return { ...honest, headers: headers as [string, string][], body, framing: "chunked" };
}

describe("a body under Transfer-Encoding: gzip (fetch passes its coded bytes through)", () => {
  it("is refused, nothing at dest and nothing beside it, and haulStream() errors", async () => {
    const body = randomBody(200 * KiB);
    const server = await startResourceServer({ body }, (_req, honest) => transferGzip(honest));
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const error = await haul(server.url, { dest }).then(() => null, (e: unknown) => e);
        assert.ok(error instanceof ServerMisconfiguredError, String(error));
        assert.match(error.message, /Transfer-Encoding: gzip/);
        assert.equal(error.retryable, false);
        for (const suffix of ["", ".part", ".part.ctrl", ".part.lock"]) {
          assert.equal(exists(dest + suffix), false, `${suffix} left`);
        }
      });
      const streamed = await new Response(haulStream(server.url)).arrayBuffer().catch((e) => e);
      assert.ok(streamed instanceof ServerMisconfiguredError, String(streamed));
    } finally {
      await server.close();
    }
  });

  it("on the further ranges of 4 connections: refused, the first connection carries the rest", async () => {
    const body = randomBody(768 * KiB);
    const server = await startResourceServer(
      { body },
      (req, honest) => req.headers["range"] !== undefined ? transferGzip(honest) : honest,
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const outcome = await haulWithRetries(
          server.url,
          { dest, ...TIGHT, connections: 4 },
          { server, maxAttempts: 1, hooks: { rangeFloor: 64 * KiB } },
        );
        await assertSucceeded(outcome, dest, body);
        assert.ok(server.requests.length > 1, "ranges were asked");
      });
    } finally {
      await server.close();
    }
  });
});
