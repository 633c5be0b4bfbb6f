/**
 * `revalidate: true` (wget `-N`) and `remoteTime: true` (curl `-R`): the
 * file's mtime keeps the server's Last-Modified, an existing `dest` costs one
 * `GET` with If-Modified-Since, a 304 keeps it unread, a 200 replaces it
 * atomically, anything else leaves it as it was.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { haul, haulWith } from "../../src/engine/haul.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { type RecordedOp, recordingFs } from "../helpers/recording_fs.ts";
import { haul as publicHaul } from "../../src/calls.ts";
import { IntegrityError, UnexpectedStatusError } from "../../src/errors.ts";
import { type ScriptServer, startScriptServer } from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const OLD = randomBody(100_000);
const NEW = randomBody(400_000);
const OLD_DATE = "Mon, 02 Jun 2025 10:00:00 GMT";
const NEW_DATE = "Tue, 03 Jun 2025 12:30:00 GMT";

/** What the server serves now; `status` other than 200 answers every request with it. */
interface Version {
  body: Uint8Array;
  lastModified: string;
  status?: number;
  bytesPerSecond?: number;
  /** Whether If-Modified-Since is evaluated (default true). */
  conditional?: boolean;
}

/** A server of one changing file that evaluates If-Modified-Since and counts the body bytes it sends. */
async function versionServer(
  first: Version,
): Promise<{ server: ScriptServer; now: Version; sent: () => number; set(v: Version): void }> {
  let now = first;
  let sent = 0;
  const server = await startScriptServer((req) => {
    const headers: [string, string][] = [
      ["Date", new Date().toUTCString()],
      ["Last-Modified", now.lastModified],
    ];
    if ((now.status ?? 200) !== 200) return { status: now.status!, headers, body: "" };
    const since = req.headers["if-modified-since"];
    if (
      since !== undefined && now.conditional !== false &&
      Date.parse(now.lastModified) <= Date.parse(since)
    ) {
      return { status: 304, headers };
    }
    sent += now.body.length;
    const reply = { status: 200, headers, body: now.body };
    return now.bytesPerSecond === undefined
      ? reply
      : { ...reply, bytesPerSecond: now.bytesPerSecond };
  });
  return {
    server,
    get now() {
      return now;
    },
    sent: () => sent,
    set(v: Version) {
      now = v;
    },
  };
}

async function mtimeOf(path: string): Promise<number> {
  return (await stat(path)).mtimeMs;
}

