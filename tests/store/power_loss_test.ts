/**
 * Power-loss consistency: one whole download (three cuts, one of them
 * answered with a 200 that rewinds) runs on {@link RecordingFs}, which
 * records every write, sync, truncate, rename, remove and directory sync.
 * Then, at every operation boundary, every disk state a power loss there
 * could leave (durable data and entries, plus subsets of what was pending)
 * is written to a real directory, checked, and handed to the real `haul()`,
 * which must finish with the right bytes.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, rm } from "node:fs/promises";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import { type Checkpoint, durablePrefix } from "../../src/protocol/checkpoint.ts";
import { haulWith } from "../../src/engine/haul.ts";
import { haul, PartialHaulError } from "../../mod.ts";
import {
  type CrashState,
  distinctCrashStates,
  materialise,
  RecordingFs,
} from "../helpers/power_loss_fs.ts";
import { type RecordedRequest, startResourceServer } from "../helpers/script_server.ts";
import {
  bytesOf,
  exists,
  join,
  randomBody,
  sameBytes,
  sha256,
  withTempDir,
} from "../helpers/temp.ts";

const BODY_SIZE = 320 * 1024 + 123;
const MODEL_DIR = "/haul-model/downloads";
const NAME = "file.bin";
const OPTIONS = {
  blockSize: 8192,
  checkpointEvery: { bytes: 24 * 1024, ms: 600_000 },
} as const;
const REPLAY_CADENCE = { bytes: 1 << 30, ms: 600_000 };
const CONCURRENCY = 4;

/**
 * The response with its body re-cut into `size`-byte chunks (the last
 * partial one delivered before any error), so that the engine sees the same
 * chunks however the loopback socket happened to deliver them.
 */
function rechunked(response: Response, size: number): Response {
  const reader = response.body!.getReader();
  let pending = new Uint8Array(0);
  let ended = false;
  let failure: unknown = null;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (pending.length < size && !ended && failure === null) {
        try {
          const read = await reader.read();
          if (read.done) {
            ended = true;
          } else {
            const joined = new Uint8Array(pending.length + read.value.length);
            joined.set(pending);
            joined.set(read.value, pending.length);
            pending = joined;
          }
        } catch (error) {
          failure = error;
        }
      }
      if (pending.length > 0) {
        const take = Math.min(size, pending.length);
        controller.enqueue(pending.slice(0, take));
        pending = pending.slice(take);
      } else if (failure !== null) {
        controller.error(failure);
      } else {
        controller.close();
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, headers: response.headers });
}

/** Invariants (1) and (2) on a crash state; returns the decoded checkpoint (if any). */
/**
 * The download's data file in a crash state: `.part`, or, when a crash fell
 * between the commit's two renames, the name of the commit's own (`.part.` and
 * 8 hex digits) that the next owner puts back.
 */
function partOf(state: CrashState): Uint8Array | undefined {
  const part = state.files.get(`${NAME}.part`);
  if (part !== undefined) return part;
  const moved = [...state.files.keys()].find((name) =>
    name.startsWith(`${NAME}.part.`) && /^[0-9a-f]{8}$/.test(name.slice(NAME.length + 6))
  );
  return moved === undefined ? undefined : state.files.get(moved);
}

function checkState(
  state: CrashState,
  body: Uint8Array,
  where: string,
): (Checkpoint & { cursor: number }) | null {
  const dest = state.files.get(NAME);
  if (dest !== undefined) {
    assert.ok(sameBytes(dest, body), `${where}: dest exists but is not the resource`);
  }
  const ctrl = state.files.get(`${NAME}.part.ctrl`);
  if (ctrl === undefined) return null;
  let checkpoint: Checkpoint & { cursor: number };
  try {
    const decoded = decodeCheckpoint(ctrl);
    checkpoint = { ...decoded, cursor: durablePrefix(decoded) };
  } catch (error) {
    assert.fail(`${where}: a power loss left an undecodable checkpoint: ${String(error)}`);
  }
  const part = partOf(state);
  if (part !== undefined) {
    assert.ok(
      checkpoint.cursor <= part.length,
      `${where}: checkpoint cursor ${checkpoint.cursor} beyond the ${part.length} durable bytes`,
    );
    assert.ok(
      sameBytes(part.subarray(0, checkpoint.cursor), body.subarray(0, checkpoint.cursor)),
      `${where}: the first ${checkpoint.cursor} bytes of .part are not the resource's`,
    );
  }
  return checkpoint;
}

