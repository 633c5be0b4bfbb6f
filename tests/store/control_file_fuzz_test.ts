import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Checkpoint, type DurableRange, MAX_RANGES } from "../../src/protocol/checkpoint.ts";
import {
  CONTROL_FILE_MAGIC,
  CONTROL_FILE_MAX_STRING_BYTES,
  CONTROL_FILE_OFFSETS,
  crc32,
  decodeCheckpoint,
  encodeCheckpoint,
} from "../../src/store/control_file.ts";
import { ControlFileError } from "../../src/errors.ts";
import { fuzzCases, fuzzSeed } from "../helpers/fuzz_config.ts";
import { makeRng, type Rng } from "../helpers/prng.ts";

const MAX = Number.MAX_SAFE_INTEGER;
const CASES = fuzzCases(5000);
const SEED = fuzzSeed();
const encoder = new TextEncoder();
const O = CONTROL_FILE_OFFSETS;

/** A uniformly random integer in [0, 2^53 - 1]. */
function u53(rng: Rng): number {
  return rng.int(0, 0x1f_ffff) * 0x1_0000_0000 + rng.int(0, 0xffff_ffff);
}

/** A gap biased towards the edges the format cares about. */
function gap(rng: Rng, blockSize: number): number {
  switch (rng.int(0, 4)) {
    case 0:
      return rng.int(1, 3 * blockSize);
    case 1:
      return Math.max(1, rng.int(0, 1000) * blockSize + rng.int(-1, 1));
    case 2:
      return 2 ** 32 + rng.int(-70, 70);
    default:
      return rng.int(1, 2 ** 31);
  }
}

function randomString(rng: Rng): string | null {
  const kind = rng.int(0, 5);
  if (kind === 0) return null;
  if (kind === 1) return "";
  const budget = rng.chance(0.1) ? CONTROL_FILE_MAX_STRING_BYTES : rng.int(1, 80);
  let text = "";
  let bytes = 0;
  while (true) {
    let codePoint: number;
    switch (rng.int(0, 3)) {
      case 0:
        codePoint = rng.int(0x20, 0x7e);
        break;
      case 1:
        codePoint = rng.int(0, 0x7ff);
        break;
      case 2:
        codePoint = rng.int(0x800, 0xfffd);
        if (codePoint >= 0xd800 && codePoint <= 0xdfff) codePoint = 0xfeff; // no lone surrogates
        break;
      default:
        codePoint = rng.int(0x10000, 0x10ffff);
    }
    const size = codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
    if (bytes + size > budget) break;
    text += String.fromCodePoint(codePoint);
    bytes += size;
  }
  return text;
}

/** A random valid checkpoint: 1 to a few (sometimes {@link MAX_RANGES}) ranges. */
function randomCheckpoint(rng: Rng): Checkpoint {
  const blockSize = 64 * rng.pick([1, 2, 64, 1024, 16384, rng.int(1, 1 << 20)]);
  const count = rng.chance(0.02) ? MAX_RANGES : rng.pick([1, 1, 1, 2, 3, rng.int(1, 8)]);
  const ranges: DurableRange[] = [];
  let at = rng.chance(0.7) ? 0 : gap(rng, blockSize);
  for (let i = 0; i < count && at < MAX / 2; i++) {
    const end = at + gap(rng, blockSize);
    ranges.push({ start: at, end, tailDigest: rng.bytes(32) });
    at = end + gap(rng, blockSize);
  }
  const last = ranges.at(-1)!.end;
  const extent = rng.chance(0.5) ? last : Math.min(MAX, last + rng.int(0, 1 << 20));
  const reportedLength = rng.chance(0.3)
    ? null
    : rng.chance(0.3)
    ? last
    : Math.min(MAX, last + u53(rng) % 2 ** 40);
  return {
    blockSize,
    extent,
    reportedLength,
    etag: randomString(rng),
    lastModified: randomString(rng),
    contentType: randomString(rng),
    ranges,
  };
}

