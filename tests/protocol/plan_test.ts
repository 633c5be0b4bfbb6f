import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Checkpoint } from "../../src/protocol/checkpoint.ts";
import {
  ContentRangeError,
  ServerMisconfiguredError,
  UnexpectedStatusError,
} from "../../src/errors.ts";
import {
  type BodyEndFacts,
  isOverLong,
  judgeBodyEnd,
  type Plan,
  planResponse,
} from "../../src/protocol/plan.ts";

const url = "http://127.0.0.1/file";

function saved(overrides: Partial<Checkpoint> = {}): Checkpoint {
  return {
    blockSize: 64,
    extent: 100,
    reportedLength: 1000,
    etag: '"v1"',
    lastModified: null,
    contentType: null,
    ranges: [{ start: 0, end: 100, tailDigest: new Uint8Array(32) }],
    ...overrides,
  };
}

function plan(
  status: number,
  headers: Record<string, string>,
  cursor = 100,
  checkpoint: Checkpoint | null = cursor > 0 ? saved() : null,
): Plan {
  return planResponse({ url, cursor, checkpoint }, status, new Headers(headers), 0);
}

function failure(result: Plan): { error: Error; reset: boolean } {
  assert.equal(result.kind, "fail", JSON.stringify(result));
  if (result.kind !== "fail") throw new Error("unreachable");
  return result;
}