describe("power loss at every operation boundary", () => {
  it("leaves states from which the next haul() always produces the exact file", {
    timeout: 120_000,
  }, async () => {
    const body = randomBody(BODY_SIZE);
    const digest = sha256(body);
    let recording = true;
    const server = await startResourceServer({ body, etag: '"pl-1"' }, (req, reply) => {
      if (!recording) return reply;
      // Small paced slices, so that the engine sees many chunks and checkpoints.
      const honest = { ...reply, chunkSize: 4096, bytesPerSecond: 8 << 20 };
      if (req.index === 0) return { ...honest, cutAfter: 100_000 };
      // A resume answered from byte 0: the engine must rewind (and truncate).
      if (req.index === 1) {
        const headers = (honest.headers as [string, string][]).filter(([name]) =>
          name.toLowerCase() !== "content-range"
        );
        return { ...honest, status: 200, headers, body, cutAfter: 150_000 };
      }
      if (req.index === 2) return { ...honest, cutAfter: 90_000 };
      return honest;
    });
    try {
      // 1. Record one whole download on the model.
      const model = new RecordingFs(["/haul-model", MODEL_DIR]);
      const modelDest = `${MODEL_DIR}/${NAME}`;
      let sessions = 0;
      for (; sessions < 8; sessions++) {
        try {
          const fetch = async (request: Request) =>
            rechunked(await globalThis.fetch(request), 5000);
          await haulWith(`${server.url}/record`, { dest: modelDest, ...OPTIONS, fetch }, {
            fs: model,
            writeBufferSize: 16 * 1024,
          });
          break;
        } catch (error) {
          assert.ok(error instanceof PartialHaulError, `recording: ${String(error)}`);
        }
      }
      assert.equal(sessions, 3, "the recording took four calls");
      assert.ok(sameBytes(model.liveBytes(modelDest)!, body), "the recording's result");
      recording = false;
      const ops = model.trace.join("\n");
      for (const op of ["datasync", "rename", "syncDir", "truncate", "remove"]) {
        assert.ok(ops.includes(op), `the recording has a ${op}`);
      }

      assert.ok(model.points.length >= 80, `${model.points.length} operation boundaries`);

      // 2. Every crash state of every boundary, deduplicated, made lazily (they are big).
      // 2. Check each distinct crash state, then let the real haul() finish from it.
      let checked = 0;
      await withTempDir(async (root) => {
        const queue = distinctCrashStates(model.points, MODEL_DIR);
        const worker = async (): Promise<void> => {
          for (let item = queue.next(); !item.done; item = queue.next()) {
            const { state, where } = item.value;
            const job = checked++;
            const saved = checkState(state, body, where);
            const dir = join(root, `s${job}`);
            await mkdir(dir);
            try {
              await materialise(state.files, dir); // locks a minute old: the machine rebooted
              await replay(state, saved, dir, `/s${job}`, where);
            } finally {
              await rm(dir, { recursive: true, force: true });
            }
          }
        };
        const replay = async (
          state: CrashState,
          saved: (Checkpoint & { cursor: number }) | null,
          dir: string,
          path: string,
          where: string,
        ): Promise<void> => {
          const dest = join(dir, NAME);
          // Same block size; no checkpoints of its own (their safety is what the recording tests).
          const options = { dest, blockSize: OPTIONS.blockSize, checkpointEvery: REPLAY_CADENCE };
          const result = await haul(`${server.url}${path}`, options).catch(
            (error: unknown) => assert.fail(`${where}: haul() failed: ${String(error)}`),
          );
          // A complete dest is kept unread (no integrity): no digest then.
          const reported = result.alreadyComplete ? null : digest;
          assert.equal(result.sha256, reported, `${where}: reported sha256`);
          assert.ok(sameBytes(await bytesOf(dest), body), `${where}: dest is not byte-exact`);
          const sent: RecordedRequest[] = server.requests.filter((r) => r.path === path);
          if (state.files.has(NAME)) {
            // Stale sidecars beside a complete dest are crash_kill_test's concern.
            assert.equal(sent.length, 0, `${where}: a complete dest needs no request`);
            assert.equal(result.alreadyComplete, true, where);
            return;
          }
          assert.equal(sent.length, 1, `${where}: one request`);
          const range = sent[0]!.headers["range"];
          const part = partOf(state);
          if (saved !== null && part !== undefined) {
            // The tail always verifies here (checkState proved the prefix), so exactly the cursor.
            assert.equal(range, `bytes=${saved.cursor}-`, `${where}: resumed from the checkpoint`);
            assert.equal(result.resumedFrom, saved.cursor, where);
          } else {
            assert.equal(range, undefined, `${where}: no usable checkpoint, so no Range`);
          }
          // A stale .part.ctrl.tmp may stay (crash_kill_test holds that regression test).
          const left = (await readdir(dir)).filter((name) => name !== NAME);
          for (const name of left) {
            assert.ok(
              name === `${NAME}.part.ctrl.tmp`,
              `${where}: ${name} left beside the finished file`,
            );
          }
          assert.equal(exists(join(dir, `${NAME}.part`)), false, where);
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      });
      assert.ok(checked >= 300, `only ${checked} distinct crash states`);
      console.log(
        `power-loss: ${checked} distinct crash states checked across ` +
          `${model.points.length} operation boundaries of a ${sessions + 1}-call download`,
      );
    } finally {
      await server.close();
    }
  });
});
