/**
 * A seeded fuzz of misbehaving servers: each case draws two versions of a file, when the server
 * moves to the second, and per request a fault (a cut, a stall, a 429/503 with `Retry-After`, a
 * redirect, a `Content-Encoding`, another version's bytes under a right `Content-Range`, a 416 with a
 * shorter total, ...), then calls `haul()` in a caller's retry loop over one or four connections,
 * with or without `integrity`, a mirror and `maxBytesPerSecond`, and `haulStream()` once. The
 * promise checked: the file at `dest` is one whole version (the one `integrity` names, when given)
 * or every call failed typed and nothing is at `dest`; a stream gives a prefix of one version, all
 * of it when it ends cleanly. Then the server turns honest and a bounded loop must finish.
 *
 * `HAUL_SERVER_FUZZ_CASES` sets the cases per mode, `HAUL_FUZZ_SEED` the seed (tests/helpers/fuzz_config.ts).
 * `HAUL_FUZZ_VERBOSE=1` prints each case: its seed, how it ended, its faults and the `Range`s seen.
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { Buffer } from "node:buffer";
import { type HaulOptions, haulStream, haulWithRetry, isRetryable } from "../../mod.ts";
import {
  honestReply,
  type RecordedRequest,
  type Reply,
  type ResourceOptions,
  type ScriptServer,
  startScriptServer,
} from "../helpers/script_server.ts";
import {
  assertSafeOutcome,
  describeOutcome,
  haulWithRetries,
  isTypedFailure,
  type LoopOutcome,
} from "../helpers/retry_loop.ts";
import { join, withTempDir } from "../helpers/temp.ts";
import { makeRng, type Rng } from "../helpers/prng.ts";
import { fuzzCases, fuzzSeed } from "../helpers/fuzz_config.ts";

const KiB = 1024;
const VERBOSE =
  (globalThis as { process?: { env: Record<string, string> } }).process?.env.HAUL_FUZZ_VERBOSE ===
    "1";

/** What one case draws. */
interface Case {
  readonly seed: number;
  readonly versions: readonly [Uint8Array, Uint8Array];
  /** The server request index from which the second version is served (`Infinity`: never). */
  readonly switchAt: number;
  /** Requests answered with faults before the server turns honest (`Infinity`: until told). */
  readonly honestAfter: number;
  readonly connections: 1 | 4;
  readonly integrity: boolean;
  readonly mirror: boolean;
  readonly maxBytesPerSecond: number | undefined;
  /** Which faults this case draws from. */
  readonly faults: readonly Fault[];
  /** What tells the versions apart: a strong or weak ETag, `Last-Modified` only, or nothing. */
  readonly validator: "strong" | "weak" | "date" | "none";
  /** Whether a server's first answer always fails (so that mirrors and resumes are reached). */
  readonly firstFails: boolean;
  /** Mirrors through `haulWithRetry()`, whose failed attempts move to the next mirror. */
  readonly viaRetry: boolean;
  /** Whether the mirror tags the same bytes apart (its own validators). */
  readonly mirrorRetags: boolean;
}

const FAULTS = [
  "cut",
  "cut-chunk-boundary",
  "no-final-chunk",
  "stall",
  "busy",
  "error-500",
  "other-version-on-range",
  "lie-on-range",
  "redirect",
  "gzip",
  "short-416",
  "ignore-range",
  "wrong-start",
  "hang-up",
  "empty-200",
  "slow-head",
  "retag-on-range",
  "wrong-total",
  "double-etag",
  "short-206",
] as const;
type Fault = typeof FAULTS[number];

const ETAGS = ['"v-a"', '"v-b"'] as const;
const DATES = ["Tue, 01 Dec 2026 10:00:00 GMT", "Wed, 02 Dec 2026 10:00:00 GMT"] as const;

