import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ContentRangeError,
  HaulState,
  IntegrityError,
  PartialHaulError,
  UnexpectedStatusError,
} from "../../mod.ts";
import { type EngineHooks, haulWith } from "../../src/engine/haul.ts";
import { splitRanges } from "../../src/engine/range_split.ts";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import type { HaulOptions, HaulResult } from "../../src/types.ts";
import { type RecordedRequest, type Reply, startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";
import { readFile } from "node:fs/promises";
import { DestinationError } from "../../mod.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { FaultyFs, shimError } from "../helpers/fault_fs.ts";

const FLOOR = 64 * 1024;
const HOOKS: EngineHooks = { rangeFloor: FLOOR, writeBufferSize: 16 * 1024, syncEvery: 64 * 1024 };
const SIZE = 2 * 1024 * 1024 + 123;

function get(url: string, options: HaulOptions, hooks: EngineHooks = HOOKS): Promise<HaulResult> {
  return haulWith(url, { checkpointEvery: { bytes: 32 * 1024, ms: 5 }, ...options }, hooks);
}

function rangeOf(req: RecordedRequest): { start: number; end: number } | null {
  const match = /^bytes=(\d+)-(\d+)$/.exec(req.headers["range"] ?? "");
  return match === null ? null : { start: Number(match[1]), end: Number(match[2]) + 1 };
}

async function savedRanges(dest: string): Promise<{ start: number; end: number }[]> {
  const checkpoint = decodeCheckpoint(new Uint8Array(await readFile(dest + ".part.ctrl")));
  return checkpoint.ranges.map(({ start, end }) => ({ start, end }));
}

function noSidecars(dest: string): void {
  for (const suffix of [".part", ".part.ctrl", ".part.ctrl.tmp", ".part.lock"]) {
    assert.equal(exists(dest + suffix), false, suffix);
  }
}

describe("haul() with several connections", () => {
  it("splits the file into ranges asked with If-Range, and the digest is sha256sum's", async () => {
    const body = randomBody(SIZE);
    const server = await startResourceServer({ body, etag: '"m1"' });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const state = new HaulState();
        const seen: number[] = [];
        const result = await get(server.url, {
          dest,
          connections: 4,
          state,
          onProgress: (s) => seen.push(s.validLength),
        });
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(result.sha256, sha256(body));
        assert.equal(result.size, body.length);
        assert.equal(result.connections, 4);
        assert.equal(result.status, 200);
        assert.equal(state.validLength, body.length);
        assert.equal(state.isComplete, true);
        for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, "monotonic");
        noSidecars(dest);
        const [first, ...rest] = server.requests;
        assert.equal(first!.headers["range"], undefined);
        assert.ok(rest.length >= 3, `${rest.length} range requests`);
        for (const req of rest) {
          assert.notEqual(rangeOf(req), null, req.headers["range"]);
          assert.equal(req.headers["if-range"], '"m1"');
          // Node's fetch appends its own "identity" to a request with Range (as the Fetch spec says).
          assert.match(req.headers["accept-encoding"] ?? "", /^identity(, identity)?$/);
        }
      });
    } finally {
      await server.close();
    }
  });

  it("uses one connection when ranges are not served, the ETag is weak, or there is no validator", async () => {
    const body = randomBody(SIZE);
    const cases = [
      { name: "no ranges", honorRange: false, etag: '"x"' },
      { name: "weak etag", etag: 'W/"x"' },
      { name: "no validator", etag: null },
    ];
    for (const resource of cases) {
      const server = await startResourceServer({ body, ...resource });
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "file.bin");
          const result = await get(server.url, { dest, connections: 8 });
          assert.equal(result.connections, 1, resource.name);
          assert.equal(server.requests.length, 1, resource.name);
          assert.deepEqual(await bytesOf(dest), body);
          assert.equal(result.sha256, sha256(body));
        });
      } finally {
        await server.close();
      }
    }
  });

  it("falls back to one connection for a file too small to split, and for connections 1", async () => {
    const body = randomBody(FLOOR);
    const server = await startResourceServer({ body, etag: '"s"' });
    try {
      await withTempDir(async (dir) => {
        const result = await get(server.url, { dest: join(dir, "a"), connections: 8 });
        assert.equal(result.connections, 1);
        const one = await get(server.url, { dest: join(dir, "b") });
        assert.equal(one.connections, 1);
        assert.equal(server.requests.length, 2);
        assert.deepEqual(await bytesOf(join(dir, "a")), body);
      });
    } finally {
      await server.close();
    }
  });

  it("rejects a connections value out of bounds", async () => {
    for (const connections of [0, 1.5, 33, -1]) {
      await assert.rejects(get("http://127.0.0.1:9/", { dest: "x", connections }), RangeError);
    }
  });

  /** Wrong answers to a range under the same ETag: the bytes are not the ones asked. */
  const refusals: [string, (honest: Reply) => Reply][] = [
    [
      "a 200",
      (honest) => ({ ...honest, status: 200, headers: headersOf(honest, ["Content-Range"]) }),
    ],
    [
      "a wrong Content-Range",
      (honest) => {
        const range = /bytes (\d+)-(\d+)\/(\d+)/.exec(header(honest, "Content-Range")!)!;
        const shifted = `bytes ${Number(range[1]) + 1}-${Number(range[2])}/${range[3]}`;
        const body = (honest.body as Uint8Array).subarray(1);
        return { ...honest, body, headers: replace(honest, "Content-Range", shifted) };
      },
    ],
    [
      "a 416",
      (honest) => ({
        status: 416,
        headers: replace(honest, "Content-Range", `bytes */${SIZE}`),
        body: new Uint8Array(0),
      }),
    ],
    [
      "gzip",
      (honest) => ({
        ...honest,
        headers: [...headersOf(honest, []), ["Content-Encoding", "gzip"]],
      }),
    ],
  ];
  /** A `Content-Range` wrong in one field, over the body asked for: refused as well. */
  const lies: [string, (honest: Reply) => Reply][] = ([
    ["its last byte one short", (a: number, b: number, n: number) => `bytes ${a}-${b - 1}/${n}`],
    ["its last byte one past", (a: number, b: number, n: number) => `bytes ${a}-${b + 1}/${n}`],
    ["a length one more", (a: number, b: number, n: number) => `bytes ${a}-${b}/${n + 1}`],
    ["a length one less", (a: number, b: number, n: number) => `bytes ${a}-${b}/${n - 1}`],
    ["an unknown length", (a: number, b: number) => `bytes ${a}-${b}/*`],
    ["bytes */length", (_a: number, _b: number, n: number) => `bytes */${n}`],
  ] as const).map(([what, lie]): [string, (honest: Reply) => Reply] => [
    `a Content-Range with ${what} (the body as asked)`,
    (honest) => {
      const [, a, b, n] = /bytes (\d+)-(\d+)\/(\d+)/.exec(header(honest, "Content-Range")!)!;
      const range = lie(Number(a), Number(b), Number(n));
      return { ...honest, headers: replace(honest, "Content-Range", range) };
    },
  ]);
  for (const [name, bend] of [...refusals, ...lies]) {
    it(`every further range answered with ${name} under the same ETag: the first connection carries the rest`, async () => {
      const body = randomBody(SIZE);
      const server = await startResourceServer({ body, etag: '"d1"' }, (req, honest) => {
        return (rangeOf(req)?.start ?? 0) > 0 ? bend(honest) : honest;
      });
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "file.bin");
          const result = await get(server.url, { dest, connections: 4 });
          assert.deepEqual(await bytesOf(dest), body);
          assert.equal(result.sha256, sha256(body));
          assert.equal(result.resumedFrom, 0);
          // The first request, and no more than one refused range per connection.
          assert.ok(server.requests.length <= 4, `${server.requests.length} requests`);
          noSidecars(dest);
        });
      } finally {
        await server.close();
      }
    });
  }

  it("a range answered wrongly while the first connection is cut saves what was verified, and the retry finishes", async () => {
    const body = randomBody(SIZE);
    let first = true;
    const server = await startResourceServer({ body, etag: '"d2"' }, (req, honest) => {
      if (rangeOf(req) === null && first) {
        first = false;
        return { ...honest, cutAfter: 600_000, cutLingerMs: 100 };
      }
      return (rangeOf(req)?.start ?? 0) > 0 ? refusals[0]![1](honest) : honest;
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const error = await get(server.url, { dest, connections: 4 }).catch((e) => e);
        assert.ok(error instanceof PartialHaulError, String(error));
        assert.equal(error.retryable, true);
        const saved = await savedRanges(dest);
        assert.ok(error.validLength > 0, JSON.stringify(saved));
        let result: HaulResult | null = null;
        for (let attempt = 0; attempt < 4 && result === null; attempt++) {
          result = await get(server.url, { dest, connections: 4 }).catch(() => null);
        }
        assert.ok(result !== null, "the retries finished");
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(result.sha256, sha256(body));
        noSidecars(dest);
      });
    } finally {
      await server.close();
    }
  });

  it("a range answered once under another ETag is asked again: the call finishes with the file", async () => {
    // A balancer's other backend, say: another tag on the same bytes is no reason to start over.
    const body = randomBody(SIZE);
    let bent = 0;
    const server = await startResourceServer({ body, etag: '"r1"' }, (req, honest) => {
      if (rangeOf(req) !== null && bent === 0) {
        bent++;
        return { ...honest, headers: replace(honest, "ETag", '"other"') };
      }
      return honest;
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const result = await get(server.url, { dest, connections: 4 });
        assert.equal(bent, 1, "a range was answered under another ETag");
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(result.sha256, sha256(body));
        noSidecars(dest);
      });
    } finally {
      await server.close();
    }
  });

  it("a range cut mid-body stops the others, saves every range, and the next call resumes them", async () => {
    const body = randomBody(SIZE);
    let cut = true;
    const server = await startResourceServer({ body, etag: '"c1"' }, (req, honest) => {
      const range = rangeOf(req);
      if (cut && range !== null && range.start > 0) {
        cut = false;
        return { ...honest, cutAfter: 100_000, cutLingerMs: 100 };
      }
      return honest;
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const error = await get(server.url, { dest, connections: 4 }).catch((e) => e);
        assert.ok(error instanceof PartialHaulError, String(error));
        assert.equal(error.retryable, true);
        assert.equal(exists(dest), false);
        const ranges = await savedRanges(dest);
        const saved = ranges.reduce((sum, r) => sum + r.end - r.start, 0);
        assert.ok(saved > 0 && saved < body.length, JSON.stringify(ranges));
        assert.equal(error.validLength, saved);
        const before = server.requests.length;
        const result = await get(server.url, { dest, connections: 4 });
        assert.equal(result.resumedFrom, saved);
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(result.sha256, sha256(body));
        for (const req of server.requests.slice(before)) {
          const asked = rangeOf(req)!;
          assert.notEqual(asked, null, "a resume asks only ranges");
          for (const r of ranges) assert.ok(asked.end <= r.start || asked.start >= r.end);
        }
        noSidecars(dest);
      });
    } finally {
      await server.close();
    }
  });

  it("a file changed while several ranges wait starts over in the same call, once, as a one-range resume does", async () => {
    const v1 = randomBody(SIZE);
    const v2 = randomBody(SIZE + 1000);
    let version = 1;
    let cut = true;
    const server = await startResourceServer(
      () => version === 1 ? { body: v1, etag: '"v1"' } : { body: v2, etag: '"v2"' },
      (req, honest) => {
        const range = rangeOf(req);
        if (cut && range !== null && range.start > 0) {
          cut = false;
          return { ...honest, cutAfter: 100_000, cutLingerMs: 100 };
        }
        return honest;
      },
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        for (const connections of [4, 1]) {
          version = 1;
          cut = true;
          const saving = get(server.url, { dest, connections: 4, overwrite: true });
          await assert.rejects(saving, PartialHaulError);
          assert.ok((await savedRanges(dest)).length > 1);
          version = 2;
          const result = await get(server.url, { dest, connections, overwrite: true });
          assert.equal(result.resumedFrom, 0);
          assert.equal(result.size, v2.length);
          assert.equal(result.etag, '"v2"');
          assert.equal(result.sha256, sha256(v2));
          assert.deepEqual(await bytesOf(dest), v2);
          noSidecars(dest);
        }
      });
    } finally {
      await server.close();
    }
  });

  it("a download saved over several ranges resumes with connections 1, gap after gap", async () => {
    const body = randomBody(SIZE);
    let cut = true;
    const server = await startResourceServer({ body, etag: '"g1"' }, (req, honest) => {
      const range = rangeOf(req);
      if (cut && range !== null && range.start > 0) {
        cut = false;
        return { ...honest, cutAfter: 30_000, cutLingerMs: 100 };
      }
      return honest;
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        await assert.rejects(get(server.url, { dest, connections: 8 }), PartialHaulError);
        const ranges = await savedRanges(dest);
        const saved = ranges.reduce((sum, r) => sum + r.end - r.start, 0);
        assert.ok(saved > 0);
        const result = await get(server.url, { dest });
        assert.equal(result.resumedFrom, saved);
        assert.ok(result.connections <= 1);
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(result.sha256, sha256(body));
      });
    } finally {
      await server.close();
    }
  });

  it("every fault of the catalogue, one range each, never leaves a wrong file, and the download completes", async () => {
    const body = randomBody(SIZE);
    const faults: ((honest: Reply) => Reply)[] = [
      (honest) => ({ ...honest, cutAfter: 50_000, cutLingerMs: 50 }),
      ...refusals.map(([, bend]) => bend),
      (honest) => ({ ...honest, headers: replace(honest, "ETag", '"other"') }),
      (honest) => ({ ...honest, status: 503, body: "busy", headers: [["Retry-After", "0"]] }),
    ];
    let next = 0;
    const server = await startResourceServer({ body, etag: '"k1"' }, (req, honest) => {
      if (rangeOf(req) === null || next >= faults.length) return honest;
      return faults[next++]!(honest);
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        let result: HaulResult | null = null;
        for (let attempt = 0; attempt < 20 && result === null; attempt++) {
          try {
            result = await get(server.url, { dest, connections: 4 });
          } catch (error) {
            assert.ok(
              error instanceof PartialHaulError || error instanceof ContentRangeError ||
                error instanceof UnexpectedStatusError,
              String(error),
            );
            assert.equal((error as PartialHaulError).retryable, true);
            assert.equal(exists(dest), false);
          }
        }
        assert.ok(result !== null);
        assert.equal(next, faults.length, "every fault was served");
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(result.sha256, sha256(body));
        noSidecars(dest);
      });
    } finally {
      await server.close();
    }
  });

  it("a range answered 404 saves every range and rejects with a status no retry can help", async () => {
    const body = randomBody(SIZE);
    const server = await startResourceServer({ body, etag: '"g1"' }, (req, honest) => {
      const range = rangeOf(req);
      if (range === null) return { ...honest, bytesPerSecond: 2_000_000, chunkSize: 16 * 1024 };
      return range.start > body.length / 2 ? { status: 404, body: "gone" } : honest;
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const error = await get(server.url, { dest, connections: 4 }).catch((e) => e);
        assert.ok(error instanceof UnexpectedStatusError, String(error));
        assert.equal(error.status, 404);
        assert.equal(error.retryable, false);
        assert.equal(exists(dest), false);
      });
    } finally {
      await server.close();
    }
  });

  it("aborting saves every range; the next call resumes", async () => {
    const body = randomBody(SIZE);
    const server = await startResourceServer({ body, etag: '"a1"' }, (req, honest) => {
      return rangeOf(req) === null && server0.slow
        ? { ...honest, bytesPerSecond: 100_000 }
        : honest;
    });
    const server0 = { slow: true };
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const controller = new AbortController();
        const state = new HaulState();
        const reason = new Error("stop");
        const error = await get(server.url, {
          dest,
          connections: 4,
          signal: controller.signal,
          state,
          onProgress: (s) => {
            if (s.validLength > body.length / 2 && s.validLength < body.length) {
              controller.abort(reason);
            }
          },
        }).catch((e) => e);
        // The first range crawls (100 kB/s; its last range of a floor's size cannot be taken over): the abort always comes first.
        assert.equal(error, reason);
        const ranges = await savedRanges(dest);
        const saved = ranges.reduce((sum, r) => sum + r.end - r.start, 0);
        assert.ok(saved > 0);
        server0.slow = false;
        const result = await get(server.url, { dest, connections: 2 });
        assert.equal(result.resumedFrom, saved);
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(result.sha256, sha256(body));
      });
    } finally {
      await server.close();
    }
  });

  it("a connection that finishes takes over half of a slow range", async () => {
    const body = randomBody(SIZE);
    // Two connections take 8 ranges in file order; the last one crawls.
    const last = splitRanges(SIZE, 8, FLOOR).at(-1)!;
    const server = await startResourceServer({ body, etag: '"w1"' }, (req, honest) => {
      return rangeOf(req)?.start === last.start ? { ...honest, bytesPerSecond: 100_000 } : honest;
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const result = await get(server.url, { dest, connections: 2 });
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(result.sha256, sha256(body));
        const starts = server.requests.map(rangeOf).filter((r) => r !== null).map((r) => r!.start);
        assert.ok(
          starts.some((start) => start > last.start && start < SIZE),
          `no request inside the slow range ${last.start}-${last.end}: ${starts}`,
        );
      });
    } finally {
      await server.close();
    }
  });

  it("a one-connection checkpoint without a length resumes from its prefix, and splits once the 206 gives the length", async () => {
    const body = randomBody(SIZE);
    let cut = true;
    const server = await startResourceServer({ body, etag: '"n1"' }, (req, honest) => {
      if (req.headers["range"] === undefined && cut) {
        cut = false;
        return { ...honest, framing: "chunked", cutAfter: 300_000, cutLingerMs: 100 };
      }
      return honest;
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        await assert.rejects(get(server.url, { dest }), PartialHaulError);
        const ranges = await savedRanges(dest);
        assert.equal(ranges.length, 1);
        const before = server.requests.length;
        const result = await get(server.url, { dest, connections: 4 });
        assert.equal(result.resumedFrom, ranges[0]!.end);
        assert.equal(result.connections, 4);
        assert.equal(server.requests[before]!.headers["range"], `bytes=${ranges[0]!.end}-`);
        const asked = server.requests.slice(before + 1).map(rangeOf);
        assert.ok(
          asked.every((r) => r !== null && r.start > ranges[0]!.end),
          JSON.stringify(asked),
        );
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });

  it("a one-connection checkpoint with a length resumes its gap over several connections", async () => {
    const body = randomBody(SIZE);
    let cut = true;
    const server = await startResourceServer({ body, etag: '"p1"' }, (_req, honest) => {
      if (cut) {
        cut = false;
        return { ...honest, cutAfter: 300_000, cutLingerMs: 100 };
      }
      return honest;
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        await assert.rejects(get(server.url, { dest }), PartialHaulError);
        const [saved] = await savedRanges(dest);
        const before = server.requests.length;
        const result = await get(server.url, { dest, connections: 4 });
        assert.equal(result.resumedFrom, saved!.end);
        assert.equal(result.connections, 4);
        // The resume asks from the prefix, as over one connection; the rest is split.
        assert.equal(server.requests[before]!.headers["range"], `bytes=${saved!.end}-`);
        const asked = server.requests.slice(before + 1).map(rangeOf);
        assert.ok(asked.every((r) => r !== null && r.start > saved!.end), JSON.stringify(asked));
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(result.sha256, sha256(body));
      });
    } finally {
      await server.close();
    }
  });

  it("a disk that fills mid-download saves what every range made durable; the next call resumes", async () => {
    const body = randomBody(SIZE);
    const server = await startResourceServer({ body, etag: '"f1"' });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        let writes = 0;
        const fs = new FaultyFs(await defaultFs(), (call) => {
          if (call.op !== "write" || call.path !== `${dest}.part`) return null;
          return ++writes > 60 ? shimError("ENOSPC", call.path) : null;
        });
        const error = await get(server.url, { dest, connections: 4 }, { ...HOOKS, fs }).catch((
          e,
        ) => e);
        assert.ok(error instanceof DestinationError, String(error));
        assert.match(error.message, /disk is full/);
        assert.equal(exists(dest), false);
        const ranges = await savedRanges(dest);
        const saved = ranges.reduce((sum, r) => sum + r.end - r.start, 0);
        assert.ok(saved > 0 && saved < body.length);
        const result = await get(server.url, { dest, connections: 4 });
        assert.equal(result.resumedFrom, saved);
        assert.deepEqual(await bytesOf(dest), body);
        noSidecars(dest);
      });
    } finally {
      await server.close();
    }
  });

  it("checks integrity: a mismatch leaves nothing at dest", async () => {
    const body = randomBody(SIZE);
    const server = await startResourceServer({ body, etag: '"i1"' });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const wrong = `sha256:${"0".repeat(64)}`;
        await assert.rejects(
          get(server.url, { dest, connections: 4, integrity: wrong }),
          IntegrityError,
        );
        noSidecars(dest);
        const right = `sha256:${sha256(body)}`;
        const result = await get(server.url, { dest, connections: 4, integrity: right });
        assert.equal(result.connections, 4);
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });
});

function headerPairs(reply: Reply): [string, string][] {
  const headers = reply.headers ?? [];
  return Array.isArray(headers) ? [...headers] : Object.entries(headers);
}

function header(reply: Reply, name: string): string | undefined {
  return headerPairs(reply).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
}

function headersOf(reply: Reply, without: string[]): [string, string][] {
  const drop = without.map((name) => name.toLowerCase());
  return headerPairs(reply).filter(([key]) => !drop.includes(key.toLowerCase()));
}

function replace(reply: Reply, name: string, value: string): [string, string][] {
  return [...headersOf(reply, [name]), [name, value]];
}
