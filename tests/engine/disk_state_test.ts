/**
 * What a failed call leaves on disk (README, "What lies on disk"): a call
 * that received no byte leaves nothing (no empty `.part`, no `.ctrl.tmp`, no
 * lock); a disk that fills before anything could be saved says that the next
 * call starts over, and leaves no `.part` behind; a disk that fills after a
 * checkpoint keeps it and says to call again.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { haulWith } from "../../src/engine/haul.ts";
import {
  DestinationError,
  haul,
  HaulError,
  PartialHaulError,
  ServerMisconfiguredError,
  UnexpectedStatusError,
} from "../../mod.ts";
import { FaultyFs, shimError } from "../helpers/fault_fs.ts";
import { startResourceServer, startScriptServer } from "../helpers/script_server.ts";
import { exists, join, randomBody, withTempDir } from "../helpers/temp.ts";

const BODY = randomBody(300_000);

async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

describe("A call that received no byte", () => {
  for (const status of [404, 403, 500]) {
    it(`leaves nothing behind after a ${status}`, async () => {
      const server = await startScriptServer(() => ({ status, headers: {}, body: "no" }));
      try {
        await withTempDir(async (dir) => {
          const error = await haul(server.url, { dest: join(dir, "f.bin") }).catch((e) => e);
          assert.ok(error instanceof UnexpectedStatusError, String(error));
          assert.deepEqual(await entries(dir), []);
        });
      } finally {
        await server.close();
      }
    });
  }

  it("leaves nothing behind after a refused gzip body", async () => {
    const server = await startScriptServer(() => ({
      status: 200,
      headers: { "content-encoding": "gzip", etag: '"z"' },
      body: gzipSync(BODY),
    }));
    try {
      await withTempDir(async (dir) => {
        const error = await haul(server.url, { dest: join(dir, "f.bin") }).catch((e) => e);
        assert.ok(error instanceof ServerMisconfiguredError, String(error));
        assert.deepEqual(await entries(dir), []);
      });
    } finally {
      await server.close();
    }
  });

  it("leaves nothing behind when the connection is refused or the name does not resolve", async () => {
    await withTempDir(async (dir) => {
      for (const url of ["http://127.0.0.1:9/x", "http://haul-no-such-host.invalid/x"]) {
        const error = await haul(url, { dest: join(dir, "f.bin") }).catch((e) => e);
        assert.ok(error instanceof Error, String(error));
        assert.deepEqual(await entries(dir), [], url);
      }
    });
  });

  it("leaves nothing behind when aborted while waiting for the response", async () => {
    const server = await startResourceServer({ body: BODY, etag: '"w"' }, (_req, honest) => ({
      ...honest,
      delayMs: 3_000,
    }));
    try {
      await withTempDir(async (dir) => {
        const controller = new AbortController();
        const reason = new Error("stop waiting");
        setTimeout(() => controller.abort(reason), 100);
        const error = await haul(server.url, {
          dest: join(dir, "f.bin"),
          signal: controller.signal,
        }).catch((e) => e);
        assert.equal(error, reason);
        assert.deepEqual(await entries(dir), []);
      });
    } finally {
      await server.close();
    }
  });

  it("leaves nothing behind when the body breaks before its first byte", async () => {
    const server = await startResourceServer({ body: BODY, etag: '"c"' }, (_req, honest) => ({
      ...honest,
      cutAfter: 0,
    }));
    try {
      await withTempDir(async (dir) => {
        const error = await haul(server.url, { dest: join(dir, "f.bin") }).catch((e) => e);
        assert.ok(error instanceof PartialHaulError, String(error));
        assert.equal(error.validLength, 0);
        assert.match(error.message, /before any byte was saved.*the next call starts over/);
        assert.deepEqual(await entries(dir), []);
      });
    } finally {
      await server.close();
    }
  });

  it("keeps an earlier checkpoint and its .part when a resume gets a 404", async () => {
    let answer404 = false;
    const server = await startResourceServer({ body: BODY, etag: '"k"' }, (req, honest) => {
      if (answer404) return { status: 404, headers: [], body: new Uint8Array(0) };
      return req.index === 0 ? { ...honest, cutAfter: 100_000, cutLingerMs: 100 } : honest;
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "f.bin");
        const options = { dest, checkpointEvery: { bytes: 16_384 } };
        const first = await haul(server.url, options).catch((e) => e);
        assert.ok(first instanceof PartialHaulError, String(first));
        answer404 = true;
        const second = await haul(server.url, options).catch((e) => e);
        assert.ok(second instanceof UnexpectedStatusError, String(second));
        assert.deepEqual(await entries(dir), ["f.bin.part", "f.bin.part.ctrl"]);
      });
    } finally {
      await server.close();
    }
  });
});

describe("A disk that fills", () => {
  /** The real filesystem, where writes to `.part` past `limit` bytes fail with ENOSPC (after writing what fits). */
  async function fullAfter(dest: string, limit: number) {
    return new FaultyFs(await defaultFs(), (call) => {
      if (call.op !== "write") return null;
      if (call.path === `${dest}.part.ctrl.tmp` && limit === 0) {
        return shimError("ENOSPC", call.path);
      }
      if (call.path !== `${dest}.part`) return null;
      const end = (call.position ?? 0) + (call.length ?? 0);
      if (end <= limit) return null;
      return {
        writeFirst: Math.max(0, limit - (call.position ?? 0)),
        error: shimError("ENOSPC", call.path),
      };
    });
  }

  it("before anything could be saved says the next call starts over, and leaves no .part", async () => {
    const server = await startResourceServer({ body: BODY, etag: '"d"' });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "f.bin");
        const fs = await fullAfter(dest, 0);
        const error = await haulWith(server.url, { dest }, { fs }).catch((e) => e);
        assert.ok(error instanceof DestinationError, String(error));
        assert.equal(error.retryable, true);
        assert.match(
          error.message,
          /the disk is full; nothing could be saved, so the next call starts over/,
        );
        assert.doesNotMatch(error.message, /resume/);
        assert.deepEqual(await entries(dir), []);
      });
    } finally {
      await server.close();
    }
  });

  it("after bytes were written keeps them resumable (synced and recorded on the ENOSPC) and says so", async () => {
    const server = await startResourceServer({ body: BODY, etag: '"e"' });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "f.bin");
        const fs = await fullAfter(dest, 100_000);
        const options = { dest, checkpointEvery: { bytes: 1 << 30, ms: 600_000 } };
        const error = await haulWith(server.url, options, { fs, writeBufferSize: 16 * 1024 })
          .catch((e) => e);
        assert.ok(error instanceof DestinationError, String(error));
        assert.match(error.message, /the disk is full; free space and call again to resume/);
        assert.ok(exists(`${dest}.part.ctrl`), "a checkpoint was recorded on the ENOSPC");
        const result = await haul(server.url, options);
        assert.ok(result.resumedFrom > 0 && result.resumedFrom <= 100_000, `${result.resumedFrom}`);
        assert.deepEqual(await entries(dir), ["f.bin"]);
      });
    } finally {
      await server.close();
    }
  });

  it("is a HaulError in both cases", () => {
    assert.ok(DestinationError.prototype instanceof HaulError);
  });
});
