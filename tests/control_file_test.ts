import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Checkpoint, Sha256State } from "../src/checkpoint.ts";
import {
  CONTROL_FILE_MAGIC,
  CONTROL_FILE_MAX_STRING_BYTES,
  CONTROL_FILE_OFFSETS,
  CONTROL_FILE_VERSION,
  decodeCheckpoint,
  encodeCheckpoint,
} from "../src/control_file.ts";
import { crc32 } from "../src/crc32.ts";
import { ControlFileError } from "../src/errors.ts";

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
  anchor?: number;
  extent?: number;
  reportedLength?: number | null;
  etag?: string | null;
  lastModified?: string | null;
  contentType?: string | null;
}

/**
 * A valid checkpoint. By default the anchor is the largest multiple of
 * `blockSize` strictly below a non-zero cursor (what haul writes).
 */
function make(shape: Shape): Checkpoint {
  const blockSize = shape.blockSize ?? 64;
  const cursor = shape.cursor;
  const anchor = shape.anchor ??
    (cursor === 0 ? 0 : Math.floor((cursor - 1) / blockSize) * blockSize);
  const anchorHash = state(anchor, 1);
  const cursorHash = anchor === cursor ? state(cursor, 2, anchorHash.words) : state(cursor, 2);
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
    cursorHash,
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

/** SHA-256 states of the bytes 0, 1, 2, ... after 128 and after 200 bytes. */
const GOLDEN: Checkpoint = {
  start: 0,
  cursor: 200,
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
  cursorHash: {
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
};

/** The same bytes as the hex dump in docs/control-file.md. */
const GOLDEN_HEX = `
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

/** The smallest control file: nothing downloaded, nothing known. */
const MINIMAL: Checkpoint = make({ cursor: 0 });
const MINIMAL_HEX = `
  89484155 4c0d0a1a 01000000 d0000000 83c1830c 6be38ca6 00000000 00000000
  00000000 00000000 40000000 00000000 00000000 00000000 00000000 00000000
  00000000 00000000 00000000 00000000 67e6096a 85ae67bb 72f36e3c 3af54fa5
  7f520e51 8c68059b abd9831f 19cde05b 67e6096a 85ae67bb 72f36e3c 3af54fa5
  7f520e51 8c68059b abd9831f 19cde05b 00000000 00000000 00000000 00000000
  ${"00000000 ".repeat(18)}
`;

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
    const reference = (bytes: Uint8Array): number => {
      let c = 0xffffffff;
      for (const b of bytes) {
        c ^= b;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      }
      return (c ^ 0xffffffff) >>> 0;
    };
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
  it("has an 8-byte magic and version 1", () => {
    assert.equal(CONTROL_FILE_VERSION, 1);
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

  it("stores CRC-32C of header and body where the layout says", () => {
    const bytes = fromHex(GOLDEN_HEX);
    const view = new DataView(bytes.buffer);
    assert.equal(view.getUint32(CONTROL_FILE_OFFSETS.bodyLength, true), bytes.length - 24);
    assert.equal(view.getUint32(CONTROL_FILE_OFFSETS.bodyCrc, true), crc32(bytes.subarray(24)));
    assert.equal(
      view.getUint32(CONTROL_FILE_OFFSETS.headerCrc, true),
      crc32(bytes.subarray(0, 20)),
    );
    assert.equal(view.getUint32(CONTROL_FILE_OFFSETS.bodyCrc, true), 0xa830dabb);
    assert.equal(view.getUint32(CONTROL_FILE_OFFSETS.headerCrc, true), 0xa6a0b8ad);
  });
});

describe("layout", () => {
  const u64Fields = ["start", "cursor", "blockSize", "extent", "reportedLength", "anchor"] as const;

  it("keeps every u64 field 8-byte aligned, and the header and string area too", () => {
    for (const name of u64Fields) {
      assert.equal(CONTROL_FILE_OFFSETS[name] % 8, 0, `${name} at ${CONTROL_FILE_OFFSETS[name]}`);
    }
    assert.equal(CONTROL_FILE_OFFSETS.start, 24, "the body starts right after a 24-byte header");
    assert.equal(CONTROL_FILE_OFFSETS.strings % 8, 0);
    assert.equal(CONTROL_FILE_OFFSETS.anchorWords % 4, 0);
    assert.equal(CONTROL_FILE_OFFSETS.cursorWords % 4, 0);
  });

  it("puts each u64 value at its documented offset, little-endian", () => {
    const checkpoint = make({
      cursor: 2 ** 40 + 4097,
      blockSize: 4096,
      extent: MAX,
      reportedLength: 2 ** 52 + 3,
    });
    const bytes = encodeCheckpoint(checkpoint);
    const view = new DataView(bytes.buffer);
    for (const name of u64Fields) {
      const expected = checkpoint[name];
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
        view.getUint32(CONTROL_FILE_OFFSETS.cursorWords + 4 * i, true),
        checkpoint.cursorHash.words[i],
      );
    }
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
    assert.equal(decoded.cursorHash.pending.constructor, Uint8Array);
    assert.equal(decoded.anchorHash.pending.constructor, Uint8Array);
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
        // Both anchors haul may write: strictly below the cursor, and at it.
        const anchors = new Set([
          cursor === 0 ? 0 : Math.floor((cursor - 1) / blockSize) * blockSize,
          Math.floor(cursor / blockSize) * blockSize,
        ]);
        for (const anchor of anchors) {
          const label = `cursor ${cursor} blockSize ${blockSize} anchor ${anchor}`;
          roundTrip(make({ cursor, blockSize, anchor }), label);
          roundTrip(make({ cursor, blockSize, anchor, extent: MAX, reportedLength: MAX }), label);
          roundTrip(make({ cursor, blockSize, anchor, reportedLength: cursor }), label);
        }
      }
    }
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
    }
  });

  it("does not alias the checkpoint's arrays into the encoding", () => {
    const checkpoint = make({ cursor: 70 });
    const bytes = encodeCheckpoint(checkpoint);
    checkpoint.cursorHash.pending.fill(0xaa);
    checkpoint.cursorHash.words.fill(1);
    assert.notDeepStrictEqual(decodeCheckpoint(bytes), checkpoint);
  });
});

describe("corruption is always a ControlFileError", () => {
  it("rejects every single-bit flip at every byte", () => {
    const original = encodeCheckpoint(GOLDEN);
    for (let i = 0; i < original.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const bytes = original.slice();
        bytes[i]! ^= 1 << bit;
        assertControlFileError(() => decodeCheckpoint(bytes), undefined, `byte ${i} bit ${bit}`);
      }
    }
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

  it("rejects a version-2 file with valid CRCs, naming the version", () => {
    for (const version of [2, 0, 0xffff]) {
      const bytes = edited(
        GOLDEN,
        (view) => view.setUint16(CONTROL_FILE_OFFSETS.version, version, true),
      );
      assertControlFileError(() => decodeCheckpoint(bytes), new RegExp(`version ${version}\\b`));
    }
    // A v2 file may have a body this version cannot parse at all.
    const header = encodeCheckpoint(MINIMAL).slice(0, 24);
    new DataView(header.buffer).setUint16(CONTROL_FILE_OFFSETS.version, 2, true);
    new DataView(header.buffer).setUint32(CONTROL_FILE_OFFSETS.bodyLength, 0, true);
    assertControlFileError(() => decodeCheckpoint(reseal(header)), /version 2\b/);
  });

  it("rejects values above Number.MAX_SAFE_INTEGER", () => {
    for (
      const name of ["start", "cursor", "blockSize", "extent", "reportedLength", "anchor"] as const
    ) {
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
        (v) => v.setUint32(CONTROL_FILE_OFFSETS.fieldFlags, 0x12, true),
        /field flags/,
      ],
      ["reserved", (v) => v.setUint32(CONTROL_FILE_OFFSETS.reserved, 1, true), /reserved/],
      [
        "unknown length stored",
        (v) => setU64(v, CONTROL_FILE_OFFSETS.reportedLength, 100n),
        /marked unknown/,
      ],
      ["pending tail", (_v, b) => (b[CONTROL_FILE_OFFSETS.cursorPending + 63] = 1), /pending/],
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
    for (const length of [0, 8, 200, 12497, 12504, 0xffffffff, 213]) {
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
      ["anchor beyond cursor", (v) => setU64(v, o.anchor, 384n), /beyond cursor/],
      ["anchor not a multiple", (v) => setU64(v, o.anchor, 192n), /multiple/],
      ["anchor too far back", (v) => setU64(v, o.anchor, 128n), /below cursor/],
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
    const badCursorIv = edited(empty, (v) => v.setUint32(o.cursorWords + 28, 1, true));
    assertControlFileError(() => decodeCheckpoint(badCursorIv), /initial values/);
    // anchor === cursor: both states cover the same bytes.
    const atAnchor = make({ cursor: 256, blockSize: 128, anchor: 256 });
    const split = edited(atAnchor, (v) => v.setUint32(o.cursorWords + 4, 12345, true));
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
    rejects(make({ cursor: 100, blockSize: 64, anchor: 128 }), /beyond cursor/, "anchor > cursor");
    rejects(make({ cursor: 300, blockSize: 128, anchor: 200 }), /multiple/, "anchor % blockSize");
    rejects(make({ cursor: 300, blockSize: 128, anchor: 128 }), /below cursor/, "cursor - anchor");
    rejects({ ...base, extent: 299 }, /extent/, "extent < cursor");
    rejects({ ...base, reportedLength: 299 }, /reportedLength/, "cursor > reportedLength");
    rejects({ ...base, anchorHash: state(128, 1) }, /anchorHash.length/, "anchorHash.length");
    rejects({ ...base, cursorHash: state(301, 2) }, /cursorHash.length/, "cursorHash.length");
    rejects(
      { ...base, cursorHash: { ...base.cursorHash, pending: new Uint8Array(3) } },
      /pending/,
      "pending length",
    );
    rejects(
      { ...base, anchorHash: { ...base.anchorHash, pending: new Uint8Array(1) } },
      /pending/,
      "anchor pending",
    );
    const empty = make({ cursor: 0 });
    rejects({ ...empty, cursorHash: state(0, 0, new Uint32Array(8)) }, /initial values/, "IV");
    const atAnchor = make({ cursor: 256, blockSize: 128, anchor: 256 });
    rejects({ ...atAnchor, cursorHash: state(256, 9) }, /words differ/, "anchor === cursor");
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
      cursorHash: { ...base.cursorHash, words: w as Uint32Array },
    });
    rejects(words(new Uint32Array(7)), /words/, "7 words");
    rejects(words(Array.from(base.cursorHash.words)), /words/, "plain array");
    rejects(words(new Int32Array(8)), /words/, "Int32Array");
    rejects(
      { ...base, cursorHash: { ...base.cursorHash, pending: [1, 2] as unknown as Uint8Array } },
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
