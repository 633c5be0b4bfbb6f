import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ContentRangeError,
  ControlFileError,
  DestinationError,
  HaulError,
  IntegrityError,
  isRetryable,
  PartialHaulError,
  ServerMisconfiguredError,
  UnexpectedStatusError,
} from "../../mod.ts";
import { errorFromWire, errorToWire } from "../../src/browser/error_wire.ts";

/** Across a real structured clone, as a worker's message would carry it. */
const across = (error: unknown): Error => errorFromWire(structuredClone(errorToWire(error)));

const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });

const table: { label: string; error: Error; check(copy: Error): void }[] = [
  {
    label: "PartialHaulError keeps validLength and its cause",
    error: new PartialHaulError("Download interrupted at byte 7", { validLength: 7, cause: reset }),
    check(copy) {
      assert.ok(copy instanceof PartialHaulError);
      assert.equal(copy.validLength, 7);
      const cause = copy.cause as Error & { code?: string };
      assert.equal(cause.message, "read ECONNRESET");
      assert.equal(cause.code, "ECONNRESET");
    },
  },
  {
    label: "UnexpectedStatusError keeps its status, Retry-After and Headers",
    error: new UnexpectedStatusError({
      status: 503,
      headers: new Headers({ "retry-after": "3", "x-server": "a" }),
      url: "https://example.com/a",
      retryAfterMs: 3000,
    }),
    check(copy) {
      assert.ok(copy instanceof UnexpectedStatusError);
      assert.equal(copy.status, 503);
      assert.equal(copy.retryAfterMs, 3000);
      assert.equal(copy.isTransient, true);
      assert.ok(copy.headers instanceof Headers);
      assert.equal(copy.headers.get("x-server"), "a");
    },
  },
  {
    label: "DestinationError keeps its path",
    error: new DestinationError("Destination busy", "/tmp/x", { retryable: true }),
    check(copy) {
      assert.ok(copy instanceof DestinationError);
      assert.equal(copy.path, "/tmp/x");
    },
  },
  {
    label: "IntegrityError keeps expected and actual",
    error: new IntegrityError("mismatch", { expected: ["sha256:aa"], actual: "bb" }),
    check(copy) {
      assert.ok(copy instanceof IntegrityError);
      assert.deepEqual(copy.expected, ["sha256:aa"]);
      assert.equal(copy.actual, "bb");
    },
  },
  {
    label: "ServerMisconfiguredError",
    error: new ServerMisconfiguredError("gzip", { retryable: false }),
    check: (copy) => assert.ok(copy instanceof ServerMisconfiguredError),
  },
  {
    label: "ContentRangeError",
    error: new ContentRangeError("bad range", { retryable: true }),
    check: (copy) => assert.ok(copy instanceof ContentRangeError),
  },
  {
    label: "ControlFileError",
    error: new ControlFileError("corrupt"),
    check: (copy) => assert.ok(copy instanceof ControlFileError),
  },
  {
    label: "a fetch TypeError with a network cause stays retryable",
    error: new TypeError("fetch failed", { cause: reset }),
    check: (copy) => assert.ok(copy instanceof TypeError),
  },
  {
    label: "RangeError from bad options",
    error: new RangeError("Invalid blockSize: 3"),
    check: (copy) => assert.ok(copy instanceof RangeError),
  },
  {
    label: "an AbortError DOMException keeps its name",
    error: new DOMException("stop", "AbortError"),
    check: (copy) => assert.equal(copy.name, "AbortError"),
  },
];

describe("errors across a thread (errorToWire, errorFromWire)", () => {
  for (const { label, error, check } of table) {
    it(label, () => {
      const copy = across(error);
      assert.ok(copy instanceof Error);
      assert.equal(copy.name, error.name);
      assert.equal(copy.message, error.message);
      assert.equal(isRetryable(copy), isRetryable(error), "isRetryable() gives the same verdict");
      assert.equal(copy instanceof HaulError, error instanceof HaulError);
      assert.equal(copy.stack, error.stack, "the thrower's stack");
      check(copy);
    });
  }

  it("carries a thrown non-error as an Error with its text", () => {
    const copy = across("plain text");
    assert.ok(copy instanceof Error);
    assert.equal(copy.message, "plain text");
  });

  it("bounds a cause chain, ending it with the rest as text", () => {
    let error: Error = new Error("root");
    for (let i = 0; i < 10; i++) error = new Error(`level ${i}`, { cause: error });
    let copy: unknown = across(error);
    let depth = 0;
    while (copy instanceof Error && depth < 20) {
      copy = copy.cause;
      depth++;
    }
    assert.equal(depth, 5, "the error and four causes");
    assert.equal(typeof copy, "string");
  });

  it("turns fields that cannot be cloned into text", () => {
    const error = Object.assign(new HaulError("odd"), { callback: () => 1, nested: { a: 1 } });
    const copy = across(error) as HaulError & { callback: unknown; nested: unknown };
    assert.equal(typeof copy.callback, "string");
    assert.equal(copy.nested, "[object Object]");
  });
});
