import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CheckpointSchedule } from "../../src/engine/checkpoint_schedule.ts";

describe("CheckpointSchedule", () => {
  it("is due after the cadence's bytes, never twice at once, and counts from each start", async () => {
    const schedule = new CheckpointSchedule({ bytes: 100, ms: 60_000 });
    assert.equal(schedule.due(99), false);
    assert.equal(schedule.due(100), true);
    let release: () => void = () => {};
    const recording = new Promise<void>((resolve) => (release = resolve));
    await schedule.start(150, () => Promise.resolve(), () => recording);
    assert.equal(schedule.due(1000), false, "one checkpoint runs at a time");
    release();
    await schedule.drain();
    assert.equal(schedule.due(249), false);
    assert.equal(schedule.due(250), true);
  });

  it("is due after the cadence's milliseconds with any new byte", async () => {
    const schedule = new CheckpointSchedule({ bytes: 1 << 30, ms: 10 });
    assert.equal(schedule.due(1), false);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(schedule.due(0), false, "nothing new");
    assert.equal(schedule.due(1), true);
  });

  it("lets no second start begin while one prepares, and records after it", async () => {
    const schedule = new CheckpointSchedule({ bytes: 1, ms: 60_000 });
    let recorded = 0;
    let release: () => void = () => {};
    const flushing = new Promise<void>((resolve) => (release = resolve));
    const first = schedule.start(10, () => flushing, () => Promise.resolve(void recorded++));
    assert.equal(schedule.due(20), false, "a start is preparing");
    assert.equal(recorded, 0, "nothing is recorded before the flush");
    release();
    await first;
    await schedule.drain();
    assert.equal(recorded, 1);
    assert.equal(schedule.due(20), true);
  });

  it("reports a background failure once, on the next throwFailure or drain", async () => {
    const schedule = new CheckpointSchedule({ bytes: 1, ms: 60_000 });
    const failure = new Error("disk full");
    await schedule.start(10, () => Promise.resolve(), () => Promise.reject(failure));
    await schedule.settle();
    assert.throws(() => schedule.throwFailure(), (error) => error === failure);
    schedule.throwFailure(); // once only
    await schedule.start(20, () => Promise.resolve(), () => Promise.reject(failure));
    await assert.rejects(schedule.drain(), (error) => error === failure);
    await schedule.drain();
  });
});