describe("planResponse()", () => {
  it("streams a fresh 200 from byte 0 with its length", () => {
    const result = plan(200, { "content-length": "1000", etag: '"v1"' }, 0);
    assert.deepEqual(result, {
      kind: "stream",
      offset: 0,
      bodyLength: 1000,
      total: 1000,
      bodyEndsFile: true,
      validators: { etag: '"v1"', lastModified: null, contentType: null },
    });
  });

  it("does not take the end of a range of unknown total for the end of the file", () => {
    const unknown = saved({ reportedLength: null });
    const range = { "content-range": "bytes 100-199/*", etag: '"v1"' };
    const result = plan(206, range, 100, unknown);
    assert.equal(result.kind === "stream" && result.bodyEndsFile, false);
    const known = plan(206, range);
    assert.equal(known.kind === "stream" && known.bodyEndsFile, true);
    assert.equal(known.kind === "stream" && known.total, 1000);
  });

  it("rewinds on a 200 answering a resume", () => {
    const result = plan(200, { "content-length": "1000", etag: '"v2"' });
    assert.equal(result.kind, "stream");
    assert.equal(result.kind === "stream" && result.offset, 0);
  });

  it("appends a 206 at the cursor with the same ETag", () => {
    const result = plan(206, { "content-range": "bytes 100-999/1000", etag: '"v1"' });
    assert.equal(result.kind, "stream");
    if (result.kind !== "stream") return;
    assert.equal(result.offset, 100);
    assert.equal(result.bodyLength, 900);
    assert.equal(result.total, 1000);
  });

  it("treats a 206 of the whole representation from 0 like a 200", () => {
    const result = plan(206, { "content-range": "bytes 0-999/1000" });
    assert.equal(result.kind === "stream" && result.offset, 0);
  });

  it("refuses a 206 whose start differs from the cursor and resets", () => {
    const { error, reset } = failure(plan(206, { "content-range": "bytes 50-999/1000" }));
    assert.ok(error instanceof ContentRangeError);
    assert.equal(reset, true);
    assert.equal((error as ContentRangeError).retryable, true);
  });

  it("refuses a 206 whose ETag differs from the stored strong one", () => {
    const { error, reset } = failure(
      plan(206, { "content-range": "bytes 100-999/1000", etag: '"v2"' }),
    );
    assert.ok(error instanceof ContentRangeError);
    assert.match(error.message, /changed/);
    assert.equal(reset, true);
  });

  it("refuses a 206 that does not repeat the saved validator (RFC 9110 §15.3.7), not a 416", () => {
    const missing = failure(plan(206, { "content-range": "bytes 100-999/1000" }));
    assert.ok(missing.error instanceof ContentRangeError);
    assert.match(missing.error.message, /no ETag/);
    assert.equal(missing.reset, true);
    const dated = saved({ etag: null, lastModified: "Tue, 15 Nov 1994 12:45:26 GMT" });
    const noDate = failure(plan(206, { "content-range": "bytes 100-999/1000" }, 100, dated));
    assert.match(noDate.error.message, /no Last-Modified/);
    const whole = saved({ reportedLength: 100 });
    assert.equal(plan(416, { "content-range": "bytes */100" }, 100, whole).kind, "finish");
  });

  it("refuses a 206 whose total length changed", () => {
    const { error } = failure(plan(206, { "content-range": "bytes 100-1999/2000" }));
    assert.match(error.message, /length 1000 is now 2000/);
  });

  it("refuses a 206 without Content-Range, and a malformed one", () => {
    for (
      const value of [
        undefined,
        "bytes 9-3/10",
        "bytes x-y/z",
        "bytes 100-9007199254740993/9007199254740994",
      ]
    ) {
      const headers: Record<string, string> = value === undefined ? {} : { "content-range": value };
      const { error, reset } = failure(plan(206, headers));
      assert.ok(error instanceof ContentRangeError, value);
      assert.equal(reset, true);
    }
  });

  it("escapes control characters of a malformed Content-Range in its message", () => {
    const { error } = failure(plan(206, { "content-range": "bytes \x1b[31m0-1/2\x7f" }));
    assert.ok(error instanceof ContentRangeError);
    assert.ok(error.message.includes("bytes \\x1b[31m0-1/2\\x7f"), error.message);
    const codes = Array.from(error.message, (c) => c.charCodeAt(0));
    assert.ok(codes.every((code) => code >= 0x20 && code !== 0x7f), error.message);
  });

  it("cuts a very long malformed Content-Range in its message to about 100 characters", () => {
    const { error } = failure(plan(206, { "content-range": "bytes 0-1/" + "9".repeat(10_000) }));
    assert.ok(error instanceof ContentRangeError);
    assert.ok(error.message.includes(`Malformed Content-Range from ${url}: bytes 0-1/999`));
    assert.ok(error.message.length < 250, `message is ${error.message.length} characters`);
  });

  it("refuses a 206 to a request without Range unless it starts at 0", () => {
    const { error, reset } = failure(plan(206, { "content-range": "bytes 5-9/10" }, 0));
    assert.ok(error instanceof ContentRangeError);
    assert.equal(reset, false);
    assert.equal((error as ContentRangeError).retryable, false);
    assert.equal(plan(206, { "content-range": "bytes 0-9/10" }, 0).kind, "stream");
  });

  it("refuses Content-Length that disagrees with Content-Range", () => {
    const { error } = failure(
      plan(206, { "content-range": "bytes 100-999/1000", "content-length": "5" }),
    );
    assert.ok(error instanceof ServerMisconfiguredError);
  });

  it("finishes on 416 whose length equals the cursor", () => {
    const checkpoint = saved({
      reportedLength: 1000,
      ranges: [{ start: 0, end: 1000, tailDigest: new Uint8Array(32) }],
    });
    assert.deepEqual(plan(416, { "content-range": "bytes */1000" }, 1000, checkpoint), {
      kind: "finish",
    });
    // Without Content-Range (RFC 9110 §15.5.17): the checkpoint's own length, when it has it all.
    assert.deepEqual(plan(416, {}, 1000, checkpoint), { kind: "finish" });
    assert.equal(failure(plan(416, {}, 999, checkpoint)).reset, true, "a byte short");
    assert.equal(
      failure(plan(416, { "content-range": "bytes 0-1/1000" }, 1000, checkpoint)).reset,
      true,
    );
    assert.equal(failure(plan(416, { etag: '"other"' }, 1000, checkpoint)).reset, true);
  });

  it("resets on 416 whose length differs from the cursor", () => {
    const { error, reset } = failure(plan(416, { "content-range": "bytes */50" }));
    assert.ok(error instanceof ContentRangeError);
    assert.equal(reset, true);
    assert.equal(failure(plan(416, {})).reset, true);
  });

  it("reports 416 to a fresh request as an unexpected status", () => {
    const { error } = failure(plan(416, {}, 0));
    assert.ok(error instanceof UnexpectedStatusError);
  });

  it("raises UnexpectedStatusError for 3xx, 4xx and 5xx with Retry-After", () => {
    const moved = failure(plan(302, { location: "/elsewhere" }, 0)).error as UnexpectedStatusError;
    assert.ok(moved instanceof UnexpectedStatusError);
    assert.equal(moved.status, 302);
    assert.equal(moved.isTransient, false);
    assert.match(moved.message, /redirect to http:\/\/127\.0\.0\.1\/elsewhere was not followed/);
    const busy = failure(plan(503, { "retry-after": "7" }, 0)).error as UnexpectedStatusError;
    assert.equal(busy.isTransient, true);
    assert.equal(busy.retryable, true);
    assert.equal(busy.retryAfterMs, 7000);
    const gone = failure(plan(404, {}, 0)).error as UnexpectedStatusError;
    assert.equal(gone.retryable, false);
    const limited = failure(
      plan(429, { "retry-after": "Thu, 01 Jan 1970 00:00:10 GMT" }, 0),
    ).error as UnexpectedStatusError;
    assert.equal(limited.retryAfterMs, 10_000);
  });

  it("refuses any Content-Encoding but identity, resetting only a resume", () => {
    const fresh = failure(plan(200, { "content-encoding": "gzip" }, 0));
    assert.ok(fresh.error instanceof ServerMisconfiguredError);
    assert.equal(fresh.reset, false);
    const resumed = failure(
      plan(206, { "content-encoding": "br", "content-range": "bytes 100-999/1000" }),
    );
    assert.equal(resumed.reset, true);
    assert.equal((resumed.error as ServerMisconfiguredError).retryable, true);
    assert.equal(plan(200, { "content-encoding": "identity" }, 0).kind, "stream");
  });

  it("keeps progress when a resume gets an empty 200; resets on a same-ETag 200 of another length", () => {
    const empty = failure(plan(200, { "content-length": "0" }));
    assert.equal(empty.reset, false);
    assert.equal((empty.error as ServerMisconfiguredError).retryable, true);
    for (const length of ["900", "10"]) { // the tail (a Range applied, labelled 200), or a lie
      const tail = failure(plan(200, { "content-length": length, etag: '"v1"' }));
      assert.ok(tail.error instanceof ServerMisconfiguredError);
      assert.equal(tail.reset, true);
      assert.equal(tail.error.retryable, true);
      assert.match(tail.error.message, /progress discarded, the next call starts over$/);
    }
  });

  it("resets on a same-validator 200 to a resume when either length is unknown (it may be the tail)", () => {
    const chunked = failure(plan(200, { etag: '"v1"' }));
    assert.ok(chunked.error instanceof ServerMisconfiguredError);
    assert.equal(chunked.reset, true);
    assert.equal((chunked.error as ServerMisconfiguredError).retryable, true);
    const unknownFile = saved({ reportedLength: null });
    const tail = failure(plan(200, { etag: '"v1"', "content-length": "900" }, 100, unknownFile));
    assert.equal(tail.reset, true);
    // Another validator, or the same one with both lengths known and equal: the file, from byte 0.
    assert.equal(plan(200, { etag: '"v2"' }).kind, "stream");
    assert.equal(plan(200, { etag: '"v1"', "content-length": "1000" }).kind, "stream");
  });

  it("keeps only a strong Last-Modified as a validator", () => {
    const lm = "Tue, 01 Jan 2030 00:00:00 GMT";
    const strong = plan(200, { "last-modified": lm, date: "Tue, 01 Jan 2030 00:00:05 GMT" }, 0);
    assert.equal(strong.kind === "stream" && strong.validators.lastModified, lm);
    const weak = plan(200, { "last-modified": lm }, 0);
    assert.equal(weak.kind === "stream" && weak.validators.lastModified, null);
  });

  it("refuses a malformed Content-Length", () => {
    assert.ok(
      failure(plan(200, { "content-length": "12abc" }, 0)).error instanceof
        ServerMisconfiguredError,
    );
  });
});

