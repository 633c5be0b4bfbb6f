/**
 * Crashes while another mirror cuts its bodies: a download over 4 connections from two mirrors,
 * the second of which cuts every body it serves part-way (its bytes are kept, the rest given back
 * and fetched from the first). Under a power loss (the recording filesystem of
 * `helpers/power_loss_fs.ts`) every disk state is checked and a sample is resumed with the first
 * source alone; under SIGKILL (`fixtures/haul_child.ts`) the disk is checked after every kill and
 * the chain finished with the first source alone. Always: `dest` absent or exact, every range a
 * checkpoint records holds the resource's bytes, the resume starts from all of them.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { setImmediate } from "node:timers";
import { fileURLToPath } from "node:url";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import type { Checkpoint } from "../../src/protocol/checkpoint.ts";
import { haulWith } from "../../src/engine/haul.ts";
import {
  type CrashState,
  crashStates,
  materialise,
  RecordingFs,
} from "../helpers/power_loss_fs.ts";
import { runtimeChild, waitFor } from "../helpers/runtime.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const CHILD_SCRIPT = fileURLToPath(new URL("../fixtures/haul_child.ts", import.meta.url));
const ETAG = '"mirror-crash"';
const HOOKS = { rangeFloor: 64 * 1024, writeBufferSize: 16 * 1024, syncEvery: 64 * 1024 };

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Checks a disk state (file name → bytes); returns the bytes its checkpoint proves, or `null`. */
function check(files: (name: string) => Uint8Array | undefined, body: Uint8Array, where: string) {
  const dest = files("f");
  if (dest !== undefined) {
    assert.ok(sameBytes(dest, body), `${where}: dest is not the resource`);
    return { complete: true, checkpoint: null };
  }
  const ctrl = files("f.part.ctrl");
  const part = files("f.part");
  if (ctrl === undefined || part === undefined) return { complete: false, checkpoint: null };
  let checkpoint: Checkpoint;
  try {
    checkpoint = decodeCheckpoint(ctrl);
  } catch (error) {
    assert.fail(`${where}: an undecodable checkpoint: ${String(error)}`);
  }
  for (const { start, end } of checkpoint.ranges) {
    assert.ok(end <= part.length, `${where}: range ${start}-${end} past the durable .part`);
    assert.ok(
      sameBytes(part.subarray(start, end), body.subarray(start, end)),
      `${where}: range ${start}-${end} does not hold the resource's bytes`,
    );
  }
  return { complete: false, checkpoint };
}

const durableBytes = (checkpoint: Checkpoint | null): number =>
  checkpoint?.ranges.reduce((sum, r) => sum + r.end - r.start, 0) ?? 0;