describe("revalidate and remoteTime", () => {
  it("saves with the server's Last-Modified as mtime, then revalidates with one If-Modified-Since answered 304", async () => {
    const site = await versionServer({ body: OLD, lastModified: OLD_DATE });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        const first = await haul(site.server.url, { dest, revalidate: true });
        assert.equal(first.alreadyComplete, false);
        assert.equal(await mtimeOf(dest), Date.parse(OLD_DATE));
        const sentBefore = site.sent();
        const second = await haul(site.server.url, { dest, revalidate: true });
        assert.equal(site.server.requests.length, 2, "exactly one request for the revalidation");
        const asked = site.server.requests[1]!;
        assert.equal(asked.method, "GET");
        assert.equal(asked.headers["if-modified-since"], OLD_DATE);
        assert.equal(asked.headers["range"], undefined);
        assert.equal(asked.headers["if-none-match"], undefined, "no ETag is kept");
        assert.equal(site.sent(), sentBefore, "no body byte sent");
        assert.equal(second.alreadyComplete, true);
        assert.equal(second.status, 304);
        assert.equal(second.sha256, null, "not read");
        assert.equal(second.size, OLD.length);
        assert.deepEqual(await bytesOf(dest), OLD);
        assert.equal(await mtimeOf(dest), Date.parse(OLD_DATE), "mtime untouched");
        assert.deepEqual(await readdir(dir), ["a.bin"], "nothing left beside dest");
      });
    } finally {
      await site.server.close();
    }
  });

  it("downloads a changed file and replaces dest atomically: a reader always sees a whole version", async () => {
    const site = await versionServer({ body: OLD, lastModified: OLD_DATE });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        await haul(site.server.url, { dest, remoteTime: true });
        site.set({ body: NEW, lastModified: NEW_DATE, bytesPerSecond: 1_000_000 });
        const seen = new Set<string>();
        let reading = true;
        const reader = (async () => {
          while (reading) {
            const bytes = new Uint8Array(await readFile(dest)); // ENOENT would fail the test
            seen.add(sha256(bytes));
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        })();
        const result = await haul(site.server.url, { dest, revalidate: true }).finally(() => {
          reading = false;
        });
        await reader;
        assert.equal(result.alreadyComplete, false);
        assert.equal(result.status, 200);
        assert.equal(site.server.requests[1]!.headers["if-modified-since"], OLD_DATE);
        assert.deepEqual(await bytesOf(dest), NEW);
        assert.equal(await mtimeOf(dest), Date.parse(NEW_DATE));
        assert.ok(seen.has(sha256(OLD)), "the old file was there during the download");
        assert.deepEqual([...seen].filter((d) => d !== sha256(OLD) && d !== sha256(NEW)), []);
        assert.deepEqual(await readdir(dir), ["a.bin"]);
      });
    } finally {
      await site.server.close();
    }
  });

  it("compares a file the server did not date by its own mtime: newer is kept, older downloaded again", async () => {
    const site = await versionServer({ body: NEW, lastModified: NEW_DATE });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "mine.bin");
        await writeFile(dest, OLD); // written now: later than the server's Last-Modified
        const kept = await haul(site.server.url, { dest, revalidate: true });
        assert.equal(kept.status, 304);
        assert.deepEqual(await bytesOf(dest), OLD);
        await utimes(dest, new Date("2000-01-01"), new Date("2000-01-01"));
        const replaced = await haul(site.server.url, { dest, revalidate: true });
        assert.equal(replaced.status, 200);
        assert.deepEqual(await bytesOf(dest), NEW);
        // A server that does not evaluate If-Modified-Since answers 200: downloaded again.
        site.set({ ...site.now, conditional: false });
        const again = await haul(site.server.url, { dest, revalidate: true });
        assert.equal(again.status, 200);
      });
    } finally {
      await site.server.close();
    }
  });

  for (const status of [404, 500]) {
    it(`leaves the old file as it was when the revalidation is answered ${status}`, async () => {
      const site = await versionServer({ body: OLD, lastModified: OLD_DATE });
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "a.bin");
          await haul(site.server.url, { dest, revalidate: true });
          site.set({ ...site.now, status });
          const error = await haul(site.server.url, { dest, revalidate: true }).then(
            () => assert.fail("resolved"),
            (e: unknown) => e,
          );
          assert.ok(error instanceof UnexpectedStatusError, String(error));
          assert.equal(error.status, status);
          assert.equal(error.retryable, status === 500);
          assert.deepEqual(await bytesOf(dest), OLD);
          assert.equal(await mtimeOf(dest), Date.parse(OLD_DATE));
          assert.deepEqual(await readdir(dir), ["a.bin"]);
        });
      } finally {
        await site.server.close();
      }
    });
  }

  it("checks an unchanged file against integrity", async () => {
    const site = await versionServer({ body: OLD, lastModified: OLD_DATE });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        await haul(site.server.url, { dest, remoteTime: true });
        const integrity = `sha256:${sha256(OLD)}`;
        const good = await haul(site.server.url, { dest, revalidate: true, integrity });
        assert.equal(good.status, 304);
        assert.equal(good.sha256, sha256(OLD));
        await assert.rejects(
          haul(site.server.url, { dest, revalidate: true, integrity: `sha256:${"0".repeat(64)}` }),
          IntegrityError,
        );
        assert.deepEqual(await bytesOf(dest), OLD);
      });
    } finally {
      await site.server.close();
    }
  });

  it("leaves mtimes alone unless asked, and revalidates through the public haul()", async () => {
    const site = await versionServer({ body: OLD, lastModified: OLD_DATE });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        await haul(site.server.url, { dest });
        assert.ok(
          await mtimeOf(dest) > Date.parse(OLD_DATE) + 86_400_000,
          "the time it was written",
        );
        await utimes(dest, new Date(OLD_DATE), new Date(OLD_DATE));
        const result = await publicHaul(site.server.url, { dest, revalidate: true });
        assert.equal(result.status, 304);
        assert.equal(site.server.requests.at(-1)!.headers["if-modified-since"], OLD_DATE);
      });
    } finally {
      await site.server.close();
    }
  });

  it("sets .part's mtime after its last byte and before its fsync and the rename", async () => {
    const site = await versionServer({ body: OLD, lastModified: OLD_DATE });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        const log: RecordedOp[] = [];
        const fs = recordingFs(await defaultFs(), log);
        await haulWith(site.server.url, { dest, remoteTime: true }, { fs });
        const part = `${dest}.part`;
        const at = (match: (op: RecordedOp) => boolean): number => log.findIndex(match);
        const lastAt = (match: (op: RecordedOp) => boolean): number => log.findLastIndex(match);
        const stamped = at((op) => op.op === "utime" && op.path === part);
        assert.ok(stamped > lastAt((op) => op.op === "write-done" && op.path === part));
        assert.ok(stamped < lastAt((op) => op.op === "sync-done" && op.path === part));
        assert.ok(stamped < at((op) => op.op === "rename" && op.path === part));
        assert.equal(await mtimeOf(dest), Date.parse(OLD_DATE));
      });
    } finally {
      await site.server.close();
    }
  });

  it("refuses revalidate with a Request that is not a GET", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "a.bin");
      await writeFile(dest, OLD);
      const request = new Request("http://127.0.0.1:9/a", { method: "POST", body: "x" });
      await assert.rejects(haul(request, { dest, revalidate: true }), TypeError);
    });
  });
});
