import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PartWriter } from "../../src/engine/part_writer.ts";
import type { ShimFile } from "../../src/runtime/fs_shim.ts";

/** An in-memory `.part` that records the length of every write. */
function memoryFile(): { file: ShimFile; bytes: () => Uint8Array; writes: number[] } {
  let data = new Uint8Array(0);
  const writes: number[] = [];
  const file: ShimFile = {
    write(chunk, position) {
      writes.push(chunk.length);
      if (position + chunk.length > data.length) {
        const grown = new Uint8Array(position + chunk.length);
        grown.set(data);
        data = grown;
      }
      data.set(chunk, position);
      return Promise.resolve();
    },
    read: () => Promise.resolve(0),
    datasync: () => Promise.resolve(),
    sync: () => Promise.resolve(),
    truncate(length) {
      data = data.slice(0, length);
      return Promise.resolve();
    },
    size: () => Promise.resolve(data.length),
    close: () => Promise.resolve(),
  };
  return { file, bytes: () => data, writes };
}

const observer = { offer: () => Promise.resolve(), written: () => {} };
const settings = { writeBufferSize: 16, syncEvery: 1 << 20 };

function pattern(length: number, from = 0): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (from + i) % 251);
}

describe("PartWriter", () => {
  it("buffers no more than the rest of a short range", async () => {
    const { file, bytes, writes } = memoryFile();
    const writer = new PartWriter(file, settings, observer, { cursor: 0, end: 10 });
    await writer.append(pattern(4));
    await writer.append(pattern(6, 4));
    await writer.quiesce();
    assert.equal(writer.durability.written, 10);
    assert.deepEqual(writes, [10]); // the 10-byte buffer filled and went at once
    assert.deepEqual(bytes(), pattern(10));
  });

  it("carries on past the expected end with whole buffers", async () => {
    const { file, bytes, writes } = memoryFile();
    const writer = new PartWriter(file, settings, observer, { cursor: 0, end: 5 });
    for (let at = 0; at < 45; at += 3) await writer.append(pattern(3, at));
    await writer.quiesce();
    assert.equal(writer.durability.written, 45);
    assert.deepEqual(writes, [5, 16, 16, 8]);
    assert.deepEqual(bytes(), pattern(45));
  });

  it("lands BYOB reads in a buffer no larger than the range", async () => {
    const { file, bytes } = memoryFile();
    const writer = new PartWriter(file, settings, observer, { cursor: 0, end: 6 });
    const landing = writer.reserve();
    assert.equal(landing.length, 6);
    landing.set(pattern(6));
    await writer.commit(landing);
    assert.equal(writer.reserve().length, 6); // the same landing, for the read that ends the body
    await writer.quiesce();
    assert.equal(writer.durability.written, 6);
    assert.deepEqual(bytes(), pattern(6));
  });

  it("uses whole buffers when the end is not known", async () => {
    const { file, writes } = memoryFile();
    const writer = new PartWriter(file, settings, observer, { cursor: 0 });
    assert.equal(writer.reserve().length, 16);
    for (let at = 0; at < 40; at += 5) await writer.append(pattern(5, at));
    await writer.quiesce();
    assert.equal(writer.durability.written, 40);
    assert.deepEqual(writes, [16, 16, 8]);
  });
});