describe("isRetryable()", () => {
  it("retries network failures and timeouts but not misuse or aborts", async () => {
    const { isRetryable, PartialHaulError } = await import("../../mod.ts");
    assert.equal(isRetryable(new TypeError("fetch failed")), true);
    assert.equal(isRetryable(new TypeError("Invalid URL: nope")), false);
    assert.equal(isRetryable(new DOMException("t", "TimeoutError")), true);
    assert.equal(isRetryable(new DOMException("a", "AbortError")), false);
    assert.equal(isRetryable(Object.assign(new Error("x"), { code: "ECONNRESET" })), true);
    assert.equal(isRetryable(new PartialHaulError("cut", { validLength: 1 })), true);
    assert.equal(isRetryable("string"), false);
    assert.equal(isRetryable(null), false);
    // Across realms or duplicated module copies: judged by name and flag.
    assert.equal(isRetryable({ name: "PartialHaulError", retryable: true }), true);
    assert.equal(isRetryable({ name: "IntegrityError", retryable: false }), false);
  });

  it("knows every haul error class by name, as an error from another realm carries it", async () => {
    const errors = await import("../../src/errors.ts");
    const { StreamCutError } = await import("../../src/stream.ts");
    const classes = [...Object.values(errors), StreamCutError].filter(
      (value): value is typeof errors.HaulError =>
        typeof value === "function" && value.prototype instanceof errors.HaulError,
    );
    assert.ok(classes.length >= 8, classes.map((c) => c.name).join(", "));
    for (const { name } of classes) {
      // errors.ts's HAUL_ERROR_NAMES is written by hand: a new class must be added to it.
      assert.ok(errors.HAUL_ERROR_NAMES.test(name), `${name} is not in HAUL_ERROR_NAMES`);
      assert.equal(errors.isRetryable({ name, retryable: true }), true, name);
      assert.equal(errors.isRetryable({ name, retryable: false }), false, name);
    }
  });

  it("treats an unreachable server as retryable and an invalid URL as not", async () => {
    const { haul, isRetryable } = await import("../../mod.ts");
    const { withTempDir, join } = await import("../helpers/temp.ts");
    await withTempDir(async (dir) => {
      // A port nothing listens on (port 1 is one fetch refuses to use at all, which no retry cures).
      const { createServer } = await import("node:net");
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as { port: number };
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const refused = await haul(`http://127.0.0.1:${port}/x`, { dest: join(dir, "a") })
        .catch((e) => e);
      assert.equal(isRetryable(refused), true, String(refused));
      const invalid = await haul("not a url", { dest: join(dir, "b") }).catch((e) => e);
      assert.ok(invalid instanceof TypeError);
      assert.equal(isRetryable(invalid), false);
    });
  });
});

