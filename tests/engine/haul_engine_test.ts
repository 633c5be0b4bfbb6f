import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, readFile, truncate, writeFile } from "node:fs/promises";
import {
  ControlFileError,
  DestinationError,
  haul,
  HaulState,
  IntegrityError,
  isRetryable,
  PartialHaulError,
  ServerMisconfiguredError,
} from "../../mod.ts";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import { durablePrefix } from "../../src/protocol/checkpoint.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { haulWith } from "../../src/engine/haul.ts";
import { type RecordedOp, recordingFs } from "../helpers/recording_fs.ts";
import {
  startResourceServer,
  startScriptServer,
  startThrottledServer,
} from "../helpers/script_server.ts";
import { lockFileOf } from "../helpers/lock_file.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const MiB = 1024 * 1024;

/**
 * The first write to `part` below byte `end`, issued before log entry `at`,
 * that no sync covers by then (a sync covers a write when it started after
 * the write completed and completed itself before `at`); `null` when all are
 * covered.
 */
function uncoveredWrite(log: RecordedOp[], part: string, end: number, at: number): string | null {
  const doneAt = new Map<number, number>();
  log.forEach((e, i) => {
    if (e.op.endsWith("-done") && e.id !== undefined) doneAt.set(e.id, i);
  });
  const syncs = log.flatMap((e, i) =>
    (e.op === "datasync" || e.op === "sync") && e.path === part && e.id !== undefined
      ? [{ start: i, done: doneAt.get(e.id) ?? Infinity }]
      : []
  );
  for (const [i, e] of log.entries()) {
    if (i >= at) break;
    if (e.op !== "write" || e.path !== part || e.position! >= end) continue;
    const written = doneAt.get(e.id!) ?? Infinity;
    if (!syncs.some((s) => s.start > written && s.done < at)) {
      return `an unsynced write of ${e.length} bytes at ${e.position} (op ${i})`;
    }
  }
  return null;
}

/** Engine settings that run the background sync on small files. */
const FAST_PATH = { syncEvery: 128 * 1024 } as const;

describe("haul() durability", () => {
  for (
    const [name, hooks] of [["default settings", {}], [
      "background sync",
      FAST_PATH,
    ]] as const
  ) {
    it(`syncs data before every checkpoint and renames only synced files (${name})`, async () => {
      const body = randomBody(3 * MiB);
      const server = await startResourceServer(
        { body },
        (req, honest) =>
          req.index === 0 ? { ...honest, cutAfter: 2 * MiB + 5, bytesPerSecond: 8 * MiB } : honest,
      );
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "d.bin");
          const log: RecordedOp[] = [];
          const fs = recordingFs(await defaultFs(), log);
          const options = { dest, blockSize: 65536, checkpointEvery: { bytes: 256 * 1024 } };
          await assert.rejects(haulWith(server.url, options, { fs, ...hooks }), PartialHaulError);
          const result = await haulWith(server.url, options, { fs, ...hooks });
          assert.equal(result.sha256, sha256(body));
          const part = `${dest}.part`;
          const ctrl = `${dest}.part.ctrl`;
          const tmp = `${dest}.part.ctrl.tmp`;
          const uncovered = (end: number, at: number) => uncoveredWrite(log, part, end, at);
          let checkpoints = 0;
          for (const [i, entry] of log.entries()) {
            if (entry.op === "rename" && entry.to === ctrl) {
              checkpoints++;
              const before = log.slice(0, i).reverse();
              const tmpSync = before.findIndex((e) => e.op === "sync-done" && e.path === tmp);
              const tmpWrite = before.find((e) => e.op === "write" && e.path === tmp);
              const tmpWriteAt = before.findIndex((e) => e.op === "write" && e.path === tmp);
              assert.ok(
                tmpSync >= 0 && tmpSync < tmpWriteAt,
                "checkpoint renamed before its fsync",
              );
              const cursor = durablePrefix(decodeCheckpoint(tmpWrite!.data!));
              const bad = uncovered(cursor, i);
              assert.equal(bad, null, `checkpoint at op ${i} (cursor ${cursor}) covers ${bad}`);
            }
            if (entry.op === "rename" && entry.to === dest) {
              const bad = uncovered(Number.MAX_SAFE_INTEGER, i);
              assert.equal(bad, null, `final rename at op ${i} covers ${bad}`);
              assert.deepEqual(log[i + 1], { op: "syncDir", path: dir });
              assert.deepEqual(log[i + 2], { op: "remove", path: ctrl });
            }
          }
          // One checkpoint at a time: on a loaded machine several cadence points share one.
          assert.ok(checkpoints >= 2, `only ${checkpoints} checkpoints`);
        });
      } finally {
        await server.close();
      }
    });
  }

  it("checkpoints by time when bytes trickle in", async () => {
    const body = randomBody(256 * 1024);
    const server = await startResourceServer(
      { body },
      (req, honest) =>
        req.index === 0
          ? { ...honest, bytesPerSecond: 512 * 1024, cutAfter: 200 * 1024, cutLingerMs: 150 }
          : honest,
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "t.bin");
        const log: RecordedOp[] = [];
        const fs = recordingFs(await defaultFs(), log);
        const options = { dest, blockSize: 4096, checkpointEvery: { bytes: 1 << 30, ms: 50 } };
        await assert.rejects(haulWith(server.url, options, { fs }), PartialHaulError);
        const renames = log.filter((e) => e.op === "rename" && e.to === `${dest}.part.ctrl`);
        assert.ok(renames.length >= 2, `only ${renames.length} timed checkpoints`);
      });
    } finally {
      await server.close();
    }
  });
});

