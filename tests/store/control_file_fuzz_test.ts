import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Checkpoint, Sha256State } from "../../src/store/checkpoint.ts";
import {
  CONTROL_FILE_MAGIC,
  CONTROL_FILE_MAX_STRING_BYTES,
  CONTROL_FILE_OFFSETS,
  decodeCheckpoint,
  encodeCheckpoint,
} from "../../src/store/control_file.ts";
import { crc32 } from "../../src/store/crc32.ts";
import { ControlFileError } from "../../src/errors.ts";
import { fuzzCases, fuzzSeed } from "../helpers/fuzz_config.ts";
import { makeRng, type Rng } from "../helpers/prng.ts";

const MAX = Number.MAX_SAFE_INTEGER;
const CASES = fuzzCases(5000);
const SEED = fuzzSeed();
const encoder = new TextEncoder();

const IV = Uint32Array.of(
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
);

/** A uniformly random integer in [0, 2^53 - 1]. */
function u53(rng: Rng): number {
  return rng.int(0, 0x1f_ffff) * 0x1_0000_0000 + rng.int(0, 0xffff_ffff);
}

/** A count biased towards the edges the format cares about. */
function count(rng: Rng, blockSize: number): number {
  switch (rng.int(0, 6)) {
    case 0:
      return 0;
    case 1:
      return rng.int(0, 3 * blockSize);
    case 2: // around a block boundary
      return Math.max(0, rng.int(0, 1000) * blockSize + rng.int(-1, 1));
    case 3: // around a 64-byte boundary
      return Math.max(0, rng.int(0, 100_000) * 64 + rng.int(-1, 1));
    case 4: // around 2^32
      return 2 ** 32 + rng.int(-70, 70);
    case 5:
      return MAX - rng.int(0, 200);
    default:
      return u53(rng);
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

function randomState(rng: Rng, length: number): Sha256State {
  return {
    words: length === 0
      ? IV.slice()
      : Uint32Array.from({ length: 8 }, () => rng.int(0, 2 ** 32 - 1)),
    length,
    pending: rng.bytes(length % 64),
  };
}

/** How far the hash trails the cursor: not at all, a little, about a block, or a lot. */
function hashLengthBelow(rng: Rng, cursor: number, blockSize: number): number {
  switch (rng.int(0, 5)) {
    case 0:
    case 1:
      return cursor;
    case 2:
      return cursor - rng.int(0, Math.min(cursor, 130));
    case 3: // around one block behind, where the tail digest's start switches
      return Math.max(0, cursor - blockSize + rng.int(-2, 2));
    case 4:
      return cursor - Math.min(cursor, rng.int(0, 5 * blockSize));
    default:
      return rng.chance(0.5) ? 0 : Math.floor(rng.next() * (cursor + 1));
  }
}

/** A random checkpoint that keeps every invariant of `Checkpoint`. */
function randomCheckpoint(rng: Rng): Checkpoint {
  const blockSize = 64 * rng.pick([1, 2, 3, 16, 1024, 16384, rng.int(1, 100_000)]);
  const cursor = Math.min(MAX, count(rng, blockSize));
  const hashLength = Math.min(cursor, hashLengthBelow(rng, cursor, blockSize));
  // Usually the largest multiple strictly below a non-zero hash length (what
  // haul writes); sometimes the largest multiple not above it (also valid).
  const below = hashLength === 0 ? 0 : Math.floor((hashLength - 1) / blockSize) * blockSize;
  const anchor = rng.chance(0.3) ? Math.floor(hashLength / blockSize) * blockSize : below;
  const extent = rng.pick([cursor, cursor + rng.int(0, Math.min(MAX - cursor, 1 << 20)), MAX]);
  const reportedLength = rng.pick([
    null,
    cursor,
    cursor + rng.int(0, Math.min(MAX - cursor, 1 << 30)),
    MAX,
  ]);
  const anchorHash = randomState(rng, anchor);
  const hash = anchor === hashLength
    ? { words: anchorHash.words.slice(), length: hashLength, pending: rng.bytes(hashLength % 64) }
    : randomState(rng, hashLength);
  // Present exactly when the hash trails the cursor; computed here, not by tailStart.
  const tailDigest = Math.max(hashLength, cursor - blockSize) === cursor
    ? null
    : rng.chance(0.05)
    ? new Uint8Array(32)
    : rng.bytes(32);
  return {
    start: 0,
    cursor,
    blockSize,
    extent,
    reportedLength,
    etag: randomString(rng),
    lastModified: randomString(rng),
    contentType: randomString(rng),
    anchor,
    anchorHash,
    hash,
    tailDigest,
  };
}

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
    switch (rng.int(0, 12)) {
      case 0: // flip a bit
        if (n > 0) bytes[rng.int(0, n - 1)]! ^= 1 << rng.int(0, 7);
        break;
      case 1: // random byte
        if (n > 0) bytes[rng.int(0, n - 1)] = rng.int(0, 255);
        break;
      case 2: // interesting value into a u64 field
      case 3: {
        if (n < CONTROL_FILE_OFFSETS.strings) break;
        const offset = 24 + 8 * rng.int(0, 6);
        const value = rng.pick([0, 1, 63, 64, 65, 2 ** 32, MAX, u53(rng), rng.int(0, 5000)]);
        const view = new DataView(bytes.buffer);
        view.setUint32(offset, value % 2 ** 32, true);
        view.setUint32(
          offset + 4,
          rng.chance(0.1) ? rng.int(0, 2 ** 32 - 1) : Math.floor(value / 2 ** 32),
          true,
        );
        break;
      }
      case 4: // u16 or u32 anywhere aligned (lengths, flags, words)
        if (n >= 4) {
          const offset = 2 * rng.int(0, (n >> 1) - 2);
          new DataView(bytes.buffer).setUint16(
            offset,
            rng.pick([0, 1, 2, 15, 16, 4096, 4097, 0xffff]),
            true,
          );
        }
        break;
      case 5: // truncate
        bytes = bytes.slice(0, rng.int(0, n));
        break;
      case 6: { // insert random bytes
        const at = rng.int(0, n);
        const extra = rng.bytes(rng.int(1, 16));
        const grown = new Uint8Array(n + extra.length);
        grown.set(bytes.subarray(0, at));
        grown.set(extra, at);
        grown.set(bytes.subarray(at), at + extra.length);
        bytes = grown;
        break;
      }
      case 7: { // delete a range
        const at = rng.int(0, n);
        const to = Math.min(n, at + rng.int(1, 16));
        const shrunk = new Uint8Array(n - (to - at));
        shrunk.set(bytes.subarray(0, at));
        shrunk.set(bytes.subarray(to), at);
        bytes = shrunk;
        break;
      }
      case 8: { // a string record that ends at or near the end of the body
        const record = CONTROL_FILE_OFFSETS.strings + 8 * rng.int(0, 2);
        if (n < record + 8) break;
        const rest = n - record - 2 - 8 * rng.int(0, 2);
        const view = new DataView(bytes.buffer);
        view.setUint16(record, Math.max(0, rest - rng.int(0, 7)), true);
        const flags = view.getUint32(CONTROL_FILE_OFFSETS.fieldFlags, true);
        view.setUint32(CONTROL_FILE_OFFSETS.fieldFlags, flags | 0b1110, true);
        break;
      }
      case 9: { // flip a bit in the hash length, flags, words, pending bytes or tail digest
        const from = CONTROL_FILE_OFFSETS.hashLength;
        if (n >= CONTROL_FILE_OFFSETS.strings) {
          bytes[rng.int(from, CONTROL_FILE_OFFSETS.strings - 1)]! ^= 1 << rng.int(0, 7);
        }
        break;
      }
      case 10: // toggle the tail digest flag
        if (n >= CONTROL_FILE_OFFSETS.strings) bytes[CONTROL_FILE_OFFSETS.fieldFlags]! ^= 0x10;
        break;
      case 11: { // move the hash length a little, keeping its pending bytes
        if (n < CONTROL_FILE_OFFSETS.strings) break;
        const view = new DataView(bytes.buffer);
        const low = view.getUint32(CONTROL_FILE_OFFSETS.hashLength, true);
        view.setUint32(CONTROL_FILE_OFFSETS.hashLength, (low + rng.int(-70, 70)) >>> 0, true);
        break;
      }
      default: // fix the body length to the real one
        if (n >= 24) {
          new DataView(bytes.buffer).setUint32(CONTROL_FILE_OFFSETS.bodyLength, n - 24, true);
        }
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
      const length = rng.pick([rng.int(0, 40), rng.int(0, 400), rng.int(240, 340)]);
      const bytes = rng.bytes(length);
      if (length >= 8 && rng.chance(0.7)) bytes.set(CONTROL_FILE_MAGIC);
      if (length >= 24 && rng.chance(0.5)) {
        const view = new DataView(bytes.buffer);
        view.setUint16(
          CONTROL_FILE_OFFSETS.version,
          rng.pick([2, 2, 2, 1, 3, rng.int(0, 0xffff)]),
          true,
        );
        if (rng.chance(0.5)) view.setUint16(CONTROL_FILE_OFFSETS.headerFlags, 0, true);
        if (rng.chance(0.7)) view.setUint32(CONTROL_FILE_OFFSETS.bodyLength, length - 24, true);
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
    // Some resealed mutations (new words, pending bytes, a changed extent) are
    // valid checkpoints; most are not.
    assert.ok(accepted < CASES, `accepted ${accepted} of ${CASES}`);
  });

  it("strings of random bytes inside a valid frame decode or throw ControlFileError", () => {
    const rng = makeRng(SEED ^ 0x3333_3333);
    const base = encodeCheckpoint({
      ...randomCheckpoint(rng),
      etag: "0123456789abcdef",
      lastModified: "0123456789abcdef",
      contentType: "0123456789abcdef",
    });
    let valid = 0;
    for (let i = 0; i < CASES; i++) {
      const bytes = base.slice();
      const record = CONTROL_FILE_OFFSETS.strings + 24 * rng.int(0, 2);
      const text = rng.chance(0.5)
        ? rng.bytes(16)
        : encoder.encode(randomString(rng) ?? "").subarray(0, 16);
      bytes.fill(0, record + 2, record + 24);
      bytes.set(text, record + 2);
      new DataView(bytes.buffer).setUint16(record, text.length, true);
      reseal(bytes);
      if (decodesOrControlFileError(bytes, `string case ${i}`)) valid++;
    }
    assert.ok(valid > 0, "some random strings are valid UTF-8");
  });
  it("the tail digest flag can never be toggled into another valid checkpoint", () => {
    const rng = makeRng(SEED ^ 0x4444_4444);
    let present = 0;
    for (let i = 0; i < CASES; i++) {
      const checkpoint = randomCheckpoint(rng);
      if (checkpoint.tailDigest !== null) present++;
      const bytes = encodeCheckpoint(checkpoint);
      bytes[CONTROL_FILE_OFFSETS.fieldFlags]! ^= 0x10;
      reseal(bytes);
      // Cleared: the digest bytes stay behind (or, if all zero, the digest is
      // missing). Set: a digest of an empty range.
      assert.throws(() => decodeCheckpoint(bytes), ControlFileError, `case ${i}`);
    }
    assert.ok(present > CASES / 4 && present < CASES, `${present} of ${CASES} with a tail digest`);
  });

  it("resealed bit flips between hash length and strings decode or throw ControlFileError", () => {
    const rng = makeRng(SEED ^ 0x5555_5555);
    const from = CONTROL_FILE_OFFSETS.hashLength;
    const to = CONTROL_FILE_OFFSETS.strings;
    let refused = 0;
    for (let i = 0; i < CASES; i++) {
      const original = encodeCheckpoint(randomCheckpoint(rng));
      const bytes = original.slice();
      const at = rng.int(from, to - 1);
      bytes[at]! ^= 1 << rng.int(0, 7);
      reseal(bytes);
      if (!decodesOrControlFileError(bytes, `flip case ${i} at ${at}`)) refused++;
    }
    // Flips in words and digests give other valid checkpoints; flips in the
    // length, flags, reserved word and unused bytes mostly do not.
    assert.ok(refused > 0 && refused < CASES, `refused ${refused} of ${CASES}`);
  });

  it("a hash length moved within [anchor, cursor] decodes only when consistent", () => {
    const rng = makeRng(SEED ^ 0x6666_6666);
    for (let i = 0; i < CASES; i++) {
      const checkpoint = randomCheckpoint(rng);
      const bytes = encodeCheckpoint(checkpoint);
      const span = Math.min(checkpoint.cursor - checkpoint.anchor, checkpoint.blockSize);
      const moved = checkpoint.anchor + Math.floor(rng.next() * (span + 1));
      const view = new DataView(bytes.buffer);
      view.setUint32(CONTROL_FILE_OFFSETS.hashLength, moved % 2 ** 32, true);
      view.setUint32(CONTROL_FILE_OFFSETS.hashLength + 4, Math.floor(moved / 2 ** 32), true);
      reseal(bytes);
      if (decodesOrControlFileError(bytes, `moved case ${i}`)) {
        const decoded = decodeCheckpoint(bytes);
        assert.equal(decoded.hash.length, moved);
        // Accepted only if the tail digest's presence still matches.
        assert.equal(decoded.tailDigest === null, moved === checkpoint.cursor);
      }
    }
  });
});