/** Version `v` of `c` as a resource, under its validator (`retag`: a third, e.g. a balancer's). */
function resourceOf(c: Case, v: 0 | 1, retag = false): ResourceOptions {
  const tag = retag ? `"x-${v}"` : ETAGS[v];
  const body = c.versions[v];
  if (c.validator === "strong") return { body, etag: tag };
  if (c.validator === "weak") return { body, etag: `W/${tag}` };
  if (c.validator === "date") {
    return {
      body,
      etag: null,
      lastModified: retag ? `Thu, 03 Dec 2026 1${v}:00:00 GMT` : DATES[v],
    };
  }
  return { body, etag: null };
}

function digestOf(bytes: Uint8Array): string {
  return "sha256-" + createHash("sha256").update(bytes).digest("base64");
}

function drawCase(seed: number, mode: Mode): Case {
  const rng = makeRng(seed);
  const size = rng.pick([0, 1, 64 * KiB - 1, 64 * KiB, 64 * KiB + 1, rng.int(1, 320 * KiB)]);
  const first = rng.bytes(size);
  const otherSize = rng.pick([
    size,
    size,
    Math.max(0, size - rng.int(1, 70 * KiB)),
    size + rng.int(1, 70 * KiB),
  ]);
  const second = rng.bytes(otherSize);
  const faults = FAULTS.filter(() => rng.chance(0.4));
  return {
    seed,
    versions: [first, second],
    switchAt: rng.chance(0.4) ? rng.int(0, 8) : Infinity,
    honestAfter: rng.chance(0.5) ? rng.int(0, 14) : Infinity,
    connections: mode.connections,
    integrity: mode.integrity,
    mirror: mode.mirror,
    maxBytesPerSecond: mode.rate ? rng.pick([2_000_000, 8_000_000]) : undefined,
    faults: faults.length === 0 ? ["cut"] : faults,
    validator: rng.pick(["strong", "strong", "weak", "date", "none"]),
    mirrorRetags: rng.chance(0.5),
    viaRetry: mode.mirror && rng.chance(0.5),
    firstFails: rng.chance(0.5),
  };
}

/** The version served last: the one `integrity` names. */
function finalOf(c: Case): 0 | 1 {
  return c.switchAt === Infinity ? 0 : 1;
}

/** A server of `c`'s versions, with a fault drawn for each request until it turns honest. */
async function startFuzzServer(
  c: Case,
  salt: number,
  honest: { now: boolean },
  retag = false,
): Promise<ScriptServer> {
  return await startScriptServer((req: RecordedRequest): Reply => {
    const v = honest.now ? finalOf(c) : req.index >= c.switchAt ? 1 : 0;
    const reply = honestReply(req, resourceOf(c, v, retag));
    if (honest.now || req.index >= c.honestAfter) return reply;
    const rng = makeRng((c.seed ^ Math.imul(req.index + 1, 0x9e3779b1) ^ salt) >>> 0);
    if (req.index === 0 && c.firstFails) {
      return twist(
        rng,
        rng.pick(["cut", "hang-up", "busy", "error-500", "stall"]),
        req,
        reply,
        c,
        v,
      );
    }
    if (!rng.chance(0.75)) return reply;
    return twist(rng, rng.pick(c.faults), req, reply, c, v);
  });
}

