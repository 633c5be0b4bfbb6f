import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  haulStream,
  IntegrityError,
  PartialHaulError,
  type RetryInfo,
  ServerMisconfiguredError,
  StreamCutError,
  UnexpectedStatusError,
} from "../../mod.ts";
import { type Reply, startResourceServer, startScriptServer } from "../helpers/script_server.ts";
import { randomBody, sha256 } from "../helpers/temp.ts";

/** Reads a stream to its end, or to its error (returned beside the bytes read before it). */
async function drain(
  stream: ReadableStream<Uint8Array>,
): Promise<{ bytes: Uint8Array; error: unknown; reads: number }> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let error: unknown = null;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
  } catch (caught) {
    error = caught;
  }
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return { bytes, error, reads: chunks.length };
}

const integrityOf = (bytes: Uint8Array): string => `sha256:${sha256(bytes)}`;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("haulStream()", () => {
  it("gives a body cut five times by the server exactly once, in order", async () => {
    const body = randomBody(1_000_000);
    const cuts = [90_000, 250_000, 400_000, 610_000, 800_000];
    const server = await startResourceServer(
      { body },
      (req, honest) =>
        req.index < cuts.length
          ? { ...honest, cutAfter: cuts[req.index]! - (req.index === 0 ? 0 : cuts[req.index - 1]!) }
          : honest,
    );
    try {
      const retries: RetryInfo[] = [];
      const stream = haulStream(server.url, {
        integrity: integrityOf(body),
        minDelayMs: 1,
        onRetry: (info) => retries.push(info),
      });
      const { bytes, error } = await drain(stream);
      assert.equal(error, null);
      assert.equal(bytes.length, body.length);
      assert.ok(bytes.every((byte, i) => byte === body[i]), "a byte differs");
      assert.equal(server.requests.length, 6, "one request per cut, and the first");
      assert.equal(retries.length, 5);
      for (const info of retries) assert.ok(info.error instanceof PartialHaulError);
      const starts = server.requests.slice(1).map((req) => {
        assert.equal(req.headers["if-range"], `"v1-${body.length}"`);
        const match = /^bytes=(\d+)-(\d+)$/.exec(req.headers["range"] ?? "");
        assert.ok(match, req.headers["range"]);
        assert.equal(Number(match[2]), body.length - 1);
        return Number(match[1]);
      });
      assert.equal(server.requests[0]!.headers["range"], undefined);
      // Each resume starts at the byte the consumer had not been given (at most where the
      // server cut: a runtime's fetch may lose what arrived with the close).
      for (const [i, start] of starts.entries()) {
        assert.ok(start <= cuts[i]! && (i === 0 || start >= starts[i - 1]!), `${starts}`);
      }
    } finally {
      await server.close();
    }
  });

  it("errors, never splices, when the file changes between two connections", async () => {
    const v1 = randomBody(300_000);
    const v2 = randomBody(300_000);
    const server = await startResourceServer(
      (req) => req.index === 0 ? { body: v1, etag: '"v1"' } : { body: v2, etag: '"v2"' },
      // The linger lets Bun's fetch see the bytes before the end: without it, 1 run in about 100
      // under load saw none, started over from byte 0 and gave v2 whole (right, but not this test).
      (req, honest) =>
        req.index === 0 ? { ...honest, cutAfter: 100_000, cutLingerMs: 100 } : honest,
    );
    try {
      const { bytes, error } = await drain(haulStream(server.url, { minDelayMs: 1 }));
      assert.ok(error instanceof StreamCutError, String(error));
      assert.match(
        error.message,
        /cannot continue at byte \d+: the file changed: ETag "v1" is now "v2"/,
      );
      assert.equal(error.retryable, false);
      assert.equal(error.delivered, bytes.length);
      assert.ok(bytes.length > 0 && bytes.length <= 100_000);
      assert.ok(bytes.every((byte, i) => byte === v1[i]), "only bytes of v1");
      assert.equal(server.requests.length, 2, "no request after the change");
      assert.equal(server.requests[1]!.headers["if-range"], '"v1"');
    } finally {
      await server.close();
    }
  });

  it("errors when the server answers the resume with the whole file", async () => {
    const body = randomBody(200_000);
    const server = await startResourceServer(
      (req) => ({ body, honorRange: req.index === 0 }),
      (req, honest) => req.index === 0 ? { ...honest, cutAfter: 70_000 } : honest,
    );
    try {
      const { bytes, error } = await drain(haulStream(server.url, { minDelayMs: 1 }));
      assert.ok(error instanceof StreamCutError, String(error));
      assert.match(error.message, /the server did not resume: .*whole file \(200\)/);
      assert.ok(bytes.every((byte, i) => byte === body[i]));
    } finally {
      await server.close();
    }
  });

  it("gives every byte once when cut at the first, the second or the last byte", async () => {
    const body = randomBody(100_000);
    for (const cut of [0, 1, body.length - 1]) {
      const server = await startResourceServer(
        { body },
        // The linger lets Bun's fetch see the bytes before the end (it drops what comes with it).
        (req, honest) => req.index === 0 ? { ...honest, cutAfter: cut, cutLingerMs: 200 } : honest,
      );
      try {
        const stream = haulStream(server.url, { minDelayMs: 1, integrity: integrityOf(body) });
        const { bytes, error } = await drain(stream);
        assert.equal(error, null);
        assert.deepEqual(bytes, body);
        const asked = server.requests.map((req) => req.headers["range"]);
        assert.deepEqual(asked, [
          undefined,
          cut === 0 ? undefined : `bytes=${cut}-${body.length - 1}`,
        ]);
      } finally {
        await server.close();
      }
    }
  });

  it("errors, never splices, when the resume is answered 416 or with a shorter file", async () => {
    const body = randomBody(100_000);
    for (const answer of ["416", "shorter"]) {
      const unsatisfied = { status: 416, headers: { "content-range": `bytes */${body.length}` } };
      const server = await startResourceServer(
        (req) => ({
          body: answer === "shorter" && req.index > 0 ? body.subarray(0, 50_000) : body,
        }),
        (req, honest) =>
          req.index === 0 ? { ...honest, cutAfter: 5000 } : answer === "416" ? unsatisfied : honest,
      );
      try {
        const { bytes, error } = await drain(haulStream(server.url, { minDelayMs: 1 }));
        assert.ok(error instanceof StreamCutError, String(error));
        assert.match(
          error.message,
          answer === "416" ? /did not resume: .*\(416\)/ : /file changed/,
        );
        assert.ok(bytes.length <= 5000 && bytes.every((byte, j) => byte === body[j]));
        assert.equal(server.requests.length, 2);
      } finally {
        await server.close();
      }
    }
  });

  it("errors, never splices, when a resume's 206 is not exactly the rest of the same file", async () => {
    const body = randomBody(100_000);
    type Head = [string, string][];
    const edit =
      (name: string, value: (old: string) => string | null) => (reply: Reply): Reply => ({
        ...reply,
        headers: (reply.headers as Head).flatMap(([key, old]): Head => {
          if (key.toLowerCase() !== name) return [[key, old]];
          const now = value(old);
          return now === null ? [] : [[key, now]];
        }),
      });
    const whole = (reply: Reply): Reply => ({ ...reply, body }); // its head says bytes 0-
    const answers: [string, (reply: Reply) => Reply, RegExp][] = [
      ["bytes */N", edit("content-range", () => `bytes */${body.length}`), /valid Content-Range/],
      ["multipart", edit("content-type", () => "multipart/byteranges; b=x"), /multipart/],
      [
        "gzip",
        (r) => ({ ...r, headers: [...r.headers as Head, ["Content-Encoding", "gzip"]] }),
        /gzip/,
      ],
      ["a weak ETag", edit("etag", (old) => `W/${old}`), /is now W\//],
      ["no ETag", edit("etag", () => null), /without its ETag/],
      ["another length", edit("content-range", (old) => `${old}9`), /length was 100000/],
      ["bytes 0-", (r) => whole(edit("content-range", () => `bytes 0-99999/100000`)(r)), /got 0-/],
      [
        "more bytes",
        (r) => {
          const rest = new Uint8Array([...r.body as Uint8Array, 1, 2, 3]); // then the connection ends
          return { ...edit("content-length", () => null)(r), body: rest, framing: "close" };
        },
        /more than the \d+ bytes it declared/,
      ],
    ];
    let judged = 0;
    for (const [what, bend, reason] of answers) {
      for (const cut of [1, 50_000, body.length - 1]) {
        const server = await startResourceServer(
          { body },
          (req, honest) =>
            req.index === 0 ? { ...honest, cutAfter: cut, cutLingerMs: 100 } : bend(honest),
        );
        try {
          const stream = haulStream(server.url, { minDelayMs: 1, integrity: integrityOf(body) });
          const { bytes, error } = await drain(stream);
          assert.ok(bytes.every((byte, j) => byte === body[j]), `${what}: a byte differs`);
          // Bun's fetch may drop the bytes that came with the cut: none given, no resume to judge.
          if (server.requests[1]?.headers["range"] === undefined) continue;
          judged++;
          const kind = what === "more bytes" ? ServerMisconfiguredError : StreamCutError;
          assert.ok(error instanceof kind, `${what}, cut at ${cut}: ${error}`);
          assert.match(error.message, reason, what);
          assert.equal(error.retryable, false);
          assert.ok(bytes.length < body.length, `${what}: ${bytes.length}`);
          assert.equal(server.requests.length, 2, `${what}: no retry after the refusal`);
        } finally {
          await server.close();
        }
      }
    }
    assert.ok(judged > answers.length * 2, `only ${judged} resumes judged`);
  });

  it("without a strong validator, starts over while nothing was given and errors after", async () => {
    const body = randomBody(200_000);
    const early = await startResourceServer(
      { body, etag: null },
      (req, honest) => req.index === 0 ? { ...honest, cutAfter: 0 } : honest,
    );
    try {
      const { bytes, error } = await drain(haulStream(early.url, { minDelayMs: 1 }));
      assert.equal(error, null);
      assert.deepEqual(bytes, body);
      assert.equal(early.requests[1]!.headers["range"], undefined, "a fresh request");
    } finally {
      await early.close();
    }
    const weak = await startResourceServer(
      { body, etag: 'W/"v1"' },
      (req, honest) => req.index === 0 ? { ...honest, cutAfter: 50_000 } : honest,
    );
    try {
      const { bytes, error } = await drain(haulStream(weak.url, { minDelayMs: 1 }));
      assert.ok(error instanceof StreamCutError, String(error));
      assert.match(error.message, /was cut at byte \d+ and cannot continue: .*strong validator/);
      assert.equal(error.delivered, bytes.length);
      assert.equal(weak.requests.length, 1, "no second request");
    } finally {
      await weak.close();
    }
  });

  it("checks integrity at the end: a mismatch errors the last read, after every byte", async () => {
    const body = randomBody(100_000);
    const server = await startResourceServer({ body });
    try {
      const wrong = integrityOf(randomBody(10));
      const { bytes, error } = await drain(haulStream(server.url, { integrity: wrong }));
      assert.ok(error instanceof IntegrityError, String(error));
      assert.equal(error.actual, sha256(body));
      assert.deepEqual(bytes, body);
      assert.throws(() => haulStream(server.url, { integrity: "md5:00" }), TypeError);
      assert.throws(() => haulStream(server.url, { retries: -1 }), RangeError);
      assert.throws(() => haulStream("not a url"), TypeError);
    } finally {
      await server.close();
    }
  });

  it("gives up after `retries` failures in a row without a new byte", async () => {
    const body = randomBody(100_000);
    const server = await startResourceServer(
      { body },
      (req, honest) =>
        req.index === 0 ? { ...honest, cutAfter: 30_000 } : { ...honest, hangUp: true },
    );
    try {
      const { bytes, error } = await drain(haulStream(server.url, { retries: 2, minDelayMs: 1 }));
      assert.ok(bytes.length > 0);
      assert.equal((error as { attempts?: number }).attempts, 3);
      assert.equal(server.requests.length, 3, "the first, then two reconnections");
      const status = await startResourceServer({ body }, () => ({ status: 404, body: "no" }));
      try {
        const missing = await drain(haulStream(status.url, { minDelayMs: 1 }));
        assert.ok(missing.error instanceof UnexpectedStatusError);
        assert.equal(missing.error.status, 404);
        assert.equal(status.requests.length, 1, "a 404 is not retried");
      } finally {
        await status.close();
      }
    } finally {
      await server.close();
    }
  });

  it("retries a resume answered 503, then continues", async () => {
    const body = randomBody(200_000);
    const server = await startResourceServer(
      { body },
      (req, honest) =>
        req.index === 0
          ? { ...honest, cutAfter: 80_000 }
          : req.index === 1
          ? { status: 503, headers: { "retry-after": "0" }, body: "busy" }
          : honest,
    );
    try {
      const retries: RetryInfo[] = [];
      const stream = haulStream(server.url, {
        minDelayMs: 1,
        onRetry: (info) => retries.push(info),
      });
      const { bytes, error } = await drain(stream);
      assert.equal(error, null);
      assert.deepEqual(bytes, body);
      assert.ok(retries[1]!.error instanceof UnexpectedStatusError);
      assert.equal(server.requests.length, 3);
      assert.equal(server.requests[2]!.headers["range"], server.requests[1]!.headers["range"]);
    } finally {
      await server.close();
    }
  });

  it("reconnects after a stall (stallTimeout)", async () => {
    const body = randomBody(200_000);
    const server = await startResourceServer(
      { body },
      (req, honest) => req.index === 0 ? { ...honest, stallAfter: 60_000 } : honest,
    );
    try {
      const { bytes, error } = await drain(
        haulStream(server.url, { stallTimeout: 300, minDelayMs: 1 }),
      );
      assert.equal(error, null);
      assert.deepEqual(bytes, body);
      assert.equal(server.requests.length, 2);
    } finally {
      await server.close();
    }
  });

  it("reads no faster than the consumer, and a cancel ends the body and the retries", async () => {
    const body = randomBody(16 << 20);
    const server = await startResourceServer({ body });
    try {
      let pulled = 0;
      const countingFetch = async (request: Request): Promise<Response> => {
        const response = await fetch(request);
        const reader = response.body!.getReader();
        const counted = new ReadableStream<Uint8Array>({
          async pull(controller) {
            const { done, value } = await reader.read();
            if (done) return controller.close();
            pulled += value.length;
            controller.enqueue(value);
          },
          cancel: (reason) => reader.cancel(reason),
        }, { highWaterMark: 0 });
        return new Response(counted, response);
      };
      const reader = haulStream(server.url, { fetch: countingFetch }).getReader();
      const first = await reader.read();
      assert.ok(!first.done && first.value.length > 0);
      await wait(200);
      assert.equal(pulled, first.value.length, "nothing read ahead of the consumer");
      await reader.cancel(new Error("enough"));
      await wait(100);
      assert.equal(server.requests.length, 1);
      assert.ok(pulled < body.length);
    } finally {
      await server.close();
    }
  });

  it("an abort of the signal errors the stream with its reason, even during a wait", async () => {
    const server = await startScriptServer(() => ({
      status: 503,
      headers: { "retry-after": "30" },
      body: "busy",
    }));
    try {
      const controller = new AbortController();
      const reader = haulStream(server.url, { signal: controller.signal }).getReader();
      const read = reader.read();
      for (let i = 0; i < 100 && server.requests.length === 0; i++) await wait(10);
      const started = performance.now();
      controller.abort(new DOMException("stop", "AbortError"));
      await assert.rejects(read, (error: Error) => error.name === "AbortError");
      assert.ok(performance.now() - started < 1000, "the 30 s wait was not waited");
      assert.equal(server.requests.length, 1);
    } finally {
      await server.close();
    }
  });

  it("a Request input's own signal errors the stream with its reason", async () => {
    const server = await startResourceServer({ body: randomBody(1_000_000) }, (_req, honest) => ({
      ...honest,
      chunkSize: 16 * 1024,
      bytesPerSecond: 400_000,
    }));
    try {
      const controller = new AbortController();
      const reason = new Error("stopped by the request's signal");
      const request = new Request(`${server.url}/f.bin`, { signal: controller.signal });
      const started = performance.now();
      const reader = haulStream(request).getReader();
      await reader.read();
      controller.abort(reason);
      const error = await (async () => {
        for (;;) if ((await reader.read()).done) return null;
      })().catch((e) => e);
      assert.equal(error, reason);
      assert.ok(performance.now() - started < 2000);
    } finally {
      await server.close();
    }
  });

  it("checks its options as haul() does: a synchronous error, before any request", async () => {
    const server = await startResourceServer({ body: randomBody(1000) });
    try {
      const untyped = haulStream as (input: string, options?: unknown) => ReadableStream;
      const bad: [Record<string, unknown>, string, RegExp][] = [
        [{ fetch: "fetch" }, "TypeError", /^Invalid options: fetch must be a function$/],
        [{ onRetry: {} }, "TypeError", /^Invalid options: onRetry must be a function$/],
        [{ signal: {} }, "TypeError", /^Invalid options: signal must be an AbortSignal$/],
        [{ signal: "abort" }, "TypeError", /^Invalid options: signal must be an AbortSignal$/],
        [{ stallTimeout: -1 }, "RangeError", /^Invalid stallTimeout: -1/],
        [{ maxBytesPerSecond: 0 }, "RangeError", /^Invalid maxBytesPerSecond: 0/],
        [{ integrity: "sha256" }, "TypeError", /^Invalid integrity/],
      ];
      for (const [options, name, message] of bad) {
        let stream: ReadableStream | null = null;
        assert.throws(
          () => stream = untyped(server.url, options),
          { name, message },
          JSON.stringify(options),
        );
        if (stream !== null) await drain(stream); // what a lenient check would have requested
      }
      await wait(50); // nothing in flight
      assert.equal(server.requests.length, 0, "no request");
    } finally {
      await server.close();
    }
  });

  it("options that are not an object: a TypeError that names them", () => {
    const untyped = haulStream as (input: string, options?: unknown) => ReadableStream;
    assert.throws(() => untyped("http://127.0.0.1:9/x", null), {
      name: "TypeError",
      message: /^Invalid options: haulStream\(url, options\) needs an options object/,
    });
  });
});
