import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import {
  type Checkpoint,
  type DurableRange,
  MAX_RANGES,
  tailStart,
} from "../../src/protocol/checkpoint.ts";
import {
  CONTROL_FILE_MAGIC,
  CONTROL_FILE_MAX_STRING_BYTES,
  CONTROL_FILE_OFFSETS,
  CONTROL_FILE_VERSION,
  crc32,
  decodeCheckpoint,
  encodeCheckpoint,
} from "../../src/store/control_file.ts";
import { ControlFileError } from "../../src/errors.ts";

// ---------------------------------------------------------------- helpers

const MAX = Number.MAX_SAFE_INTEGER;
const enc = new TextEncoder();

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

/** CRC-32C computed bit by bit: an independent check of `crc32` and of stored CRCs. */
function crc32cReference(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function sha256Of(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

/** A digest-shaped value derived from `salt` (the codec does not check what it digests). */
function fakeDigest(salt: number): Uint8Array {
  return Uint8Array.from({ length: 32 }, (_, i) => (salt * 31 + i * 7) & 0xff);
}

/** A valid checkpoint with one range `[0, cursor)`, overridable field by field. */
function make(overrides: Partial<Checkpoint> & { cursor?: number } = {}): Checkpoint {
  const { cursor = 400, ...rest } = overrides;
  return {
    blockSize: 128,
    extent: Math.max(cursor, 4096),
    reportedLength: 1000_000,
    etag: '"v1"',
    lastModified: null,
    contentType: null,
    ranges: [{ start: 0, end: cursor, tailDigest: fakeDigest(cursor) }],
    ...rest,
  };
}

/** Recomputes both CRCs after a test edited the bytes. */
function reseal(bytes: Uint8Array): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint32(16, crc32cReference(bytes.subarray(24)), true);
  view.setUint32(20, crc32cReference(bytes.subarray(0, 20)), true);
  return bytes;
}

function rejects(bytes: Uint8Array, pattern: RegExp, what: string): void {
  assert.throws(() => decodeCheckpoint(bytes), (error: unknown) => {
    assert.ok(error instanceof ControlFileError, `${what}: ${String(error)}`);
    assert.match(error.message, pattern, what);
    return true;
  });
}

/** The golden data: byte `i` of `.part` is `i & 0xff`. */
const GOLDEN_DATA = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);

/** The checkpoint of docs/control-file.md's golden example: two ranges. */
const GOLDEN: Checkpoint = {
  blockSize: 128,
  extent: 4096,
  reportedLength: 1000,
  etag: 'W/"5e-1"',
  lastModified: "Wed, 21 Oct 2015 07:28:00 GMT",
  contentType: "text/plain; charset=utf-8",
  ranges: [
    {
      start: 0,
      end: 400,
      tailDigest: fromHex("5a5502d012ad13bb25fd2dcbfa83663b5b47e85abbcc4a72fa0b3fefa26d36a0"),
    },
    {
      start: 640,
      end: 900,
      tailDigest: fromHex("c403f921dcdf51774ea40e55f72cca59065a5150860e3a773dd9de798aa8ed0a"),
    },
  ],
};

/** The same bytes as the hex dump in docs/control-file.md. */
const GOLDEN_HEX = `
  89484155 4c0d0a1a 03000000 d0000000 81606c13 ea584166 80000000 00000000
  00100000 00000000 e8030000 00000000 0f000000 02000000 00000000 00000000
  90010000 00000000 5a5502d0 12ad13bb 25fd2dcb fa83663b 5b47e85a bbcc4a72
  fa0b3fef a26d36a0 80020000 00000000 84030000 00000000 c403f921 dcdf5177
  4ea40e55 f72cca59 065a5150 860e3a77 3dd9de79 8aa8ed0a 0800572f 2235652d
  31220000 00000000 1d005765 642c2032 31204f63 74203230 31352030 373a3238
  3a303020 474d5400 19007465 78742f70 6c61696e 3b206368 61727365 743d7574
  662d3800 00000000
`;