function twist(
  rng: Rng,
  fault: Fault,
  req: RecordedRequest,
  reply: Reply,
  c: Case,
  v: 0 | 1,
): Reply {
  const ranged = req.headers["range"] !== undefined;
  const body = reply.body instanceof Uint8Array ? reply.body : new Uint8Array(0);
  const headers = Array.isArray(reply.headers) ? [...reply.headers] : [];
  switch (fault) {
    case "cut":
      return {
        ...reply,
        cutAfter: rng.int(0, body.length),
        framing: rng.pick(["length", "chunked"]),
      };
    case "cut-chunk-boundary": {
      const chunkSize = rng.pick([1, 1000, 16 * KiB, 64 * KiB]);
      const chunks = Math.floor(body.length / chunkSize);
      return { ...reply, framing: "chunked", chunkSize, cutAfter: rng.int(0, chunks) * chunkSize };
    }
    case "no-final-chunk":
      return { ...reply, framing: "chunked", omitFinalChunk: true };
    case "stall":
      return { ...reply, stallAfter: rng.int(0, body.length) };
    case "busy":
      return {
        status: rng.pick([429, 503]),
        headers: { "Retry-After": rng.pick(["0", "1"]) },
        body: "busy",
      };
    case "error-500":
      return { status: 500, body: "oops" };
    case "other-version-on-range": {
      if (!ranged) return reply;
      const o = (1 - v) as 0 | 1;
      return honestReply(req, { ...resourceOf(c, o), honorIfRange: false });
    }
    case "lie-on-range": {
      // The other version's bytes under this one's strong validator: only integrity can tell.
      const other = c.versions[1 - v]!;
      if (!ranged || !c.integrity || reply.status !== 206) return reply;
      const match = /bytes (\d+)-(\d+)\//.exec(headers.find(([k]) => k === "Content-Range")![1])!;
      const start = Number(match[1]), end = Number(match[2]);
      if (other.length <= end) return reply;
      return { ...reply, body: other.subarray(start, end + 1) };
    }
    case "redirect":
      return {
        status: rng.pick([301, 302, 307]),
        headers: { Location: `/r${req.index}` },
        body: "",
      };
    case "gzip":
      return {
        ...reply,
        headers: [...headers, ["Content-Encoding", "gzip"]],
        body: gzipSync(body),
      };
    case "short-416": {
      if (!ranged) return reply;
      const total = Math.max(0, c.versions[v]!.length - rng.int(1, 1000));
      return {
        status: 416,
        headers: [...headers.filter(([k]) => k !== "Content-Range"), [
          "Content-Range",
          `bytes */${total}`,
        ]],
        body: "",
      };
    }
    case "ignore-range":
      return honestReply({ ...req, headers: {} }, resourceOf(c, v));
    case "wrong-start": {
      if (reply.status !== 206) return reply;
      const cr = headers.findIndex(([k]) => k === "Content-Range");
      const match = /bytes (\d+)-(\d+)\/(\d+)/.exec(headers[cr]![1])!;
      const shift = rng.pick([-1, 1, 100]);
      const start = Math.max(0, Number(match[1]) + shift);
      const end = Math.max(start, Number(match[2]) + shift);
      headers[cr] = ["Content-Range", `bytes ${start}-${end}/${match[3]}`];
      return { ...reply, headers };
    }
    case "hang-up":
      return { status: 200, hangUp: true };
    case "empty-200": // only a lie under the validator the client holds: else an empty version
      if (reply.status !== 206) return reply;
      return {
        ...reply,
        status: 200,
        headers: headers.filter(([k]) => k !== "Content-Range"),
        body: new Uint8Array(0),
      };
    case "retag-on-range": // the same bytes under another validator, e.g. from another backend
      return ranged ? honestReply(req, { ...resourceOf(c, v, true), honorIfRange: false }) : reply;
    case "wrong-total": {
      const cr = headers.findIndex(([k]) => k === "Content-Range");
      if (reply.status !== 206 || cr < 0) return reply;
      const total = c.versions[v].length + rng.pick([-1, 1, 1000]);
      headers[cr] = ["Content-Range", headers[cr]![1].replace(/\/\d+$/, `/${total}`)];
      return { ...reply, headers };
    }
    case "short-206": { // fewer bytes than asked, from the right start: HTTP allows it
      const cr = headers.findIndex(([k]) => k === "Content-Range");
      if (reply.status !== 206 || cr < 0 || body.length < 2) return reply;
      const [, start, , total] = /bytes (\d+)-(\d+)\/(\d+)/.exec(headers[cr]![1])!;
      const length = rng.int(1, body.length - 1);
      headers[cr] = ["Content-Range", `bytes ${start}-${Number(start) + length - 1}/${total}`];
      return { ...reply, headers, body: body.subarray(0, length) };
    }
    case "double-etag": // two fields: fetch joins them into one "a, b" value
      return { ...reply, headers: [...headers, ["ETag", rng.pick(ETAGS)]] };
    case "slow-head":
      return { ...reply, delayMs: rng.int(1, 30) };
  }
}

