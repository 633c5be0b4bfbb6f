import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { gapsOf, mergeSpans, shareGaps } from "../../src/engine/range_ledger.ts";
import { splitRanges } from "../../src/engine/range_split.ts";
import { MAX_RANGES } from "../../src/protocol/checkpoint.ts";

describe("range ledger", () => {
  it("merges touching and overlapping spans, drops empty ones, sorts", () => {
    assert.deepEqual(
      mergeSpans([
        { start: 50, end: 60 },
        { start: 0, end: 10 },
        { start: 10, end: 20 },
        { start: 15, end: 18 },
        { start: 30, end: 30 },
        { start: 55, end: 70 },
      ]),
      [{ start: 0, end: 20 }, { start: 50, end: 70 }],
    );
    assert.deepEqual(mergeSpans([]), []);
  });

  it("keeps the largest spans, in order, when there are more than the checkpoint holds", () => {
    const spans = Array.from({ length: MAX_RANGES + 5 }, (_, i) => ({
      start: i * 100,
      end: i * 100 + 1 + (i % 7),
    }));
    const kept = mergeSpans(spans);
    assert.equal(kept.length, MAX_RANGES);
    for (let i = 1; i < kept.length; i++) assert.ok(kept[i]!.start > kept[i - 1]!.end);
    const smallest = Math.min(...kept.map((s) => s.end - s.start));
    const dropped = spans.filter((s) => !kept.some((k) => k.start === s.start));
    assert.equal(dropped.length, 5);
    for (const s of dropped) assert.ok(s.end - s.start <= smallest);
  });

  it("finds the gaps of a file, and shares them out without losing or doubling a byte", () => {
    const spans = [{ start: 0, end: 100 }, { start: 300, end: 400 }];
    const gaps = gapsOf(1000, spans);
    assert.deepEqual(gaps, [{ start: 100, end: 300 }, { start: 400, end: 1000 }]);
    assert.deepEqual(gapsOf(1000, []), [{ start: 0, end: 1000 }]);
    assert.deepEqual(gapsOf(400, spans), [{ start: 100, end: 300 }]);
    for (const connections of [1, 2, 3, 8]) {
      const pieces = shareGaps(gaps, connections, 50, splitRanges);
      const covered = mergeSpans([...spans, ...pieces]);
      assert.deepEqual(covered, [{ start: 0, end: 1000 }], `${connections}`);
      const total = pieces.reduce((sum, p) => sum + p.end - p.start, 0);
      assert.equal(total, 800, "no byte twice");
      if (connections === 1) assert.equal(pieces.length, 2, "one piece per gap");
    }
  });
});