/** Recomputes both CRCs (over the body length the header states, as far as the bytes go). */
function reseal(bytes: Uint8Array): void {
  if (bytes.length < 24) return;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bodyLength = Math.min(
    view.getUint32(CONTROL_FILE_OFFSETS.bodyLength, true),
    bytes.length - 24,
  );
  view.setUint32(CONTROL_FILE_OFFSETS.bodyCrc, crc32(bytes.subarray(24, 24 + bodyLength)), true);
  view.setUint32(CONTROL_FILE_OFFSETS.headerCrc, crc32(bytes.subarray(0, 20)), true);
}

/** One random edit of `input`: bit flips, byte writes, field overwrites, splices. */
function mutate(rng: Rng, input: Uint8Array): Uint8Array {
  let bytes = input.slice();
  const edits = rng.int(1, 4);
  for (let e = 0; e < edits; e++) {
    const n = bytes.length;
    const view = new DataView(bytes.buffer);
    switch (rng.int(0, 9)) {
      case 0: // flip a bit
        if (n > 0) bytes[rng.int(0, n - 1)]! ^= 1 << rng.int(0, 7);
        break;
      case 1: // random byte
        if (n > 0) bytes[rng.int(0, n - 1)] = rng.int(0, 255);
        break;
      case 2: { // an interesting value into a u64: a fixed field or a range bound
        const count = n >= O.ranges ? view.getUint32(O.rangeCount, true) : 0;
        const slots = [O.blockSize, O.extent, O.reportedLength];
        for (let r = 0; r < Math.min(count, 8); r++) {
          slots.push(O.ranges + 48 * r, O.ranges + 48 * r + 8);
        }
        const offset = rng.pick(slots);
        if (offset + 8 > n) break;
        const value = rng.pick([0, 1, 63, 64, 65, 2 ** 32, MAX, u53(rng), rng.int(0, 5000)]);
        view.setUint32(offset, value % 2 ** 32, true);
        view.setUint32(
          offset + 4,
          rng.chance(0.1) ? rng.int(0, 2 ** 32 - 1) : Math.floor(value / 2 ** 32),
          true,
        );
        break;
      }
      case 3: // the range count or the flags
        if (n >= O.ranges) {
          const field = rng.pick([O.rangeCount, O.fieldFlags]);
          view.setUint32(
            field,
            rng.pick([0, 1, 2, 3, 15, 16, 64, 65, rng.int(0, 0xffff_ffff)]),
            true,
          );
        }
        break;
      case 4: // truncate
        bytes = bytes.slice(0, rng.int(0, n));
        break;
      case 5: { // insert 48 bytes (a whole range record) or a few
        const at = rng.int(0, n);
        const extra = rng.bytes(rng.pick([48, rng.int(1, 16)]));
        const grown = new Uint8Array(n + extra.length);
        grown.set(bytes.subarray(0, at));
        grown.set(extra, at);
        grown.set(bytes.subarray(at), at + extra.length);
        bytes = grown;
        break;
      }
      case 6: { // delete a range of bytes
        const at = rng.int(0, n);
        const to = Math.min(n, at + rng.pick([48, rng.int(1, 16)]));
        const shrunk = new Uint8Array(n - (to - at));
        shrunk.set(bytes.subarray(0, at));
        shrunk.set(bytes.subarray(to), at);
        bytes = shrunk;
        break;
      }
      case 7: // u16 anywhere aligned (string lengths, version)
        if (n >= 4) {
          view.setUint16(
            2 * rng.int(0, (n >> 1) - 2),
            rng.pick([0, 1, 2, 3, 4096, 4097, 0xffff]),
            true,
          );
        }
        break;
      default: // fix the body length to the real one
        if (n >= 24) view.setUint32(O.bodyLength, n - 24, true);
    }
  }
  // Usually fix the CRCs, so that the checks behind them get exercised too.
  if (rng.chance(0.8)) reseal(bytes);
  return bytes;
}

