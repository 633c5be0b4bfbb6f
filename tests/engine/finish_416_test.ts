/**
 * The 416 finish goes through the one commit every finish uses
 * (`commit()` in `src/engine/outcome.ts`): a checkpoint that already counts every byte meets
 * a 416 confirming the length, and `.part` carries junk past that length (a
 * preallocation, or writes no checkpoint counted). The file at `dest` is cut
 * to the verified length, synced before its rename, the directory synced
 * after it, and the reported digest is the file's.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { appendFile, readdir } from "node:fs/promises";
import { haulWith } from "../../src/engine/haul.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { ContentRangeError, PartialHaulError } from "../../src/errors.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { type RecordedOp, recordingFs } from "../helpers/recording_fs.ts";
import { bytesOf, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

/** A fetch whose body sends every byte, then breaks before it ends. */
function brokenAfterLastByte(): (request: Request) => Promise<Response> {
  return async (request) => {
    const response = await fetch(request);
    const reader = response.body!.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.error(new Error("connection reset after the last byte"));
        else controller.enqueue(value);
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
}

/** A first call cut after the body's last byte: its checkpoint counts all `length` bytes. */
async function cutAfterLastByte(url: string, options: { dest: string }, length: number) {
  const first = await haulWith(url, { ...options, fetch: brokenAfterLastByte() }, {})
    .catch((error: unknown) => error);
  assert.ok(first instanceof PartialHaulError, String(first));
  assert.equal(first.validLength, length);
}

describe("A 416 that confirms a complete checkpoint", () => {
  it("commits like every finish: cut to the verified length, fsync, rename, directory fsync", async () => {
    const body = randomBody(200 * 1024 + 13);
    const server = await startResourceServer({ body, etag: '"whole"' });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "whole.bin");
        const options = { dest, checkpointEvery: { bytes: 64 * 1024, ms: 10 } };
        await cutAfterLastByte(server.url, options, body.length);
        await appendFile(`${dest}.part`, new Uint8Array(5000).fill(0xaa)); // junk past the end

        const log: RecordedOp[] = [];
        const fs = recordingFs(await defaultFs(), log);
        const result = await haulWith(server.url, options, { fs });
        assert.equal(result.status, 416);
        assert.equal(result.size, body.length);
        const bytes = await bytesOf(dest);
        assert.equal(bytes.length, body.length, "dest is cut to the verified length");
        assert.equal(sha256(bytes), sha256(body));
        assert.equal(result.sha256, sha256(bytes), "the digest is the file's");
        assert.deepEqual(await readdir(dir), ["whole.bin"]);

        const part = `${dest}.part`;
        const at = (match: (op: RecordedOp) => boolean) => log.findIndex(match);
        const truncated = at((op) => op.op === "truncate" && op.path === part);
        const synced = at((op) => op.op === "sync-done" && op.path === part);
        const renamed = at((op) => op.op === "rename" && op.to === dest);
        const dirSynced = log.findLastIndex((op) => op.op === "syncDir");
        assert.ok(truncated >= 0, "the junk is cut off");
        assert.ok(truncated < synced && synced < renamed, "cut, then synced, then renamed");
        assert.ok(renamed < dirSynced, "the rename is made durable");
      });
    } finally {
      await server.close();
    }
  });
});

describe("A 416 without Content-Range (RFC 9110 §15.5.17 lets a server omit it)", () => {
  for (const known of [true, false]) {
    const verdict = known
      ? "finishes the file without a body"
      : "is refused: nothing proves the end";
    it(`on a checkpoint of every byte of ${known ? "a known" : "an unknown"} length ${verdict}`, async () => {
      const body = randomBody(100 * 1024 + 7);
      const server = await startResourceServer({ body, etag: '"whole"' }, (req, honest) => {
        if (req.headers["range"] !== undefined) {
          return { status: 416, headers: { ETag: '"whole"' } };
        }
        return known ? honest : { ...honest, framing: "chunked" };
      });
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "whole.bin");
          const options = { dest, checkpointEvery: { bytes: 64 * 1024, ms: 10 } };
          await cutAfterLastByte(server.url, options, body.length);
          const second = await haulWith(server.url, options, {}).catch((error: unknown) => error);
          assert.equal(server.requests.length, 2);
          assert.equal(server.requests[1]!.headers["range"], `bytes=${body.length}-`);
          if (known) {
            assert.ok(!(second instanceof Error), String(second));
            const result = second as Awaited<ReturnType<typeof haulWith>>;
            assert.equal(result.status, 416);
            assert.equal(result.sha256, sha256(body));
            assert.deepEqual(await bytesOf(dest), body);
            assert.deepEqual(await readdir(dir), ["whole.bin"]);
          } else {
            assert.ok(second instanceof ContentRangeError, String(second));
            assert.equal(second.retryable, true);
            assert.deepEqual(
              await readdir(dir),
              [],
              "progress discarded: the next call starts over",
            );
          }
        });
      } finally {
        await server.close();
      }
    });
  }
});
