/**
 * The binary encoding of a {@link Checkpoint}: what `<dest>.part.ctrl` holds.
 * Canonical: a file decodes only if re-encoding it gives back the same bytes.
 * The layout, field by field, and its reasons: `docs/control-file.md`.
 *
 * @module
 */

import {
  type Checkpoint,
  checkpointViolation,
  type DurableRange,
  MAX_RANGES,
} from "../protocol/checkpoint.ts";
import { ControlFileError } from "../errors.ts";

/** The format version this module writes and the only one it reads. */
export const CONTROL_FILE_VERSION = 3;

/** The eight bytes every control file starts with, after PNG's signature (a copy: mutating it changes nothing). */
export const CONTROL_FILE_MAGIC: Uint8Array = Uint8Array.from(
  "\x89HAUL\r\n\x1a",
  (char) => char.charCodeAt(0),
);

/** The longest `etag`, `lastModified` or `contentType` held, in UTF-8 bytes; longer ones are refused both ways. */
export const CONTROL_FILE_MAX_STRING_BYTES = 4096;

const OFFSETS = {
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
};

/** Byte offsets of the fixed fields (every u64 8-aligned); the 48-byte range records start at `ranges`. */
export const CONTROL_FILE_OFFSETS: Readonly<typeof OFFSETS> = Object.freeze(OFFSETS);

const O = CONTROL_FILE_OFFSETS;
/** Private copy of the magic, immune to callers mutating the export. */
const MAGIC: Uint8Array = CONTROL_FILE_MAGIC.slice();
const HEADER_SIZE = 24;
/** Bytes of one range record: u64 start, u64 end, SHA-256 tail digest. */
const RANGE_SIZE = 16 + 32;

/** Bytes of the body before the ranges. */
const FIXED_BODY_SIZE = O.ranges - HEADER_SIZE;
/** Smallest body: the fixed fields, one range and three empty string records. */
const MIN_BODY_SIZE = FIXED_BODY_SIZE + RANGE_SIZE + 3 * 8;
/** Largest body: the fixed fields, every range and three strings of maximum length. */
const MAX_BODY_SIZE = FIXED_BODY_SIZE + MAX_RANGES * RANGE_SIZE +
  3 * pad8(2 + CONTROL_FILE_MAX_STRING_BYTES);

/** `fieldFlags`: bit 0, the length is known; bits 1 to 3, each of the strings is present. */
const FLAG_LENGTH_KNOWN = 1;
const STRING_FIELDS = [["etag", 0b10], ["lastModified", 0b100], ["contentType", 0b1000]] as const;
const KNOWN_FLAGS = 0b1111;

const TWO_32 = 0x1_0000_0000;
/** Largest high word of a u64 that is still a safe integer (2^53 - 1). */
const MAX_SAFE_HIGH = 0x1f_ffff;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function pad8(n: number): number {
  return (n + 7) & ~7;
}

function setU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % TWO_32, true);
  view.setUint32(offset + 4, Math.floor(value / TWO_32), true);
}

/**
 * Encodes a checkpoint (a new array, a multiple of 8 bytes). Refuses, with a
 * `RangeError`, whatever {@link decodeCheckpoint} would reject, so
 * `decodeCheckpoint(encodeCheckpoint(c))` deep-equals `c`.
 */
