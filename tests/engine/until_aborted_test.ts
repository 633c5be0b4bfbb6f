/** untilAborted() (src/engine/until_aborted.ts): a wait the caller's signal cuts short. */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { untilAborted } from "../../src/engine/until_aborted.ts";

describe("untilAborted()", () => {
  it("passes the outcome through, with or without a signal", async () => {
    assert.equal(await untilAborted(Promise.resolve(1), undefined), 1);
    assert.equal(await untilAborted(Promise.resolve(2), new AbortController().signal), 2);
    const failure = new Error("failed");
    await assert.rejects(
      untilAborted(Promise.reject(failure), new AbortController().signal),
      (error) => error === failure,
    );
  });

  it("rejects with the reason at the abort, or at once when already aborted", async () => {
    const never = new Promise<number>(() => {});
    const controller = new AbortController();
    const waiting = untilAborted(never, controller.signal);
    const reason = new Error("stop");
    controller.abort(reason);
    await assert.rejects(waiting, (error) => error === reason);
    await assert.rejects(untilAborted(never, AbortSignal.abort(reason)), (e) => e === reason);
  });
});