/**
 * Decodes `bytes`, which must either succeed (and then be the canonical
 * encoding of the result) or throw ControlFileError. Returns whether it succeeded.
 */
function decodesOrControlFileError(bytes: Uint8Array, label: string): boolean {
  let decoded: Checkpoint;
  try {
    decoded = decodeCheckpoint(bytes);
  } catch (error) {
    if (error instanceof ControlFileError) return false;
    assert.fail(`${label}: decode threw ${String(error)} for ${hexOf(bytes)}`);
  }
  // Anything accepted must re-encode (so it keeps the invariants) to the same bytes.
  assert.deepStrictEqual(encodeCheckpoint(decoded), bytes, label);
  return true;
}

function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

describe(`control file fuzz (seed ${SEED}, ${CASES} cases each)`, () => {
  it("decode(encode(x)) deep-equals x for random valid checkpoints", () => {
    const rng = makeRng(SEED);
    for (let i = 0; i < CASES; i++) {
      const checkpoint = randomCheckpoint(rng);
      const bytes = encodeCheckpoint(checkpoint);
      assert.equal(bytes.length % 8, 0);
      assert.deepStrictEqual(decodeCheckpoint(bytes), checkpoint, `case ${i}`);
    }
  });

  it("random byte strings decode or throw ControlFileError, nothing else", () => {
    const rng = makeRng(SEED ^ 0x1111_1111);
    for (let i = 0; i < CASES; i++) {
      const length = rng.pick([rng.int(0, 40), rng.int(0, 400), rng.int(100, 240)]);
      const bytes = rng.bytes(length);
      if (length >= 8 && rng.chance(0.7)) bytes.set(CONTROL_FILE_MAGIC);
      if (length >= 24 && rng.chance(0.5)) {
        const view = new DataView(bytes.buffer);
        view.setUint16(O.version, rng.pick([3, 3, 3, 1, 2, 4, rng.int(0, 0xffff)]), true);
        if (rng.chance(0.5)) view.setUint16(O.headerFlags, 0, true);
        if (rng.chance(0.7)) view.setUint32(O.bodyLength, length - 24, true);
        if (length >= O.ranges && rng.chance(0.5)) {
          view.setUint32(O.rangeCount, rng.int(0, 4), true);
        }
        reseal(bytes);
      }
      decodesOrControlFileError(bytes, `random case ${i}`);
    }
  });

  it("random mutations of valid encodings decode or throw ControlFileError, nothing else", () => {
    const rng = makeRng(SEED ^ 0x2222_2222);
    let accepted = 0;
    for (let i = 0; i < CASES; i++) {
      const original = encodeCheckpoint(randomCheckpoint(rng));
      if (decodesOrControlFileError(mutate(rng, original), `mutation case ${i}`)) accepted++;
    }
    // Some resealed mutations (a changed digest byte or extent) are valid; most are not.
    assert.ok(accepted < CASES, `accepted ${accepted} of ${CASES}`);
  });

  it("strings of random bytes inside a valid frame decode or throw ControlFileError", () => {
    const rng = makeRng(SEED ^ 0x3333_3333);
    for (let i = 0; i < CASES; i++) {
      const base = randomCheckpoint(rng);
      const raw = rng.bytes(rng.int(0, 40));
      const etag = rng.chance(0.5) ? raw : encoder.encode("x".repeat(rng.int(0, 10)));
      const bytes = encodeCheckpoint({ ...base, etag: "e".repeat(etag.length) });
      const at = O.ranges + 48 * base.ranges.length + 2;
      bytes.set(etag, at);
      reseal(bytes);
      decodesOrControlFileError(bytes, `string case ${i}`);
    }
    assert.ok(CONTROL_FILE_MAX_STRING_BYTES >= 40);
  });
});