export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array {
  const violation = checkpointViolation(checkpoint);
  if (violation !== null) throw new RangeError(`Cannot encode checkpoint: ${violation}`);
  const c = checkpoint;

  const strings: (Uint8Array | null)[] = [];
  const stringsAt = O.ranges + c.ranges.length * RANGE_SIZE;
  let bodyLength = stringsAt - HEADER_SIZE;
  let flags = c.reportedLength === null ? 0 : FLAG_LENGTH_KNOWN;
  for (const [name, flag] of STRING_FIELDS) {
    const value = c[name];
    const utf8 = value === null ? null : encoder.encode(value);
    if (utf8 !== null && utf8.length > CONTROL_FILE_MAX_STRING_BYTES) {
      throw new RangeError(
        `Cannot encode checkpoint: ${name} is ${utf8.length} UTF-8 bytes, more than ${CONTROL_FILE_MAX_STRING_BYTES}`,
      );
    }
    if (utf8 !== null) flags |= flag;
    strings.push(utf8);
    bodyLength += pad8(2 + (utf8?.length ?? 0));
  }

  const out = new Uint8Array(HEADER_SIZE + bodyLength);
  const view = new DataView(out.buffer);
  out.set(MAGIC, O.magic);
  view.setUint16(O.version, CONTROL_FILE_VERSION, true);
  view.setUint16(O.headerFlags, 0, true);
  view.setUint32(O.bodyLength, bodyLength, true);

  setU64(view, O.blockSize, c.blockSize);
  setU64(view, O.extent, c.extent);
  setU64(view, O.reportedLength, c.reportedLength ?? 0);
  view.setUint32(O.fieldFlags, flags, true);
  view.setUint32(O.rangeCount, c.ranges.length, true);
  c.ranges.forEach((range, i) => {
    const at = O.ranges + i * RANGE_SIZE;
    setU64(view, at, range.start);
    setU64(view, at + 8, range.end);
    out.set(range.tailDigest, at + 16);
  });

  let pos = stringsAt;
  for (const utf8 of strings) {
    const length = utf8?.length ?? 0;
    view.setUint16(pos, length, true);
    if (utf8 !== null) out.set(utf8, pos + 2);
    pos += pad8(2 + length);
  }

  view.setUint32(O.bodyCrc, crc32(out.subarray(HEADER_SIZE)), true);
  view.setUint32(O.headerCrc, crc32(out.subarray(0, O.headerCrc)), true);
  return out;
}

