/**
 * An `onProgress` that throws on its very first call (the report made before
 * any body byte): the call rejects with the callback's own error and leaves
 * nothing running and nothing behind: no open handle, no read-back, no
 * unread response body, and no `.part` when nothing was saved (one
 * connection and several, fresh and resumed; in this process and, for the
 * exit, in a child process of the same runtime).
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { PartialHaulError } from "../../mod.ts";
import { type EngineHooks, haulWith } from "../../src/engine/haul.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import type { FetchLike } from "../../src/types.ts";
import { type RecordedOp, recordingFs } from "../helpers/recording_fs.ts";
import { runtimeChild } from "../helpers/runtime.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const CHILD_SCRIPT = fileURLToPath(new URL("../fixtures/progress_throw_child.ts", import.meta.url));
const MiB = 1024 * 1024;
const FLOOR = 64 * 1024;
/** Small ranges, so that four connections split even a few MiB. */
const HOOKS: EngineHooks = { rangeFloor: FLOOR };
/** The most a child may take to exit on its own once it has printed its outcome. */
const EXIT_BOUND_MS = 10_000;

/** A body that takes far longer than {@link EXIT_BOUND_MS} to send: only a cancel ends it early. */
function slowServer(body: Uint8Array) {
  return startResourceServer({ body }, (_req, honest) => ({
    ...honest,
    chunkSize: 16 * 1024,
    bytesPerSecond: 256 * 1024,
  }));
}

/** A fetch that knows which response bodies were neither read to their end nor cancelled. */
function trackingFetch(): { fetch: FetchLike; unread: () => number } {
  const open = new Set<number>();
  let next = 0;
  const fetch: FetchLike = async (request, init) => {
    const response = await globalThis.fetch(request, init);
    if (response.body === null) return response;
    const id = next++;
    open.add(id);
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done) {
          open.delete(id);
          controller.close();
        } else {
          controller.enqueue(value);
        }
      },
      cancel(reason) {
        open.delete(id);
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  return { fetch, unread: () => open.size };
}