describe("haul() checkpoints on disk", () => {
  it("discards a corrupt checkpoint once with ControlFileError, then starts clean", async () => {
    const body = randomBody(MiB);
    const server = await startResourceServer(
      { body },
      (req, honest) =>
        req.index === 0 ? { ...honest, cutAfter: 300_000, cutLingerMs: 150 } : honest,
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "c.bin");
        await assert.rejects(haul(server.url, { dest }), PartialHaulError);
        const ctrl = `${dest}.part.ctrl`;
        const bytes = await readFile(ctrl);
        bytes[bytes.length - 3]! ^= 0x40;
        await writeFile(ctrl, bytes);
        const error = await haul(server.url, { dest }).catch((e) => e);
        assert.ok(error instanceof ControlFileError, String(error));
        assert.equal(isRetryable(error), true);
        assert.equal(server.requests.length, 1, "no request with a corrupt checkpoint");
        assert.equal(exists(ctrl), false);
        assert.equal(exists(dest), false);
        const result = await haul(server.url, { dest });
        assert.equal(server.requests[1]!.headers["range"], undefined);
        assert.equal(result.resumedFrom, 0);
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });

  it("overwrites a .part that has no checkpoint from byte 0", async () => {
    const body = randomBody(100_000);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "o.bin");
        await writeFile(`${dest}.part`, randomBody(300_000));
        await haul(server.url, { dest });
        assert.equal(server.requests[0]!.headers["range"], undefined);
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });

  it("re-reads the tail before its request and starts over from byte 0 when it was altered", async () => {
    const body = randomBody(MiB);
    const server = await startResourceServer(
      { body },
      (req, honest) =>
        req.index === 0 ? { ...honest, cutAfter: 500_000, cutLingerMs: 150 } : honest,
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "r.bin");
        const options = { dest, blockSize: 65536, checkpointEvery: { bytes: 100_000 } };
        await assert.rejects(haul(server.url, options), PartialHaulError);
        const cursor = durablePrefix(decodeCheckpoint(await bytesOf(`${dest}.part.ctrl`)));
        assert.ok(cursor > 65536);
        const part = await readFile(`${dest}.part`);
        part[cursor - 65536]! ^= 0xff; // the first byte the tail digest covers
        await writeFile(`${dest}.part`, part);
        const result = await haul(server.url, options);
        assert.equal(server.requests[1]!.headers["range"], undefined);
        assert.equal(result.resumedFrom, 0);
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });

  it("restarts cleanly when .part is shorter than its checkpoint", async () => {
    const body = randomBody(MiB);
    const server = await startResourceServer(
      { body },
      (req, honest) =>
        req.index === 0 ? { ...honest, cutAfter: 600_000, cutLingerMs: 150 } : honest,
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "s.bin");
        const options = { dest, blockSize: 65536, checkpointEvery: { bytes: 100_000 } };
        await assert.rejects(haul(server.url, options), PartialHaulError);
        await truncate(`${dest}.part`, 1000);
        const result = await haul(server.url, options);
        assert.equal(server.requests[1]!.headers["range"], undefined);
        assert.equal(result.resumedFrom, 0);
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });
});