function corrupt(detail: string): ControlFileError {
  return new ControlFileError(`Checkpoint corrupt: ${detail}`);
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

function checkCrc(what: string, stored: number, computed: number): void {
  if (stored === computed) return;
  throw corrupt(`${what} CRC mismatch (stored ${hex32(stored)}, computed ${hex32(computed)})`);
}

function getU64(view: DataView, offset: number, name: string): number {
  const low = view.getUint32(offset, true);
  const high = view.getUint32(offset + 4, true);
  if (high > MAX_SAFE_HIGH) throw corrupt(`${name} exceeds 2^53 - 1 (high word ${hex32(high)})`);
  return high * TWO_32 + low;
}

/**
 * Decodes a whole `<dest>.part.ctrl`: magic, CRCs, version, lengths, ranges,
 * invariants, UTF-8 and canonical form. Throws a `ControlFileError` for any
 * defect (an older haul's version 1 or 2 named as such), and nothing else.
 */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  if (!(bytes instanceof Uint8Array)) throw corrupt("content is not a Uint8Array");
  if (bytes.length < HEADER_SIZE) {
    throw corrupt(`truncated: ${bytes.length} bytes, shorter than the ${HEADER_SIZE}-byte header`);
  }
  if (MAGIC.some((byte, i) => bytes[i] !== byte)) {
    throw corrupt("bad magic: not a haul control file");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  checkCrc("header", view.getUint32(O.headerCrc, true), crc32(bytes.subarray(0, O.headerCrc)));
  const version = view.getUint16(O.version, true);
  if (version !== CONTROL_FILE_VERSION) {
    const reads = `this haul reads version ${CONTROL_FILE_VERSION} only`;
    const writer = version > CONTROL_FILE_VERSION ? "a newer" : "another";
    throw new ControlFileError(
      version >= 1 && version < CONTROL_FILE_VERSION
        ? `Checkpoint version ${version} is not supported: it was written by an older haul, and ${reads}`
        : `Checkpoint version ${version} is not supported: ${reads} (the file was probably written by ${writer} haul)`,
    );
  }
  const headerFlags = view.getUint16(O.headerFlags, true);
  if (headerFlags !== 0) {
    throw corrupt(`unknown header flags 0x${headerFlags.toString(16).padStart(4, "0")}`);
  }
  const bodyLength = view.getUint32(O.bodyLength, true);
  if (bodyLength < MIN_BODY_SIZE || bodyLength > MAX_BODY_SIZE || bodyLength % 8 !== 0) {
    throw corrupt(
      `impossible body length ${bodyLength} (a multiple of 8 from ${MIN_BODY_SIZE} to ${MAX_BODY_SIZE})`,
    );
  }
  const actualBody = bytes.length - HEADER_SIZE;
  if (actualBody < bodyLength) {
    throw corrupt(`truncated: body has ${actualBody} of its ${bodyLength} bytes`);
  }
  if (actualBody > bodyLength) {
    throw corrupt(`${actualBody - bodyLength} trailing bytes after the ${bodyLength}-byte body`);
  }
  const end = HEADER_SIZE + bodyLength;
  checkCrc("body", view.getUint32(O.bodyCrc, true), crc32(bytes.subarray(HEADER_SIZE, end)));

  const blockSize = getU64(view, O.blockSize, "blockSize");
  const extent = getU64(view, O.extent, "extent");
  const storedLength = getU64(view, O.reportedLength, "reportedLength");
  const flags = view.getUint32(O.fieldFlags, true);
  if ((flags & ~KNOWN_FLAGS) !== 0) throw corrupt(`unknown field flags ${hex32(flags)}`);
  const lengthKnown = (flags & FLAG_LENGTH_KNOWN) !== 0;
  if (!lengthKnown && storedLength !== 0) {
    throw corrupt(`reportedLength is marked unknown but stored as ${storedLength}`);
  }
  const count = view.getUint32(O.rangeCount, true);
  if (count === 0 || count > MAX_RANGES) {
    throw corrupt(`impossible range count ${count} (1 to ${MAX_RANGES})`);
  }
  if (O.ranges + count * RANGE_SIZE + 3 * 8 > end) {
    throw corrupt(`body ends before its ${count} range records and the strings`);
  }
  const ranges: DurableRange[] = [];
  for (let i = 0; i < count; i++) {
    const at = O.ranges + i * RANGE_SIZE;
    ranges.push({
      start: getU64(view, at, `range ${i} start`),
      end: getU64(view, at + 8, `range ${i} end`),
      // A copy (a Node Buffer's `slice()` would be a view of the input).
      tailDigest: new Uint8Array(bytes.subarray(at + 16, at + RANGE_SIZE)),
    });
  }

  const strings: (string | null)[] = [];
  let pos = O.ranges + count * RANGE_SIZE;
  for (const [name, flag] of STRING_FIELDS) {
    if (pos + 8 > end) throw corrupt(`body ends before the ${name} record`);
    const length = view.getUint16(pos, true);
    if (length > CONTROL_FILE_MAX_STRING_BYTES) {
      throw corrupt(`${name} is ${length} bytes, more than ${CONTROL_FILE_MAX_STRING_BYTES}`);
    }
    const next = pos + pad8(2 + length);
    if (next > end) throw corrupt(`${name} (${length} bytes) runs past the end of the body`);
    if (bytes.subarray(pos + 2 + length, next).some((byte) => byte !== 0)) {
      throw corrupt(`non-zero padding after ${name}`);
    }

    if ((flags & flag) === 0) {
      if (length !== 0) throw corrupt(`${name} is marked absent but has ${length} bytes`);
      strings.push(null);
    } else {
      try {
        strings.push(decoder.decode(bytes.subarray(pos + 2, pos + 2 + length)));
      } catch (cause) {
        throw new ControlFileError(`Checkpoint corrupt: ${name} is not valid UTF-8`, { cause });
      }
    }
    pos = next;
  }
  if (pos !== end) throw corrupt(`${end - pos} unused bytes at the end of the body`);

  const checkpoint: Checkpoint = {
    blockSize,
    extent,
    reportedLength: lengthKnown ? storedLength : null,
    etag: strings[0] ?? null,
    lastModified: strings[1] ?? null,
    contentType: strings[2] ?? null,
    ranges,
  };
  const violation = checkpointViolation(checkpoint);
  if (violation !== null) throw corrupt(violation);
  return checkpoint;
}

/** CRC-32C's table: the reflected Castagnoli polynomial 0x82F63B78 applied to each byte value. */
const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, byte) => {
  let c = byte;
  for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c;
});

/**
 * The CRC-32C (Castagnoli, reflected, iSCSI; check value `0xE3069283`) of
 * `data`; `crc32(b, crc32(a))` is the CRC of `a` then `b`. Chosen over IEEE
 * for its larger Hamming distance at these sizes.
 */
export function crc32(data: Uint8Array, seed = 0): number {
  let crc = ~seed;
  for (const byte of data) crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ byte) & 0xff]!;
  return ~crc >>> 0;
}
