import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type BodyEndFacts, isOverLong, judgeBodyEnd } from "../../src/protocol/body_end.ts";

describe("judgeBodyEnd()", () => {
  const table: [string, BodyEndFacts, ReturnType<typeof judgeBodyEnd>][] = [
    [
      "a whole 200 body",
      { received: 100, fileLength: 100, bodyLength: 100, total: 100, bodyEndsFile: true },
      { kind: "complete" },
    ],
    [
      "a body shorter than its Content-Length",
      { received: 60, fileLength: 60, bodyLength: 100, total: 100, bodyEndsFile: true },
      { kind: "short", reason: "body ended at 60 of 100 bytes" },
    ],
    [
      "a resumed 206 that stops short of its range",
      { received: 10, fileLength: 510, bodyLength: 500, total: 1000, bodyEndsFile: true },
      { kind: "short", reason: "body ended at 510 of 500 bytes" },
    ],
    [
      "a chunked body that ends before the known total",
      { received: 700, fileLength: 700, bodyLength: null, total: 1000, bodyEndsFile: true },
      { kind: "short", reason: "body ended at 700 of 1000 bytes" },
    ],
    [
      "a chunked body of unknown total",
      { received: 700, fileLength: 700, bodyLength: null, total: null, bodyEndsFile: true },
      { kind: "complete" },
    ],
    [
      "a range of a file of unknown length",
      { received: 300, fileLength: 800, bodyLength: 300, total: null, bodyEndsFile: false },
      {
        kind: "unknown-end",
        reason: "the server did not say whether the file ends at byte 800",
      },
    ],
    [
      "an empty body of an empty file",
      { received: 0, fileLength: 0, bodyLength: 0, total: 0, bodyEndsFile: true },
      { kind: "complete" },
    ],
    [
      "a short body of a range of unknown length (short wins)",
      { received: 100, fileLength: 600, bodyLength: 300, total: null, bodyEndsFile: false },
      { kind: "short", reason: "body ended at 600 of 300 bytes" },
    ],
  ];
  for (const [label, facts, verdict] of table) {
    it(label, () => assert.deepEqual(judgeBodyEnd(facts), verdict));
  }
});

describe("isOverLong()", () => {
  const table: [number, number, number | null, boolean][] = [
    [0, 100, 100, false],
    [0, 101, 100, true],
    [99, 1, 100, false],
    [100, 1, 100, true],
    [100, 0, 100, false],
    [5, 1_000_000, null, false],
    [0, 1, 0, true],
  ];
  for (const [received, chunk, declared, expected] of table) {
    it(`${received} + ${chunk} of ${declared} declared is ${expected ? "" : "not "}over-long`, () => {
      assert.equal(isOverLong(received, chunk, declared), expected);
    });
  }
});