describe("haul() streams", () => {
  it("saves progress on a body shorter than Content-Length", async () => {
    const body = randomBody(200_000);
    const server = await startScriptServer(() => ({
      status: 200,
      headers: { etag: '"e"' },
      body,
      cutAfter: 150_000,
      cutLingerMs: 150,
    }));
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "short.bin");
        const error = await haul(server.url, { dest }).catch((e) => e);
        assert.ok(error instanceof PartialHaulError, String(error));
        assert.equal(error.validLength, 150_000);
        assert.equal(exists(dest), false);
      });
    } finally {
      await server.close();
    }
  });

  it("streams a chunked body without a length to its end", async () => {
    const body = randomBody(777_777);
    const server = await startScriptServer(() => ({
      status: 200,
      body,
      framing: "chunked",
      chunkSize: 10_000,
    }));
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "chunked.bin");
        const state = new HaulState();
        const result = await haul(server.url, { dest, state });
        assert.equal(result.sha256, sha256(body));
        assert.equal(state.isComplete, true);
        assert.equal(state.bytesRead, body.length);
      });
    } finally {
      await server.close();
    }
  });

  it("refuses a gzip body and leaves nothing at dest", async () => {
    const server = await startScriptServer(() => ({
      status: 200,
      headers: { "content-encoding": "gzip" },
      body: "not really gzip",
    }));
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "gz.bin");
        const error = await haul(server.url, { dest }).catch((e) => e);
        assert.ok(error instanceof ServerMisconfiguredError, String(error));
        assert.equal(isRetryable(error), false);
        assert.equal(exists(dest), false);
      });
    } finally {
      await server.close();
    }
  });

  for (const connections of [1, 3]) {
    it(`rejects with the error an onProgress throws mid-body, saving what arrived (${connections} connection(s))`, async () => {
      const body = randomBody(connections === 1 ? 2 * MiB : 12 * MiB + 77);
      const server = await startResourceServer({ body }, (_req, honest) => ({
        ...honest,
        chunkSize: 16_384,
        bytesPerSecond: 2 * MiB,
      }));
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "p.bin");
          const mistake = new Error("the caller's bug");
          let calls = 0;
          const error = await haul(server.url, {
            dest,
            connections,
            onProgress: (s) => {
              // The first report comes before any byte; throw once bytes have arrived.
              if (++calls > 1 && s.validLength > 0) throw mistake;
            },
          }).catch((e: unknown) => e);
          assert.equal(error, mistake);
          assert.equal(exists(dest), false);
          const saved = decodeCheckpoint(await bytesOf(`${dest}.part.ctrl`));
          const savedBytes = saved.ranges.reduce((sum, range) => sum + range.end - range.start, 0);
          assert.ok(savedBytes > 0, "what arrived before the throw was saved");
          const result = await haul(server.url, { dest });
          assert.equal(result.resumedFrom, savedBytes);
          assert.deepEqual(await bytesOf(dest), body);
        });
      } finally {
        await server.close();
      }
    });
  }

  it("reports progress through onProgress and the state object", async () => {
    const body = randomBody(2 * MiB);
    const server = await startThrottledServer(body, 8 * MiB);
    try {
      await withTempDir(async (dir) => {
        const seen: number[] = [];
        const state = new HaulState();
        await haul(server.url, {
          dest: join(dir, "p.bin"),
          state,
          onProgress: (s) => seen.push(s.validLength),
        });
        assert.ok(seen.length >= 2 && seen.length <= 20, `called ${seen.length} times`);
        assert.equal(seen.at(-1), body.length);
        assert.equal(state.reportedLength, body.length);
        for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!);
      });
    } finally {
      await server.close();
    }
  });

  it(
    "aborts on the signal with its reason, saving progress for the next call",
    async () => {
      const body = randomBody(2 * MiB);
      const server = await startResourceServer(
        { body },
        (req, honest) => req.index === 0 ? { ...honest, stallAfter: 700_000 } : honest,
      );
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "a.bin");
          const controller = new AbortController();
          const reason = new Error("user stop");
          const state = new HaulState();
          const running = haul(server.url, { dest, signal: controller.signal, state });
          for (let i = 0; i < 1000 && state.validLength < 700_000; i++) {
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          controller.abort(reason);
          await assert.rejects(running, (error) => error === reason);
          assert.equal(exists(dest), false);
          const saved = decodeCheckpoint(await bytesOf(`${dest}.part.ctrl`));
          assert.equal(durablePrefix(saved), 700_000);
          const result = await haul(server.url, { dest });
          assert.equal(result.resumedFrom, 700_000);
          assert.deepEqual(await bytesOf(dest), body);
        });
      } finally {
        await server.close();
      }
    },
  );
});

