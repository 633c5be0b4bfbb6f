import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CheckpointSchedule } from "../../src/engine/checkpoint_schedule.ts";

describe("CheckpointSchedule", () => {
  it("is due after the cadence's bytes, never twice at once, and counts from each start", async () => {
    const schedule = new CheckpointSchedule({ bytes: 100, ms: 60_000 }, 50);
    assert.equal(schedule.due(149), false);
    assert.equal(schedule.due(150), true);
    let release: () => void = () => {};
    const recording = new Promise<void>((resolve) => (release = resolve));
    await schedule.start(150, () => Promise.resolve(true), () => recording);
    assert.equal(schedule.due(1000), false, "one checkpoint runs at a time");
    release();
    await schedule.drain();
    assert.equal(schedule.due(249), false);
    assert.equal(schedule.due(250), true);
  });

  it("is due after the cadence's milliseconds with any new byte", async () => {
    const schedule = new CheckpointSchedule({ bytes: 1 << 30, ms: 10 }, 0);
    assert.equal(schedule.due(1), false);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(schedule.due(0), false, "nothing new");
    assert.equal(schedule.due(1), true);
  });

  it("lets no second start begin while one prepares, and records nothing when prepare says no", async () => {
    const schedule = new CheckpointSchedule({ bytes: 1, ms: 60_000 }, 0);
    let recorded = 0;
    let release: () => void = () => {};
    const flushing = new Promise<void>((resolve) => (release = resolve));
    const first = schedule.start(10, async () => {
      await flushing;
      return false;
    }, () => Promise.resolve(void recorded++));
    assert.equal(schedule.due(20), false, "a start is preparing");
    release();
    await first;
    await schedule.drain();
    assert.equal(recorded, 0);
    assert.equal(schedule.due(20), true);
  });

  it("reports a background failure once, on the next throwFailure or drain", async () => {
    const schedule = new CheckpointSchedule({ bytes: 1, ms: 60_000 }, 0);
    const failure = new Error("disk full");
    await schedule.start(10, () => Promise.resolve(true), () => Promise.reject(failure));
    await schedule.settle();
    assert.throws(() => schedule.throwFailure(), (error) => error === failure);
    schedule.throwFailure(); // once only
    await schedule.start(20, () => Promise.resolve(true), () => Promise.reject(failure));
    await assert.rejects(schedule.drain(), (error) => error === failure);
    await schedule.drain();
  });
});
