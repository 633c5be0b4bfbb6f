import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseShard } from "../../src/cli/args.ts";
import { inShard, shardOf } from "../../src/cli/jobs.ts";

describe("parseShard()", () => {
  it("reads K/N with K counting from 1, as Jest, Vitest and Playwright do", () => {
    assert.deepEqual(parseShard("1/1"), { index: 1, count: 1 });
    assert.deepEqual(parseShard("1/3"), { index: 1, count: 3 });
    assert.deepEqual(parseShard("3/3"), { index: 3, count: 3 });
    assert.deepEqual(parseShard(" 8 / 8 "), { index: 8, count: 8 });
  });

  it("says that K counts from 1 for 0/N and for K above N", () => {
    for (const bad of ["0/3", "4/3", "0/1", "2/1"]) {
      assert.match(parseShard(bad) as string, /K counts from 1, so it must be from 1 to N/);
    }
    assert.match(parseShard("0/3") as string, /\(1 to 3\)/);
  });

  for (const bad of ["9/8", "1/0", "0/0", "-1/4", "1", "a/b", "1/2/3", "", "1.5/4", "1/99999999"]) {
    it(`refuses ${JSON.stringify(bad)} with a message naming --shard`, () => {
      const result = parseShard(bad);
      assert.equal(typeof result, "string");
      assert.match(result as string, /--shard/);
    });
  }
});

describe("shardOf()", () => {
  it("puts every destination in exactly one shard, and the shards are balanced", () => {
    const names = Array.from(
      { length: 4000 },
      (_, i) => `data/part-${String(i).padStart(5, "0")}.bin`,
    );
    const count = 8;
    const sizes = new Array<number>(count).fill(0);
    for (const name of names) {
      const owners = Array.from({ length: count }, (_, k) => k + 1).filter((k) =>
        inShard(name, { index: k, count })
      );
      assert.equal(owners.length, 1, `${name} is in ${owners.length} shards`);
      assert.equal(owners[0], shardOf(name, count) + 1, "shard K holds hash bucket K - 1");
      sizes[owners[0]! - 1]!++;
    }
    for (const size of sizes) assert.ok(size > 350 && size < 650, `unbalanced: ${sizes}`);
  });

  it("is the same on every run (fixed values: FNV-1a over UTF-8)", () => {
    // FNV-1a 32 of "a" is 0xe40c292c; of "" is the offset basis 0x811c9dc5.
    assert.equal(shardOf("a", 1 << 30), 0xe40c292c % (1 << 30));
    assert.equal(shardOf("", 1000), 0x811c9dc5 % 1000);
    assert.equal(shardOf("é", 7), shardOf("\u00e9", 7));
    assert.notEqual(shardOf("a/b", 1 << 30), shardOf("a\\b", 1 << 30));
  });

  it("one shard holds the whole list", () => {
    for (const name of ["x", "y/z", "ünïcode.bin"]) {
      assert.ok(inShard(name, { index: 1, count: 1 }));
    }
  });
});