/** `haulWithRetry()` over mirrors (up to 30 retries, no waits), as one attempt of a loop. */
async function retryLoop(urls: string[], options: HaulOptions): Promise<LoopOutcome> {
  let result = null, error: unknown;
  try {
    result = await haulWithRetry(urls, { ...options, retries: 30, minDelayMs: 0, maxDelayMs: 2 });
  } catch (thrown) {
    error = thrown;
  }
  const attempt = { index: 0, result, error, signal: undefined, before: null, after: null };
  const stoppedBy = result !== null
    ? "success"
    : isRetryable(error)
    ? "exhausted"
    : "not-retryable";
  return { attempts: [{ ...attempt, requests: [] }], result, stoppedBy };
}

/** How a case is run. */
interface Mode {
  readonly connections: 1 | 4;
  readonly integrity: boolean;
  readonly mirror: boolean;
  readonly rate: boolean;
}

/** Runs one case: the retry loop, the promise, then an honest server and a bounded loop. */
async function runCase(c: Case): Promise<void> {
  const honest = { now: false };
  const server = await startFuzzServer(c, 0, honest);
  const mirror = c.mirror ? await startFuzzServer(c, 0x5bd1e995, honest, c.mirrorRetags) : null;
  const label = `seed 0x${c.seed.toString(16)}`;
  try {
    await withTempDir(async (dir) => {
      const dest = join(dir, "file.bin");
      const final = c.versions[finalOf(c)];
      const allowed = c.integrity ? [final] : [...c.versions];
      const url = mirror === null ? server.url : [server.url, `${mirror.url}/m`];
      const options: HaulOptions = {
        dest,
        blockSize: 64 * KiB,
        checkpointEvery: { bytes: 64 * KiB },
        stallTimeout: 300,
        connections: c.connections,
        ...(c.integrity ? { integrity: digestOf(final) } : {}),
        ...(c.maxBytesPerSecond !== undefined ? { maxBytesPerSecond: c.maxBytesPerSecond } : {}),
      };
      const hooks = c.connections > 1 ? { rangeFloor: 16 * KiB } : undefined;
      const outcome = c.viaRetry
        ? await retryLoop(url as string[], options)
        : await haulWithRetries(url as string, options, {
          maxAttempts: 30,
          ...(hooks ? { hooks } : {}),
        });
      if (VERBOSE) {
        console.error(
          `${label} ${outcome.stoppedBy} ${outcome.attempts.length} ${server.requests.length} ${
            c.faults.join(",")
          } ${c.validator} retag=${c.mirrorRetags} switch=${c.switchAt} ${
            JSON.stringify([server, mirror].map((s) =>
              s?.requests.map((r) => r.headers["range"] ?? "-")
            ))
          }`,
        );
        for (const a of outcome.attempts) {
          if (a.error) {
            console.error(
              `   ${(a.error as Error).name}: ${(a.error as Error).message.slice(0, 120)}`,
            );
          }
        }
      }
      try {
        await assertSafeOutcome(outcome, dest, allowed);
      } catch (error) {
        throw new Error(`${label}: ${(error as Error).message}`, { cause: error });
      }
      if (c.honestAfter !== Infinity) {
        assert.notEqual(
          outcome.stoppedBy,
          "exhausted",
          `${label}: honest after ${c.honestAfter} requests`,
        );
      }
      if (c.honestAfter !== Infinity || outcome.result === null) {
        honest.now = true;
        // No stall is served now: a long stallTimeout keeps a busy machine from failing the bound.
        const after = await haulWithRetries(url as string, { ...options, stallTimeout: 20_000 }, {
          maxAttempts: 3,
          ...(hooks ? { hooks } : {}),
        });
        const expectation = allowed;
        assert.equal(
          after.stoppedBy,
          "success",
          `${label}, honest server:\n${describeOutcome(after)}`,
        );
        await assertSafeOutcome(after, dest, expectation);
      }
    });
  } finally {
    await server.close();
    await mirror?.close();
  }
  const streamed = await startFuzzServer(c, 0x27d4eb2f, { now: false });
  try {
    await streamOnce(c, streamed.url, label);
  } finally {
    await streamed.close();
  }
}

