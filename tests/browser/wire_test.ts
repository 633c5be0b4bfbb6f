import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ContentRangeError,
  ControlFileError,
  DestinationError,
  HaulError,
  HaulState,
  IntegrityError,
  isRetryable,
  PartialHaulError,
  ServerMisconfiguredError,
  UnexpectedStatusError,
} from "../../mod.ts";
import { errorFromWire, errorToWire, toWireCall } from "../../src/browser/wire.ts";

const URL_A = new URL("https://example.com/a?b=1");

describe("a browser call as it crosses to the download worker (toWireCall)", () => {
  it("carries every data option, and the headers as pairs", () => {
    const call = structuredClone(toWireCall("retry", URL_A, {
      dest: "models/a.bin",
      headers: { authorization: "Bearer t", "x-one": "1" },
      blockSize: 128,
      overwrite: true,
      integrity: "sha256:00",
      checkpointEvery: { bytes: 1024 },
      connections: 4,
      stallTimeout: 300,
      retries: 2,
      minDelayMs: 5,
      maxDelayMs: 50,
    }));
    assert.equal(call.kind, "retry");
    assert.equal(call.url, "https://example.com/a?b=1");
    const { options } = call;
    assert.equal(options.dest, "models/a.bin");
    assert.equal(new Headers(options.headers).get("authorization"), "Bearer t");
    assert.equal(new Headers(options.headers).get("x-one"), "1");
    assert.deepEqual(
      [
        options.blockSize,
        options.overwrite,
        options.integrity,
        options.checkpointEvery,
        options.connections,
        options.stallTimeout,
        options.retries,
        options.minDelayMs,
        options.maxDelayMs,
      ],
      [128, true, "sha256:00", { bytes: 1024 }, 4, 300, 2, 5, 50],
    );
  });

  it("leaves unset options unset", () => {
    assert.deepEqual(Object.keys(toWireCall("haul", URL_A, { dest: "a" }).options), ["dest"]);
  });

  it("carries a data option it was never told about, so a new option needs no edit here", () => {
    // Stands for an option added to HaulOptions later: the wire is derived from HaulOptions.
    const future = { dest: "a", futureLimit: 3, futureMode: { kind: "x", list: [1, 2] } };
    const { options } = structuredClone(toWireCall("haul", URL_A, future as never));
    assert.deepEqual(options, future);
  });

  it("refuses an option that is a function, a custom fetch too, naming it", () => {
    for (const key of ["onFuture", "fetch"]) {
      const options = { dest: "a", [key]: () => {} };
      assert.throws(
        () => toWireCall("haul", URL_A, options as never),
        (error: unknown) => error instanceof TypeError && error.message.includes(key),
      );
    }
  });

  it("keeps the caller's signal, state and callbacks on the page", () => {
    const call = toWireCall("retry", URL_A, {
      dest: "a",
      signal: new AbortController().signal,
      state: new HaulState(),
      onProgress: () => {},
      onRetry: () => {},
    });
    assert.deepEqual(Object.keys(call.options), ["dest"]);
    structuredClone(call);
  });
});

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

  it("rebuilds an unknown name, or one of no error class, as an Error of that name", () => {
    for (const name of ["AbortError", "isRetryable", "constructor"]) {
      const copy = across(Object.assign(new Error("x"), { name }));
      assert.equal(Object.getPrototypeOf(copy), Error.prototype, name);
      assert.equal(copy.name, name);
    }
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
