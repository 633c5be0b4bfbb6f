/**
 * Validators that change, or that are too weak or malformed to go in `If-Range`, on the answers
 * to a resume and to the ranges of several connections: never a spliced file, and a server whose
 * validators are merely odd is still downloaded (and streamed) to the end.
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ContentRangeError,
  HaulError,
  haulStream,
  ServerMisconfiguredError,
  StreamCutError,
} from "../../mod.ts";
import {
  type RecordedRequest,
  type Reply,
  type ResourceOptions,
  startResourceServer,
} from "../helpers/script_server.ts";
import {
  assertSafeOutcome,
  assertSucceeded,
  describeOutcome,
  haulWithRetries,
} from "../helpers/retry_loop.ts";
import { join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";
import { firstCutAfter } from "../helpers/cutting_fetch.ts";

const KiB = 1024;
const TIGHT = { blockSize: 64 * KiB, checkpointEvery: { bytes: 64 * KiB } };
/** A strong Last-Modified: long before any `Date` these servers send. */
const OLD = "Tue, 15 Nov 1994 12:45:26 GMT";

/** `reply` with a `Date` of now, unless `dated` is false. */
function dated(reply: Reply, when = true): Reply {
  const headers = Array.isArray(reply.headers) ? [...reply.headers] : [];
  if (when) headers.push(["Date", new Date().toUTCString()]);
  return { ...reply, headers };
}

/** Same length as `base`, other bytes. */
function altered(base: Uint8Array): Uint8Array {
  const copy = base.slice();
  for (let i = 0; i < copy.length; i += 4099) copy[i] = (copy[i]! + 1) & 0xff;
  return copy;
}

describe("validators on the answers to a resume", () => {
  const changes: {
    name: string;
    v1: Omit<ResourceOptions, "body">;
    v2: () => Omit<ResourceOptions, "body">;
    /** Whether the answers to v2 carry a `Date`. */
    v2Dated: boolean;
  }[] = [
    {
      name: "a Last-Modified changed to a date too recent to be strong (same second as Date)",
      v1: { etag: null, lastModified: OLD },
      v2: () => ({ etag: null, lastModified: new Date().toUTCString() }),
      v2Dated: true,
    },
    {
      name: "a Last-Modified changed, with no Date to make it strong",
      v1: { etag: null, lastModified: OLD },
      v2: () => ({ etag: null, lastModified: "Wed, 16 Nov 1994 12:45:26 GMT" }),
      v2Dated: false,
    },
    {
      name: "a strong ETag gone (RFC 9110 §15.3.7: a 206 repeats it)",
      v1: { etag: '"v1"' },
      v2: () => ({ etag: null }),
      v2Dated: true,
    },
    {
      name: "a strong Last-Modified gone",
      v1: { etag: null, lastModified: OLD },
      v2: () => ({ etag: null, lastModified: null }),
      v2Dated: true,
    },
    {
      name: "a strong ETag changed to a malformed (unquoted) one",
      v1: { etag: '"v1"' },
      v2: () => ({ etag: "v2" }),
      v2Dated: true,
    },
  ];
  for (const change of changes) {
    for (const connections of [1, 4]) {
      it(`${change.name}, from a server that ignores If-Range, is never spliced (${connections} connection${connections > 1 ? "s" : ""})`, async () => {
        const v1 = randomBody(768 * KiB);
        const v2 = altered(v1);
        let current: ResourceOptions = { body: v1, ...change.v1, honorIfRange: false };
        let v2Dated = true;
        const cut = firstCutAfter(300 * KiB);
        const server = await startResourceServer(
          () => current,
          (_req, honest) => dated(honest, v2Dated),
        );
        try {
          await withTempDir(async (dir) => {
            const dest = join(dir, "file.bin");
            const outcome = await haulWithRetries(
              server.url,
              // One connection cut at 300 KiB, then a resume with `connections`.
              (i) => ({ dest, ...TIGHT, connections: i === 0 ? 1 : connections, fetch: cut }),
              {
                server,
                maxAttempts: 6,
                hooks: { rangeFloor: 64 * KiB },
                beforeAttempt: (i) => {
                  if (i !== 1) return;
                  current = { body: v2, ...change.v2(), honorIfRange: false };
                  v2Dated = change.v2Dated;
                },
              },
            );
            await assertSucceeded(outcome, dest, v2);
            const resumed = outcome.attempts[1]!;
            if (resumed.requests.some((req) => req.headers["range"] !== undefined)) {
              const error = resumed.error;
              assert.ok(error instanceof ContentRangeError, describeOutcome(outcome));
              assert.equal(error.retryable, true);
              assert.equal(resumed.after, null, "the checkpoint of v1 was discarded");
            }
          });
        } finally {
          await server.close();
        }
      });
    }
  }
});

