import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ByteSpan,
  gapsOf,
  mergeSpans,
  type OpenRange,
  shareGaps,
  SPLIT_ALIGNMENT,
  splitRanges,
  stealHalf,
} from "../../src/engine/range_split.ts";
import { MAX_RANGES } from "../../src/protocol/checkpoint.ts";

const MiB = 1 << 20;

/** The spans cover [0, total) in order, with no gap and no overlap. */
function assertTiles(spans: ByteSpan[], total: number): void {
  assert.equal(spans[0]?.start, 0);
  assert.equal(spans.at(-1)?.end, total);
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i]!;
    assert.ok(span.end > span.start, `span ${i} is empty: ${JSON.stringify(span)}`);
    if (i > 0) assert.equal(span.start, spans[i - 1]!.end, `gap or overlap before span ${i}`);
  }
}

describe("splitRanges()", () => {
  const table: { total: number; connections: number; floor: number; count: number }[] = [
    { total: 100 * MiB, connections: 8, floor: MiB, count: 8 },
    { total: 100 * MiB, connections: 1, floor: MiB, count: 1 },
    { total: 3 * MiB, connections: 8, floor: MiB, count: 3 },
    { total: MiB + 1, connections: 8, floor: MiB, count: 1 },
    { total: 10, connections: 4, floor: MiB, count: 1 },
    { total: 1, connections: 16, floor: 1, count: 1 },
    { total: 7, connections: 3, floor: 2, count: 3 },
    { total: 256 * MiB + 12345, connections: 8, floor: 4 * MiB, count: 8 },
  ];
  for (const row of table) {
    it(`splits ${row.total} bytes into ${row.count} for ${row.connections} connections`, () => {
      const spans = splitRanges(row.total, row.connections, row.floor);
      assert.equal(spans.length, row.count);
      assertTiles(spans, row.total);
      for (const span of spans.slice(0, -1)) {
        assert.ok(span.end - span.start >= Math.min(row.floor, row.total));
      }
    });
  }

  it("cuts large files on aligned boundaries", () => {
    for (const span of splitRanges(1000 * MiB + 17, 8, MiB).slice(1)) {
      assert.equal(span.start % SPLIT_ALIGNMENT, 0, `unaligned start ${span.start}`);
    }
  });
});

describe("stealHalf()", () => {
  it("takes the second half of the range with the most bytes left", () => {
    const open: OpenRange[] = [
      { start: 0, cursor: 7 * MiB, end: 8 * MiB },
      { start: 8 * MiB, cursor: 9 * MiB, end: 16 * MiB },
      { start: 16 * MiB, cursor: 20 * MiB, end: 24 * MiB },
    ];
    const steal = stealHalf(open, MiB);
    assert.deepEqual(steal, {
      victim: 1,
      at: 12.5 * MiB,
      taken: { start: 12.5 * MiB, end: 16 * MiB },
    });
  });

  it("leaves ranges alone when halving one would go below the floor", () => {
    assert.equal(stealHalf([{ start: 0, cursor: 0, end: 2 * MiB - 1 }], MiB), null);
    assert.equal(stealHalf([{ start: 0, cursor: 5 * MiB, end: 5 * MiB }], MiB), null);
    assert.equal(stealHalf([], MiB), null);
  });

  it("splits exactly at twice the floor", () => {
    const steal = stealHalf([{ start: 0, cursor: 0, end: 2 * MiB }], MiB);
    assert.deepEqual(steal?.taken, { start: MiB, end: 2 * MiB });
  });

  it("repeated steals always keep the file tiled and every piece at least the floor", () => {
    // Simulate: connections finish and steal until nothing is worth splitting.
    const floor = 256 * 1024;
    const ranges: { start: number; cursor: number; end: number }[] = splitRanges(
      64 * MiB + 999,
      4,
      floor,
    ).map((span) => ({ ...span, cursor: span.start }));
    for (let round = 0; round < 200; round++) {
      // Progress: each range moves a different amount.
      ranges.forEach((range, i) => {
        range.cursor = Math.min(range.end, range.cursor + (i + 1) * 97 * 1024);
      });
      const steal = stealHalf(ranges, floor);
      if (steal === null) continue;
      const victim = ranges[steal.victim]!;
      assert.ok(steal.at - victim.cursor >= floor && victim.end - steal.at >= floor);
      victim.end = steal.at;
      ranges.push({ ...steal.taken, cursor: steal.taken.start });
      ranges.sort((a, b) => a.start - b.start);
    }
    assertTiles(ranges, 64 * MiB + 999);
  });
});

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
      const pieces = shareGaps(gaps, connections, 50);
      const covered = mergeSpans([...spans, ...pieces]);
      assert.deepEqual(covered, [{ start: 0, end: 1000 }], `${connections}`);
      const total = pieces.reduce((sum, p) => sum + p.end - p.start, 0);
      assert.equal(total, 800, "no byte twice");
      if (connections === 1) assert.equal(pieces.length, 2, "one piece per gap");
    }
  });
});
