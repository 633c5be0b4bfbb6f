/**
 * Crash consistency of a download over 8 connections under SIGKILL: a child
 * process (`fixtures/haul_child.ts`) downloads from a loopback server that
 * paces every connection, and is killed at 24+ points (after a spread of
 * delays, and while a checkpoint is being written). After every kill: no
 * wrong file at dest, the checkpoint decodes, and every range it records
 * holds the resource's bytes. Each chain is finished in-process with
 * `connections` 1 or 8: always the exact file, resumed from every durable
 * range (`resumedFrom` is their sum), never from byte 0 when there were some.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { setImmediate } from "node:timers";
import { fileURLToPath } from "node:url";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import { haulWith } from "../../src/engine/haul.ts";
import { type RuntimeChild, runtimeChild, waitFor } from "../helpers/runtime.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { makeRng } from "../helpers/prng.ts";
import { bytesOf, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const CHILD_SCRIPT = fileURLToPath(new URL("../fixtures/haul_child.ts", import.meta.url));
const BODY_SIZE = 4 * 1024 * 1024 + 4321;
const HOOKS = { rangeFloor: 64 * 1024, writeBufferSize: 16 * 1024, syncEvery: 64 * 1024 };
const OPTIONS = { blockSize: 65536, checkpointEvery: { bytes: 128 * 1024, ms: 20 } };
const ETAG = '"kill-multi-1"';
/** Each connection is paced: 8 of them take about two seconds for the file. */
const PACE = { bytesPerSecond: 256 * 1024, chunkSize: 16 * 1024 };

type Hooks = typeof HOOKS;

function startChild(url: string, dest: string, connections: number, hooks: Hooks): RuntimeChild {
  const options = JSON.stringify({ ...OPTIONS, connections });
  return runtimeChild(CHILD_SCRIPT, [url, dest, options], { allowAll: true }, {
    HAUL_CHILD_HOOKS: JSON.stringify(hooks),
  });
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Checks the disk a kill left; returns the durable bytes the checkpoint proves (0: none). */
function checkDisk(
  dest: string,
  body: Uint8Array,
  where: string,
): { saved: number; complete: boolean } {
  if (existsSync(dest)) {
    assert.ok(sameBytes(new Uint8Array(readFileSync(dest)), body), `${where}: dest is wrong`);
    return { saved: body.length, complete: true };
  }
  if (!existsSync(`${dest}.part.ctrl`) || !existsSync(`${dest}.part`)) {
    return { saved: 0, complete: false };
  }
  let checkpoint;
  try {
    checkpoint = decodeCheckpoint(new Uint8Array(readFileSync(`${dest}.part.ctrl`)));
  } catch (error) {
    assert.fail(`${where}: a kill left an undecodable checkpoint: ${String(error)}`);
  }
  const part = new Uint8Array(readFileSync(`${dest}.part`));
  let saved = 0;
  for (const range of checkpoint.ranges) {
    assert.ok(range.end <= part.length, `${where}: range ${range.start}-${range.end} past .part`);
    assert.ok(
      sameBytes(part.subarray(range.start, range.end), body.subarray(range.start, range.end)),
      `${where}: range ${range.start}-${range.end} does not hold the resource's bytes`,
    );
    saved += range.end - range.start;
  }
  assert.equal(checkpoint.reportedLength, body.length);
  return { saved, complete: false };
}

/**
 * Kills `chains` chains of children up to 7 times each, checks the disk after
 * every kill, and finishes each chain in-process with 1 or 8 connections.
 */
async function killChains(
  chains: number,
  hooks: Hooks,
  seed: number,
  minKills: number,
): Promise<void> {
  const body = randomBody(BODY_SIZE);
  const digest = sha256(body);
  const rng = makeRng(seed);
  const server = await startResourceServer({ body, etag: ETAG }, (_req, honest) => ({
    ...honest,
    ...PACE,
  }));
  const running = new Set<RuntimeChild>();
  let kills = 0;
  let resumedWithRanges = 0;
  try {
    await withTempDir(async (dir) => {
      for (let chain = 0; chain < chains; chain++) {
        const dest = join(dir, `chain-${chain}.bin`);
        let disk = { saved: 0, complete: false };
        for (let i = 0; i < 7 && !disk.complete; i++) {
          const path = `/c${chain}/${i}`;
          const child = startChild(`${server.url}${path}`, dest, 8, hooks);
          running.add(child);
          let hit = await waitFor(child, () => server.requests.some((r) => r.path === path));
          if (hit && chain === 3 && i % 2 === 0) {
            // While a checkpoint is being written.
            hit = await waitFor(child, () => existsSync(`${dest}.part.ctrl.tmp`));
          } else if (hit) {
            const until = Date.now() + 10 + rng.next() * 400;
            while (Date.now() < until && !child.hasExited) await tick();
            hit = !child.hasExited;
          }
          await child.kill();
          running.delete(child);
          const where = `chain ${chain} kill ${i}`;
          const before = disk.saved;
          disk = checkDisk(dest, body, where);
          const sent = server.requests.filter((r) => r.path === path);
          if (before > 0) {
            // A resume never asks for the whole file again.
            for (const req of sent) assert.ok(req.headers["range"] !== undefined, where);
            if (sent.length > 0) resumedWithRanges++;
          }
          if (!hit) {
            assert.ok(child.output().includes('"ok":true'), `${where}: ${child.output()}`);
            assert.ok(disk.complete, `${where}: finished without a dest`);
          } else {
            kills++;
          }
        }
        const connections = chain % 2 === 0 ? 1 : 8;
        const path = `/c${chain}/final`;
        const result = await haulWith(
          `${server.url}${path}`,
          { dest, ...OPTIONS, connections },
          hooks,
        );
        // A dest the kill left complete is kept unread (no integrity): no digest then.
        const reported = result.alreadyComplete ? null : digest;
        assert.equal(result.sha256, reported, `chain ${chain}: final sha256`);
        assert.equal(sha256(await bytesOf(dest)), digest, `chain ${chain}: final bytes`);
        if (!disk.complete) {
          assert.equal(
            result.resumedFrom,
            disk.saved,
            `chain ${chain}: resumed from every range`,
          );
          const sent = server.requests.filter((r) => r.path === path);
          if (disk.saved > 0) {
            for (const req of sent) assert.ok(req.headers["range"] !== undefined);
          }
        }
      }
    });
    assert.ok(kills >= minKills, `${kills} kills landed`);
    console.log(`multi-range SIGKILL: ${kills} kills, ${resumedWithRanges} killed resumes`);
    assert.ok(resumedWithRanges > 0, "some killed child resumed from saved ranges");
  } finally {
    for (const child of running) await child.kill();
    await server.close();
  }
}

describe("SIGKILL during a download over 8 connections", () => {
  it("keeps every recorded range exact at 24+ kill points; resumes with 1 and with 8 connections", {
    timeout: 240_000,
  }, async () => {
    await killChains(4, HOOKS, 0x6d756c74, 20);
  });
});