describe("an unquoted ETag beside a strong Last-Modified", () => {
  const resource = (body: Uint8Array): ResourceOptions => ({ body, etag: "v1", lastModified: OLD });
  const twist = (_req: RecordedRequest, honest: Reply): Reply => dated(honest);

  it("is downloaded over 4 connections, each range checked by the Last-Modified", async () => {
    const body = randomBody(1024 * KiB);
    const server = await startResourceServer(resource(body), twist);
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const outcome = await haulWithRetries(
          server.url,
          { dest, ...TIGHT, connections: 4 },
          { server, maxAttempts: 3, hooks: { rangeFloor: 64 * KiB } },
        );
        await assertSucceeded(outcome, dest, body);
        assert.equal(outcome.attempts.length, 1, describeOutcome(outcome));
        const ranges = server.requests.filter((req) => req.headers["range"] !== undefined);
        assert.ok(ranges.length >= 3, "the file was split");
        for (const req of ranges) assert.equal(req.headers["if-range"], OLD);
        await assertSafeOutcome(outcome, dest, body);
      });
    } finally {
      await server.close();
    }
  });

  it("is streamed on after a cut, resumed by the Last-Modified", async () => {
    const body = randomBody(300 * KiB);
    const server = await startResourceServer(resource(body), twist);
    try {
      // An exact cut (a cut on the wire may lose the bytes before it on Bun: then no resume).
      const stream = haulStream(server.url, { minDelayMs: 1, fetch: firstCutAfter(100 * KiB) });
      const got = new Uint8Array(await new Response(stream).arrayBuffer());
      assert.equal(sha256(got), sha256(body));
      assert.equal(server.requests.length, 2);
      assert.equal(server.requests[1]!.headers["range"], `bytes=${100 * KiB}-${body.length - 1}`);
      assert.equal(server.requests[1]!.headers["if-range"], OLD);
    } finally {
      await server.close();
    }
  });
});

describe("a 200 to a resume under the same strong validator, of another length", () => {
  for (const validator of ["ETag", "Last-Modified"] as const) {
    it(`(${validator}) is the tail or a lie, never the file: reset, and the next call lands the file`, async () => {
      // A server that applies the Range but labels the tail 200 (with its length), every time.
      const body = randomBody(768 * KiB);
      const server = await startResourceServer(
        validator === "ETag" ? { body } : { body, etag: null, lastModified: OLD },
        (req, honest) => {
          const reply = dated(honest);
          return req.headers["range"] !== undefined ? { ...reply, status: 200 } : reply;
        },
      );
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "file.bin");
          const cut = firstCutAfter(300 * KiB);
          const outcome = await haulWithRetries(server.url, { dest, ...TIGHT, fetch: cut }, {
            server,
            maxAttempts: 4,
          });
          await assertSucceeded(outcome, dest, body);
          const refused = outcome.attempts[1]!.error;
          assert.ok(refused instanceof ServerMisconfiguredError, describeOutcome(outcome));
          assert.equal(refused.retryable, true);
          assert.match(refused.message, /of \d+ bytes for a file of 786432:/);
          assert.equal(outcome.attempts[1]!.after, null, "the checkpoint was discarded");
          assert.equal(outcome.attempts.length, 3, describeOutcome(outcome));
        });
      } finally {
        await server.close();
      }
    });
  }
});

describe("a 200 to a resume under the same strong validator, where a length is unknown", () => {
  // The tail as a 200 (a server that applies the Range but labels it so), to a file first sent
  // with or without a length: either the 200's length or the file's is unknown, so nothing shows
  // whether the 200 is the whole file or its tail.
  const cases = [
    { file: "length", tail: "chunked", connections: 1 },
    { file: "length", tail: "chunked", connections: 4 },
    { file: "chunked", tail: "chunked", connections: 1 },
    { file: "chunked", tail: "length", connections: 1 },
  ] as const;
  for (const { file, tail, connections } of cases) {
    it(`(file ${file}, 200 ${tail}) may be the tail only: never the file; the next call starts over (${connections} connection${connections > 1 ? "s" : ""})`, async () => {
      const body = randomBody(768 * KiB);
      const server = await startResourceServer({ body }, (req, honest) => {
        if (req.headers["range"] === undefined) return { ...honest, framing: file };
        if (!req.headers["range"].endsWith("-")) return honest; // the ranges of 4 connections
        const headers = (honest.headers as [string, string][]).filter(([name]) =>
          name !== "Content-Range"
        );
        return { ...honest, status: 200, headers, framing: tail };
      });
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "file.bin");
          const cut = firstCutAfter(300 * KiB);
          const outcome = await haulWithRetries(
            server.url,
            (i) => ({ dest, ...TIGHT, connections: i === 0 ? 1 : connections, fetch: cut }),
            { server, maxAttempts: 4, hooks: { rangeFloor: 64 * KiB } },
          );
          await assertSucceeded(outcome, dest, body);
          const refused = outcome.attempts[1]!.error;
          assert.ok(refused instanceof ServerMisconfiguredError, describeOutcome(outcome));
          assert.equal(refused.retryable, true);
          assert.equal(outcome.attempts[1]!.after, null, "the checkpoint was discarded");
        });
      } finally {
        await server.close();
      }
    });
  }
});

