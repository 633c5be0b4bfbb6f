import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sharedDatasync } from "../../src/engine/durability.ts";

describe("sharedDatasync", () => {
  it("answers every call with a sync that started after it, sharing the ones that wait", async () => {
    const started: number[] = [];
    let clock = 0;
    const releases: (() => void)[] = [];
    const datasync = sharedDatasync(() => {
      started.push(clock);
      return new Promise<void>((resolve) => releases.push(resolve));
    });
    const calls: { at: number; done: Promise<number> }[] = [];
    const call = () => {
      const at = ++clock;
      calls.push({ at, done: datasync().then(() => started.length) });
    };
    call(); // starts sync 1
    call();
    call(); // both wait for sync 2
    assert.equal(started.length, 1);
    releases[0]!();
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(started.length, 2, "one more sync for the two that waited");
    call(); // sync 2 runs: waits for sync 3
    releases[1]!();
    await new Promise((resolve) => setTimeout(resolve, 0));
    releases[2]!();
    const answeredBy = await Promise.all(calls.map((c) => c.done));
    for (const [i, c] of calls.entries()) {
      // The sync that answered this call started after it was made.
      assert.ok(started[answeredBy[i]! - 1]! >= c.at, `call ${i}`);
    }
    assert.equal(started.length, 3);
  });

  it("passes a failure to the calls it answers, and the next call syncs again", async () => {
    let n = 0;
    const datasync = sharedDatasync(() =>
      n++ === 0 ? Promise.reject(new Error("EIO")) : Promise.resolve()
    );
    await assert.rejects(datasync(), /EIO/);
    await datasync();
    assert.equal(n, 2);
  });
});
