/**
 * Power loss while several downloads of one directory commit at once, as `haulAll()` runs them
 * (`haulWithRetry()` per item, on one filesystem): three items on {@link RecordingFs}, one with
 * checkpoints, one too small for any, one `overwrite` of an older file. At every operation
 * boundary, every disk state a power loss there could leave must hold each `dest` as nothing (or
 * its older file) or its whole new file, and the real `haul()` of every item, with a SHA-512
 * `integrity`, must end with the new files and nothing beside them.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readdir, rm } from "node:fs/promises";
import { haulWithRetry } from "../../src/batch/retry.ts";
import { haul } from "../../mod.ts";
import { distinctCrashStates, materialise, RecordingFs } from "../helpers/power_loss_fs.ts";
import { honestReply, startScriptServer } from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, sameBytes, withTempDir } from "../helpers/temp.ts";

const MODEL_DIR = "/haul-model/downloads";
const ITEMS = [
  { name: "a.bin", body: randomBody(150 * 1024 + 5), every: 24 * 1024, old: null },
  { name: "b.bin", body: randomBody(40_000), every: 1 << 30, old: null },
  { name: "c.bin", body: randomBody(100_000), every: 24 * 1024, old: randomBody(30_000) },
] as const;

const integrity = (body: Uint8Array) =>
  `sha512-${createHash("sha512").update(body).digest("base64")}`;

describe("power loss while a batch's items commit at once", () => {
  it("keeps every dest absent (or its older file) or whole, and the next calls end exact", {
    timeout: 120_000,
  }, async () => {
    const server = await startScriptServer((req) => {
      const item = ITEMS.find(({ name }) => req.path.endsWith(`/${name}`))!;
      const reply = honestReply(req, { body: item.body, etag: `"${item.name}"` });
      // Paced while recording (so that checkpoints fall between chunks), not for the replays.
      return req.path.startsWith("/record/")
        ? { ...reply, chunkSize: 4096, bytesPerSecond: 8 << 20 }
        : reply;
    });
    try {
      const model = new RecordingFs(["/haul-model", MODEL_DIR]);
      for (const { name, old } of ITEMS) {
        if (old === null) continue;
        const file = await model.open(`${MODEL_DIR}/${name}`, "create-truncate");
        await file.write(old, 0);
        await file.sync();
        await file.close();
      }
      await model.syncDir(MODEL_DIR);
      const from = model.points.length - 1;
      const options = (item: (typeof ITEMS)[number], dest: string) => ({
        dest,
        blockSize: 8192,
        checkpointEvery: { bytes: item.every, ms: 600_000 },
        ...(item.old === null ? {} : { overwrite: true }),
      });
      await Promise.all(ITEMS.map((item) => {
        const url = `${server.url}/record/${item.name}`;
        return haulWithRetry(url, options(item, `${MODEL_DIR}/${item.name}`), { fs: model });
      }));

      let checked = 0;
      await withTempDir(async (root) => {
        const queue = distinctCrashStates(model.points.slice(from), MODEL_DIR);
        const worker = async () => {
          for (let item = queue.next(); !item.done; item = queue.next()) {
            const { state, where } = item.value;
            const job = checked++;
            for (const { name, body, old } of ITEMS) {
              const found = state.files.get(name);
              const before = old === null ? found === undefined : sameBytes(found, old);
              assert.ok(
                before || sameBytes(found, body),
                `${where}: ${name} is neither old nor new`,
              );
            }
            const dir = join(root, `s${job}`);
            await mkdir(dir);
            try {
              await materialise(state.files, dir); // rebooted: every lock is stale
              await Promise.all(ITEMS.map(async (item) => {
                const dest = join(dir, item.name);
                const url = `${server.url}/s${job}/${item.name}`;
                const replay = { ...options(item, dest), integrity: integrity(item.body) };
                await haul(url, replay).catch((error: unknown) =>
                  assert.fail(`${where}: ${item.name}: haul() failed: ${String(error)}`)
                );
                assert.ok(
                  sameBytes(await bytesOf(dest), item.body),
                  `${where}: ${item.name} not exact`,
                );
              }));
              // Sidecars may stay only beside a complete dest kept as found (replace_power_loss).
              const kept = ITEMS.filter((i) =>
                i.old === null && sameBytes(state.files.get(i.name), i.body)
              );
              const left = (await readdir(dir)).filter((name) =>
                !ITEMS.some((i) => i.name === name) && !name.endsWith(".part.ctrl.tmp") &&
                !kept.some((i) => name.startsWith(`${i.name}.`))
              );
              const files = [...state.files].map(([n, b]) => `${n}:${b.length}`).join(" ");
              assert.deepEqual(left, [], `${where}: left beside (the crash left ${files})`);
            } finally {
              await rm(dir, { recursive: true, force: true });
            }
          }
        };
        await Promise.all(Array.from({ length: 4 }, worker));
      });
      assert.ok(checked >= 100, `only ${checked} distinct crash states`);
      console.log(`batch power-loss: ${checked} distinct crash states`);
    } finally {
      await server.close();
    }
  });
});