describe("further ranges answered under the weak form of the file's strong ETag", () => {
  it("are refused, not reset: 4 connections finish, the first carrying the rest", async () => {
    // A proxy that weakens the ETag of the answers it forwards for ranges (the first it caches).
    const body = randomBody(768 * KiB);
    const server = await startResourceServer({ body, etag: '"v1"' }, (req, honest) => {
      if (req.headers["range"] === undefined) return honest;
      const headers = (honest.headers as [string, string][]).map(([name, value]): [
        string,
        string,
      ] => name === "ETag" ? [name, 'W/"v1"'] : [name, value]);
      return { ...honest, headers };
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const outcome = await haulWithRetries(
          server.url,
          { dest, ...TIGHT, connections: 4 },
          { server, maxAttempts: 1, hooks: { rangeFloor: 64 * KiB } },
        );
        await assertSucceeded(outcome, dest, body);
        assert.ok(server.requests.length > 1, "ranges were asked");
      });
    } finally {
      await server.close();
    }
  });
});

describe("an ETag or a Content-Type longer than a checkpoint holds (4096 bytes)", () => {
  for (const connections of [1, 4]) {
    it(`is downloaded after a cut, the over-long ETag no validator (${connections} connection${connections > 1 ? "s" : ""})`, async () => {
      const body = randomBody(768 * KiB);
      const etag = `"${"e".repeat(8500)}"`; // Node's fetch takes at most 16 KiB of headers
      const contentType = `application/x-${"t".repeat(4500)}`;
      const server = await startResourceServer({ body, etag, contentType });
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "file.bin");
          const cut = firstCutAfter(300 * KiB);
          const outcome = await haulWithRetries(
            server.url,
            { dest, ...TIGHT, connections, fetch: cut },
            { server, maxAttempts: 3, hooks: { rangeFloor: 64 * KiB } },
          );
          await assertSucceeded(outcome, dest, body);
          assert.ok(outcome.attempts[0]!.error instanceof HaulError, describeOutcome(outcome));
        });
      } finally {
        await server.close();
      }
    });
  }
});

describe("answers to further ranges, or to a stream's resume, without the file's validator", () => {
  it("are refused over 4 connections: the first connection carries the rest of its version", async () => {
    // The file changes after the first answer; the server ignores If-Range and sends no ETag.
    const v1 = randomBody(1024 * KiB);
    const v2 = altered(v1);
    const server = await startResourceServer(
      (req) =>
        req.headers["range"] === undefined
          ? { body: v1, etag: '"v1"' }
          : { body: v2, etag: null, honorIfRange: false },
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const outcome = await haulWithRetries(
          server.url,
          { dest, ...TIGHT, connections: 4 },
          { server, maxAttempts: 1, hooks: { rangeFloor: 64 * KiB } },
        );
        await assertSucceeded(outcome, dest, v1);
        assert.ok(server.requests.length > 1, "ranges were asked");
      });
    } finally {
      await server.close();
    }
  });

  it("ends a stream instead of giving bytes of another version", async () => {
    const v1 = randomBody(300 * KiB);
    const v2 = altered(v1);
    const server = await startResourceServer((req) =>
      req.index === 0 ? { body: v1, etag: '"v1"' } : { body: v2, etag: null, honorIfRange: false }
    );
    try {
      const reader = haulStream(server.url, { minDelayMs: 1, fetch: firstCutAfter(100 * KiB) })
        .getReader();
      const chunks: Uint8Array[] = [];
      const error = await (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return null;
          chunks.push(value);
        }
      })().catch((caught: unknown) => caught);
      assert.ok(error instanceof StreamCutError, String(error));
      const given = new Uint8Array(chunks.flatMap((chunk) => [...chunk]));
      assert.equal(given.length, 100 * KiB);
      assert.equal(sha256(given), sha256(v1.subarray(0, given.length)), "only bytes of v1");
    } finally {
      await server.close();
    }
  });
});
