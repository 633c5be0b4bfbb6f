/**
 * Power-loss consistency of the multi-range checkpoint: a download over 4
 * connections (one range cut, so two calls) runs on {@link RecordingFs}.
 * At every operation boundary, every disk state a power loss there could
 * leave is checked (dest exact if present, the checkpoint decodes, every
 * range it records holds the resource's bytes) and handed to the real
 * `haul()`, with 1 or 4 connections, which must finish with the exact file,
 * resumed from every recorded range.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, rm } from "node:fs/promises";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import type { Checkpoint } from "../../src/protocol/checkpoint.ts";
import { haulWith } from "../../src/engine/haul.ts";
import { PartialHaulError } from "../../mod.ts";
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

const BODY_SIZE = 512 * 1024 + 123;
const MODEL_DIR = "/haul-model/downloads";
const NAME = "file.bin";
const HOOKS = { rangeFloor: 64 * 1024, writeBufferSize: 16 * 1024, syncEvery: 1 << 30 };
const OPTIONS = { blockSize: 8192, checkpointEvery: { bytes: 48 * 1024, ms: 600_000 } } as const;
const REPLAY_CADENCE = { bytes: 1 << 30, ms: 600_000 };
const CONCURRENCY = 4;

/** The checks on a crash state; returns the checkpoint's durable bytes (null: none usable). */
function checkState(state: CrashState, body: Uint8Array, where: string): Checkpoint | null {
  const dest = state.files.get(NAME);
  if (dest !== undefined) assert.ok(sameBytes(dest, body), `${where}: dest is not the resource`);
  const ctrl = state.files.get(`${NAME}.part.ctrl`);
  if (ctrl === undefined) return null;
  let checkpoint: Checkpoint;
  try {
    checkpoint = decodeCheckpoint(ctrl);
  } catch (error) {
    assert.fail(`${where}: a power loss left an undecodable checkpoint: ${String(error)}`);
  }
  const part = state.files.get(`${NAME}.part`);
  if (part === undefined) return null;
  for (const { start, end } of checkpoint.ranges) {
    assert.ok(end <= part.length, `${where}: range ${start}-${end} past the durable .part`);
    assert.ok(
      sameBytes(part.subarray(start, end), body.subarray(start, end)),
      `${where}: range ${start}-${end} does not hold the resource's bytes`,
    );
  }
  return checkpoint;
}

describe("power loss during a download over 4 connections", () => {
  it("leaves states from which haul() with 1 or 4 connections produces the exact file", {
    timeout: 240_000,
  }, async () => {
    const body = randomBody(BODY_SIZE);
    const digest = sha256(body);
    let recording = true;
    let cut = true;
    const server = await startResourceServer({ body, etag: '"plm-1"' }, (req, reply) => {
      if (!recording) return reply;
      const honest = { ...reply, chunkSize: 4096, bytesPerSecond: 8 << 20 };
      if (
        cut && req.headers["range"] !== undefined && !req.headers["range"].startsWith("bytes=0-")
      ) {
        cut = false;
        return { ...honest, cutAfter: 40_000, cutLingerMs: 50 };
      }
      return honest;
    });
    try {
      const model = new RecordingFs(["/haul-model", MODEL_DIR]);
      const modelDest = `${MODEL_DIR}/${NAME}`;
      let calls = 0;
      for (; calls < 6; calls++) {
        try {
          await haulWith(`${server.url}/record`, { dest: modelDest, ...OPTIONS, connections: 4 }, {
            ...HOOKS,
            fs: model,
          });
          break;
        } catch (error) {
          assert.ok(error instanceof PartialHaulError, `recording: ${String(error)}`);
        }
      }
      assert.ok(calls >= 1 && calls < 6, `the recording took ${calls + 1} calls`);
      assert.ok(sameBytes(model.liveBytes(modelDest)!, body), "the recording's result");
      recording = false;
      let multi = 0;
      let checked = 0;
      await withTempDir(async (root) => {
        const queue = distinctCrashStates(model.points, MODEL_DIR);
        const worker = async (): Promise<void> => {
          for (let item = queue.next(); !item.done; item = queue.next()) {
            const { state, where } = item.value;
            const job = checked++;
            const saved = checkState(state, body, where);
            if (saved !== null && saved.ranges.length > 1) multi++;
            const dir = join(root, `s${job}`);
            await mkdir(dir);
            try {
              await materialise(state.files, dir);
              await replay(state, saved, dir, `/s${job}`, job % 2 === 0 ? 1 : 4, where);
            } finally {
              await rm(dir, { recursive: true, force: true });
            }
          }
        };
        const replay = async (
          state: CrashState,
          saved: Checkpoint | null,
          dir: string,
          path: string,
          connections: number,
          where: string,
        ): Promise<void> => {
          const dest = join(dir, NAME);
          const options = {
            dest,
            blockSize: OPTIONS.blockSize,
            checkpointEvery: REPLAY_CADENCE,
            connections,
          };
          const result = await haulWith(`${server.url}${path}`, options, HOOKS).catch(
            (error: unknown) => assert.fail(`${where}: haul() failed: ${String(error)}`),
          );
          // A complete dest is kept unread (no integrity): no digest then.
          const reported = result.alreadyComplete ? null : digest;
          assert.equal(result.sha256, reported, `${where}: reported sha256`);
          assert.ok(sameBytes(await bytesOf(dest), body), `${where}: dest is not byte-exact`);
          if (state.files.has(NAME)) return;
          const sent: RecordedRequest[] = server.requests.filter((r) => r.path === path);
          if (saved !== null && saved.reportedLength !== null) {
            const durable = saved.ranges.reduce((sum, r) => sum + r.end - r.start, 0);
            assert.equal(result.resumedFrom, durable, `${where}: resumed from every range`);
            for (const req of sent) assert.ok(req.headers["range"] !== undefined, where);
          }
          assert.equal(exists(join(dir, `${NAME}.part`)), false, where);
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      });
      assert.ok(checked >= 100, `only ${checked} distinct crash states`);
      assert.ok(multi > 0, "no crash state held a checkpoint of several ranges");
      console.log(
        `multi-range power-loss: ${checked} distinct crash states (${multi} with several ranges) ` +
          `across ${model.points.length} operation boundaries`,
      );
    } finally {
      await server.close();
    }
  });
});
