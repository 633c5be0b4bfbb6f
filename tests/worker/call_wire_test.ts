import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fromWireCall, toWireCall } from "../../src/worker/call_wire.ts";
import { HaulState } from "../../src/types.ts";

describe("calls across a thread (toWireCall, fromWireCall)", () => {
  it("carries every data option, and a file: URL dest as a URL", () => {
    const call = structuredClone(toWireCall("retry", new URL("https://example.com/a?b=1"), {
      dest: new URL("file:///tmp/a.bin"),
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
      worker: true,
    }));
    assert.equal(call.kind, "retry");
    const { input, options } = fromWireCall(call);
    assert.equal(input, "https://example.com/a?b=1");
    assert.ok(options.dest instanceof URL);
    assert.equal(String(options.dest), "file:///tmp/a.bin");
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
    assert.equal(options.worker, undefined, "the worker runs the call on its own thread");
  });

  it("leaves unset options unset", () => {
    const { options } = fromWireCall(toWireCall("haul", "https://example.com/a", { dest: "a" }));
    assert.deepEqual(Object.keys(options), ["dest"]);
  });

  it("carries a data option it was never told about, so a new option needs no edit here", () => {
    // Stands for an option added to HaulOptions later: the wire is derived from HaulOptions.
    const future = { dest: "a", futureLimit: 3, futureMode: { kind: "x", list: [1, 2] } };
    const { options } = fromWireCall(
      structuredClone(toWireCall("haul", "https://example.com/a", future as never)),
    );
    assert.deepEqual(options, future);
  });

  it("refuses an option that is a function, naming it", () => {
    const options = { dest: "a", onFuture: () => {} };
    assert.throws(
      () => toWireCall("haul", "https://example.com/a", options as never),
      (error: unknown) => error instanceof TypeError && /onFuture/.test(error.message),
    );
  });

  it("keeps the caller's signal, state and callbacks on its own thread", () => {
    const call = toWireCall("retry", "https://example.com/a", {
      dest: "a",
      signal: new AbortController().signal,
      state: new HaulState(),
      onProgress: () => {},
      onRetry: () => {},
      worker: true,
    });
    assert.deepEqual(Object.keys(call.options).sort(), ["dest", "destIsUrl"]);
    structuredClone(call);
  });

  it("carries a Request's method and headers", () => {
    const request = new Request("https://example.com/a", {
      method: "GET",
      headers: { "x-token": "t" },
    });
    const { input } = fromWireCall(structuredClone(toWireCall("haul", request, { dest: "a" })));
    assert.ok(input instanceof Request);
    assert.equal(input.url, "https://example.com/a");
    assert.equal(input.headers.get("x-token"), "t");
  });

  it("says whether the caller wants progress and retry reports", () => {
    const quiet = toWireCall("haul", "https://example.com/a", { dest: "a" });
    assert.deepEqual([quiet.progress, quiet.retries], [false, false]);
    const chatty = toWireCall("retry", "https://example.com/a", {
      dest: "a",
      onProgress: () => {},
      onRetry: () => {},
    });
    assert.deepEqual([chatty.progress, chatty.retries], [true, true]);
  });

  it("refuses a custom fetch, which cannot run on the worker", () => {
    assert.throws(
      () => toWireCall("haul", "https://example.com/a", { dest: "a", fetch: globalThis.fetch }),
      (error: unknown) => error instanceof TypeError && /fetch/.test(error.message),
    );
  });

  it("refuses a Request with a body", () => {
    const request = new Request("https://example.com/a", { method: "POST", body: "x" });
    assert.throws(() => toWireCall("haul", request, { dest: "a" }), TypeError);
  });

  it("refuses a missing options object with haul()'s message", () => {
    assert.throws(
      () => toWireCall("haul", "https://example.com/a", null as never),
      /needs an options object/,
    );
  });
});
