import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { HaulState } from "../../mod.ts";
import { type EngineHooks, haulWith } from "../../src/engine/haul.ts";
import { DEFAULT_RAMP, type RampSettings } from "../../src/engine/ramp.ts";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import type { HaulOptions, HaulResult } from "../../src/types.ts";
import { type RecordedRequest, startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

// Files far smaller than RAMP_FROM, so the ramp is switched on by the hook.
// Servers paced slowly in small slices, so that 200 ms windows measure them
// well and the CPU is never what limits a connection, even on a busy machine
// (the servers share the test's event loop).
const SIZE = 1024 * 1024 + 77;
const SLICE = 2 * 1024;
const RAMP: Partial<RampSettings> = { from: 0, windowMs: 200, fastMbps: 0.05 };
const HOOKS: EngineHooks = {
  rangeFloor: 64 * 1024,
  writeBufferSize: 16 * 1024,
  syncEvery: 256 * 1024,
  ramp: RAMP,
};

function get(url: string, options: HaulOptions, hooks: EngineHooks = HOOKS): Promise<HaulResult> {
  return haulWith(url, { checkpointEvery: { bytes: 128 * 1024, ms: 50 }, ...options }, hooks);
}

function rangeStart(req: RecordedRequest): number | null {
  const match = /^bytes=(\d+)-/.exec(req.headers["range"] ?? "");
  return match === null ? null : Number(match[1]);
}

/** A server pacing each response by where it starts and by the request's index. */
function pacedServer(body: Uint8Array, rate: (start: number, index: number) => number) {
  return startResourceServer({ body, etag: '"r1"' }, (req, honest) => ({
    ...honest,
    bytesPerSecond: rate(rangeStart(req) ?? 0, req.index),
    chunkSize: SLICE,
  }));
}

describe("haul() ramping up its connections", () => {
  it("opens every connection after a quick look when the first one is slow", async () => {
    const body = randomBody(SIZE);
    const server = await pacedServer(body, () => 500_000);
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "slow.bin");
        // The default threshold (200 MB/s): a 0.5 MB/s connection is slow.
        const result = await get(server.url, { dest, connections: 4 }, {
          ...HOOKS,
          ramp: { ...RAMP, fastMbps: DEFAULT_RAMP.fastMbps },
        });
        assert.equal(result.connections, 4);
        assert.equal(result.sha256, sha256(body));
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });

  it("opens every connection when a probing second one doubles the rate", async () => {
    const body = randomBody(SIZE);
    const server = await pacedServer(body, () => 250_000); // each connection on its own
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "per-connection.bin");
        const result = await get(server.url, { dest, connections: 4 });
        assert.equal(result.connections, 4);
        assert.equal(result.sha256, sha256(body));
        assert.deepEqual(await bytesOf(dest), body);
        // The first response streamed from byte 0 until the ramp decided.
        assert.equal(server.requests[0]!.headers["range"], undefined);
        assert.ok(server.requests.length > 4, `${server.requests.length} requests`);
      });
    } finally {
      await server.close();
    }
  });

  it("goes on alone, in few requests, when the second connection adds nothing", async () => {
    const body = randomBody(SIZE);
    // The probe's request (the second) crawls.
    const server = await pacedServer(body, (_start, index) => index === 1 ? 50_000 : 500_000);
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "alone.bin");
        const state = new HaulState();
        const seen: number[] = [];
        const result = await get(server.url, {
          dest,
          connections: 4,
          state,
          onProgress: (s) => seen.push(s.validLength),
        });
        assert.equal(result.connections, 2);
        assert.equal(result.sha256, sha256(body));
        assert.deepEqual(await bytesOf(dest), body);
        // The first response, the probe's piece, perhaps a steal of its rest;
        // never the 16 pieces of a download shared four ways.
        assert.ok(server.requests.length <= 4, `${server.requests.length} requests`);
        for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!);
        assert.equal(state.validLength, body.length);
      });
    } finally {
      await server.close();
    }
  });

  it("an abort once the probe has bytes saves both connections' ranges, and the next call resumes them", async () => {
    const body = randomBody(SIZE);
    const server = await pacedServer(body, (_start, index) => index === 1 ? 25_000 : 250_000);
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "aborted.bin");
        const controller = new AbortController();
        const reason = new Error("stop");
        let probeSeenAt: number | null = null;
        const error = await get(server.url, {
          dest,
          connections: 4,
          signal: controller.signal,
          onProgress: () => {
            // Once the probe (the second request) has streamed a while.
            const probing = server.requests.length >= 2;
            if (probing) probeSeenAt ??= performance.now();
            if (probeSeenAt !== null && performance.now() - probeSeenAt > 400) {
              controller.abort(reason);
            }
          },
        }).catch((e) => e);
        assert.equal(error, reason);
        const saved = decodeCheckpoint(new Uint8Array(await readFile(dest + ".part.ctrl")));
        // The first connection's bytes, and the probe's from where its piece starts.
        const probeAt = rangeStart(server.requests[1]!)!;
        assert.ok(probeAt > 0);
        assert.equal(saved.ranges[0]!.start, 0, JSON.stringify(saved.ranges));
        assert.ok(
          saved.ranges.some((r) => r.start <= probeAt && r.end > probeAt),
          `the probe's bytes at ${probeAt} were saved: ${JSON.stringify(saved.ranges)}`,
        );
        const savedBytes = saved.ranges.reduce((sum, r) => sum + r.end - r.start, 0);
        const result = await get(server.url, { dest, connections: 4 });
        assert.equal(result.resumedFrom, savedBytes);
        assert.equal(result.sha256, sha256(body));
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });
});
