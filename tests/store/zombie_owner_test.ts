/**
 * A lock whose owner died but is not reaped yet (a zombie: its parent, or an init that reaps
 * late, has not waited for it) belongs to nobody: a zombie never writes again.
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { haul } from "../../mod.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { encodeLockRecord } from "../../src/store/lock.ts";
import { join, withTempDir } from "../helpers/temp.ts";

describe("a zombie owner", () => {
  it("is gone: its lock is taken over at once", async () => {
    // `sleep 0.3` dies once its parent has become `sleep 10`, which never waits for it (a child that
    // died before the `exec` could be reaped by `sh`, and its /proc entry be gone).
    const parent = spawn("sh", ["-c", "sleep 0.3 & echo $!; exec sleep 10"]);
    const pid = Number(
      await new Promise<string>((resolve) =>
        parent.stdout.once("data", String).once("data", (d) => resolve(String(d)))
      ),
    );
    const server = createServer((_req, res) => res.end("hello"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      for (
        let i = 0;
        i < 500 && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
        i++
      ) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await withTempDir(async (dir) => {
        const dest = join(dir, "f.txt");
        writeFileSync(
          `${dest}.part.lock`,
          encodeLockRecord({
            pid,
            scope: (await defaultFs()).processScope ?? null,
            instance: "other",
            nonce: "other.1",
            // As its owner wrote it: its start time, read while it ran (the same as a zombie's).
            start: readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19]!,
          }),
        );
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
        assert.equal((await haul(url, { dest })).size, 5);
      });
    } finally {
      parent.kill();
      server.close();
    }
  });
});