describe("crashes while another mirror cuts its bodies (4 connections)", () => {
  it("power loss: every state is consistent; a sample resumes exactly from one source", {
    timeout: 120_000,
  }, async () => {
    const body = randomBody(512 * 1024 + 77);
    const paced = { chunkSize: 4096, bytesPerSecond: 8 << 20 };
    const a = await startResourceServer({ body, etag: ETAG }, (_req, r) => ({ ...r, ...paced }));
    const b = await startResourceServer(
      { body, etag: ETAG },
      (_req, r) => ({ ...r, ...paced, cutAfter: 20_000, cutLingerMs: 20 }),
    );
    try {
      const model = new RecordingFs(["/m", "/m/d"]);
      const options = { blockSize: 8192, checkpointEvery: { bytes: 48 * 1024, ms: 600_000 } };
      const result = await haulWith([`${a.url}/r`, `${b.url}/r`], {
        dest: "/m/d/f",
        ...options,
        connections: 4,
      }, { ...HOOKS, syncEvery: 1 << 30, fs: model });
      assert.equal(result.sha256, sha256(body));
      assert.ok(b.requests.length > 0, "the cutting mirror served ranges");
      // A give-back keeps the mirror's bytes: the first source is asked from inside a piece.
      const from = (s: typeof a) =>
        s.requests.map((r) => Number(/bytes=(\d+)-/.exec(r.headers["range"] ?? "")?.[1] ?? 0));
      const cutAt = from(b);
      const kept = from(a).filter((at) =>
        cutAt.some((start) => at > start && at <= start + 20_000)
      );
      assert.ok(kept.length > 0, `no give-back kept bytes: ${from(a)} after ${cutAt}`);
      const states: (ReturnType<typeof check> & { state: CrashState; where: string })[] = [];
      const seen = new Set<string>();
      for (const point of model.points) {
        for (const state of crashStates(point, "/m/d")) {
          if (seen.has(state.key)) continue;
          seen.add(state.key);
          const where = `after op ${point.after} (${point.label}), ${state.variant}`;
          states.push({ state, where, ...check((n) => state.files.get(n), body, where) });
        }
      }
      assert.ok(states.length >= 50, `only ${states.length} states`);
      const step = Math.max(1, Math.floor(states.length / 12));
      await withTempDir(async (root) => {
        for (let i = 0; i < states.length; i += step) {
          const { state, where, checkpoint, complete } = states[i]!;
          const dir = join(root, `s${i}`);
          await mkdir(dir);
          await materialise(state.files, dir);
          const done = await haulWith(`${a.url}/s${i}`, {
            dest: join(dir, "f"),
            blockSize: 8192,
            connections: i % 2 === 0 ? 1 : 4,
          }, HOOKS).catch((error: unknown) => assert.fail(`${where}: ${String(error)}`));
          assert.ok(sameBytes(await bytesOf(join(dir, "f")), body), `${where}: dest`);
          if (!complete && checkpoint !== null) {
            assert.equal(done.resumedFrom, durableBytes(checkpoint), `${where}: resumedFrom`);
          }
          // Beside a complete dest found as it is, a `.part` stays for an `overwrite` (the model
          // may keep the commit's second rename without its first: two names, one file).
          if (!complete) assert.equal(exists(join(dir, "f.part")), false, `${where}: .part left`);
          await rm(dir, { recursive: true, force: true });
        }
      });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("SIGKILL: every kill leaves exact ranges; one source finishes the file from all of them", {
    timeout: 120_000,
  }, async () => {
    const body = randomBody(2 * 1024 * 1024 + 99);
    const paced = { chunkSize: 16 * 1024, bytesPerSecond: 384 * 1024 };
    const a = await startResourceServer({ body, etag: ETAG }, (_req, r) => ({ ...r, ...paced }));
    const b = await startResourceServer(
      { body, etag: ETAG },
      (_req, r) => ({ ...r, ...paced, cutAfter: 100_000 }),
    );
    const options = JSON.stringify({
      blockSize: 65536,
      checkpointEvery: { bytes: 128 * 1024, ms: 20 },
      connections: 4,
    });
    let kills = 0;
    try {
      await withTempDir(async (dir) => {
        for (let chain = 0; chain < 2; chain++) {
          const dest = join(dir, `c${chain}`, "f");
          await mkdir(join(dir, `c${chain}`));
          let state = { complete: false, checkpoint: null as Checkpoint | null };
          for (let i = 0; i < 3 && !state.complete; i++) {
            const path = `/c${chain}/${i}`;
            const urls = JSON.stringify([`${a.url}${path}`, `${b.url}${path}`]);
            const child = runtimeChild(CHILD_SCRIPT, [urls, dest, options], { allowAll: true }, {
              HAUL_CHILD_HOOKS: JSON.stringify(HOOKS),
            });
            let hit = await waitFor(child, () => b.requests.some((r) => r.path === path));
            if (hit && chain === 1 && i === 0) {
              // While a checkpoint's temp file is being written.
              hit = await waitFor(child, () => existsSync(`${dest}.part.ctrl.tmp`));
            } else if (hit) {
              const until = Date.now() + 100 + 300 * i;
              while (Date.now() < until && !child.hasExited) {
                await new Promise((resolve) => setImmediate(resolve));
              }
              hit = !child.hasExited;
            }
            await child.kill();
            const where = `chain ${chain} kill ${i}`;
            const read = (name: string) => {
              const path = join(dir, `c${chain}`, name);
              return existsSync(path) ? new Uint8Array(readFileSync(path)) : undefined;
            };
            state = check(read, body, where);
            if (hit) kills++;
            else assert.ok(child.output().includes('"ok":true'), `${where}: ${child.output()}`);
          }
          const result = await haulWith(`${a.url}/c${chain}/final`, {
            dest,
            blockSize: 65536,
            connections: chain === 0 ? 1 : 4,
          }, HOOKS);
          assert.equal(sha256(await bytesOf(dest)), sha256(body), `chain ${chain}: bytes`);
          if (!state.complete) {
            assert.equal(result.sha256, sha256(body), `chain ${chain}: reported sha256`);
            assert.equal(result.resumedFrom, durableBytes(state.checkpoint), `chain ${chain}`);
          }
          for (const left of ["f.part", "f.part.ctrl", "f.part.lock", "f.part.ctrl.tmp"]) {
            assert.equal(
              existsSync(join(dir, `c${chain}`, left)),
              false,
              `chain ${chain}: ${left}`,
            );
          }
        }
      });
      assert.ok(kills >= 3, `${kills} kills landed`);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
