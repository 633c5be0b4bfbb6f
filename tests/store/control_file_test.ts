import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type Checkpoint, type Sha256State, tailStart } from "../../src/store/checkpoint.ts";
import {
  CONTROL_FILE_MAGIC,
  CONTROL_FILE_MAX_STRING_BYTES,
  CONTROL_FILE_OFFSETS,
  CONTROL_FILE_VERSION,
  decodeCheckpoint,
  encodeCheckpoint,
} from "../../src/store/control_file.ts";
import { crc32 } from "../../src/store/crc32.ts";
import { ControlFileError } from "../../src/errors.ts";
import { Sha256 } from "../../src/hashing/sha256.ts";

// ---------------------------------------------------------------- helpers

const MAX = Number.MAX_SAFE_INTEGER;
const enc = new TextEncoder();

/** SHA-256's initial chaining words: the state of an empty hash. */
const IV = [
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
];

function fromHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  assert.equal(clean.length % 2, 0);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** CRC-32C computed bit by bit: an independent check of `src/crc32.ts` and of stored CRCs. */
function crc32cReference(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** A hash state for `length` bytes: IV words when empty, else words derived from `salt`. */
function state(length: number, salt: number, words?: Uint32Array): Sha256State {
  const w = words !== undefined
    ? new Uint32Array(words)
    : length === 0
    ? Uint32Array.from(IV)
    : Uint32Array.from({ length: 8 }, (_, i) => (Math.imul(salt + i + 1, 0x9e3779b1) >>> 0));
  const pending = Uint8Array.from({ length: length % 64 }, (_, i) => (salt * 31 + i * 7) & 0xff);
  return { words: w, length, pending };
}

interface Shape {
  cursor: number;
  blockSize?: number;
  /** `hash.length`; the cursor by default. */
  hashLength?: number;
  anchor?: number;
  extent?: number;
  reportedLength?: number | null;
  etag?: string | null;
  lastModified?: string | null;
  contentType?: string | null;
}

/** A stand-in tail digest: 32 bytes derived from `salt` (the codec does not check digests). */
function digest(salt: number): Uint8Array {
  return Uint8Array.from({ length: 32 }, (_, i) => (salt * 131 + i * 29 + 7) & 0xff);
}

/**
 * A valid checkpoint. By default `hash.length` is the cursor, and the anchor
 * the largest multiple of `blockSize` strictly below a non-zero `hash.length`
 * (what haul writes). `tailDigest` is present exactly when
 * `max(hash.length, cursor - blockSize)` (computed here, not by `tailStart`) is
 * below the cursor.
 */
function make(shape: Shape): Checkpoint {
  const blockSize = shape.blockSize ?? 64;
  const cursor = shape.cursor;
  const hashLength = shape.hashLength ?? cursor;
  const anchor = shape.anchor ??
    (hashLength === 0 ? 0 : Math.floor((hashLength - 1) / blockSize) * blockSize);
  const anchorHash = state(anchor, 1);
  const hash = anchor === hashLength
    ? state(hashLength, 2, anchorHash.words)
    : state(hashLength, 2);
  const covered = Math.max(hashLength, cursor - blockSize) === cursor;
  return {
    start: 0,
    cursor,
    blockSize,
    extent: shape.extent ?? cursor,
    reportedLength: shape.reportedLength === undefined ? null : shape.reportedLength,
    etag: shape.etag === undefined ? null : shape.etag,
    lastModified: shape.lastModified === undefined ? null : shape.lastModified,
    contentType: shape.contentType === undefined ? null : shape.contentType,
    anchor,
    anchorHash,
    hash,
    tailDigest: covered ? null : digest(cursor),
  };
}

/** Asserts that `fn` throws a ControlFileError (and nothing else), optionally matching `pattern`. */
function assertControlFileError(fn: () => unknown, pattern?: RegExp, context = ""): void {
  let thrown: unknown = undefined;
  let threw = false;
  try {
    fn();
  } catch (error) {
    threw = true;
    thrown = error;
  }
  assert.ok(threw, `expected ControlFileError, nothing was thrown ${context}`);
  if (!(thrown instanceof ControlFileError)) {
    assert.fail(`expected ControlFileError, got ${String(thrown)} ${context}`);
  }
  assert.equal(thrown.name, "ControlFileError");
  assert.equal(thrown.retryable, true);
  if (pattern !== undefined) assert.match(thrown.message, pattern, context);
}

/** Recomputes both CRCs after a deliberate edit, so that deeper checks are reached. */
function reseal(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint32(CONTROL_FILE_OFFSETS.bodyCrc, crc32(bytes.subarray(24)), true);
  view.setUint32(CONTROL_FILE_OFFSETS.headerCrc, crc32(bytes.subarray(0, 20)), true);
  return bytes;
}

/** Encodes `checkpoint`, applies `edit` to the bytes, reseals and returns them. */
function edited(checkpoint: Checkpoint, edit: (view: DataView, bytes: Uint8Array) => void) {
  const bytes = encodeCheckpoint(checkpoint);
  edit(new DataView(bytes.buffer), bytes);
  return reseal(bytes);
}

function setU64(view: DataView, offset: number, value: bigint): void {
  view.setBigUint64(offset, value, true);
}

// ---------------------------------------------------------------- golden

/** The bytes `.part` holds in the golden example: byte `i` is `i & 0xff`. */
const GOLDEN_DATA = Uint8Array.from({ length: 400 }, (_, i) => i & 0xff);

/**
 * 400 durable bytes of `GOLDEN_DATA`, the hash 200 bytes behind: SHA-256 states
 * after 128 and 200 bytes, and the digest of bytes [272, 400) (the last block
 * before the cursor, which starts after the hashed bytes).
 */
const GOLDEN: Checkpoint = {
  start: 0,
  cursor: 400,
  blockSize: 128,
  extent: 4096,
  reportedLength: 1000,
  etag: 'W/"5e-1"',
  lastModified: "Wed, 21 Oct 2015 07:28:00 GMT",
  contentType: "text/plain; charset=utf-8",
  anchor: 128,
  anchorHash: {
    words: Uint32Array.of(
      0x593253ad,
      0xfb4cc018,
      0xbe611395,
      0x485e47c1,
      0x5a5b271d,
      0xfb8da14f,
      0xe8f77fb4,
      0xd05eacbc,
    ),
    length: 128,
    pending: new Uint8Array(0),
  },
  hash: {
    words: Uint32Array.of(
      0x2bed68b9,
      0x9987cae4,
      0x8183b2b0,
      0x49d393d0,
      0x050868e4,
      0xe8ba3730,
      0xe9112b08,
      0x765929b7,
    ),
    length: 200,
    pending: Uint8Array.of(0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7),
  },
  tailDigest: fromHex("5a5502d012ad13bb25fd2dcbfa83663b5b47e85abbcc4a72fa0b3fefa26d36a0"),
};

/** The same bytes as the hex dump in docs/control-file.md. */
const GOLDEN_HEX = `
  89484155 4c0d0a1a 02000000 30010000 50a39839 2dcb3636 00000000 00000000
  90010000 00000000 80000000 00000000 00100000 00000000 e8030000 00000000
  80000000 00000000 c8000000 00000000 1f000000 00000000 ad533259 18c04cfb
  951361be c1475e48 1d275b5a 4fa18dfb b47ff7e8 bcac5ed0 b968ed2b e4ca8799
  b0b28381 d093d349 e4680805 3037bae8 082b11e9 b7295976 c0c1c2c3 c4c5c6c7
  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
  00000000 00000000 00000000 00000000 00000000 00000000 5a5502d0 12ad13bb
  25fd2dcb fa83663b 5b47e85a bbcc4a72 fa0b3fef a26d36a0 0800572f 2235652d
  31220000 00000000 1d005765 642c2032 31204f63 74203230 31352030 373a3238
  3a303020 474d5400 19007465 78742f70 6c61696e 3b206368 61727365 743d7574
  662d3800 00000000
`;

/** The smallest control file: nothing downloaded, nothing known. */
const MINIMAL: Checkpoint = make({ cursor: 0 });
const MINIMAL_HEX = `
  89484155 4c0d0a1a 02000000 f8000000 e2c9895c ec08c6c8 00000000 00000000
  00000000 00000000 40000000 00000000 00000000 00000000 00000000 00000000
  00000000 00000000 00000000 00000000 00000000 00000000 67e6096a 85ae67bb
  72f36e3c 3af54fa5 7f520e51 8c68059b abd9831f 19cde05b 67e6096a 85ae67bb
  72f36e3c 3af54fa5 7f520e51 8c68059b abd9831f 19cde05b
  ${"00000000 ".repeat(30)}
`;

/**
 * A real version-1 file, as the previous haul wrote it (200 durable bytes,
 * anchor 128): the v1 layout had no hash length and no tail digest.
 */
const V1_GOLDEN_HEX = `
  89484155 4c0d0a1a 01000000 08010000 bbda30a8 adb8a0a6 00000000 00000000
  c8000000 00000000 80000000 00000000 00100000 00000000 e8030000 00000000
  80000000 00000000 0f000000 00000000 ad533259 18c04cfb 951361be c1475e48
  1d275b5a 4fa18dfb b47ff7e8 bcac5ed0 b968ed2b e4ca8799 b0b28381 d093d349
  e4680805 3037bae8 082b11e9 b7295976 c0c1c2c3 c4c5c6c7 00000000 00000000
  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
  00000000 00000000 00000000 00000000 0800572f 2235652d 31220000 00000000
  1d005765 642c2032 31204f63 74203230 31352030 373a3238 3a303020 474d5400
  19007465 78742f70 6c61696e 3b206368 61727365 743d7574 662d3800 00000000
`;

/**
 * Lays out a version-2 file field by field, at the offsets the documentation
 * gives (written out here, not taken from the codec), with CRCs from the
 * bitwise reference: an encoding made without `encodeCheckpoint`.
 */
function layOutByHand(c: Checkpoint): Uint8Array {
  const strings = [c.etag, c.lastModified, c.contentType].map((s) =>
    s === null ? null : enc.encode(s)
  );
  const pad8 = (n: number) => Math.ceil(n / 8) * 8;
  const size = 248 + strings.reduce((sum, s) => sum + pad8(2 + (s?.length ?? 0)), 0);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes.set([0x89, 0x48, 0x41, 0x55, 0x4c, 0x0d, 0x0a, 0x1a], 0);
  view.setUint16(8, 2, true);
  view.setUint16(10, 0, true);
  view.setUint32(12, size - 24, true);
  const u64s = [c.start, c.cursor, c.blockSize, c.extent, c.reportedLength ?? 0, c.anchor];
  u64s.push(c.hash.length);
  u64s.forEach((value, i) => view.setBigUint64(24 + 8 * i, BigInt(value), true));
  let flags = c.reportedLength === null ? 0 : 1;
  strings.forEach((s, i) => (flags |= s === null ? 0 : 2 << i));
  if (c.tailDigest !== null) flags |= 16;
  view.setUint32(80, flags, true);
  view.setUint32(84, 0, true);
  for (let i = 0; i < 8; i++) {
    view.setUint32(88 + 4 * i, c.anchorHash.words[i]!, true);
    view.setUint32(120 + 4 * i, c.hash.words[i]!, true);
  }
  bytes.set(c.hash.pending, 152);
  if (c.tailDigest !== null) bytes.set(c.tailDigest, 216);
  let pos = 248;
  for (const s of strings) {
    view.setUint16(pos, s?.length ?? 0, true);
    if (s !== null) bytes.set(s, pos + 2);
    pos += pad8(2 + (s?.length ?? 0));
  }
  view.setUint32(16, crc32cReference(bytes.subarray(24)), true);
  view.setUint32(20, crc32cReference(bytes.subarray(0, 20)), true);
  return bytes;
}

// ---------------------------------------------------------------- tests

describe("crc32 (CRC-32C, Castagnoli)", () => {
  it("matches the standard check value and the RFC 3720 test vectors", () => {
    assert.equal(crc32(new Uint8Array(0)), 0);
    assert.equal(crc32(enc.encode("123456789")), 0xe3069283);
    assert.equal(crc32(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  });

  it("continues across chunks through the seed, at every split point", () => {
    const data = Uint8Array.from({ length: 100 }, (_, i) => (i * 37 + 11) & 0xff);
    const whole = crc32(data);
    for (let split = 0; split <= data.length; split++) {
      assert.equal(crc32(data.subarray(split), crc32(data.subarray(0, split))), whole);
    }
  });

  it("agrees with a bitwise reference on every length up to 40 and on unaligned views", () => {
    const reference = crc32cReference;
    assert.equal(reference(enc.encode("123456789")), 0xe3069283);
    const data = Uint8Array.from({ length: 43 }, (_, i) => (i * 101 + 7) & 0xff);
    for (let offset = 0; offset < 3; offset++) {
      for (let n = 0; n <= 40; n++) {
        const view = data.subarray(offset, offset + n);
        assert.equal(crc32(view), reference(view));
      }
    }
  });
});

describe("control file constants", () => {
  it("has an 8-byte magic and version 2", () => {
    assert.equal(CONTROL_FILE_VERSION, 2);
    assert.ok(CONTROL_FILE_MAGIC instanceof Uint8Array);
    assert.equal(toHex(CONTROL_FILE_MAGIC), "894841554c0d0a1a");
    assert.equal(CONTROL_FILE_MAX_STRING_BYTES, 4096);
  });

  it("is not affected by callers mutating the exported magic", () => {
    const saved = CONTROL_FILE_MAGIC.slice();
    try {
      CONTROL_FILE_MAGIC.fill(0);
      assert.deepEqual(decodeCheckpoint(fromHex(GOLDEN_HEX)), GOLDEN);
      assert.equal(toHex(encodeCheckpoint(GOLDEN).subarray(0, 8)), "894841554c0d0a1a");
    } finally {
      CONTROL_FILE_MAGIC.set(saved);
    }
  });
});

describe("golden bytes", () => {
  it("encodes the golden checkpoint to the exact expected bytes", () => {
    assert.equal(toHex(encodeCheckpoint(GOLDEN)), toHex(fromHex(GOLDEN_HEX)));
  });

  it("decodes the golden bytes to the golden checkpoint", () => {
    assert.deepStrictEqual(decodeCheckpoint(fromHex(GOLDEN_HEX)), GOLDEN);
  });

  it("encodes and decodes the minimal checkpoint", () => {
    assert.equal(toHex(encodeCheckpoint(MINIMAL)), toHex(fromHex(MINIMAL_HEX)));
    assert.deepStrictEqual(decodeCheckpoint(fromHex(MINIMAL_HEX)), MINIMAL);
  });

  it("are the documented layout filled in by hand, not just what the encoder writes", () => {
    assert.equal(toHex(layOutByHand(GOLDEN)), toHex(fromHex(GOLDEN_HEX)));
    assert.equal(toHex(layOutByHand(MINIMAL)), toHex(fromHex(MINIMAL_HEX)));
    assert.equal(fromHex(GOLDEN_HEX).length, 328);
    assert.equal(fromHex(MINIMAL_HEX).length, 272);
  });

  it("hold the real SHA-256 states and tail digest of the golden data", async () => {
    assert.equal(tailStart(GOLDEN), 272);
    const anchorHash = new Sha256().update(GOLDEN_DATA.subarray(0, 128)).snapshot();
    const hash = new Sha256().update(GOLDEN_DATA.subarray(0, 200)).snapshot();
    assert.deepStrictEqual(anchorHash, GOLDEN.anchorHash);
    assert.deepStrictEqual(hash, GOLDEN.hash);
    const tail = new Uint8Array(
      await crypto.subtle.digest("SHA-256", GOLDEN_DATA.slice(272, 400)),
    );
    assert.deepStrictEqual(tail, GOLDEN.tailDigest);
  });

  it("stores CRC-32C of header and body where the layout says", () => {
    for (const hex of [GOLDEN_HEX, MINIMAL_HEX]) {
      const bytes = fromHex(hex);
      const view = new DataView(bytes.buffer);
      assert.equal(view.getUint32(12, true), bytes.length - 24);
      assert.equal(view.getUint32(16, true), crc32cReference(bytes.subarray(24)));
      assert.equal(view.getUint32(20, true), crc32cReference(bytes.subarray(0, 20)));
      assert.equal(view.getUint32(16, true), crc32(bytes.subarray(24)));
    }
    const golden = new DataView(fromHex(GOLDEN_HEX).buffer);
    assert.equal(golden.getUint32(CONTROL_FILE_OFFSETS.bodyCrc, true), 0x3998a350);
    assert.equal(golden.getUint32(CONTROL_FILE_OFFSETS.headerCrc, true), 0x3636cb2d);
  });

  it("refuses the version-1 golden file: written by an older haul, this one reads version 2", () => {
    const v1 = fromHex(V1_GOLDEN_HEX);
    const view = new DataView(v1.buffer);
    // A genuine v1 file: intact CRCs, so the version is what gets refused.
    assert.equal(view.getUint32(16, true), crc32cReference(v1.subarray(24)));
    assert.equal(view.getUint32(20, true), crc32cReference(v1.subarray(0, 20)));
    assertControlFileError(() => decodeCheckpoint(v1), /version 1\b/);
    assertControlFileError(() => decodeCheckpoint(v1), /written by an older haul/);
    assertControlFileError(() => decodeCheckpoint(v1), /reads version 2 only/);
    assertControlFileError(() => decodeCheckpoint(v1), /^Checkpoint version 1 is not supported/);
    // Whatever its body holds: the version is checked before the body.
    for (const bodyLength of [0, 184, 264, 0xffffffff]) {
      const header = v1.slice(0, 24);
      new DataView(header.buffer).setUint32(12, bodyLength, true);
      assertControlFileError(() => decodeCheckpoint(reseal(header)), /older haul/);
    }
  });
});

describe("tailStart", () => {
  const at = (cursor: number, hashLength: number, blockSize: number): number =>
    tailStart({ cursor, blockSize, hash: state(hashLength, 0) });

  it("is the cursor when the hash covers every durable byte", () => {
    for (const [cursor, blockSize] of [[0, 64], [1, 64], [64, 64], [300, 128], [MAX, 2 ** 20]]) {
      assert.equal(at(cursor!, cursor!, blockSize!), cursor);
    }
  });

  it("is hash.length when the hash trails the cursor by at most a block", () => {
    assert.equal(at(300, 200, 128), 200);
    assert.equal(at(300, 299, 128), 299);
    assert.equal(at(300, 172, 128), 172, "exactly one block behind");
    assert.equal(at(100, 0, 128), 0, "cursor below one block");
    assert.equal(at(MAX, MAX - 64, 2 ** 20), MAX - 64);
  });

  it("is one block before the cursor when the hash trails by more", () => {
    assert.equal(at(300, 171, 128), 172);
    assert.equal(at(300, 0, 128), 172);
    assert.equal(at(400, 200, 128), 272);
    assert.equal(at(MAX, 0, 2 ** 20), MAX - 2 ** 20);
  });

  it("agrees with the checkpoints make() builds: tailDigest is null exactly at the cursor", () => {
    for (const cursor of [0, 1, 63, 64, 200, 300, 1000]) {
      for (let hashLength = 0; hashLength <= cursor; hashLength += 7) {
        const c = make({ cursor, hashLength, blockSize: 128 });
        assert.equal(c.tailDigest === null, tailStart(c) === cursor, `${cursor} ${hashLength}`);
        assert.equal(c.tailDigest === null, hashLength === cursor);
      }
    }
  });
});

describe("layout", () => {
  const u64Fields = [
    "start",
    "cursor",
    "blockSize",
    "extent",
    "reportedLength",
    "anchor",
    "hashLength",
  ] as const;

  it("exports the documented offsets", () => {
    assert.deepStrictEqual({ ...CONTROL_FILE_OFFSETS }, {
      magic: 0,
      version: 8,
      headerFlags: 10,
      bodyLength: 12,
      bodyCrc: 16,
      headerCrc: 20,
      start: 24,
      cursor: 32,
      blockSize: 40,
      extent: 48,
      reportedLength: 56,
      anchor: 64,
      hashLength: 72,
      fieldFlags: 80,
      reserved: 84,
      anchorWords: 88,
      hashWords: 120,
      hashPending: 152,
      tailDigest: 216,
      strings: 248,
    });
    assert.ok(Object.isFrozen(CONTROL_FILE_OFFSETS));
  });

  it("keeps every u64 field 8-byte aligned, and the header and string area too", () => {
    for (const name of u64Fields) {
      assert.equal(CONTROL_FILE_OFFSETS[name] % 8, 0, `${name} at ${CONTROL_FILE_OFFSETS[name]}`);
    }
    assert.equal(CONTROL_FILE_OFFSETS.start, 24, "the body starts right after a 24-byte header");
    assert.equal(CONTROL_FILE_OFFSETS.strings % 8, 0);
    assert.equal(CONTROL_FILE_OFFSETS.anchorWords % 4, 0);
    assert.equal(CONTROL_FILE_OFFSETS.hashWords % 4, 0);
    assert.equal(CONTROL_FILE_OFFSETS.tailDigest % 8, 0);
  });

  it("puts each u64 value at its documented offset, little-endian", () => {
    const checkpoint = make({
      cursor: 2 ** 40 + 4097,
      hashLength: 2 ** 40 + 1,
      blockSize: 4096,
      extent: MAX,
      reportedLength: 2 ** 52 + 3,
    });
    const bytes = encodeCheckpoint(checkpoint);
    const view = new DataView(bytes.buffer);
    for (const name of u64Fields) {
      const expected = name === "hashLength" ? checkpoint.hash.length : checkpoint[name];
      assert.equal(
        view.getBigUint64(CONTROL_FILE_OFFSETS[name], true),
        BigInt(expected ?? 0),
        name,
      );
    }
    for (let i = 0; i < 8; i++) {
      assert.equal(
        view.getUint32(CONTROL_FILE_OFFSETS.anchorWords + 4 * i, true),
        checkpoint.anchorHash.words[i],
      );
      assert.equal(
        view.getUint32(CONTROL_FILE_OFFSETS.hashWords + 4 * i, true),
        checkpoint.hash.words[i],
      );
    }
    const pending = CONTROL_FILE_OFFSETS.hashPending;
    assert.deepStrictEqual(bytes.slice(pending, pending + 1), checkpoint.hash.pending);
    assert.ok(bytes.subarray(pending + 1, pending + 64).every((b) => b === 0));
    const tail = CONTROL_FILE_OFFSETS.tailDigest;
    assert.deepStrictEqual(bytes.slice(tail, tail + 32), checkpoint.tailDigest);
    assert.equal(view.getUint32(CONTROL_FILE_OFFSETS.fieldFlags, true), 0b10001);
  });

  it("leaves the tail digest area zero, and its flag clear, when there is none", () => {
    const bytes = encodeCheckpoint(make({ cursor: 300, blockSize: 128, reportedLength: null }));
    const tail = CONTROL_FILE_OFFSETS.tailDigest;
    assert.ok(bytes.subarray(tail, tail + 32).every((b) => b === 0));
    assert.equal(new DataView(bytes.buffer).getUint32(CONTROL_FILE_OFFSETS.fieldFlags, true), 0);
  });

  it("pads each string record to 8 bytes, so the file length is a multiple of 8", () => {
    for (let a = 0; a < 12; a++) {
      for (let b = 0; b < 12; b++) {
        const etag = "e".repeat(a);
        const lastModified = "m".repeat(b);
        const bytes = encodeCheckpoint(make({ cursor: 5, etag, lastModified, contentType: "" }));
        const pad = (n: number) => Math.ceil(n / 8) * 8;
        assert.equal(bytes.length, CONTROL_FILE_OFFSETS.strings + pad(2 + a) + pad(2 + b) + 8);
        assert.equal(bytes.length % 8, 0);
        // The second record starts 8-aligned and holds its length there.
        const second = CONTROL_FILE_OFFSETS.strings + pad(2 + a);
        assert.equal(new DataView(bytes.buffer).getUint16(second, true), b);
      }
    }
  });
});

describe("round trips", () => {
  const roundTrip = (checkpoint: Checkpoint, label: string): void => {
    const bytes = encodeCheckpoint(checkpoint);
    const decoded = decodeCheckpoint(bytes);
    assert.deepStrictEqual(decoded, checkpoint, label);
    assert.equal(decoded.anchorHash.words.constructor, Uint32Array);
    assert.equal(decoded.hash.words.constructor, Uint32Array);
    assert.equal(decoded.hash.pending.constructor, Uint8Array);
    assert.equal(decoded.anchorHash.pending.constructor, Uint8Array);
    if (decoded.tailDigest !== null) assert.equal(decoded.tailDigest.constructor, Uint8Array);
  };

  it("survives cursors of every interesting size with several block sizes", () => {
    const cursors = [
      0,
      1,
      63,
      64,
      65,
      127,
      128,
      129,
      4095,
      4096,
      4097,
      65536 * 3,
      65536 * 3 + 17,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 32 + 7,
      2 ** 52 + 1,
      MAX - 64,
      MAX,
    ];
    const blockSizes = [64, 128, 192, 4096, 65536, 2 ** 20, 2 ** 32, 2 ** 46];
    for (const cursor of cursors) {
      for (const blockSize of blockSizes) {
        // The hash level with the cursor, just behind it, about a block behind, far behind.
        const hashLengths = new Set(
          [cursor, cursor - 1, cursor - 63, cursor - blockSize, cursor - blockSize - 1, 0]
            .filter((n) => n >= 0),
        );
        for (const hashLength of hashLengths) {
          // Both anchors haul may write: strictly below hash.length, and at it.
          const anchors = new Set([
            hashLength === 0 ? 0 : Math.floor((hashLength - 1) / blockSize) * blockSize,
            Math.floor(hashLength / blockSize) * blockSize,
          ]);
          for (const anchor of anchors) {
            const label =
              `cursor ${cursor} blockSize ${blockSize} hash.length ${hashLength} anchor ${anchor}`;
            const shape = { cursor, blockSize, hashLength, anchor };
            roundTrip(make(shape), label);
            roundTrip(make({ ...shape, extent: MAX, reportedLength: MAX }), label);
            roundTrip(make({ ...shape, reportedLength: cursor }), label);
          }
        }
      }
    }
  });

  it("accepts a cursor more than a block past the anchor when the hash is within a block", () => {
    // Version 1 refused this; in version 2 the anchor is tied to hash.length.
    const checkpoint = make({ cursor: 10_000, hashLength: 200, blockSize: 128 });
    assert.equal(checkpoint.anchor, 128);
    assert.equal(tailStart(checkpoint), 10_000 - 128);
    roundTrip(checkpoint, "cursor far ahead of the hash");
    roundTrip({ ...checkpoint, tailDigest: new Uint8Array(32) }, "an all-zero digest is a digest");
  });

  it("distinguishes an unknown length from a known length of 0", () => {
    const unknown = decodeCheckpoint(encodeCheckpoint(make({ cursor: 0, reportedLength: null })));
    const zero = decodeCheckpoint(encodeCheckpoint(make({ cursor: 0, reportedLength: 0 })));
    assert.equal(unknown.reportedLength, null);
    assert.equal(zero.reportedLength, 0);
  });

  it("keeps null, empty, long and non-ASCII strings apart", () => {
    const values: (string | null)[] = [
      null,
      "",
      " ",
      '"abc"',
      'W/"weak-1"',
      "Wed, 21 Oct 2015 07:28:00 GMT",
      "application/octet-stream",
      "café",
      "日本語のテキスト",
      "emoji 😀🎉 astral 𝄞",
      "\uFEFFleading byte-order mark",
      "nul\u0000inside",
      "x".repeat(CONTROL_FILE_MAX_STRING_BYTES),
      "é".repeat(CONTROL_FILE_MAX_STRING_BYTES / 2),
      "😀".repeat(CONTROL_FILE_MAX_STRING_BYTES / 4),
      "a" + "€".repeat(1365),
    ];
    for (const value of values) {
      for (const field of ["etag", "lastModified", "contentType"] as const) {
        roundTrip(make({ cursor: 77, [field]: value }), `${field} = ${JSON.stringify(value)}`);
      }
    }
  });

  it("round-trips all three strings present together (the old Python codec's bug)", () => {
    for (const cursor of [0, 1, 64, 1000]) {
      roundTrip(
        make({
          cursor,
          reportedLength: 5000,
          etag: '"686897696a7c876b7e"',
          lastModified: "Sun, 06 Nov 1994 08:49:37 GMT",
          contentType: "application/x-tar",
        }),
        "all three",
      );
      roundTrip(make({ cursor, etag: "", lastModified: "", contentType: "" }), "all three empty");
      roundTrip(
        make({
          cursor,
          etag: "x".repeat(CONTROL_FILE_MAX_STRING_BYTES),
          lastModified: "ü".repeat(CONTROL_FILE_MAX_STRING_BYTES / 2),
          contentType: "😀".repeat(CONTROL_FILE_MAX_STRING_BYTES / 4),
        }),
        "all three at maximum length",
      );
    }
  });

  it("returns fresh arrays, not views of the input, from any byte offset", () => {
    const bytes = encodeCheckpoint(GOLDEN);
    for (let offset = 0; offset < 8; offset++) {
      const backing = new Uint8Array(bytes.length + offset + 3);
      backing.set(bytes, offset);
      const input = backing.subarray(offset, offset + bytes.length);
      const decoded = decodeCheckpoint(input);
      assert.deepStrictEqual(decoded, GOLDEN);
      backing.fill(0);
      assert.deepStrictEqual(decoded, GOLDEN, "decoded state must not alias the input");
      assert.notEqual(decoded.tailDigest?.buffer, backing.buffer);
      assert.notEqual(decoded.hash.pending.buffer, backing.buffer);
    }
  });

  it("returns fresh arrays from a Buffer too (whose slice() is a view)", () => {
    const input = Buffer.from(encodeCheckpoint(GOLDEN));
    const decoded = decodeCheckpoint(input);
    input.fill(0);
    assert.deepStrictEqual(decoded, GOLDEN);
    assert.equal(decoded.tailDigest?.constructor, Uint8Array);
  });

  it("does not alias the checkpoint's arrays into the encoding", () => {
    const checkpoint = make({ cursor: 70, hashLength: 66 });
    const bytes = encodeCheckpoint(checkpoint);
    const copy = decodeCheckpoint(bytes);
    checkpoint.hash.pending.fill(0xaa);
    checkpoint.hash.words.fill(1);
    checkpoint.tailDigest?.fill(0xbb);
    assert.notDeepStrictEqual(decodeCheckpoint(bytes), checkpoint);
    assert.deepStrictEqual(decodeCheckpoint(bytes), copy);
    assert.notDeepStrictEqual(copy.tailDigest, checkpoint.tailDigest);
  });
});

describe("corruption is always a ControlFileError", () => {
  it("rejects every single-bit flip at every byte", () => {
    for (const checkpoint of [GOLDEN, MINIMAL]) {
      const original = encodeCheckpoint(checkpoint);
      for (let i = 0; i < original.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const bytes = original.slice();
          bytes[i]! ^= 1 << bit;
          assertControlFileError(() => decodeCheckpoint(bytes), undefined, `byte ${i} bit ${bit}`);
        }
      }
    }
  });

  it("rejects bit flips in the hash length, flags and tail digest even with valid CRCs", () => {
    const o = CONTROL_FILE_OFFSETS;
    const original = encodeCheckpoint(GOLDEN);
    // hash.length 200 (0b11001000): a flip is refused when it uncovers non-zero
    // pending bytes (192), puts the anchor beyond the hash (72) or the hash beyond
    // the cursor (456 and up). The others (201, 202, 204, 216, 232, 136) keep
    // every invariant, and then read back as exactly that hash length.
    const accepted: number[] = [];
    for (let bit = 0; bit < 64; bit++) {
      const bytes = original.slice();
      bytes[o.hashLength + (bit >> 3)]! ^= 1 << (bit & 7);
      reseal(bytes);
      let decoded: Checkpoint;
      try {
        decoded = decodeCheckpoint(bytes);
      } catch (error) {
        assert.ok(error instanceof ControlFileError, `hashLength bit ${bit}: ${String(error)}`);
        continue;
      }
      accepted.push(bit);
      assert.equal(decoded.hash.length, 200 ^ (1 << bit));
      assert.deepStrictEqual(encodeCheckpoint(decoded), bytes);
    }
    assert.deepStrictEqual(accepted, [0, 1, 2, 4, 5, 6]);
    // The tail digest flag: clearing it leaves digest bytes behind.
    const cleared = original.slice();
    cleared[o.fieldFlags]! ^= 0x10;
    assertControlFileError(() => decodeCheckpoint(reseal(cleared)), /tailDigest is marked absent/);
    // Flipping a digest bit gives another valid checkpoint (the codec cannot know the data).
    const digestBit = original.slice();
    digestBit[o.tailDigest + 5]! ^= 0x40;
    const decoded = decodeCheckpoint(reseal(digestBit));
    assert.notDeepStrictEqual(decoded.tailDigest, GOLDEN.tailDigest);
    assert.deepStrictEqual({ ...decoded, tailDigest: GOLDEN.tailDigest }, GOLDEN);
  });

  it("rejects every truncation", () => {
    for (const checkpoint of [GOLDEN, MINIMAL]) {
      const bytes = encodeCheckpoint(checkpoint);
      for (let n = 0; n < bytes.length; n++) {
        assertControlFileError(() => decodeCheckpoint(bytes.slice(0, n)), undefined, `length ${n}`);
      }
    }
  });

  it("names the problem: too short, bad magic, CRCs, trailing bytes", () => {
    const bytes = encodeCheckpoint(GOLDEN);
    assertControlFileError(() => decodeCheckpoint(new Uint8Array(0)), /truncated/);
    assertControlFileError(() => decodeCheckpoint(bytes.slice(0, 100)), /truncated/);
    assertControlFileError(
      () => decodeCheckpoint(enc.encode('{"cursor": 0} padding padding')),
      /magic/,
    );
    const header = bytes.slice();
    header[8] = 7; // version, without fixing the header CRC
    assertControlFileError(() => decodeCheckpoint(header), /header CRC/);
    const body = bytes.slice();
    body[40] = 1;
    assertControlFileError(() => decodeCheckpoint(body), /body CRC/);
    const longer = new Uint8Array(bytes.length + 8);
    longer.set(bytes);
    assertControlFileError(() => decodeCheckpoint(longer), /8 trailing bytes/);
    assertControlFileError(
      () => decodeCheckpoint(longer.subarray(0, bytes.length + 1)),
      /trailing/,
    );
  });

  it("rejects other versions with valid CRCs, naming the version and who wrote it", () => {
    const cases: [number, RegExp][] = [
      [1, /written by an older haul, and this haul reads version 2 only$/],
      [3, /reads version 2 only \(the file was probably written by a newer haul\)/],
      [0xffff, /written by a newer haul/],
      [0, /written by another haul/],
    ];
    for (const [version, who] of cases) {
      const bytes = edited(
        GOLDEN,
        (view) => view.setUint16(CONTROL_FILE_OFFSETS.version, version, true),
      );
      assertControlFileError(() => decodeCheckpoint(bytes), new RegExp(`version ${version}\\b`));
      assertControlFileError(() => decodeCheckpoint(bytes), who, `version ${version}`);
    }
    // A v3 file may have a body this version cannot parse at all.
    const header = encodeCheckpoint(MINIMAL).slice(0, 24);
    new DataView(header.buffer).setUint16(CONTROL_FILE_OFFSETS.version, 3, true);
    new DataView(header.buffer).setUint32(CONTROL_FILE_OFFSETS.bodyLength, 0, true);
    assertControlFileError(() => decodeCheckpoint(reseal(header)), /version 3\b/);
  });

  it("rejects values above Number.MAX_SAFE_INTEGER", () => {
    const names = [
      "start",
      "cursor",
      "blockSize",
      "extent",
      "reportedLength",
      "anchor",
      "hashLength",
    ] as const;
    for (const name of names) {
      for (const value of [2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]) {
        const bytes = edited(
          make({ cursor: 10, reportedLength: 20 }),
          (view) => setU64(view, CONTROL_FILE_OFFSETS[name], value),
        );
        assertControlFileError(() => decodeCheckpoint(bytes), /2\^53/, name);
      }
    }
  });

  it("rejects invalid UTF-8 in each string", () => {
    const invalid = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [
      0xf4,
      0x90,
      0x80,
      0x80,
    ]];
    for (const [index, field] of ["etag", "lastModified", "contentType"].entries()) {
      for (const sequence of invalid) {
        const checkpoint = make({
          cursor: 3,
          etag: "aaaa",
          lastModified: "bbbb",
          contentType: "cccc",
        });
        const bytes = edited(checkpoint, (_view, b) => {
          const record = CONTROL_FILE_OFFSETS.strings + 8 * index;
          b.set(sequence, record + 2);
        });
        assertControlFileError(() => decodeCheckpoint(bytes), /not valid UTF-8/, field);
      }
    }
  });

  it("rejects strings longer than the cap, even with valid CRCs", () => {
    const checkpoint = make({ cursor: 3, etag: "x".repeat(CONTROL_FILE_MAX_STRING_BYTES) });
    const record = CONTROL_FILE_OFFSETS.strings;
    // A consistent 4097-byte etag: the record's padding has room for the extra byte.
    const consistent = edited(checkpoint, (view, bytes) => {
      view.setUint16(record, CONTROL_FILE_MAX_STRING_BYTES + 1, true);
      bytes[record + 2 + CONTROL_FILE_MAX_STRING_BYTES] = 0x78;
    });
    assertControlFileError(() => decodeCheckpoint(consistent), /4097 bytes, more than 4096/);
    const huge = edited(checkpoint, (view) => view.setUint16(record, 0xffff, true));
    assertControlFileError(() => decodeCheckpoint(huge), /65535 bytes, more than 4096/);
  });

  it("rejects non-canonical encodings: padding, reserved bits, stray values", () => {
    const base = make({ cursor: 70, etag: "abc", reportedLength: null });
    const cases: [string, (view: DataView, bytes: Uint8Array) => void, RegExp][] = [
      [
        "header flags",
        (v) => v.setUint16(CONTROL_FILE_OFFSETS.headerFlags, 1, true),
        /header flags/,
      ],
      [
        "field flags",
        (v) => v.setUint32(CONTROL_FILE_OFFSETS.fieldFlags, 0x22, true),
        /field flags/,
      ],
      [
        "top field flag",
        (v) => v.setUint32(CONTROL_FILE_OFFSETS.fieldFlags, 0x8000_0002, true),
        /field flags/,
      ],
      ["reserved", (v) => v.setUint32(CONTROL_FILE_OFFSETS.reserved, 1, true), /reserved/],
      [
        "unknown length stored",
        (v) => setU64(v, CONTROL_FILE_OFFSETS.reportedLength, 100n),
        /marked unknown/,
      ],
      ["pending tail", (_v, b) => (b[CONTROL_FILE_OFFSETS.hashPending + 63] = 1), /pending/],
      ["pending past 6", (_v, b) => (b[CONTROL_FILE_OFFSETS.hashPending + 6] = 1), /pending/],
      [
        "absent tail digest with bytes",
        (_v, b) => (b[CONTROL_FILE_OFFSETS.tailDigest + 31] = 1),
        /tailDigest is marked absent/,
      ],
      ["string padding", (_v, b) => (b[CONTROL_FILE_OFFSETS.strings + 7] = 1), /padding/],
      [
        "absent string with bytes",
        (v) => v.setUint16(CONTROL_FILE_OFFSETS.strings + 8, 3, true),
        /marked absent/,
      ],
    ];
    for (const [label, edit, pattern] of cases) {
      assertControlFileError(() => decodeCheckpoint(edited(base, edit)), pattern, label);
    }
  });

  it("rejects impossible body lengths and records that overrun the body", () => {
    for (const length of [0, 8, 200, 240, 12537, 12544, 0xffffffff, 253]) {
      const bytes = edited(
        MINIMAL,
        (v) => v.setUint32(CONTROL_FILE_OFFSETS.bodyLength, length, true),
      );
      assertControlFileError(() => decodeCheckpoint(bytes), /body length/, String(length));
    }
    // An etag record claiming 100 bytes inside a minimal body.
    const overrun = edited(MINIMAL, (v) => {
      v.setUint32(CONTROL_FILE_OFFSETS.fieldFlags, 2, true);
      v.setUint16(CONTROL_FILE_OFFSETS.strings, 100, true);
    });
    assertControlFileError(() => decodeCheckpoint(overrun), /runs past/);
    // An etag record that fills the rest of the body leaves no room for the others.
    for (let length = 15; length <= 22; length++) {
      const filled = edited(MINIMAL, (v) => {
        v.setUint32(CONTROL_FILE_OFFSETS.fieldFlags, 2, true);
        v.setUint16(CONTROL_FILE_OFFSETS.strings, length, true);
      });
      assertControlFileError(() => decodeCheckpoint(filled), /ends before the lastModified/);
    }
    // Extra zero bytes inside the body, after the last record.
    const bytes = encodeCheckpoint(MINIMAL);
    const padded = new Uint8Array(bytes.length + 8);
    padded.set(bytes);
    new DataView(padded.buffer).setUint32(
      CONTROL_FILE_OFFSETS.bodyLength,
      padded.length - 24,
      true,
    );
    assertControlFileError(() => decodeCheckpoint(reseal(padded)), /unused bytes/);
  });

  it("rejects every broken invariant, even with valid CRCs", () => {
    const o = CONTROL_FILE_OFFSETS;
    const base = make({ cursor: 300, blockSize: 128, reportedLength: 1000 }); // anchor 256
    const cases: [string, (view: DataView) => void, RegExp][] = [
      ["start", (v) => setU64(v, o.start, 128n), /start/],
      ["blockSize 0", (v) => setU64(v, o.blockSize, 0n), /blockSize/],
      ["blockSize 100", (v) => setU64(v, o.blockSize, 100n), /blockSize/],
      ["anchor beyond hash.length", (v) => setU64(v, o.anchor, 384n), /beyond hash.length/],
      ["anchor not a multiple", (v) => setU64(v, o.anchor, 192n), /multiple/],
      ["anchor too far back", (v) => setU64(v, o.anchor, 128n), /below hash.length/],
      ["extent below cursor", (v) => setU64(v, o.extent, 299n), /extent/],
      ["cursor beyond length", (v) => setU64(v, o.reportedLength, 299n), /reportedLength/],
    ];
    for (const [label, edit, pattern] of cases) {
      assertControlFileError(() => decodeCheckpoint(edited(base, edit)), pattern, label);
    }
    // Hash states of zero bytes must hold SHA-256's initial words.
    const empty = make({ cursor: 0 });
    const badAnchorIv = edited(empty, (v) => v.setUint32(o.anchorWords, 1, true));
    assertControlFileError(() => decodeCheckpoint(badAnchorIv), /initial values/);
    const badHashIv = edited(empty, (v) => v.setUint32(o.hashWords + 28, 1, true));
    assertControlFileError(() => decodeCheckpoint(badHashIv), /initial values/);
    // anchor === hash.length: both states cover the same bytes.
    const atAnchor = make({ cursor: 256, blockSize: 128, anchor: 256 });
    const split = edited(atAnchor, (v) => v.setUint32(o.hashWords + 4, 12345, true));
    assertControlFileError(() => decodeCheckpoint(split), /words differ/);
  });

  it("rejects input that is not a Uint8Array without throwing anything else", () => {
    const notBytes = [undefined, null, "text", 42, {}, [1, 2, 3], new ArrayBuffer(300)];
    for (const value of notBytes) {
      assertControlFileError(() => decodeCheckpoint(value as unknown as Uint8Array), /Uint8Array/);
    }
  });
});

describe("encode refuses what decode would reject", () => {
  const rejects = (checkpoint: Checkpoint, pattern: RegExp, label: string): void => {
    assert.throws(() => encodeCheckpoint(checkpoint), (error: unknown) => {
      assert.ok(error instanceof RangeError, `${label}: ${String(error)}`);
      assert.match(error.message, pattern, label);
      return true;
    });
  };
  const base = make({ cursor: 300, blockSize: 128, reportedLength: 1000 });

  it("rejects broken invariants with RangeError", () => {
    rejects({ ...base, start: 1 }, /start/, "start");
    rejects({ ...base, blockSize: 0 }, /blockSize/, "blockSize 0");
    rejects({ ...base, blockSize: 96 }, /blockSize/, "blockSize 96");
    rejects(
      make({ cursor: 100, blockSize: 64, anchor: 128 }),
      /beyond hash.length/,
      "anchor > hash.length",
    );
    rejects(make({ cursor: 300, blockSize: 128, anchor: 200 }), /multiple/, "anchor % blockSize");
    rejects(
      make({ cursor: 300, blockSize: 128, anchor: 128 }),
      /below hash.length/,
      "hash.length - anchor",
    );
    rejects({ ...base, extent: 299 }, /extent/, "extent < cursor");
    rejects({ ...base, reportedLength: 299 }, /reportedLength/, "cursor > reportedLength");
    rejects({ ...base, anchorHash: state(128, 1) }, /anchorHash.length/, "anchorHash.length");
    rejects({ ...base, hash: state(301, 2) }, /hash.length 301 is beyond cursor/, "hash.length");
    rejects(
      { ...base, hash: { ...base.hash, pending: new Uint8Array(3) } },
      /pending/,
      "pending length",
    );
    rejects(
      { ...base, anchorHash: { ...base.anchorHash, pending: new Uint8Array(1) } },
      /pending/,
      "anchor pending",
    );
    const empty = make({ cursor: 0 });
    rejects({ ...empty, hash: state(0, 0, new Uint32Array(8)) }, /initial values/, "IV");
    const atAnchor = make({ cursor: 256, blockSize: 128, anchor: 256 });
    rejects({ ...atAnchor, hash: state(256, 9) }, /words differ/, "anchor === hash.length");
  });

  it("rejects numbers that are not safe non-negative integers", () => {
    for (const bad of [-1, 1.5, 2 ** 53, NaN, Infinity, "5" as unknown as number]) {
      rejects({ ...base, extent: bad }, /extent/, `extent ${bad}`);
      rejects({ ...base, reportedLength: bad }, /reportedLength/, `reportedLength ${bad}`);
    }
    rejects({ ...base, cursor: 2 ** 53 }, /cursor/, "cursor 2^53");
  });

  it("rejects malformed hash states", () => {
    const words = (w: unknown): Checkpoint => ({
      ...base,
      hash: { ...base.hash, words: w as Uint32Array },
    });
    rejects(words(new Uint32Array(7)), /words/, "7 words");
    rejects(words(Array.from(base.hash.words)), /words/, "plain array");
    rejects(words(new Int32Array(8)), /words/, "Int32Array");
    rejects(
      { ...base, hash: { ...base.hash, pending: [1, 2] as unknown as Uint8Array } },
      /pending/,
      "pending array",
    );
  });

  it("rejects over-long and ill-formed strings", () => {
    for (const field of ["etag", "lastModified", "contentType"] as const) {
      rejects({ ...base, [field]: "x".repeat(4097) }, /4097 UTF-8 bytes/, field);
      rejects({ ...base, [field]: "é".repeat(2049) }, /4098 UTF-8 bytes/, field);
      rejects({ ...base, [field]: "ok\uD800" }, /lone surrogate/, field);
      rejects({ ...base, [field]: "\uDC00" }, /lone surrogate/, field);
      rejects({ ...base, [field]: 5 as unknown as string }, /string/, field);
    }
  });
});

describe("version 2 invariants: encoder and decoder refuse the same checkpoints", () => {
  const o = CONTROL_FILE_OFFSETS;

  /** The detail of the error `fn` throws, without the codec's prefix. */
  const detail = (fn: () => unknown, type: typeof RangeError | typeof ControlFileError): string => {
    try {
      fn();
    } catch (error) {
      assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
      return error.message.replace(/^(Cannot encode checkpoint|Checkpoint corrupt): /, "");
    }
    return assert.fail(`expected ${type.name}, nothing was thrown`);
  };

  interface Case {
    label: string;
    /** A valid checkpoint. */
    base: Checkpoint;
    /** The same checkpoint with one invariant broken, for the encoder. */
    broken: (c: Checkpoint) => Checkpoint;
    /** The same break made in the bytes of `base` (resealed), for the decoder. */
    edit: ((view: DataView, bytes: Uint8Array) => void) | null;
    pattern: RegExp;
  }

  const trailing = make({ cursor: 300, hashLength: 200, blockSize: 128 }); // anchor 128, tail [200, 300)
  const level = make({ cursor: 300, blockSize: 128 }); // anchor 256, no tail
  const fromZero = make({ cursor: 100, hashLength: 0, blockSize: 128 }); // tail [0, 100)
  const atAnchor = make({ cursor: 300, hashLength: 256, anchor: 256, blockSize: 128 });
  const zeroPending = new Uint8Array(0);

  const cases: Case[] = [
    {
      label: "hash.length beyond cursor",
      base: level,
      broken: (c) => ({ ...c, hash: { words: c.hash.words, length: 320, pending: zeroPending } }),
      edit: (v, b) => {
        setU64(v, o.hashLength, 320n);
        b.fill(0, o.hashPending, o.hashPending + 64);
      },
      pattern: /^hash.length 320 is beyond cursor 300$/,
    },
    {
      label: "anchor beyond hash.length",
      base: trailing,
      broken: (c) => ({ ...c, anchor: 256, anchorHash: state(256, 1) }),
      edit: (v) => setU64(v, o.anchor, 256n),
      pattern: /^anchor 256 is beyond hash.length 200$/,
    },
    {
      label: "hash.length more than a block above the anchor",
      base: trailing,
      broken: (c) => ({ ...c, anchor: 0, anchorHash: state(0, 1) }),
      edit: (v) => setU64(v, o.anchor, 0n),
      pattern: /^anchor 0 is more than blockSize 128 below hash.length 200$/,
    },
    {
      label: "hash of zero bytes without SHA-256's initial words",
      base: fromZero,
      broken: (c) => ({ ...c, hash: state(0, 0, new Uint32Array(8)) }),
      edit: (_v, b) => b.fill(0, o.hashWords, o.hashWords + 32),
      pattern: /^hash covers 0 bytes but its words are not SHA-256's initial values$/,
    },
    {
      label: "anchor at hash.length with different words",
      base: atAnchor,
      broken: (c) => ({ ...c, hash: state(256, 9) }),
      edit: (v) => v.setUint32(o.hashWords + 4, 12345, true),
      pattern: /^anchor equals hash.length but anchorHash and hash words differ$/,
    },
    {
      label: "tailDigest missing while the hash trails the cursor",
      base: trailing,
      broken: (c) => ({ ...c, tailDigest: null }),
      edit: (v, b) => {
        v.setUint32(o.fieldFlags, v.getUint32(o.fieldFlags, true) & ~0x10, true);
        b.fill(0, o.tailDigest, o.tailDigest + 32);
      },
      pattern: /^tailDigest is missing for the bytes \[200, 300\)/,
    },
    {
      label: "tailDigest missing, starting one block before the cursor",
      base: make({ cursor: 1000, hashLength: 200, blockSize: 128 }),
      broken: (c) => ({ ...c, tailDigest: null }),
      edit: (v, b) => {
        v.setUint32(o.fieldFlags, v.getUint32(o.fieldFlags, true) & ~0x10, true);
        b.fill(0, o.tailDigest, o.tailDigest + 32);
      },
      pattern: /^tailDigest is missing for the bytes \[872, 1000\)/,
    },
    {
      label: "tailDigest present while the hash covers every durable byte",
      base: level,
      broken: (c) => ({ ...c, tailDigest: digest(1) }),
      edit: (v) => v.setUint32(o.fieldFlags, v.getUint32(o.fieldFlags, true) | 0x10, true),
      pattern: /^tailDigest is present, but the range it covers, \[300, 300\), is empty$/,
    },
    {
      label: "tailDigest present for an empty checkpoint",
      base: MINIMAL,
      broken: (c) => ({ ...c, tailDigest: new Uint8Array(32) }),
      edit: (v) => v.setUint32(o.fieldFlags, 0x10, true),
      pattern: /^tailDigest is present, but the range it covers, \[0, 0\), is empty$/,
    },
    {
      label: "hash.pending of the wrong length",
      base: trailing,
      broken: (c) => ({ ...c, hash: { ...c.hash, pending: new Uint8Array(9) } }),
      edit: null, // derived from hashLength: cannot disagree in a file
      pattern: /^hash.pending has 9 bytes, expected hash.length % 64 = 8$/,
    },
    {
      label: "tailDigest of 31 bytes",
      base: trailing,
      broken: (c) => ({ ...c, tailDigest: new Uint8Array(31) }),
      edit: null, // always 32 bytes in a file
      pattern: /^tailDigest has 31 bytes, expected 32$/,
    },
    {
      label: "tailDigest of 64 bytes",
      base: trailing,
      broken: (c) => ({ ...c, tailDigest: new Uint8Array(64) }),
      edit: null,
      pattern: /^tailDigest has 64 bytes, expected 32$/,
    },
  ];

  for (const { label, base, broken, edit, pattern } of cases) {
    it(`refuses: ${label}`, () => {
      assert.deepStrictEqual(decodeCheckpoint(encodeCheckpoint(base)), base, "the base is valid");
      const fromEncoder = detail(() => encodeCheckpoint(broken(base)), RangeError);
      assert.match(fromEncoder, pattern);
      if (edit === null) return;
      const fromDecoder = detail(() => decodeCheckpoint(edited(base, edit)), ControlFileError);
      assert.equal(fromDecoder, fromEncoder, "the same invariant, in the same words");
    });
  }

  it("refuses a tailDigest that is not a Uint8Array, and a hash.length that is not a count", () => {
    for (const bad of [Array.from(digest(1)), "digest", 32, new Uint32Array(8), {}]) {
      const c = { ...trailing, tailDigest: bad as unknown as Uint8Array };
      assert.match(detail(() => encodeCheckpoint(c), RangeError), /tailDigest is neither/);
    }
    for (const bad of [-1, 1.5, 2 ** 53, NaN, "200" as unknown as number]) {
      const c = { ...trailing, hash: { ...trailing.hash, length: bad } };
      assert.match(detail(() => encodeCheckpoint(c), RangeError), /hash.length/);
    }
  });

  it("accepts every hash.length from 0 to the cursor, with the anchor haul writes", () => {
    for (let hashLength = 0; hashLength <= 1000; hashLength++) {
      const c = make({ cursor: 1000, hashLength, blockSize: 128 });
      assert.deepStrictEqual(decodeCheckpoint(encodeCheckpoint(c)), c, String(hashLength));
    }
  });
});