/** Files opened through the log and not closed since. */
function stillOpen(log: readonly RecordedOp[]): string[] {
  const open: string[] = [];
  for (const entry of log) {
    if (entry.op === "open") open.push(entry.path);
    if (entry.op === "close") open.splice(open.indexOf(entry.path), 1);
  }
  return open;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("haul() with an onProgress that throws on its first call", () => {
  for (const connections of [1, 4]) {
    it(`rejects with its error and leaves nothing open, running or behind (${connections} connection(s))`, async () => {
      const body = randomBody(4 * MiB + 123);
      const server = await slowServer(body);
      try {
        await withTempDir(async (dir) => {
          await writeFile(join(dir, "neighbour.txt"), "here before");
          const before = (await readdir(dir)).sort();
          const dest = join(dir, "file.bin");
          const log: RecordedOp[] = [];
          const fs = recordingFs(await defaultFs(), log);
          const tracked = trackingFetch();
          const mistake = new Error("the caller's bug");
          let calls = 0;
          const error = await haulWith(server.url, {
            dest,
            connections,
            fetch: tracked.fetch,
            onProgress: () => {
              calls++;
              throw mistake;
            },
          }, { ...HOOKS, fs }).catch((e: unknown) => e);
          assert.equal(error, mistake);
          assert.equal(calls, 1);
          assert.deepEqual(stillOpen(log), [], "every handle is closed");
          assert.equal(tracked.unread(), 0, "every response body was read or cancelled");
          assert.deepEqual((await readdir(dir)).sort(), before, "nothing is left beside dest");
          const ops = log.length;
          await sleep(200);
          assert.deepEqual(log.slice(ops), [], "nothing touches the files after the call");
        });
      } finally {
        await server.close();
      }
    });

    it(`keeps a resume's saved bytes and stops its read-back (${connections} connection(s))`, async () => {
      const body = randomBody(12 * MiB + 77);
      const server = await startResourceServer(
        { body },
        (req, honest) =>
          req.index === 0 ? { ...honest, cutAfter: 10 * MiB, cutLingerMs: 50 } : honest,
      );
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "file.bin");
          const options = { dest, checkpointEvery: { bytes: 1 * MiB, ms: 1000 } };
          await assert.rejects(haulWith(server.url, options, HOOKS), PartialHaulError);
          const part = await bytesOf(`${dest}.part`);
          const ctrl = await bytesOf(`${dest}.part.ctrl`);
          const before = (await readdir(dir)).sort();
          // A call on its own (no retry loop's kept hasher): the resume reads .part back.
          const log: RecordedOp[] = [];
          const fs = recordingFs(await defaultFs(), log);
          const tracked = trackingFetch();
          const mistake = new Error("the caller's bug");
          const error = await haulWith(server.url, {
            ...options,
            connections,
            fetch: tracked.fetch,
            onProgress: () => {
              throw mistake;
            },
          }, { ...HOOKS, fs }).catch((e: unknown) => e);
          assert.equal(error, mistake);
          assert.deepEqual(stillOpen(log), [], "every handle is closed");
          assert.equal(tracked.unread(), 0, "every response body was read or cancelled");
          const ops = log.length;
          await sleep(200);
          assert.deepEqual(log.slice(ops), [], "no read-back goes on after the call");
          assert.deepEqual((await readdir(dir)).sort(), before);
          assert.deepEqual(await bytesOf(`${dest}.part`), part, "the saved bytes stay");
          assert.deepEqual(await bytesOf(`${dest}.part.ctrl`), ctrl, "their checkpoint stays");
          const result = await haulWith(server.url, { dest }, HOOKS);
          assert.equal(result.sha256, sha256(body));
        });
      } finally {
        await server.close();
      }
    });

    it(`lets a child process exit on its own after the rejection (${connections} connection(s))`, async () => {
      const body = randomBody(4 * MiB + 123);
      const server = await slowServer(body);
      try {
        await withTempDir(async (dir) => {
          const before = (await readdir(dir)).sort();
          const dest = join(dir, "file.bin");
          const child = runtimeChild(
            CHILD_SCRIPT,
            [server.url, dest, String(connections), String(FLOOR)],
            { readWriteDir: dir, net: `127.0.0.1:${server.port}` },
          );
          try {
            const line = JSON.parse(await child.firstLine());
            assert.equal(line.own, true, `the child saw ${line.name}: ${line.message}`);
            let timer: ReturnType<typeof setTimeout> | undefined;
            const bound = new Promise((resolve) => (timer = setTimeout(resolve, EXIT_BOUND_MS)));
            const exited = await Promise.race([child.exited, bound]);
            clearTimeout(timer);
            assert.ok(
              child.hasExited,
              `the child still runs ${EXIT_BOUND_MS} ms after its call rejected: ${child.output()}`,
            );
            assert.equal(exited, 0, child.output());
          } finally {
            await child.kill();
          }
          assert.deepEqual((await readdir(dir)).sort(), before, "nothing is left beside dest");
        });
      } finally {
        await server.close();
      }
    });
  }
});

describe("an onProgress that throws on the final report (the file verified at dest)", () => {
  it("does not turn the finished download into a failure: haul() and haulWithRetry() resolve", async () => {
    const { haul, haulWithRetry } = await import("../../mod.ts");
    const body = randomBody(300_000);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        for (const [name, call] of [["haul", haul], ["retry", haulWithRetry]] as const) {
          for (const round of ["downloaded", "already there"]) {
            const dest = join(dir, `${name}.bin`);
            let finals = 0;
            const result = await call(server.url, {
              dest,
              onProgress: (state) => {
                if (!state.isComplete) return;
                finals++;
                throw new Error("the caller's bug, after the end");
              },
            });
            assert.equal(finals, 1, `${name}, ${round}`);
            assert.equal(result.size, body.length);
            assert.deepEqual(await bytesOf(dest), body);
            if (round === "downloaded") assert.equal(result.sha256, sha256(body));
            assert.deepEqual((await readdir(dir)).filter((f) => f.includes(".part")), []);
          }
        }
      });
    } finally {
      await server.close();
    }
  });
});