/** One `haulStream()`: a prefix of one version, all of it on a clean end; failures typed. */
async function streamOnce(c: Case, url: string, label: string): Promise<void> {
  const stream = haulStream(url, {
    retries: 4,
    minDelayMs: 0,
    maxDelayMs: 2,
    stallTimeout: 300,
    ...(c.integrity ? { integrity: digestOf(c.versions[finalOf(c)]) } : {}),
    ...(c.maxBytesPerSecond !== undefined ? { maxBytesPerSecond: c.maxBytesPerSecond } : {}),
  });
  const parts: Uint8Array[] = [];
  let failure: unknown = null;
  const reader = stream.getReader();
  // Sometimes the reader cancels part-way: that must end the stream and its requests.
  const rng = makeRng(c.seed ^ 0x7f4a7c15);
  let cancelAfter = rng.chance(0.2) ? rng.int(0, c.versions[0].length) : Infinity;
  try {
    for (;;) {
      if (cancelAfter <= 0) {
        await reader.cancel();
        break;
      }
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      cancelAfter -= value.length;
    }
  } catch (error) {
    failure = error;
  }
  const cancelled = cancelAfter <= 0;
  const got = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) got.set(part, (at += part.length) - part.length);
  const isPrefixOf = (v: Uint8Array) =>
    got.length <= v.length &&
    Buffer.compare(Buffer.from(got), Buffer.from(v.subarray(0, got.length))) === 0;
  // A lie under the same strong validator is seen only by `integrity`, at the last read.
  const lied = c.faults.includes("lie-on-range");
  assert.ok(
    lied || c.versions.some(isPrefixOf),
    `${label}: stream gave ${got.length} bytes spliced from two versions (${String(failure)})`,
  );
  if (failure === null && !cancelled) {
    const whole = c.integrity ? [c.versions[finalOf(c)]] : c.versions;
    assert.ok(
      whole.some((v) => v.length === got.length && isPrefixOf(v)),
      `${label}: stream ended cleanly after ${got.length} bytes, not a whole version`,
    );
  } else if (failure !== null) {
    assert.ok(
      isTypedFailure(failure),
      `${label}: stream failed untyped: ${String(failure)}`,
    );
  }
}

const MODES: readonly Mode[] = [
  { connections: 1, integrity: false, mirror: false, rate: false },
  { connections: 4, integrity: false, mirror: false, rate: false },
  { connections: 1, integrity: true, mirror: false, rate: false },
  { connections: 4, integrity: true, mirror: true, rate: false },
  { connections: 1, integrity: false, mirror: true, rate: true },
  { connections: 4, integrity: false, mirror: false, rate: true },
];

describe("a seeded fuzz of misbehaving servers", () => {
  const cases = fuzzCases(6, "HAUL_SERVER_FUZZ_CASES");
  const base = fuzzSeed();
  MODES.forEach((mode, m) => {
    const name = `${mode.connections} connection(s)${mode.integrity ? ", integrity" : ""}${
      mode.mirror ? ", a mirror" : ""
    }${mode.rate ? ", maxBytesPerSecond" : ""}`;
    it(`keeps the promise for ${cases} drawn server(s): ${name}`, async () => {
      for (let i = 0; i < cases; i++) {
        await runCase(drawCase((base + i * 0x10001 + m * 0x3c6ef35f) >>> 0, mode));
      }
    });
  });
});
