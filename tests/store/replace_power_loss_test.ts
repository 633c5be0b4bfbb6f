/**
 * Power loss while a new version replaces an existing `dest` (`overwrite`, and `revalidate` with
 * `remoteTime` answered by a 200 of a new version): one download of v2 over a durable v1 (cut once,
 * so two calls) runs on {@link RecordingFs}. At every operation boundary, every disk state a power
 * loss there could leave must hold `dest` as exactly v1 or exactly v2 (never absent, never a mix),
 * and the real `haul()` with the same options and a SHA-512 `integrity` of v2 must end with v2,
 * resumed from the checkpoint when one survived beside its `.part`.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readdir, rm } from "node:fs/promises";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import { durablePrefix } from "../../src/protocol/checkpoint.ts";
import { haulWith } from "../../src/engine/haul.ts";
import { haul, PartialHaulError } from "../../mod.ts";
import { distinctCrashStates, materialise, RecordingFs } from "../helpers/power_loss_fs.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, sameBytes, withTempDir } from "../helpers/temp.ts";

const MODEL_DIR = "/haul-model/downloads";
const NAME = "file.bin";
const OLD = randomBody(90_000);
const NEW = randomBody(160 * 1024 + 77);
const LAST_MODIFIED = "Tue, 03 Mar 2026 10:00:00 GMT";
const INTEGRITY = `sha512-${createHash("sha512").update(NEW).digest("base64")}`;
const OPTIONS = { blockSize: 8192, checkpointEvery: { bytes: 24 * 1024, ms: 600_000 } } as const;

/** What each recording does: its options, whether v1 is at dest first, whether it checkpoints. */
const CASES = [
  { mode: "overwrite", extra: { overwrite: true }, old: true, checkpoints: true },
  {
    mode: "revalidate + remoteTime",
    extra: { revalidate: true, remoteTime: true },
    old: true,
    checkpoints: true,
  },
  // One call that saves no checkpoint: only the commit can make the names durable.
  { mode: "overwrite, no checkpoint", extra: { overwrite: true }, old: true, checkpoints: false },
  { mode: "a new dest, no checkpoint", extra: {}, old: false, checkpoints: false },
] as const;

describe("power loss while a new version replaces dest", () => {
  for (const { mode, extra, old, checkpoints } of CASES) {
    it(`(${mode}) keeps v1 (or nothing) or v2 whole at dest, and the next call ends with v2`, {
      timeout: 120_000,
    }, async () => {
      let cut = checkpoints;
      const server = await startResourceServer(
        { body: NEW, etag: '"v2"', lastModified: LAST_MODIFIED },
        (req, reply) => {
          const paced = { ...reply, chunkSize: 4096, bytesPerSecond: 8 << 20 };
          return cut && req.index === 0 ? { ...paced, cutAfter: 70_000 } : paced;
        },
      );
      try {
        const model = new RecordingFs(["/haul-model", MODEL_DIR]);
        const dest = `${MODEL_DIR}/${NAME}`;
        if (old) {
          const file = await model.open(dest, "create-truncate");
          await file.write(OLD, 0);
          await file.sync();
          await file.close();
          await model.syncDir(MODEL_DIR);
        }
        const from = model.points.length - 1; // v1 durable at dest: the states from here on
        const cadence = checkpoints ? OPTIONS : { ...OPTIONS, checkpointEvery: { bytes: 1 << 30 } };
        const options = { dest, ...cadence, ...extra };
        const hooks = { fs: model, writeBufferSize: 16 * 1024 };
        if (checkpoints) {
          const first = await haulWith(`${server.url}/record`, options, hooks).catch((e) => e);
          assert.ok(first instanceof PartialHaulError, String(first));
        }
        await haulWith(`${server.url}/record`, options, hooks);
        assert.ok(sameBytes(model.liveBytes(dest) ?? undefined, NEW), "the recording's result");
        cut = false;

        let checked = 0;
        await withTempDir(async (root) => {
          const queue = distinctCrashStates(model.points.slice(from), MODEL_DIR);
          const worker = async () => {
            for (let item = queue.next(); !item.done; item = queue.next()) {
              const { state, where } = item.value;
              const job = checked++;
              const found = state.files.get(NAME);
              const before = old ? sameBytes(found, OLD) : found === undefined;
              assert.ok(before || sameBytes(found, NEW), `${where}: dest is neither v1 nor v2`);
              const ctrl = state.files.get(`${NAME}.part.ctrl`);
              // `.part`, or the commit's private name (`.part.` and 8 hex) the next owner puts back.
              const part = state.files.get(`${NAME}.part`) ??
                [...state.files].find(([name]) => /\.part\.[0-9a-f]{8}$/.test(name))?.[1];
              const cursor = ctrl === undefined ? 0 : durablePrefix(decodeCheckpoint(ctrl));
              if (part !== undefined && cursor > 0) {
                const prefix = part.subarray(0, cursor);
                assert.ok(sameBytes(prefix, NEW.subarray(0, cursor)), `${where}: .part`);
              }
              const dir = join(root, `s${job}`);
              await mkdir(dir);
              try {
                await materialise(state.files, dir);
                const path = `/s${job}`;
                const replay = { ...extra, dest: join(dir, NAME), integrity: INTEGRITY };
                const result = await haul(`${server.url}${path}`, replay).catch((error: unknown) =>
                  assert.fail(`${where}: haul() failed: ${String(error)}`)
                );
                assert.ok(
                  sameBytes(await bytesOf(join(dir, NAME)), NEW),
                  `${where}: dest is not v2`,
                );
                assert.equal(result.sha512, createHash("sha512").update(NEW).digest("hex"), where);
                const sent = server.requests.filter((r) => r.path === path);
                // A complete dest with no overwrite is kept (checked against the integrity).
                const kept = !old && found !== undefined;
                assert.equal(sent.length, kept ? 0 : 1, `${where}: requests`);
                const resumes = part !== undefined && cursor > 0 && cursor <= part.length;
                const range = resumes ? `bytes=${cursor}-` : undefined;
                if (!kept) assert.equal(sent[0]!.headers["range"], range, `${where}: the Range`);
                // A complete dest kept as found may have sidecars beside it where the model kept
                // the commit's second rename without its first (`.part` and dest, one inode):
                // like power_loss_test, those are left for an `overwrite` (crash_kill_test's concern).
                if (kept) return;
                const left = (await readdir(dir)).filter((name) => name !== NAME);
                const files = [...state.files].map(([n, b]) => `${n}:${b.length}`).join(" ");
                assert.deepEqual(
                  left.filter((n) => n !== `${NAME}.part.ctrl.tmp`),
                  [],
                  `${where}: left beside dest (the crash left ${files})`,
                );
              } finally {
                await rm(dir, { recursive: true, force: true });
              }
            }
          };
          await Promise.all(Array.from({ length: 4 }, worker)); // four states at once
        });
        assert.ok(checked >= 30, `only ${checked} distinct crash states`);
        console.log(`replace power-loss (${mode}): ${checked} distinct crash states`);
      } finally {
        await server.close();
      }
    });
  }
});
