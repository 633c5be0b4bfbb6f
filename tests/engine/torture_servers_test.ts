/**
 * The misbehaving-server catalogue: `haul()` called in a caller's retry loop
 * against loopback servers that cut, stall, lie, compress, mislabel and change
 * the file between attempts. Every test asserts haul's promise — either `dest`
 * holds exactly the expected bytes, or every attempt failed with a typed error
 * and nothing is at `dest` — plus the request headers that matter (`Range`
 * starts at the durable cursor; never a weak ETag in `If-Range`).
 *
 * Every scenario that one connection finishes runs again with four
 * connections (`finishes()`, with a range floor small enough to split these
 * bodies), where the promise asserted is the right file at `dest`.
 *
 * See docs/reliability.md for the table of scenarios.
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { Buffer } from "node:buffer";
import {
  ContentRangeError,
  type FetchLike,
  type HaulOptions,
  HaulState,
  IntegrityError,
  isRetryable,
  PartialHaulError,
  ServerMisconfiguredError,
  UnexpectedStatusError,
} from "../../mod.ts";
import {
  honestReply,
  type RecordedRequest,
  type Reply,
  type ResourceOptions,
  type ScriptServer,
  startResourceServer,
  startScriptServer,
} from "../helpers/script_server.ts";
import {
  allRequests,
  assertFailedSafely,
  assertRangesFollowCheckpoint,
  assertSafeOutcome,
  assertSucceeded,
  describeOutcome,
  haulWithRetries,
  type LoopOutcome,
  type LoopSettings,
  rangeStart,
} from "../helpers/retry_loop.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";
import { assertIdentityOnly } from "../helpers/accept_encoding.ts";

const KiB = 1024;
const BLOCK = 64 * KiB;
/** Small verification blocks and frequent checkpoints: every cut leaves progress behind. */
const TIGHT = { blockSize: BLOCK, checkpointEvery: { bytes: 64 * KiB } };

/** A range floor that splits this catalogue's bodies (a few hundred KiB to 2 MiB). */
const SPLIT = { rangeFloor: 64 * KiB };

/** One run of a finishing scenario: over one connection (every assertion), or four (the file). */
interface Run {
  /** Several connections: only the right file at `dest` is asserted. */
  readonly several: boolean;
  /** {@link haulWithRetries} with this run's connections. */
  readonly loop: typeof haulWithRetries;
  /**
   * {@link assertSucceeded}; with several connections the version served
   * before the change (`earlier`) also counts: a cut of the first response
   * no longer stops the first call.
   */
  readonly succeeded: (
    outcome: LoopOutcome,
    dest: string,
    expected: Uint8Array,
    earlier: Uint8Array,
  ) => Promise<NonNullable<LoopOutcome["result"]>>;
}

/** A scenario that one connection finishes: run as written, then with four connections. */
function finishes(name: string, scenario: (run: Run) => Promise<void>): void {
  for (const connections of [1, 4]) {
    const loop = (
      url: string | URL | Request,
      options: HaulOptions | ((attempt: number) => HaulOptions),
      settings: LoopSettings = {},
    ): Promise<LoopOutcome> => {
      if (connections === 1) return haulWithRetries(url, options, settings);
      const withConnections = (chosen: HaulOptions) => ({ ...chosen, connections });
      return haulWithRetries(
        url,
        typeof options === "function"
          ? (attempt) => withConnections(options(attempt))
          : withConnections(options),
        { ...settings, hooks: SPLIT },
      );
    };
    const label = connections === 1 ? name : `${name} (${connections} connections)`;
    const succeeded = async (
      outcome: LoopOutcome,
      dest: string,
      expected: Uint8Array,
      earlier: Uint8Array,
    ): Promise<NonNullable<LoopOutcome["result"]>> => {
      if (connections === 1) return await assertSucceeded(outcome, dest, expected);
      assert.equal(outcome.stoppedBy, "success", describeOutcome(outcome));
      await assertSafeOutcome(outcome, dest, [expected, earlier]);
      return outcome.result!;
    };
    it(label, () => scenario({ several: connections > 1, loop, succeeded }));
  }
}

/**
 * The caller's 300 ms timeout (a `TimeoutError`, as `AbortSignal.timeout` gives), counted from the
 * moment `state` holds `bytes` (where the body stalls), or from 5 s on if it never does: counted
 * from the call, it fired before the first 200 KiB had arrived on a loaded machine.
 */
function timeoutFromStall(state: HaulState, bytes: number): AbortSignal {
  const controller = new AbortController();
  const started = Date.now();
  const poll = setInterval(() => {
    if (state.validLength < bytes && Date.now() - started < 5_000) return;
    clearInterval(poll);
    setTimeout(() => controller.abort(new DOMException("Timed out", "TimeoutError")), 300);
  }, 5);
  return controller.signal;
}

/** Runs `fn` with a destination in a fresh temporary directory; always closes `server`. */
async function served(server: ScriptServer, fn: (dest: string) => Promise<void>): Promise<void> {
  try {
    await withTempDir((dir) => fn(join(dir, "file.bin")));
  } finally {
    await server.close();
  }
}

/**
 * A response whose body breaks with a network `TypeError` after exactly
 * `limit` bytes (also when `limit` is the whole body: the error then comes
 * after the last byte). Runtimes differ in how many bytes they hand over
 * before a real socket error; this cut is exact on every runtime.
 */