describe("judgeBodyEnd()", () => {
  const table: [string, BodyEndFacts, ReturnType<typeof judgeBodyEnd>][] = [
    [
      "a whole 200 body",
      { received: 100, fileLength: 100, bodyLength: 100, total: 100, bodyEndsFile: true },
      { kind: "complete" },
    ],
    [
      "a body shorter than its Content-Length",
      { received: 60, fileLength: 60, bodyLength: 100, total: 100, bodyEndsFile: true },
      { kind: "short", reason: "body ended at 60 of 100 bytes" },
    ],
    [
      "a resumed 206 that stops short of its range",
      { received: 10, fileLength: 510, bodyLength: 500, total: 1000, bodyEndsFile: true },
      { kind: "short", reason: "body ended at 510 of 500 bytes" },
    ],
    [
      "a chunked body that ends before the known total",
      { received: 700, fileLength: 700, bodyLength: null, total: 1000, bodyEndsFile: true },
      { kind: "short", reason: "body ended at 700 of 1000 bytes" },
    ],
    [
      "a chunked body of unknown total",
      { received: 700, fileLength: 700, bodyLength: null, total: null, bodyEndsFile: true },
      { kind: "complete" },
    ],
    [
      "a range of a file of unknown length",
      { received: 300, fileLength: 800, bodyLength: 300, total: null, bodyEndsFile: false },
      {
        kind: "unknown-end",
        reason: "the server did not say whether the file ends at byte 800",
      },
    ],
    [
      "an empty body of an empty file",
      { received: 0, fileLength: 0, bodyLength: 0, total: 0, bodyEndsFile: true },
      { kind: "complete" },
    ],
    [
      "a short body of a range of unknown length (short wins)",
      { received: 100, fileLength: 600, bodyLength: 300, total: null, bodyEndsFile: false },
      { kind: "short", reason: "body ended at 600 of 300 bytes" },
    ],
  ];
  for (const [label, facts, verdict] of table) {
    it(label, () => assert.deepEqual(judgeBodyEnd(facts), verdict));
  }
});

describe("isOverLong()", () => {
  const table: [number, number, number | null, boolean][] = [
    [0, 100, 100, false],
    [0, 101, 100, true],
    [99, 1, 100, false],
    [100, 1, 100, true],
    [100, 0, 100, false],
    [5, 1_000_000, null, false],
    [0, 1, 0, true],
  ];
  for (const [received, chunk, declared, expected] of table) {
    it(`${received} + ${chunk} of ${declared} declared is ${expected ? "" : "not "}over-long`, () => {
      assert.equal(isOverLong(received, chunk, declared), expected);
    });
  }
});