describe("haul() per-call state and aborts", () => {
  it("resets bytesRead for each call that reuses a state object", async () => {
    const body = randomBody(100_000);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "s.bin");
        const state = new HaulState();
        await haul(server.url, { dest, state });
        assert.equal(state.bytesRead, body.length);
        const again = await haul(server.url, { dest, state });
        assert.equal(again.alreadyComplete, true);
        assert.equal(state.bytesRead, 0);
        assert.equal(state.isComplete, true);
      });
    } finally {
      await server.close();
    }
  });

  it("never completes a length-less chunked body that was aborted", async () => {
    const body = randomBody(400_000);
    const server = await startScriptServer(() => ({
      status: 200,
      headers: { etag: '"c"' },
      body,
      framing: "chunked",
      chunkSize: 50_000,
      stallAfter: 200_000,
    }));
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "c.bin");
        const controller = new AbortController();
        const state = new HaulState();
        const running = haul(server.url, { dest, signal: controller.signal, state });
        for (let i = 0; i < 200 && state.bytesRead < 200_000; i++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        controller.abort(new Error("stop"));
        await assert.rejects(running, /stop/);
        assert.equal(exists(dest), false);
        assert.equal(state.isComplete, false);
      });
    } finally {
      await server.close();
    }
  });
});

describe("haul() requests", () => {
  it("merges caller headers but keeps Range, If-Range and Accept-Encoding its own", async () => {
    const body = randomBody(1000);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        let calls = 0;
        const request = new Request(server.url, { headers: { "x-from-request": "1" } });
        await haul(request, {
          dest: join(dir, "h.bin"),
          headers: {
            "x-token": "abc",
            range: "bytes=5-",
            "if-range": '"zzz"',
            "accept-encoding": "gzip",
            "cache-control": "max-age=0",
          },
          fetch: (req) => {
            calls++;
            return fetch(req);
          },
        });
        assert.equal(calls, 1);
        const sent = server.requests[0]!.headers;
        assert.equal(sent["x-token"], "abc");
        assert.equal(sent["x-from-request"], "1");
        assert.equal(sent["range"], undefined);
        assert.equal(sent["if-range"], undefined);
        assert.equal(sent["accept-encoding"], "identity");
        assert.equal(sent["cache-control"], "max-age=0");
      });
    } finally {
      await server.close();
    }
  });

  it("never sends If-Range with a weak ETag, and starts over instead of resuming", async () => {
    const body = randomBody(300_000);
    const server = await startResourceServer(
      { body, etag: 'W/"weak"' },
      (req, honest) =>
        req.index === 0 ? { ...honest, cutAfter: 100_000, cutLingerMs: 150 } : honest,
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "w.bin");
        await assert.rejects(haul(server.url, { dest }), PartialHaulError);
        await haul(server.url, { dest });
        // A weak ETag cannot prove two responses are byte-identical: no resume.
        assert.equal(server.requests[1]!.headers["range"], undefined);
        assert.equal(server.requests[1]!.headers["if-range"], undefined);
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });
});