/** The smallest control file: one durable byte, nothing else known. */
const MINIMAL: Checkpoint = {
  blockSize: 64,
  extent: 1,
  reportedLength: null,
  etag: null,
  lastModified: null,
  contentType: null,
  ranges: [{ start: 0, end: 1, tailDigest: sha256Of(GOLDEN_DATA.subarray(0, 1)) }],
};
const MINIMAL_HEX = `
  89484155 4c0d0a1a 03000000 68000000 bb2a31c1 7333326c 40000000 00000000
  01000000 00000000 00000000 00000000 00000000 01000000 00000000 00000000
  01000000 00000000 6e340b9c ffb37a98 9ca544e6 bb780a2c 78901d3f b3373876
  8511a306 17afa01d 00000000 00000000 00000000 00000000 00000000 00000000
`;

/** A real version-2 file, as the previous haul wrote it (with SHA-256 states). */
const V2_GOLDEN_HEX = `
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

/** A real version-1 file, as an older haul wrote it. */
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
 * Lays out a version-3 file field by field, at the offsets the documentation
 * gives (written out here, not taken from the codec), with CRCs from the
 * bitwise reference: an encoding made without `encodeCheckpoint`.
 */
function layOutByHand(c: Checkpoint): Uint8Array {
  const strings = [c.etag, c.lastModified, c.contentType].map((s) =>
    s === null ? null : enc.encode(s)
  );
  const pad8 = (n: number) => Math.ceil(n / 8) * 8;
  const stringsAt = 56 + 48 * c.ranges.length;
  const size = stringsAt + strings.reduce((sum, s) => sum + pad8(2 + (s?.length ?? 0)), 0);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes.set([0x89, 0x48, 0x41, 0x55, 0x4c, 0x0d, 0x0a, 0x1a], 0);
  view.setUint16(8, 3, true);
  view.setUint16(10, 0, true);
  view.setUint32(12, size - 24, true);
  view.setBigUint64(24, BigInt(c.blockSize), true);
  view.setBigUint64(32, BigInt(c.extent), true);
  view.setBigUint64(40, BigInt(c.reportedLength ?? 0), true);
  let flags = c.reportedLength === null ? 0 : 1;
  strings.forEach((s, i) => (flags |= s === null ? 0 : 2 << i));
  view.setUint32(48, flags, true);
  view.setUint32(52, c.ranges.length, true);
  c.ranges.forEach((range, i) => {
    view.setBigUint64(56 + 48 * i, BigInt(range.start), true);
    view.setBigUint64(64 + 48 * i, BigInt(range.end), true);
    bytes.set(range.tailDigest, 72 + 48 * i);
  });
  let pos = stringsAt;
  for (const s of strings) {
    view.setUint16(pos, s?.length ?? 0, true);
    if (s !== null) bytes.set(s, pos + 2);
    pos += pad8(2 + (s?.length ?? 0));
  }
  return reseal(bytes);
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
  it("has an 8-byte magic, version 3 and a 64-range cap", () => {
    assert.equal(CONTROL_FILE_VERSION, 3);
    assert.ok(CONTROL_FILE_MAGIC instanceof Uint8Array);
    assert.equal(toHex(CONTROL_FILE_MAGIC), "894841554c0d0a1a");
    assert.equal(CONTROL_FILE_MAX_STRING_BYTES, 4096);
    assert.equal(MAX_RANGES, 64);
  });

  it("is not affected by callers mutating the exported magic", () => {
    CONTROL_FILE_MAGIC[1] = 0;
    try {
      const bytes = encodeCheckpoint(GOLDEN);
      assert.equal(toHex(bytes.subarray(0, 8)), "894841554c0d0a1a");
      assert.deepEqual(decodeCheckpoint(bytes), GOLDEN);
    } finally {
      CONTROL_FILE_MAGIC[1] = 0x48;
    }
  });
});

describe("golden bytes", () => {
  it("encodes the golden checkpoint to the exact expected bytes", () => {
    assert.equal(toHex(encodeCheckpoint(GOLDEN)), toHex(fromHex(GOLDEN_HEX)));
  });

  it("decodes the golden bytes to the golden checkpoint", () => {
    assert.deepEqual(decodeCheckpoint(fromHex(GOLDEN_HEX)), GOLDEN);
  });

  it("encodes and decodes the minimal checkpoint (128 bytes)", () => {
    assert.equal(toHex(encodeCheckpoint(MINIMAL)), toHex(fromHex(MINIMAL_HEX)));
    assert.deepEqual(decodeCheckpoint(fromHex(MINIMAL_HEX)), MINIMAL);
    assert.equal(fromHex(MINIMAL_HEX).length, 128);
  });

  it("are the documented layout filled in by hand, not just what the encoder writes", () => {
    for (const c of [GOLDEN, MINIMAL, make(), make({ reportedLength: null, etag: null })]) {
      assert.equal(toHex(encodeCheckpoint(c)), toHex(layOutByHand(c)));
    }
  });

  it("hold the real SHA-256 of each range's newest block of the golden data", () => {
    for (const range of GOLDEN.ranges) {
      const from = tailStart(range, GOLDEN.blockSize);
      assert.equal(toHex(range.tailDigest), toHex(sha256Of(GOLDEN_DATA.subarray(from, range.end))));
    }
  });

  it("stores CRC-32C of header and body where the layout says", () => {
    const bytes = fromHex(GOLDEN_HEX);
    const view = new DataView(bytes.buffer);
    assert.equal(view.getUint32(16, true), crc32cReference(bytes.subarray(24)));
    assert.equal(view.getUint32(20, true), crc32cReference(bytes.subarray(0, 20)));
    assert.equal(view.getUint32(16, true), 0x136c6081);
  });

  for (
    const [version, hex] of [[1, V1_GOLDEN_HEX], [2, V2_GOLDEN_HEX]] as const
  ) {
    it(`refuses the version-${version} golden file: written by an older haul, this one reads version 3`, () => {
      rejects(
        fromHex(hex),
        new RegExp(
          `^Checkpoint version ${version} is not supported: it was written by an older haul, ` +
            "and this haul reads version 3 only$",
        ),
        `version ${version}`,
      );
    });
  }
});

describe("tailStart", () => {
  it("is one block before the end, never before the range's start", () => {
    assert.equal(tailStart({ start: 0, end: 400 }, 128), 272);
    assert.equal(tailStart({ start: 0, end: 100 }, 128), 0);
    assert.equal(tailStart({ start: 640, end: 700 }, 128), 640);
    assert.equal(tailStart({ start: 640, end: 768 }, 128), 640);
    assert.equal(tailStart({ start: 640, end: 769 }, 128), 641);
  });
});

describe("layout", () => {
  const O = CONTROL_FILE_OFFSETS;

  it("exports the documented offsets", () => {
    assert.deepEqual({ ...O }, {
      magic: 0,
      version: 8,
      headerFlags: 10,
      bodyLength: 12,
      bodyCrc: 16,
      headerCrc: 20,
      blockSize: 24,
      extent: 32,
      reportedLength: 40,
      fieldFlags: 48,
      rangeCount: 52,
      ranges: 56,
    });
    assert.ok(Object.isFrozen(O));
  });

  it("keeps every u64 8-byte aligned, range records and strings too, and the length a multiple of 8", () => {
    for (const offset of [O.blockSize, O.extent, O.reportedLength, O.ranges]) {
      assert.equal(offset % 8, 0);
    }
    for (const n of [1, 2, 5, MAX_RANGES]) {
      const ranges = Array.from({ length: n }, (_, i) => ({
        start: i * 1000,
        end: i * 1000 + 500,
        tailDigest: fakeDigest(i),
      }));
      for (const etag of [null, "", "a", "abcdef", "abcdefg", "x".repeat(4096)]) {
        const bytes = encodeCheckpoint(make({ ranges, etag, extent: n * 1000 }));
        assert.equal(bytes.length % 8, 0);
        assert.deepEqual(decodeCheckpoint(bytes).ranges, ranges);
      }
    }
  });

  it("puts each value at its documented offset, little-endian", () => {
    const c = make({ blockSize: 0x40_0000_0040, extent: 2 ** 40 + 3, reportedLength: MAX });
    const bytes = encodeCheckpoint({
      ...c,
      ranges: [{ start: 5, end: 2 ** 40 + 1, tailDigest: fakeDigest(9) }],
    });
    const view = new DataView(bytes.buffer);
    assert.equal(view.getBigUint64(24, true), BigInt(0x40_0000_0040));
    assert.equal(view.getBigUint64(32, true), BigInt(2 ** 40 + 3));
    assert.equal(view.getBigUint64(40, true), BigInt(MAX));
    assert.equal(view.getUint32(48, true), 0b0011);
    assert.equal(view.getUint32(52, true), 1);
    assert.equal(view.getBigUint64(56, true), 5n);
    assert.equal(view.getBigUint64(64, true), BigInt(2 ** 40 + 1));
    assert.equal(toHex(bytes.subarray(72, 104)), toHex(fakeDigest(9)));
  });
});

describe("round trips", () => {
  it("survives lengths of every interesting size with several block sizes", () => {
    for (const blockSize of [64, 128, 4096, 1 << 20, 2 ** 40]) {
      for (const end of [1, 63, 64, 65, blockSize - 1, blockSize, blockSize + 1, 2 ** 52, MAX]) {
        if (end < 1) continue;
        const c = make({ cursor: end, blockSize, reportedLength: MAX, extent: MAX });
        assert.deepEqual(decodeCheckpoint(encodeCheckpoint(c)), c);
      }
    }
  });

  it("distinguishes an unknown length from a known length equal to the end", () => {
    const unknown = make({ reportedLength: null });
    const known = make({ reportedLength: 400 });
    assert.equal(decodeCheckpoint(encodeCheckpoint(unknown)).reportedLength, null);
    assert.equal(decodeCheckpoint(encodeCheckpoint(known)).reportedLength, 400);
  });

  it("keeps null, empty, long and non-ASCII strings apart", () => {
    const values = [null, "", "x", "ünïcødé 😀", "é".repeat(2048), "\u0000"];
    for (const etag of values) {
      for (const contentType of values) {
        const c = make({ etag, lastModified: etag, contentType });
        assert.deepEqual(decodeCheckpoint(encodeCheckpoint(c)), c);
      }
    }
  });

  it("returns fresh arrays, not views of the input, from any byte offset and from a Buffer", () => {
    const golden = fromHex(GOLDEN_HEX);
    const shifted = new Uint8Array(golden.length + 3);
    shifted.set(golden, 3);
    for (const input of [shifted.subarray(3), Buffer.from(golden)]) {
      const decoded = decodeCheckpoint(input);
      assert.deepEqual(decoded, GOLDEN);
      const digest = decoded.ranges[0]!.tailDigest;
      assert.equal(digest.constructor, Uint8Array);
      assert.notEqual(digest.buffer, input.buffer);
    }
  });

  it("does not alias the checkpoint's arrays into the encoding", () => {
    const c = make();
    const bytes = encodeCheckpoint(c);
    c.ranges[0]!.tailDigest.fill(0);
    assert.deepEqual(decodeCheckpoint(bytes).ranges[0]!.tailDigest, fakeDigest(400));
  });
});

describe("corruption is always a ControlFileError", () => {
  it("rejects every single-bit flip at every byte", () => {
    const golden = fromHex(GOLDEN_HEX);
    for (let i = 0; i < golden.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const flipped = golden.slice();
        flipped[i]! ^= 1 << bit;
        assert.throws(() => decodeCheckpoint(flipped), ControlFileError, `bit ${bit} of byte ${i}`);
      }
    }
  });

  it("rejects every truncation", () => {
    const golden = fromHex(GOLDEN_HEX);
    for (let n = 0; n < golden.length; n++) {
      assert.throws(() => decodeCheckpoint(golden.subarray(0, n)), ControlFileError, `${n} bytes`);
    }
  });

  it("names the problem: too short, bad magic, CRCs, trailing bytes", () => {
    const golden = fromHex(GOLDEN_HEX);
    rejects(golden.subarray(0, 10), /^Checkpoint corrupt: truncated: 10 bytes/, "short");
    const magic = golden.slice();
    magic[1] = 0;
    rejects(magic, /bad magic/, "magic");
    const header = golden.slice();
    header[12]! ^= 1;
    rejects(header, /header CRC mismatch/, "header");
    const body = golden.slice();
    body[100]! ^= 1;
    rejects(body, /body CRC mismatch/, "body");
    const longer = new Uint8Array(golden.length + 8);
    longer.set(golden);
    rejects(longer, /8 trailing bytes after the 208-byte body/, "trailing");
  });

  it("rejects other versions with valid CRCs, naming the version and who wrote it", () => {
    for (const [version, who] of [[0, "another"], [4, "a newer"], [0xffff, "a newer"]] as const) {
      const bytes = fromHex(GOLDEN_HEX);
      new DataView(bytes.buffer).setUint16(8, version, true);
      rejects(
        reseal(bytes),
        new RegExp(
          `^Checkpoint version ${version} is not supported: this haul reads version 3 only \\(the file was probably written by ${who} haul\\)$`,
        ),
        `version ${version}`,
      );
    }
  });

  it("rejects values above Number.MAX_SAFE_INTEGER", () => {
    for (
      const [offset, name] of [[24, "blockSize"], [32, "extent"], [40, "reportedLength"], [
        56,
        "range 0 start",
      ], [64, "range 0 end"]] as const
    ) {
      const bytes = fromHex(GOLDEN_HEX);
      new DataView(bytes.buffer).setBigUint64(offset, BigInt(MAX) + 1n, true);
      rejects(reseal(bytes), new RegExp(`${name} exceeds 2\\^53 - 1`), name);
    }
  });

  it("rejects invalid UTF-8 in each string", () => {
    for (
      const [name, at] of [["etag", 154], ["lastModified", 170], ["contentType", 202]] as const
    ) {
      const bytes = fromHex(GOLDEN_HEX);
      bytes[at] = 0xff;
      rejects(reseal(bytes), new RegExp(`${name} is not valid UTF-8`), name);
    }
  });

  it("rejects strings longer than the cap, even with valid CRCs", () => {
    const bytes = encodeCheckpoint(make({ etag: "x".repeat(4096) }));
    const at = 56 + 48;
    new DataView(bytes.buffer).setUint16(at, 4097, true);
    rejects(reseal(bytes), /etag is 4097 bytes, more than 4096/, "cap");
  });

  it("rejects non-canonical encodings: padding, unknown flags, stray values", () => {
    const cases: [string, (b: Uint8Array, v: DataView) => void, RegExp][] = [
      ["a header flag", (_b, v) => v.setUint16(10, 1, true), /unknown header flags 0x0001/],
      [
        "an unknown field flag",
        (_b, v) => v.setUint32(48, 0x1f, true),
        /unknown field flags 0x0000001f/,
      ],
      ["an unknown length stored", (_b, v) => {
        v.setUint32(48, 0x0e, true);
      }, /reportedLength is marked unknown but stored as 1000/],
      ["padding after etag", (b) => (b[162] = 1), /non-zero padding after etag/],
      [
        "an absent string with bytes",
        (_b, v) => v.setUint32(48, 0x0d, true),
        /etag is marked absent but has 8 bytes/,
      ],
    ];
    for (const [what, edit, pattern] of cases) {
      const bytes = fromHex(GOLDEN_HEX);
      edit(bytes, new DataView(bytes.buffer));
      rejects(reseal(bytes), pattern, what);
    }
  });

  it("rejects impossible body lengths, range counts, and records that overrun the body", () => {
    const cases: [string, (v: DataView) => void, RegExp][] = [
      [
        "a body length not a multiple of 8",
        (v) => v.setUint32(12, 207, true),
        /impossible body length 207/,
      ],
      ["a tiny body length", (v) => v.setUint32(12, 8, true), /impossible body length 8/],
      ["no ranges", (v) => v.setUint32(52, 0, true), /impossible range count 0/],
      ["too many ranges", (v) => v.setUint32(52, 65, true), /impossible range count 65/],
      ["more ranges than the body holds", (v) => v.setUint32(52, 4, true), /.*/],
    ];
    for (const [what, edit, pattern] of cases) {
      const bytes = fromHex(GOLDEN_HEX);
      edit(new DataView(bytes.buffer));
      rejects(reseal(bytes), pattern, what);
    }
  });

  it("rejects input that is not a Uint8Array without throwing anything else", () => {
    for (const input of [null, undefined, "text", 42, [1, 2, 3], new ArrayBuffer(300)]) {
      assert.throws(() => decodeCheckpoint(input as unknown as Uint8Array), ControlFileError);
    }
  });
});

describe("version 3 invariants: encoder and decoder refuse the same checkpoints", () => {
  const range = (start: number, end: number): DurableRange => ({
    start,
    end,
    tailDigest: fakeDigest(start),
  });
  const cases: [string, Checkpoint, RegExp][] = [
    ["a block size of 0", make({ blockSize: 0 }), /blockSize 0 is not a positive multiple of 64/],
    ["a block size not a multiple of 64", make({ blockSize: 100 }), /blockSize 100/],
    ["no ranges", make({ ranges: [] }), /there are no ranges/],
    ["an empty range", make({ ranges: [range(10, 10)] }), /range 0 \[10, 10\) is empty/],
    ["a reversed range", make({ ranges: [range(10, 5)] }), /range 0 \[10, 5\) is empty/],
    [
      "overlapping ranges",
      make({ ranges: [range(0, 100), range(50, 200)] }),
      /range 1 starts at 50, not after the previous range's end 100/,
    ],
    [
      "adjacent ranges (not merged)",
      make({ ranges: [range(0, 100), range(100, 200)] }),
      /range 1 starts at 100/,
    ],
    [
      "ranges out of order",
      make({ ranges: [range(500, 600), range(0, 100)] }),
      /range 1 starts at 0/,
    ],
    [
      "an extent below the last end",
      make({ cursor: 5000, extent: 4999 }),
      /extent 4999 is below the last range's end 5000/,
    ],
    [
      "an end past the reported length",
      make({ cursor: 5000, reportedLength: 4999 }),
      /the last range ends at 5000, beyond reportedLength 4999/,
    ],
    [
      "a short tail digest",
      make({ ranges: [{ start: 0, end: 9, tailDigest: new Uint8Array(31) }] }),
      /range 0's tailDigest has 31 bytes, expected 32/,
    ],
    [
      "too many ranges",
      make({
        extent: 1e6,
        ranges: Array.from({ length: 65 }, (_, i) => range(i * 10, i * 10 + 5)),
      }),
      /65 ranges, more than 64/,
    ],
  ];
  for (const [label, checkpoint, pattern] of cases) {
    it(`refuses ${label}`, () => {
      assert.throws(() => encodeCheckpoint(checkpoint), (error: unknown) => {
        assert.ok(error instanceof RangeError, String(error));
        assert.match(error.message, pattern);
        return true;
      });
      if (checkpoint.ranges.length === 0 || checkpoint.ranges.length > MAX_RANGES) return;
      if (checkpoint.ranges.some((r) => r.tailDigest.length !== 32)) return;
      // The same checkpoint laid out by hand, CRCs valid: the decoder refuses it too.
      rejects(layOutByHand(checkpoint), pattern, label);
    });
  }

  it("refuses values that are not safe non-negative integers, and ill-formed strings", () => {
    const bad: [Partial<Checkpoint>, RegExp][] = [
      [{ blockSize: -64 }, /blockSize -64 is not a safe non-negative integer/],
      [{ extent: 1.5 }, /extent 1.5/],
      [{ reportedLength: NaN }, /reportedLength NaN/],
      [{ ranges: [{ start: 0, end: MAX + 1, tailDigest: fakeDigest(0) }] }, /range 0's end/],
      [
        { ranges: [{ start: 0, end: 5, tailDigest: [1] as unknown as Uint8Array }] },
        /tailDigest is not a Uint8Array/,
      ],
      [{ etag: "\ud800" }, /etag contains a lone surrogate/],
      [{ contentType: 5 as unknown as string }, /contentType is neither null nor a string/],
      [{ lastModified: "x".repeat(4097) }, /lastModified is 4097 UTF-8 bytes, more than 4096/],
    ];
    for (const [overrides, pattern] of bad) {
      assert.throws(() => encodeCheckpoint(make(overrides)), (error: unknown) => {
        assert.ok(error instanceof RangeError, String(error));
        assert.match(error.message, pattern);
        return true;
      });
    }
  });
});