function cutBody(response: Response, limit: number): Response {
  const source = response.body;
  if (source === null) return response;
  const reader = source.getReader();
  let passed = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (passed >= limit) {
        await reader.cancel().catch(() => {});
        controller.error(new TypeError(`connection cut after ${limit} bytes (simulated)`));
        return;
      }
      const chunk = await reader.read();
      if (chunk.done) {
        controller.close();
        return;
      }
      const take = chunk.value.subarray(0, Math.min(chunk.value.length, limit - passed));
      passed += take.length;
      controller.enqueue(take);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

/** A `fetch` that cuts the body of its `call`-th response after `cutAt(call)` bytes (`null`: no cut). */
function cuttingFetch(cutAt: (call: number) => number | null): FetchLike {
  let calls = 0;
  return async (request) => {
    const limit = cutAt(calls++);
    const response = await fetch(request);
    return limit === null ? response : cutBody(response, limit);
  };
}

/** A `fetch` whose first response is cut after `bytes` bytes; later ones pass through. */
function firstCutAfter(bytes: number): FetchLike {
  return cuttingFetch((call) => (call === 0 ? bytes : null));
}

/** `reply` with headers replaced (`null` removes), matched case-insensitively, new ones appended. */
function withHeaders(reply: Reply, changes: Record<string, string | null>): Reply {
  const pairs = Array.isArray(reply.headers)
    ? [...reply.headers]
    : Object.entries(reply.headers ?? {});
  const lower = new Map(
    Object.entries(changes).map(([k, v]) => [k.toLowerCase(), [k, v]] as const),
  );
  const kept = pairs.filter(([name]) => !lower.has(name.toLowerCase()));
  for (const [name, value] of lower.values()) if (value !== null) kept.push([name, value]);
  return { ...reply, headers: kept };
}

/** Whether `req` asks for a range. */
function isRange(req: RecordedRequest): boolean {
  return req.headers["range"] !== undefined;
}

/** Compressible bytes, as a CDN would gzip: text with counters. */
function textBody(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  const encoder = new TextEncoder();
  let offset = 0;
  for (let line = 0; offset < size; line++) {
    const text = encoder.encode(`line ${line}: the quick brown fox jumps over the lazy dog\n`);
    bytes.set(text.subarray(0, Math.min(text.length, size - offset)), offset);
    offset += text.length;
  }
  return bytes;
}

/** A body of `size` bytes equal to `base` except in a few places (same length, new bytes). */
function alteredCopy(base: Uint8Array): Uint8Array {
  const copy = base.slice();
  for (let i = 0; i < copy.length; i += 4099) copy[i] = (copy[i]! + 1) & 0xff;
  return copy;
}

/** The error of attempt `i`, asserted to be an instance of `kind`. */
function errorOf<T>(
  outcome: LoopOutcome,
  i: number,
  kind: abstract new (...args: never[]) => T,
): T {
  const error = outcome.attempts[i]?.error;
  assert.ok(
    error instanceof kind,
    `attempt ${i}: expected ${kind.name}\n${describeOutcome(outcome)}`,
  );
  return error;
}

/**
 * When attempt `i` asked for a range (haul may also decline to resume without a
 * strong validator), the changed resource must have been refused and the
 * checkpoint reset.
 */
function assertRefusedIfResumed(outcome: LoopOutcome, i: number): void {
  const attempt = outcome.attempts[i]!;
  if (!attempt.requests.some(isRange)) return;
  const refused = errorOf(outcome, i, ContentRangeError);
  assert.equal(refused.retryable, true);
  assert.equal(attempt.after, null, "checkpoint kept after a refused resume");
}

/** A server switching from `first` to `second` when `switchNow()` is called. */
function versions(first: ResourceOptions, second: ResourceOptions) {
  let current = first;
  return {
    resource: (): ResourceOptions => current,
    switchNow: (): void => {
      current = second;
    },
  };
}

describe("haul() against misbehaving servers", () => {
  describe("connections cut mid-body", () => {
    for (const framing of ["length", "chunked"] as const) {
      finishes(
        `finishes a 2 MiB file cut every 160 KiB (${framing} framing) by resuming many times in a row`,
        async (run) => {
          const body = randomBody(2 * 1024 * KiB + 123);
          const etag = '"cuts-1"';
          // Paced like a real link: Bun drops body bytes that arrive together with a
          // connection reset, so an unpaced loopback burst would leave it no progress.
          const server = await startResourceServer({ body, etag }, (_req, honest) => ({
            ...honest,
            framing,
            chunkSize: 16 * KiB,
            bytesPerSecond: 32 * 1024 * KiB,
            // Cut only bodies longer than 160 KiB: a chunked reply cut at its end would
            // lose its zero chunk every time and never finish by itself.
            ...((honest.body as Uint8Array).length > 160 * KiB ? { cutAfter: 160 * KiB } : {}),
          }));
          await served(server, async (dest) => {
            const outcome = await run.loop(server.url, { dest, ...TIGHT }, { server });
            await assertSucceeded(outcome, dest, body);
            if (run.several) return; // with four connections, the right file is the promise
            assertRangesFollowCheckpoint(outcome);
            const resumes = allRequests(outcome).filter((req) => rangeStart(req) !== null);
            assert.ok(
              resumes.length >= 8,
              `only ${resumes.length} resumes\n${describeOutcome(outcome)}`,
            );
            for (const req of resumes) assert.equal(req.headers["if-range"], etag);
            for (const attempt of outcome.attempts.slice(0, -1)) {
              assert.ok(attempt.error instanceof PartialHaulError, describeOutcome(outcome));
              // Progress never goes backwards with an honest server.
              assert.ok((attempt.after?.cursor ?? 0) >= (attempt.before?.cursor ?? 0));
              assert.equal(attempt.error.validLength, attempt.after?.cursor ?? 0);
            }
          });
        },
      );
    }

    finishes(
      "never splices when the server ignores Range and answers 200 in full, cut a little later each time",
      async (run) => {
        const body = randomBody(1024 * KiB);
        const cuts: number[] = [];
        const server = await startResourceServer({ body, honorRange: false }, (req, honest) => {
          const cut = (req.index + 1) * 300 * KiB;
          cuts.push(cut);
          return { ...honest, cutAfter: cut };
        });
        await served(server, async (dest) => {
          const outcome = await run.loop(server.url, { dest, ...TIGHT }, { server });
          const result = await assertSucceeded(outcome, dest, body);
          if (run.several) return; // with four connections, the right file is the promise
          assertRangesFollowCheckpoint(outcome);
          assert.equal(result.status, 200);
          assert.equal(result.resumedFrom, 0);
          for (const attempt of outcome.attempts.slice(0, -1)) {
            // What is durable after a cut 200 is only what that response carried.
            const cut = cuts[attempt.requests[0]!.index]!;
            assert.ok((attempt.after?.cursor ?? 0) <= cut, describeOutcome(outcome));
          }
        });
      },
    );

    it("fails every attempt, placing nothing, when the server ignores Range and always cuts at the same byte", async () => {
      const body = randomBody(512 * KiB);
      const server = await startResourceServer(
        { body, honorRange: false },
        (_req, honest) => ({ ...honest, cutAfter: 200 * KiB }),
      );
      await served(server, async (dest) => {
        const outcome = await haulWithRetries(server.url, { dest, ...TIGHT }, {
          server,
          maxAttempts: 8,
        });
        assert.equal(outcome.stoppedBy, "exhausted");
        await assertFailedSafely(outcome, dest);
        assertRangesFollowCheckpoint(outcome);
        for (const attempt of outcome.attempts) {
          assert.ok(attempt.error instanceof PartialHaulError);
          assert.ok((attempt.after?.cursor ?? 0) <= 200 * KiB, "progress accumulated across 200s");
        }
      });
    });
  });

  describe("a resource that changes between attempts", () => {
    for (const newSize of [768 * KiB, 700 * KiB]) {
      finishes(
        `downloads the new version (${
          newSize === 768 * KiB ? "same" : "other"
        } length) when the server honours If-Range`,
        async (run) => {
          const v1 = randomBody(768 * KiB);
          const v2 = randomBody(newSize);
          const server = versions({ body: v1, etag: '"v1"' }, { body: v2, etag: '"v2"' });
          const http = await startResourceServer(server.resource);
          await served(http, async (dest) => {
            const outcome = await run.loop(
              http.url,
              { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
              { server: http, beforeAttempt: (i) => i === 1 ? server.switchNow() : undefined },
            );
            const result = await run.succeeded(outcome, dest, v2, v1);
            if (run.several) return; // with four connections, the right file is the promise
            assertRangesFollowCheckpoint(outcome);
            assert.equal(outcome.attempts.length, 2);
            const resume = outcome.attempts[1]!.requests[0]!;
            assert.equal(resume.headers["range"], `bytes=${300 * KiB}-`);
            assert.equal(resume.headers["if-range"], '"v1"');
            assert.equal(result.status, 200);
            assert.equal(result.resumedFrom, 0);
            assert.equal(result.etag, '"v2"');
          });
        },
      );
    }

    for (const newSize of [768 * KiB, 900 * KiB]) {
      finishes(
        `refuses the new version's 206 (${
          newSize === 768 * KiB ? "same" : "other"
        } length) from a server ignoring If-Range, then downloads it whole`,
        async (run) => {
          const v1 = randomBody(768 * KiB);
          const v2 = randomBody(newSize);
          const server = versions(
            { body: v1, etag: '"v1"', honorIfRange: false },
            { body: v2, etag: '"v2"', honorIfRange: false },
          );
          const http = await startResourceServer(server.resource);
          await served(http, async (dest) => {
            const outcome = await run.loop(
              http.url,
              { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
              { server: http, beforeAttempt: (i) => i === 1 ? server.switchNow() : undefined },
            );
            await run.succeeded(outcome, dest, v2, v1);
            if (run.several) return; // with four connections, the right file is the promise
            assertRangesFollowCheckpoint(outcome);
            const refused = errorOf(outcome, 1, ContentRangeError);
            assert.equal(refused.retryable, true);
            assert.equal(outcome.attempts[1]!.after, null, "checkpoint not reset");
            assert.equal(outcome.attempts[2]!.requests[0]!.headers["range"], undefined);
          });
        },
      );
    }
  });

  describe("weak ETags", () => {
    finishes(
      "never sends If-Range with a weak ETag and still ends with the right file from an honest server",
      async (run) => {
        const body = randomBody(768 * KiB);
        const server = await startResourceServer({ body, etag: 'W/"weak-1"' });
        await served(server, async (dest) => {
          const outcome = await run.loop(
            server.url,
            { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
            { server },
          );
          await assertSucceeded(outcome, dest, body);
          if (run.several) return; // with four connections, the right file is the promise
          assertRangesFollowCheckpoint(outcome);
          for (const req of allRequests(outcome)) assert.equal(req.headers["if-range"], undefined);
        });
      },
    );

    finishes("starts over when the weak ETag changes between attempts", async (run) => {
      const v1 = randomBody(768 * KiB);
      const v2 = alteredCopy(v1);
      const server = versions({ body: v1, etag: 'W/"a"' }, { body: v2, etag: 'W/"b"' });
      const http = await startResourceServer(server.resource);
      await served(http, async (dest) => {
        const outcome = await run.loop(
          http.url,
          { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
          { server: http, beforeAttempt: (i) => i === 1 ? server.switchNow() : undefined },
        );
        await assertSucceeded(outcome, dest, v2);
        if (run.several) return; // with four connections, the right file is the promise
        assertRangesFollowCheckpoint(outcome);
        for (const req of allRequests(outcome)) assert.equal(req.headers["if-range"], undefined);
      });
    });

    finishes("starts over when the length changes under the same weak ETag", async (run) => {
      const v1 = randomBody(768 * KiB);
      const v2 = randomBody(769 * KiB);
      const server = versions({ body: v1, etag: 'W/"same"' }, { body: v2, etag: 'W/"same"' });
      const http = await startResourceServer(server.resource);
      await served(http, async (dest) => {
        const outcome = await run.loop(
          http.url,
          { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
          { server: http, beforeAttempt: (i) => i === 1 ? server.switchNow() : undefined },
        );
        await assertSucceeded(outcome, dest, v2);
        if (run.several) return; // with four connections, the right file is the promise
        assertRangesFollowCheckpoint(outcome);
        assertRefusedIfResumed(outcome, 1);
      });
    });

    it("never combines two same-length representations that share a weak ETag", async () => {
      // RFC 9110 §15.3.7.3: partial responses may be combined only when they share a
      // strong validator. Nothing in the 206 tells these two versions apart, so the
      // only safe course is not to splice onto a prefix validated by a weak ETag.
      const v1 = randomBody(768 * KiB);
      const v2 = alteredCopy(v1);
      const server = versions({ body: v1, etag: 'W/"same"' }, { body: v2, etag: 'W/"same"' });
      const http = await startResourceServer(server.resource);
      await served(http, async (dest) => {
        const outcome = await haulWithRetries(
          http.url,
          { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
          { server: http, beforeAttempt: (i) => i === 1 ? server.switchNow() : undefined },
        );
        assertRangesFollowCheckpoint(outcome);
        await assertSafeOutcome(outcome, dest, v2);
      });
    });

    it("refuses, when the caller gives integrity, a splice of two representations sharing a weak ETag", async () => {
      const v1 = randomBody(768 * KiB);
      const v2 = alteredCopy(v1);
      const server = versions({ body: v1, etag: 'W/"same"' }, { body: v2, etag: 'W/"same"' });
      const http = await startResourceServer(server.resource);
      await served(http, async (dest) => {
        const outcome = await haulWithRetries(
          http.url,
          {
            dest,
            ...TIGHT,
            fetch: firstCutAfter(300 * KiB),
            integrity: `sha256:${sha256(v2)}`,
          },
          { server: http, beforeAttempt: (i) => i === 1 ? server.switchNow() : undefined },
        );
        assertRangesFollowCheckpoint(outcome);
        const verdict = await assertSafeOutcome(outcome, dest, v2);
        if (verdict === "failure") {
          assert.ok(outcome.attempts.at(-1)!.error instanceof IntegrityError);
          assert.equal(exists(`${dest}.part`), false);
        }
      });
    });
  });

  describe("Last-Modified and no validator at all", () => {
    const lastModified = "Tue, 15 Nov 1994 12:45:26 GMT";
    const dated = (_req: RecordedRequest, honest: Reply): Reply =>
      withHeaders(honest, { Date: new Date().toUTCString() });

    finishes(
      "sends a Last-Modified made strong by a later Date in If-Range, and resumes",
      async (run) => {
        const body = randomBody(768 * KiB);
        const server = await startResourceServer({ body, etag: null, lastModified }, dated);
        await served(server, async (dest) => {
          const outcome = await run.loop(
            server.url,
            { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
            { server },
          );
          const result = await assertSucceeded(outcome, dest, body);
          if (run.several) return; // with four connections, the right file is the promise
          assertRangesFollowCheckpoint(outcome);
          const resume = outcome.attempts[1]!.requests[0]!;
          assert.equal(resume.headers["range"], `bytes=${300 * KiB}-`);
          assert.equal(resume.headers["if-range"], lastModified);
          assert.equal(result.status, 206);
          assert.equal(result.resumedFrom, 300 * KiB);
        });
      },
    );

    finishes(
      "downloads the new version when a strong Last-Modified changes and the server honours If-Range",
      async (run) => {
        const v1 = randomBody(768 * KiB);
        const v2 = alteredCopy(v1);
        const server = versions(
          { body: v1, etag: null, lastModified },
          { body: v2, etag: null, lastModified: "Wed, 16 Nov 1994 12:45:26 GMT" },
        );
        const http = await startResourceServer(server.resource, dated);
        await served(http, async (dest) => {
          const outcome = await run.loop(
            http.url,
            { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
            { server: http, beforeAttempt: (i) => i === 1 ? server.switchNow() : undefined },
          );
          const result = await run.succeeded(outcome, dest, v2, v1);
          if (run.several) return; // with four connections, the right file is the promise
          assertRangesFollowCheckpoint(outcome);
          assert.equal(outcome.attempts[1]!.requests[0]!.headers["if-range"], lastModified);
          assert.equal(result.status, 200);
        });
      },
    );

    finishes(
      "sends no If-Range for a Last-Modified without Date, and ends with the right file from an honest server",
      async (run) => {
        const body = randomBody(768 * KiB);
        const server = await startResourceServer({ body, etag: null, lastModified });
        await served(server, async (dest) => {
          const outcome = await run.loop(
            server.url,
            { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
            { server },
          );
          await assertSucceeded(outcome, dest, body);
          if (run.several) return; // with four connections, the right file is the promise
          assertRangesFollowCheckpoint(outcome);
          for (const req of allRequests(outcome)) assert.equal(req.headers["if-range"], undefined);
        });
      },
    );

    it("notices a changed Last-Modified on a resume even when it was too weak for If-Range", async () => {
      // No Date: the Last-Modified cannot go in If-Range, but a different value on the
      // 206 still proves the bytes changed. Splicing v2's tail onto v1's head is wrong.
      const v1 = randomBody(768 * KiB);
      const v2 = alteredCopy(v1);
      const server = versions(
        { body: v1, etag: null, lastModified },
        { body: v2, etag: null, lastModified: "Wed, 16 Nov 1994 12:45:26 GMT" },
      );
      const http = await startResourceServer(server.resource);
      await served(http, async (dest) => {
        const outcome = await haulWithRetries(
          http.url,
          { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
          { server: http, beforeAttempt: (i) => i === 1 ? server.switchNow() : undefined },
        );
        assertRangesFollowCheckpoint(outcome);
        await assertSafeOutcome(outcome, dest, v2);
      });
    });

    finishes(
      "ends with the right file from an honest server that sends no validator at all",
      async (run) => {
        const body = randomBody(768 * KiB);
        const server = await startResourceServer({ body, etag: null });
        await served(server, async (dest) => {
          const outcome = await run.loop(
            server.url,
            { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
            { server },
          );
          await assertSucceeded(outcome, dest, body);
          if (run.several) return; // with four connections, the right file is the promise
          assertRangesFollowCheckpoint(outcome);
          for (const req of allRequests(outcome)) assert.equal(req.headers["if-range"], undefined);
        });
      },
    );

    finishes("starts over when the length changes and there is no validator", async (run) => {
      const v1 = randomBody(768 * KiB);
      const v2 = randomBody(800 * KiB);
      const server = versions({ body: v1, etag: null }, { body: v2, etag: null });
      const http = await startResourceServer(server.resource);
      await served(http, async (dest) => {
        const outcome = await run.loop(
          http.url,
          { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
          { server: http, beforeAttempt: (i) => i === 1 ? server.switchNow() : undefined },
        );
        await assertSucceeded(outcome, dest, v2);
        if (run.several) return; // with four connections, the right file is the promise
        assertRangesFollowCheckpoint(outcome);
        assertRefusedIfResumed(outcome, 1);
      });
    });

    it("never combines two same-length representations when there is no validator", async () => {
      // Without a strong validator a resume is a guess (RFC 9110 §15.3.7.3): the 206
      // of v2 is indistinguishable from one of v1.
      const v1 = randomBody(768 * KiB);
      const v2 = alteredCopy(v1);
      const server = versions({ body: v1, etag: null }, { body: v2, etag: null });
      const http = await startResourceServer(server.resource);
      await served(http, async (dest) => {
        const outcome = await haulWithRetries(
          http.url,
          { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
          { server: http, beforeAttempt: (i) => i === 1 ? server.switchNow() : undefined },
        );
        assertRangesFollowCheckpoint(outcome);
        await assertSafeOutcome(outcome, dest, v2);
      });
    });
  });

  describe("Content-Encoding despite Accept-Encoding: identity", () => {
    for (const shape of ["a 206 of the gzipped slice", "a 200 of the gzipped file"] as const) {
      finishes(
        `discards progress when a resume is answered with ${shape}, then downloads uncompressed`,
        async (run) => {
          const body = textBody(768 * KiB);
          const server = await startResourceServer({ body, etag: '"t1"' }, (req, honest) => {
            if (!isRange(req)) return honest;
            const start = rangeStart(req)!;
            const gz = gzipSync(shape.startsWith("a 206") ? body.subarray(start) : body);
            const reply = withHeaders(honest, {
              "Content-Encoding": "gzip",
              "Vary": "Accept-Encoding",
            });
            return shape.startsWith("a 206")
              ? { ...reply, body: gz }
              : { ...withHeaders(reply, { "Content-Range": null }), status: 200, body: gz };
          });
          await served(server, async (dest) => {
            const outcome = await run.loop(
              server.url,
              { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
              { server },
            );
            await assertSucceeded(outcome, dest, body);
            if (run.several) return; // with four connections, the right file is the promise
            assertRangesFollowCheckpoint(outcome);
            const refused = errorOf(outcome, 1, ServerMisconfiguredError);
            assert.equal(refused.retryable, true);
            assert.equal(outcome.attempts[1]!.after, null, "checkpoint kept after a gzip resume");
            for (const req of allRequests(outcome)) {
              assertIdentityOnly(req.headers["accept-encoding"]);
              assert.equal(req.headers["cache-control"], "no-transform");
            }
          });
        },
      );
    }

    it("fails without placing a file when every response is gzipped despite Accept-Encoding: identity", async () => {
      const body = textBody(256 * KiB);
      const server = await startResourceServer({ body }, (_req, honest) => ({
        ...withHeaders(honest, { "Content-Encoding": "gzip", "Content-Range": null }),
        status: 200,
        body: gzipSync(body),
      }));
      await served(server, async (dest) => {
        const outcome = await haulWithRetries(server.url, { dest, ...TIGHT }, { server });
        await assertFailedSafely(outcome, dest);
        assert.equal(outcome.stoppedBy, "not-retryable");
        assert.equal(outcome.attempts.length, 1);
        assert.equal(errorOf(outcome, 0, ServerMisconfiguredError).retryable, false);
        assertIdentityOnly(server.requests[0]!.headers["accept-encoding"]);
      });
    });
  });

  describe("chunked bodies and unknown totals", () => {
    for (const shape of ["three whole chunks", "every byte"] as const) {
      finishes(
        `treats a chunked body carrying ${shape} but no zero chunk as a cut, never as the end`,
        async (run) => {
          const body = randomBody(512 * KiB);
          const server = await startResourceServer({ body, etag: '"c1"' }, (req, honest) => {
            if (req.index !== 0) return honest;
            return {
              ...honest,
              framing: "chunked",
              chunkSize: 64 * KiB,
              body: shape === "every byte" ? body : body.subarray(0, 3 * 64 * KiB),
              omitFinalChunk: true,
            };
          });
          await served(server, async (dest) => {
            const outcome = await run.loop(server.url, { dest, ...TIGHT }, { server });
            await assertSucceeded(outcome, dest, body);
            if (run.several) return; // with four connections, the right file is the promise
            assertRangesFollowCheckpoint(outcome);
            assert.ok(outcome.attempts[0]!.error instanceof PartialHaulError);
          });
        },
      );
    }

    finishes(
      "restarts a chunked download without validators after a missing zero chunk",
      async (run) => {
        const body = randomBody(512 * KiB);
        const server = await startResourceServer({ body, etag: null }, (req, honest) => ({
          ...honest,
          framing: "chunked",
          chunkSize: 32 * KiB,
          ...(req.index < 3 ? { body: body.subarray(0, (req.index + 1) * 96 * KiB) } : {}),
          omitFinalChunk: req.index < 3,
        }));
        await served(server, async (dest) => {
          const outcome = await run.loop(server.url, { dest, ...TIGHT }, { server });
          await assertSucceeded(outcome, dest, body);
          if (run.several) return; // with four connections, the right file is the promise
          assertRangesFollowCheckpoint(outcome);
          assert.equal(outcome.attempts.length, 4);
          // No length, no validator: nothing can prove a prefix, so nothing is resumed.
          for (const req of allRequests(outcome)) assert.equal(req.headers["range"], undefined);
        });
      },
    );

    finishes(
      "completes from 206 responses whose Content-Range total is unknown (bytes a-b/*)",
      async (run) => {
        const body = randomBody(768 * KiB);
        const server = await startResourceServer({ body, etag: '"u1"' }, (req, honest) => {
          if (!isRange(req)) return { ...honest, framing: "chunked" };
          if (honest.status !== 206) return honest;
          const start = rangeStart(req)!;
          return withHeaders(honest, { "Content-Range": `bytes ${start}-${body.length - 1}/*` });
        });
        await served(server, async (dest) => {
          const outcome = await run.loop(
            server.url,
            { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
            { server },
          );
          const result = await assertSucceeded(outcome, dest, body);
          if (run.several) return; // with four connections, the right file is the promise
          assertRangesFollowCheckpoint(outcome);
          // Finished by the 206 itself, or by a 416 confirming the length after it.
          assert.ok(result.resumedFrom >= 300 * KiB, describeOutcome(outcome));
        });
      },
    );

    it("does not take the end of a bytes a-b/* range that stops short for the end of the file", async () => {
      // The server caps each range at 100 KiB and never states the total. A 206's last
      // byte is the end of the range, not of the file: finishing there leaves a short
      // file at dest. Only a 416 (bytes */N with N equal to the cursor) proves the end.
      const body = randomBody(768 * KiB);
      const cap = 100 * KiB;
      const server = await startResourceServer({ body, etag: '"u2"' }, (req, honest) => {
        if (!isRange(req)) return { ...honest, framing: "chunked" };
        if (honest.status !== 206) return honest;
        const start = rangeStart(req)!;
        const end = Math.min(start + cap, body.length);
        return {
          ...withHeaders(honest, { "Content-Range": `bytes ${start}-${end - 1}/*` }),
          body: body.subarray(start, end),
        };
      });
      await served(server, async (dest) => {
        const outcome = await haulWithRetries(
          server.url,
          { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
          { server },
        );
        assertRangesFollowCheckpoint(outcome);
        await assertSafeOutcome(outcome, dest, body);
      });
    });

    finishes("keeps resuming when each 206 stops short of a known total", async (run) => {
      const body = randomBody(768 * KiB);
      const cap = 100 * KiB;
      const server = await startResourceServer({ body, etag: '"k1"' }, (req, honest) => {
        if (honest.status !== 206) return honest;
        const start = rangeStart(req)!;
        const end = Math.min(start + cap, body.length);
        return {
          ...withHeaders(honest, { "Content-Range": `bytes ${start}-${end - 1}/${body.length}` }),
          body: body.subarray(start, end),
        };
      });
      await served(server, async (dest) => {
        const outcome = await run.loop(
          server.url,
          { dest, ...TIGHT, fetch: firstCutAfter(300 * KiB) },
          { server },
        );
        await assertSucceeded(outcome, dest, body);
        if (run.several) return; // with four connections, the right file is the promise
        assertRangesFollowCheckpoint(outcome);
        assert.equal(outcome.attempts.length, 1 + Math.ceil((body.length - 300 * KiB) / cap));
      });
    });
  });

  describe("lying Content-Length", () => {
    it("refuses, when the caller gives integrity, a close-delimited body that a clean close cut short", async () => {
      // Neither Content-Length nor chunked: the end of the body is the end of the
      // connection, so a clean close mid-file looks exactly like the end (and fetch
      // cannot tell HTTP/1.1 close-delimiting from HTTP/2, where it is reliable).
      // Only the caller's digest can catch it; without one the short file is kept.
      const body = randomBody(256 * KiB);
      const short = body.subarray(0, 100 * KiB);
      const server = await startResourceServer(
        { body, etag: '"eof"' },
        (req, honest) =>
          req.path === "/honest" ? honest : { ...honest, framing: "close", body: short },
      );
      await served(server, async (dest) => {
        const guarded = await haulWithRetries(
          `${server.url}/short`,
          { dest, integrity: `sha256:${sha256(body)}` },
          { server },
        );
        await assertFailedSafely(guarded, dest);
        errorOf(guarded, 0, IntegrityError);

        const unguarded = `${dest}.unguarded`;
        const plain = await haulWithRetries(`${server.url}/short`, { dest: unguarded }, {
          server,
        });
        await assertSucceeded(plain, unguarded, short);

        const next = `${dest}.next`;
        const clean = await haulWithRetries(`${server.url}/honest`, { dest: next }, { server });
        await assertSucceeded(clean, next, body);
      });
    });

    it("treats a Content-Length larger than what arrives before the close as a cut, and never finishes short", async () => {
      const body = randomBody(256 * KiB);
      const server = await startResourceServer({ body, etag: '"cl"' }, (_req, honest) => {
        if (honest.status !== 200 && honest.status !== 206) return honest;
        const sent = (honest.body as Uint8Array).length;
        return {
          ...withHeaders(honest, { "Content-Length": String(sent + 1000) }),
          cutAfter: sent,
        };
      });
      await served(server, async (dest) => {
        const outcome = await haulWithRetries(server.url, { dest, ...TIGHT }, {
          server,
          maxAttempts: 12,
        });
        assertRangesFollowCheckpoint(outcome);
        await assertSafeOutcome(outcome, dest, body);
      });
    });

    finishes(
      "finishes once a server that overstated Content-Length on one response answers honestly",
      async (run) => {
        const body = randomBody(256 * KiB);
        const server = await startResourceServer({ body, etag: '"cl1"' }, (req, honest) => {
          if (req.index !== 0) return honest;
          return {
            ...withHeaders(honest, { "Content-Length": String(body.length + 1000) }),
            cutAfter: body.length,
          };
        });
        await served(server, async (dest) => {
          const outcome = await run.loop(server.url, { dest, ...TIGHT }, { server });
          await assertSucceeded(outcome, dest, body);
          if (run.several) return; // with four connections, the right file is the promise
          assertRangesFollowCheckpoint(outcome);
        });
      },
    );

    it("stores exactly the declared bytes of a body that runs past its Content-Length, and integrity catches it", async () => {
      // Over the wire the runtime stops at Content-Length; the overflow never reaches
      // haul, so haul cannot tell this from a file of the declared size. The caller's
      // integrity digest is what catches it.
      const body = randomBody(256 * KiB);
      const declared = body.length - 1000;
      const server = await startResourceServer({ body, etag: '"over"' }, (req, honest) => {
        if (req.path === "/honest") return honest;
        return withHeaders(honest, { "Content-Length": String(declared) });
      });
      await served(server, async (dest) => {
        const guarded = await haulWithRetries(
          `${server.url}/liar`,
          { dest, integrity: `sha256:${sha256(body)}` },
          { server },
        );
        await assertFailedSafely(guarded, dest);
        errorOf(guarded, 0, IntegrityError);

        const unguarded = `${dest}.unguarded`;
        const plain = await haulWithRetries(`${server.url}/liar`, { dest: unguarded }, { server });
        await assertSucceeded(plain, unguarded, body.subarray(0, declared));

        // The overflow left on the connection does not leak into the next download.
        const next = `${dest}.next`;
        const clean = await haulWithRetries(`${server.url}/honest`, { dest: next }, { server });
        await assertSucceeded(clean, next, body);
      });
    });

    it("discards a body longer than its Content-Length when the fetch lets the overflow through", async () => {
      const body = randomBody(256 * KiB);
      /** Fresh: the first response overflows. Resume: the first is cut, the second overflows. */
      const overflowing = (mode: "fresh" | "resume"): FetchLike => {
        let call = 0;
        return async (request) => {
          const index = call++;
          const response = await fetch(request);
          if (mode === "resume" && index === 0) return cutBody(response, 100 * KiB);
          if (index !== (mode === "fresh" ? 0 : 1)) return response;
          const bytes = new Uint8Array(await response.arrayBuffer());
          const longer = new Uint8Array(bytes.length + 10);
          longer.set(bytes);
          return new Response(longer, { status: response.status, headers: response.headers });
        };
      };
      const server = await startResourceServer({ body, etag: '"ovf"' });
      await served(server, async (dest) => {
        // On a fresh download: refused, not retryable, nothing kept.
        const fresh = await haulWithRetries(
          server.url,
          { dest, ...TIGHT, fetch: overflowing("fresh") },
          { server },
        );
        await assertFailedSafely(fresh, dest);
        assert.equal(errorOf(fresh, 0, ServerMisconfiguredError).retryable, false);
        assert.equal(fresh.attempts[0]!.after, null);

        // On a resume: refused, progress discarded, the next call starts over and succeeds.
        const resumed = await haulWithRetries(
          server.url,
          { dest, ...TIGHT, fetch: overflowing("resume") },
          { server },
        );
        await assertSucceeded(resumed, dest, body);
        assertRangesFollowCheckpoint(resumed);
        assert.equal(errorOf(resumed, 1, ServerMisconfiguredError).retryable, true);
        assert.equal(resumed.attempts[1]!.after, null);
        assert.equal(resumed.attempts[2]!.requests[0]!.headers["range"], undefined);
      });
    });
  });

  describe("mislabeled and malformed 206 responses", () => {
    finishes(
      "restarts from byte 0 when a resume is answered by a 206 covering the whole file from byte 0",
      async (run) => {
        const body = randomBody(512 * KiB);
        const server = await startResourceServer({ body, etag: '"m0"' }, (req, honest) => {
          if (!isRange(req)) return honest;
          return {
            ...withHeaders(honest, {
              "Content-Range": `bytes 0-${body.length - 1}/${body.length}`,
            }),
            body,
          };
        });
        await served(server, async (dest) => {
          const outcome = await run.loop(
            server.url,
            { dest, ...TIGHT, fetch: firstCutAfter(200 * KiB) },
            { server },
          );
          const result = await assertSucceeded(outcome, dest, body);
          if (run.several) return; // with four connections, the right file is the promise
          assertRangesFollowCheckpoint(outcome);
          assert.equal(result.status, 206);
          assert.equal(result.resumedFrom, 0);
          assert.equal(outcome.attempts.length, 2);
        });
      },
    );

    for (const shift of [100, -100, 1]) {
      finishes(
        `refuses a 206 starting ${Math.abs(shift)} byte${Math.abs(shift) === 1 ? "" : "s"} ${
          shift > 0 ? "after" : "before"
        } the requested offset, and starts over`,
        async (run) => {
          const body = randomBody(512 * KiB);
          const server = await startResourceServer({ body, etag: '"off"' }, (req, honest) => {
            if (!isRange(req)) return honest;
            const start = rangeStart(req)! + shift;
            return {
              ...withHeaders(honest, {
                "Content-Range": `bytes ${start}-${body.length - 1}/${body.length}`,
              }),
              body: body.subarray(start),
            };
          });
          await served(server, async (dest) => {
            const outcome = await run.loop(
              server.url,
              { dest, ...TIGHT, fetch: firstCutAfter(200 * KiB) },
              { server },
            );
            await assertSucceeded(outcome, dest, body);
            if (run.several) return; // with four connections, the right file is the promise
            assertRangesFollowCheckpoint(outcome);
            assert.equal(errorOf(outcome, 1, ContentRangeError).retryable, true);
            assert.equal(outcome.attempts[1]!.after, null);
            assert.equal(outcome.attempts[2]!.requests[0]!.headers["range"], undefined);
          });
        },
      );
    }

    finishes("refuses a 206 without Content-Range to a resume, and starts over", async (run) => {
      const body = randomBody(512 * KiB);
      const server = await startResourceServer(
        { body, etag: '"ncr"' },
        (req, honest) => isRange(req) ? withHeaders(honest, { "Content-Range": null }) : honest,
      );
      await served(server, async (dest) => {
        const outcome = await run.loop(
          server.url,
          { dest, ...TIGHT, fetch: firstCutAfter(200 * KiB) },
          { server },
        );
        await assertSucceeded(outcome, dest, body);
        if (run.several) return; // with four connections, the right file is the promise
        assertRangesFollowCheckpoint(outcome);
        assert.equal(errorOf(outcome, 1, ContentRangeError).retryable, true);
        assert.equal(outcome.attempts[1]!.after, null);
      });
    });

    for (
      const [label, contentRange] of [
        ["without Content-Range", null],
        ["from byte 100", "bytes 100-999/1000"],
        ["with a malformed Content-Range", "bytes x-y/z"],
      ] as const
    ) {
      it(`fails without retrying when a request without Range is answered by a 206 ${label}`, async () => {
        const body = randomBody(1000);
        const server = await startResourceServer({ body }, (_req, honest) => ({
          ...withHeaders(honest, { "Content-Range": contentRange }),
          status: 206,
          body: contentRange === "bytes 100-999/1000" ? body.subarray(100) : body,
        }));
        await served(server, async (dest) => {
          const outcome = await haulWithRetries(server.url, { dest }, { server });
          await assertFailedSafely(outcome, dest);
          assert.equal(outcome.attempts.length, 1);
          assert.equal(errorOf(outcome, 0, ContentRangeError).retryable, false);
        });
      });
    }

    const malformed: [string, (start: number, length: number) => string][] = [
      ["that is reversed, like bytes 9-3/10", (s) => `bytes ${s + 9}-${s + 3}/${s + 10}`],
      ["that is not numeric, like bytes x-y/z", () => "bytes x-y/z"],
      ["with a negative first byte", (s, n) => `bytes -${s}-${n - 1}/${n}`],
      ["with numbers past 2^53", (s) => `bytes ${s}-9007199254740993/9007199254740994`],
      ["whose last byte equals the length", (s, n) => `bytes ${s}-${n}/${n}`],
      ["in another unit", (s, n) => `items ${s}-${n - 1}/${n}`],
      ["with spaces inside the range", (s, n) => `bytes ${s} - ${n - 1}/${n}`],
      ["listing two ranges", (s, n) => `bytes ${s}-${n - 1}/${n}, bytes 0-0/${n}`],
    ];
    for (const [label, make] of malformed) {
      finishes(
        `refuses a resume answered with a Content-Range ${label}, and starts over`,
        async (run) => {
          const body = randomBody(384 * KiB);
          const server = await startResourceServer({ body, etag: '"bad"' }, (req, honest) => {
            if (!isRange(req) || honest.status !== 206) return honest;
            return withHeaders(honest, { "Content-Range": make(rangeStart(req)!, body.length) });
          });
          await served(server, async (dest) => {
            const outcome = await run.loop(
              server.url,
              { dest, ...TIGHT, fetch: firstCutAfter(200 * KiB) },
              { server },
            );
            await assertSucceeded(outcome, dest, body);
            if (run.several) return; // with four connections, the right file is the promise
            assertRangesFollowCheckpoint(outcome);
            assert.equal(errorOf(outcome, 1, ContentRangeError).retryable, true);
            assert.equal(outcome.attempts[1]!.after, null);
          });
        },
      );
    }
  });

  describe("416 and empty answers to a resume", () => {
    for (const framing of ["length", "chunked"] as const) {
      finishes(
        `finishes from the checkpoint when a body broken after its last byte (${framing}) meets a 416 confirming the length`,
        async (run) => {
          const body = randomBody(300 * KiB + 7);
          const server = await startResourceServer(
            { body, etag: '"done"' },
            (req, honest) => isRange(req) ? honest : { ...honest, framing },
          );
          await served(server, async (dest) => {
            const outcome = await run.loop(
              server.url,
              { dest, ...TIGHT, fetch: firstCutAfter(body.length) },
              { server },
            );
            const result = await assertSucceeded(outcome, dest, body);
            if (run.several) return; // with four connections, the right file is the promise
            assertRangesFollowCheckpoint(outcome);
            assert.equal(errorOf(outcome, 0, PartialHaulError).validLength, body.length);
            assert.equal(outcome.attempts[0]!.after?.cursor, body.length);
            assert.equal(
              outcome.attempts[1]!.requests[0]!.headers["range"],
              `bytes=${body.length}-`,
            );
            assert.equal(result.status, 416);
            assert.equal(result.resumedFrom, body.length);
            assert.equal(result.etag, '"done"');
          });
        },
      );
    }

    finishes(
      "finishes after a chunked body whose connection is cut right after the last byte",
      async (run) => {
        const body = randomBody(300 * KiB + 7);
        const server = await startResourceServer(
          { body, etag: '"end"' },
          (req, honest) =>
            req.index === 0 ? { ...honest, framing: "chunked", cutAfter: body.length } : honest,
        );
        await served(server, async (dest) => {
          const outcome = await run.loop(server.url, { dest, ...TIGHT }, { server });
          await assertSucceeded(outcome, dest, body);
          if (run.several) return; // with four connections, the right file is the promise
          assertRangesFollowCheckpoint(outcome);
        });
      },
    );

    for (const etag of ['"small"', '"big"']) {
      finishes(
        `starts over after a 416 showing the resource shrank (${
          etag === '"big"' ? "same" : "new"
        } ETag)`,
        async (run) => {
          const v1 = randomBody(1024 * KiB);
          const v2 = randomBody(100 * KiB);
          const server = versions(
            { body: v1, etag: '"big"', honorIfRange: false },
            { body: v2, etag, honorIfRange: false },
          );
          const http = await startResourceServer(server.resource);
          await served(http, async (dest) => {
            const outcome = await run.loop(
              http.url,
              { dest, ...TIGHT, fetch: firstCutAfter(500 * KiB) },
              { server: http, beforeAttempt: (i) => i === 1 ? server.switchNow() : undefined },
            );
            await run.succeeded(outcome, dest, v2, v1);
            if (run.several) return; // with four connections, the right file is the promise
            assertRangesFollowCheckpoint(outcome);
            assert.equal(errorOf(outcome, 1, ContentRangeError).retryable, true);
            assert.equal(outcome.attempts[1]!.after, null);
            assert.equal(outcome.attempts.length, 3);
          });
        },
      );
    }

    finishes(
      "keeps progress when a resume is answered by a 200 with Content-Length: 0, and resumes later",
      async (run) => {
        const body = randomBody(512 * KiB);
        let empties = 0;
        const server = await startResourceServer({ body, etag: '"e0"' }, (req, honest) => {
          if (!isRange(req) || empties++ > 0) return honest;
          return {
            ...withHeaders(honest, { "Content-Range": null }),
            status: 200,
            body: new Uint8Array(0),
          };
        });
        await served(server, async (dest) => {
          const outcome = await run.loop(
            server.url,
            { dest, ...TIGHT, fetch: firstCutAfter(200 * KiB) },
            { server },
          );
          const result = await assertSucceeded(outcome, dest, body);
          if (run.several) return; // with four connections, the right file is the promise
          assertRangesFollowCheckpoint(outcome);
          assert.equal(errorOf(outcome, 1, ServerMisconfiguredError).retryable, true);
          assert.equal(outcome.attempts[1]!.after?.cursor, 200 * KiB, "progress was not kept");
          assert.equal(outcome.attempts[2]!.requests[0]!.headers["range"], `bytes=${200 * KiB}-`);
          assert.equal(result.resumedFrom, 200 * KiB);
        });
      },
    );

    it("never finishes from empty 200s when the server answers every resume that way", async () => {
      const body = randomBody(512 * KiB);
      const server = await startResourceServer(
        { body, etag: '"e1"' },
        (req, honest) =>
          isRange(req)
            ? {
              ...withHeaders(honest, { "Content-Range": null }),
              status: 200,
              body: new Uint8Array(0),
            }
            : honest,
      );
      await served(server, async (dest) => {
        const outcome = await haulWithRetries(
          server.url,
          { dest, ...TIGHT, fetch: firstCutAfter(200 * KiB) },
          { server, maxAttempts: 10 },
        );
        await assertFailedSafely(outcome, dest);
        assertRangesFollowCheckpoint(outcome);
        assert.equal(outcome.stoppedBy, "exhausted");
        assert.equal(outcome.attempts.at(-1)!.after?.cursor, 200 * KiB);
      });
    });
  });

  describe("error statuses and redirects", () => {
    finishes(
      "reports a 503 with Retry-After in seconds as transient and keeps progress for the next call",
      async (run) => {
        const body = randomBody(512 * KiB);
        const server = await startResourceServer(
          { body, etag: '"s"' },
          (req, honest) =>
            req.index === 1
              ? {
                status: 503,
                headers: { "Retry-After": "2", "Content-Type": "text/plain" },
                body: "busy",
              }
              : honest,
        );
        await served(server, async (dest) => {
          const outcome = await run.loop(
            server.url,
            { dest, ...TIGHT, fetch: firstCutAfter(200 * KiB) },
            { server },
          );
          await assertSucceeded(outcome, dest, body);
          if (run.several) return; // with four connections, the right file is the promise
          assertRangesFollowCheckpoint(outcome);
          const busy = errorOf(outcome, 1, UnexpectedStatusError);
          assert.equal(busy.status, 503);
          assert.equal(busy.retryAfterMs, 2000);
          assert.equal(busy.isTransient, true);
          assert.equal(isRetryable(busy), true);
          assert.equal(outcome.attempts[1]!.after?.cursor, 200 * KiB);
          assert.equal(outcome.attempts[2]!.requests[0]!.headers["range"], `bytes=${200 * KiB}-`);
        });
      },
    );

    finishes("reports a 429 with Retry-After as an HTTP-date", async (run) => {
      const body = randomBody(64 * KiB);
      const until = new Date(Date.now() + 30_000).toUTCString();
      const server = await startResourceServer(
        { body },
        (req, honest) =>
          req.index === 0 ? { status: 429, headers: { "Retry-After": until }, body: "" } : honest,
      );
      await served(server, async (dest) => {
        const outcome = await run.loop(server.url, { dest }, { server });
        await assertSucceeded(outcome, dest, body);
        if (run.several) return; // with four connections, the right file is the promise
        const limited = errorOf(outcome, 0, UnexpectedStatusError);
        assert.equal(limited.status, 429);
        assert.equal(limited.isTransient, true);
        assert.equal(limited.retryable, true);
        assert.ok(
          limited.retryAfterMs !== null && limited.retryAfterMs > 27_000 &&
            limited.retryAfterMs <= 30_000,
          `retryAfterMs ${limited.retryAfterMs}`,
        );
      });
    });

    finishes("retries a 500 and resumes from the saved progress", async (run) => {
      const body = randomBody(512 * KiB);
      const server = await startResourceServer(
        { body, etag: '"five"' },
        (req, honest) => req.index === 1 ? { status: 500, body: "oops" } : honest,
      );
      await served(server, async (dest) => {
        const outcome = await run.loop(
          server.url,
          { dest, ...TIGHT, fetch: firstCutAfter(200 * KiB) },
          { server },
        );
        const result = await assertSucceeded(outcome, dest, body);
        if (run.several) return; // with four connections, the right file is the promise
        assertRangesFollowCheckpoint(outcome);
        const failed = errorOf(outcome, 1, UnexpectedStatusError);
        assert.equal(failed.status, 500);
        assert.equal(failed.isTransient, true);
        assert.equal(failed.retryAfterMs, null);
        assert.equal(result.resumedFrom, 200 * KiB);
      });
    });

    it("stops at a 404 without retrying and places nothing", async () => {
      const server = await startScriptServer(() => ({ status: 404, body: "no such file" }));
      await served(server, async (dest) => {
        const outcome = await haulWithRetries(server.url, { dest }, { server });
        await assertFailedSafely(outcome, dest);
        assert.equal(outcome.stoppedBy, "not-retryable");
        const missing = errorOf(outcome, 0, UnexpectedStatusError);
        assert.equal(missing.status, 404);
        assert.equal(missing.isTransient, false);
        assert.equal(missing.retryable, false);
        assert.equal(server.requests.length, 1);
      });
    });

    for (const status of [301, 302]) {
      it(`reports a ${status} as not followed when the caller's fetch uses redirect: manual`, async () => {
        const body = randomBody(64 * KiB);
        const server = await startScriptServer((req) =>
          req.path === "/old"
            ? { status, headers: { Location: "/new" }, body: "" }
            : honestReply(req, { body })
        );
        await served(server, async (dest) => {
          const outcome = await haulWithRetries(
            `${server.url}/old`,
            { dest, fetch: (req) => fetch(req, { redirect: "manual" }) },
            { server },
          );
          await assertFailedSafely(outcome, dest);
          const moved = errorOf(outcome, 0, UnexpectedStatusError);
          assert.equal(moved.status, status);
          assert.equal(moved.retryable, false);
          assert.match(moved.message, /redirect to .*\/new was not followed/);
          assert.deepEqual(server.requests.map((req) => req.path), ["/old"]);
        });
      });
    }

    finishes("follows a 302 by default, and resumes through it", async (run) => {
      const body = randomBody(512 * KiB);
      const server = await startScriptServer((req) =>
        req.path === "/old"
          ? { status: 302, headers: { Location: "/new" }, body: "" }
          : honestReply(req, { body, etag: '"moved"' })
      );
      await served(server, async (dest) => {
        const outcome = await run.loop(
          `${server.url}/old`,
          { dest, ...TIGHT, fetch: firstCutAfter(200 * KiB) },
          { server },
        );
        const result = await assertSucceeded(outcome, dest, body);
        if (run.several) return; // with four connections, the right file is the promise
        assertRangesFollowCheckpoint(outcome);
        assert.deepEqual(server.requests.map((req) => req.path), ["/old", "/new", "/old", "/new"]);
        assert.equal(server.requests[3]!.headers["range"], `bytes=${200 * KiB}-`);
        assert.equal(server.requests[3]!.headers["if-range"], '"moved"');
        assert.equal(result.status, 206);
      });
    });
  });

  describe("sizes at the edges", () => {
    for (const framing of ["length", "chunked"] as const) {
      finishes(`downloads an empty resource (${framing} framing) as an empty file`, async (run) => {
        const body = new Uint8Array(0);
        const server = await startResourceServer(
          { body },
          (_req, honest) => ({ ...honest, framing }),
        );
        await served(server, async (dest) => {
          const outcome = await run.loop(server.url, { dest }, { server });
          const result = await assertSucceeded(outcome, dest, body);
          if (run.several) return; // with four connections, the right file is the promise
          assert.equal(result.size, 0);
          assert.equal(result.sha256, sha256(body));
          assert.equal((await bytesOf(dest)).length, 0);
        });
      });
    }

    for (const size of [BLOCK, BLOCK + 1]) {
      finishes(
        `downloads a resource of ${
          size === BLOCK ? "exactly one block" : "one block plus one byte"
        }, cut at every interesting offset`,
        async (run) => {
          const body = randomBody(size);
          const server = await startResourceServer({ body, etag: '"blk"' });
          try {
            for (
              const cut of [1, 63, 64, 65, BLOCK - 1, BLOCK, BLOCK + 1].filter((c) => c <= size)
            ) {
              await withTempDir(async (dir) => {
                const dest = join(dir, "block.bin");
                const outcome = await run.loop(
                  server.url,
                  { dest, ...TIGHT, fetch: firstCutAfter(cut) },
                  { server },
                );
                const result = await assertSucceeded(outcome, dest, body);
                if (run.several) return; // with four connections, the right file is the promise
                assertRangesFollowCheckpoint(outcome);
                assert.equal(outcome.attempts.length, 2, `cut ${cut}`);
                assert.equal(outcome.attempts[0]!.after?.cursor, cut, `cut ${cut}`);
                assert.equal(result.resumedFrom, cut, `cut ${cut}`);
                assert.equal(result.status, cut === size ? 416 : 206, `cut ${cut}`);
              });
            }
          } finally {
            await server.close();
          }
        },
      );
    }
  });

  describe("checkpoints at block boundaries", () => {
    finishes(
      "checkpoints on the next block boundary after resuming from a cursor on a block boundary",
      async (run) => {
        // First call cut at exactly 2 blocks, second at exactly 3: the second call's
        // checkpoint's tail digest covers exactly block 2, the newest block below its cursor.
        const body = randomBody(6 * BLOCK);
        const server = await startResourceServer({ body, etag: '"aligned"' });
        await served(server, async (dest) => {
          const cuts = [2 * BLOCK, BLOCK]; // each cut counts the bytes of its own response
          const outcome = await run.loop(
            server.url,
            { dest, ...TIGHT, fetch: cuttingFetch((call) => cuts[call] ?? null) },
            { server },
          );
          await assertSucceeded(outcome, dest, body);
          if (run.several) return; // with four connections, the right file is the promise
          assertRangesFollowCheckpoint(outcome);
          assert.equal(outcome.attempts.length, 3, describeOutcome(outcome));
          assert.equal(outcome.attempts[1]!.after?.cursor, 3 * BLOCK);
          const after = outcome.attempts[1]!.after!;
          assert.deepEqual(after.ranges.map((r) => [r.start, r.end]), [[0, 3 * BLOCK]]);
          const tail = Buffer.from(after.ranges[0]!.tailDigest).toString("hex");
          assert.equal(tail, sha256(body.subarray(2 * BLOCK, 3 * BLOCK)));
        });
      },
    );

    finishes("resumes a download begun with another blockSize", async (run) => {
      const body = randomBody(2 * 1024 * KiB);
      const server = await startResourceServer({ body, etag: '"bs"' });
      await served(server, async (dest) => {
        const cuts = [300 * KiB, 100 * KiB];
        const fetchFn = cuttingFetch((call) => cuts[call] ?? null);
        const outcome = await run.loop(
          server.url,
          (i) => ({ dest, fetch: fetchFn, blockSize: i === 0 ? BLOCK : 1024 * KiB }),
          { server },
        );
        await assertSucceeded(outcome, dest, body);
        if (run.several) return; // with four connections, the right file is the promise
        assertRangesFollowCheckpoint(outcome);
        assert.equal(outcome.attempts.length, 3, describeOutcome(outcome));
        assert.ok(outcome.attempts[1]!.error instanceof PartialHaulError, describeOutcome(outcome));
        assert.equal(outcome.attempts[1]!.after?.cursor, 400 * KiB);
      });
    });
  });

  describe("stalls", () => {
    finishes(
      "ends a stall right after the headers with the caller's timeout, and the next call succeeds",
      async (run) => {
        const body = randomBody(256 * KiB);
        const server = await startResourceServer(
          { body, etag: '"st0"' },
          (req, honest) => req.index === 0 ? { ...honest, stallAfter: 0 } : honest,
        );
        await served(server, async (dest) => {
          const outcome = await run.loop(
            server.url,
            (i) =>
              i === 0 ? { dest, ...TIGHT, signal: AbortSignal.timeout(300) } : { dest, ...TIGHT },
            { server },
          );
          await assertSucceeded(outcome, dest, body);
          if (run.several) return; // with four connections, the right file is the promise
          const first = outcome.attempts[0]!;
          assert.equal(first.error, first.signal?.reason);
          assert.equal((first.error as Error).name, "TimeoutError");
          assert.equal(outcome.attempts.length, 2);
        });
      },
    );

    finishes(
      "saves progress when a body stalls until the caller's timeout, and the next call resumes from it",
      async (run) => {
        const body = randomBody(512 * KiB);
        const stallAt = 200 * KiB;
        const state = new HaulState();
        const server = await startResourceServer(
          { body, etag: '"st1"' },
          (req, honest) => req.index === 0 ? { ...honest, stallAfter: stallAt } : honest,
        );
        await served(server, async (dest) => {
          const outcome = await run.loop(
            server.url,
            (i) =>
              i === 0
                ? { dest, ...TIGHT, state, signal: timeoutFromStall(state, stallAt) }
                : { dest, ...TIGHT },
            { server },
          );
          const result = await assertSucceeded(outcome, dest, body);
          if (run.several) return; // with four connections, the right file is the promise
          assertRangesFollowCheckpoint(outcome);
          const first = outcome.attempts[0]!;
          assert.equal(first.error, first.signal?.reason);
          assert.equal(first.after?.cursor, stallAt);
          assert.equal(state.validLength, stallAt);
          assert.equal(outcome.attempts[1]!.requests[0]!.headers["range"], `bytes=${stallAt}-`);
          assert.equal(result.resumedFrom, stallAt);
        });
      },
    );
  });
});