describe("haul() integrity", () => {
  it("accepts a matching SRI and sha256: digest and refuses a wrong one", async () => {
    const body = randomBody(50_000);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        const hex = sha256(body);
        const b64 = btoa(String.fromCharCode(...hex.match(/../g)!.map((h) => parseInt(h, 16))));
        await haul(server.url, { dest: join(dir, "1.bin"), integrity: `sha256-${b64}` });
        await haul(server.url, { dest: join(dir, "2.bin"), integrity: `sha256:${hex}` });
        const dest = join(dir, "3.bin");
        const error = await haul(server.url, { dest, integrity: `sha256:${"0".repeat(64)}` })
          .catch((e) => e);
        assert.ok(error instanceof IntegrityError, String(error));
        assert.equal(error.actual, hex);
        assert.equal(isRetryable(error), false);
        for (const path of [dest, `${dest}.part`, `${dest}.part.ctrl`]) {
          assert.equal(exists(path), false, path);
        }
      });
    } finally {
      await server.close();
    }
  });
});

describe("haul() destinations", () => {
  it("refuses unusable destinations before any request", async () => {
    const server = await startResourceServer({ body: randomBody(10) });
    try {
      await withTempDir(async (dir) => {
        await writeFile(join(dir, "file"), "x");
        await mkdir(join(dir, "adir"));
        const cases = [
          join(dir, "x".repeat(250)),
          join(dir, "file", "child.bin"),
          join(dir, "adir"),
          join(dir, "missing", "child.bin"),
        ];
        for (const dest of cases) {
          const error = await haul(server.url, { dest, overwrite: true }).catch((e) => e);
          assert.ok(error instanceof DestinationError, `${dest}: ${error}`);
          assert.equal(isRetryable(error), false);
        }
        assert.equal(server.requests.length, 0);
      });
    } finally {
      await server.close();
    }
  });

  it("lets only one call at a time work on a destination", async () => {
    const body = randomBody(MiB);
    const server = await startThrottledServer(body, 4 * MiB);
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "l.bin");
        const first = haul(server.url, { dest });
        await new Promise((resolve) => setTimeout(resolve, 50));
        // The same URL joins the running call (src/engine/single_flight.ts); another URL
        // is refused; the engine's own lock still refuses a second call that bypasses haul().
        const second = haul(server.url, { dest });
        const other = await haul(`${server.url}/other`, { dest }).catch((e) => e);
        assert.ok(other instanceof DestinationError, String(other));
        assert.equal(isRetryable(other), false);
        const bypass = await haulWith(server.url, { dest }, {}).catch((e) => e);
        assert.ok(bypass instanceof DestinationError, String(bypass));
        assert.equal(isRetryable(bypass), true);
        const [a, b] = await Promise.all([first, second]);
        assert.equal(b.sha256, a.sha256);
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(server.requests.length, 1);
      });
    } finally {
      await server.close();
    }
  });

  it("refuses a lock held by another live process and takes over a dead one's", async () => {
    const body = randomBody(1000);
    const server = await startResourceServer({ body });
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "p.bin");
        await writeFile(`${dest}.part.lock`, await lockFileOf(child.pid!));
        await assert.rejects(haul(server.url, { dest }), DestinationError);
        child.kill("SIGKILL");
        await new Promise((resolve) => child.once("exit", resolve));
        await haul(server.url, { dest });
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(exists(`${dest}.part.lock`), false);
      });
    } finally {
      child.kill("SIGKILL");
      await server.close();
    }
  });
});
