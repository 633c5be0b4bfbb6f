import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { toWireCall } from "../../src/browser/call_wire.ts";
import { HaulState } from "../../src/types.ts";

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

  it("says whether the caller wants retry reports", () => {
    assert.equal(toWireCall("haul", URL_A, { dest: "a" }).retries, false);
    assert.equal(toWireCall("retry", URL_A, { dest: "a", onRetry: () => {} }).retries, true);
  });
});
