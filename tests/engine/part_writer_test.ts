import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PartWriter } from "../../src/engine/part_writer.ts";
import { type Segment, streamSegment } from "../../src/engine/segment.ts";
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

const observer = { arrived: () => {}, offer: () => Promise.resolve(), written: () => {} };
const settings = { writeBufferSize: 16, syncEvery: 1 << 20 };

function pattern(length: number, from = 0): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (from + i) % 251);
}

describe("PartWriter", () => {
  it("buffers no more than the rest of a short range", async () => {
    const { file, bytes, writes } = memoryFile();
    const writer = new PartWriter(file, settings, observer, { cursor: 0, end: 3 });
    await writer.append(pattern(1));
    await writer.append(pattern(2, 1));
    await writer.quiesce();
    assert.equal(writer.durability.written, 3);
    assert.deepEqual(writes, [3]); // the 3-byte buffer filled and went at once
    assert.deepEqual(bytes(), pattern(3));
  });

  it("reports a failed background sync, and a second quiesce reports it too, not a TypeError", async () => {
    const { file } = memoryFile();
    const failure = new Error("datasync: EIO");
    let failSync: () => void = () => {};
    const failed = new Promise<void>((resolve) => (failSync = resolve));
    let syncs = 0;
    file.datasync = () => (syncs++, failed.then(() => Promise.reject(failure)));
    const writer = new PartWriter(file, { writeBufferSize: 16, syncEvery: 8 }, observer, {
      cursor: 0,
    });
    await writer.append(pattern(16)); // a quarter buffer written: a background sync starts
    await writer.append(pattern(5, 16)); // buffered, not written yet
    failSync();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(syncs > 0);
    await assert.rejects(writer.quiesce(), (error) => error === failure);
    // Checkpointer.final() quiesces every range's writer again: the same failure.
    await assert.rejects(writer.quiesce(), (error) => error === failure);
  });

  it("reports a failed write to every later call: the append that meets it, then quiesce", async () => {
    const { file } = memoryFile();
    const failure = new Error("write: ENOSPC");
    file.write = () => Promise.reject(failure);
    const writer = new PartWriter(file, settings, observer, { cursor: 0 });
    // A whole quarter buffer, written straight from the chunk and waited for: the append fails.
    await assert.rejects(writer.append(pattern(4)), (error) => error === failure);
    await assert.rejects(writer.append(pattern(1, 4)), (error) => error === failure);
    await assert.rejects(writer.quiesce(), (error) => error === failure);
    assert.equal(writer.durability.written, 0);
  });

  it("uses quarter buffers until a whole buffer's worth is written, then whole ones", async () => {
    const { file, bytes, writes } = memoryFile();
    const writer = new PartWriter(file, settings, observer, { cursor: 0, end: 5 });
    for (let at = 0; at < 45; at += 3) await writer.append(pattern(3, at));
    await writer.quiesce();
    assert.equal(writer.durability.written, 45);
    // 4 (a quarter of 16), the 1 left of the range, quarters carrying on past it up to 17, then
    // whole buffers of 16 and the rest.
    assert.deepEqual(writes, [4, 1, 4, 4, 4, 16, 12]);
    assert.deepEqual(bytes(), pattern(45));
  });

  it("gives the hasher each chunk as it arrives, at its position, before any of it is written", async () => {
    const { file, writes } = memoryFile();
    const arrivals: [number[], number, number][] = []; // [bytes, at, writes so far]
    const watching = {
      ...observer,
      arrived: (chunk: Uint8Array, at: number) => arrivals.push([[...chunk], at, writes.length]),
    };
    const writer = new PartWriter(file, settings, watching, { cursor: 100 });
    await writer.append(pattern(3));
    await writer.append(pattern(2, 3));
    await writer.quiesce();
    assert.deepEqual(arrivals, [[[...pattern(3)], 100, 0], [[...pattern(2, 3)], 103, 0]]);
  });

  it("counts from its own start: a writer resuming at a cursor starts small too", async () => {
    const { file, writes } = memoryFile();
    const writer = new PartWriter(file, settings, observer, { cursor: 1000 });
    for (let at = 0; at < 24; at += 4) await writer.append(pattern(4, at));
    await writer.quiesce();
    assert.equal(writer.durability.written, 1024);
    // Four quarter buffers from byte 1000, then a whole one (counted from 0, all would be whole).
    assert.deepEqual(writes, [4, 4, 4, 4, 8]);
  });

  it("lands BYOB reads in a buffer no larger than the range", async () => {
    const { file, bytes } = memoryFile();
    const writer = new PartWriter(file, settings, observer, { cursor: 0, end: 3 });
    const landing = writer.reserve();
    assert.equal(landing.length, 3);
    landing.set(pattern(3));
    await writer.commit(landing);
    assert.equal(writer.reserve().length, 3); // the same landing, for the read that ends the body
    await writer.quiesce();
    assert.equal(writer.durability.written, 3);
    assert.deepEqual(bytes(), pattern(3));
  });

  it("grows the landing with the buffers when the end is not known", async () => {
    const { file, bytes, writes } = memoryFile();
    const writer = new PartWriter(file, settings, observer, { cursor: 0 });
    for (let at = 0; at < 16; at += 4) {
      const landing = writer.reserve();
      assert.equal(landing.length, 4);
      landing.set(pattern(4, at));
      await writer.commit(landing);
    }
    const grown = writer.reserve();
    assert.equal(grown.length, 16);
    grown.set(pattern(16, 16));
    await writer.commit(grown);
    await writer.quiesce();
    assert.deepEqual(writes, [4, 4, 4, 4, 16]); // each read filled a whole buffer: no copy
    assert.deepEqual(bytes(), pattern(32));
  });
});

describe("streamSegment", () => {
  it("writes no byte past an end that shrank while it asked whether to carry on", async () => {
    // A chunk that crosses the range's end: before cutting it, the segment asks whether its body
    // carries on; meanwhile another connection takes the range's tail, 4 bytes past its cursor.
    const { file, bytes } = memoryFile();
    const writer = new PartWriter(file, { writeBufferSize: 64, syncEvery: 1 << 20 }, observer, {
      cursor: 0,
      end: 40,
    });
    const segment: Segment = { start: 0, end: 40, writer, done: false, answer: null };
    let taken = 0;
    await streamSegment(segment, new Response(pattern(100).buffer as ArrayBuffer), 100, {
      stallTimeout: Infinity,
      limiter: null,
      stop: new AbortController().signal,
      async carriesOn(asking) {
        await Promise.resolve();
        if (taken++ === 0) asking.end = asking.writer.length + 4; // the tail was taken
        return false;
      },
      stored: () => Promise.resolve(),
    });
    assert.equal(taken > 0 && segment.end < 40, true, `the tail was taken: ${segment.end}`);
    assert.equal(writer.length, segment.end, "the range's bytes and no more");
    assert.deepEqual(bytes(), pattern(segment.end));
    assert.equal(segment.done, true);
  });
});
