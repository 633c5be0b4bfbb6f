/**
 * The binary encoding of a {@link Checkpoint}: what `<dest>.part.ctrl` holds.
 *
 * A 24-byte header (magic, version, flags, body length, body CRC, header CRC)
 * followed by a body: seven little-endian u64 fields, each 8-byte aligned,
 * field flags, the two SHA-256 states, the digest of the durable bytes the
 * hash state does not cover, and three length-prefixed UTF-8 strings padded
 * to 8 bytes. Both parts are protected by CRC-32C. Nothing derivable is
 * stored: `anchorHash.length` is `anchor`, the pending lengths are `0` and
 * `hash.length % 64`. The encoding is canonical: padding, reserved fields and
 * unused bytes must be zero, so a file decodes only if re-encoding the result
 * gives back the same bytes. The full layout is in `docs/control-file.md`.
 *
 * @module
 */

import { type Checkpoint, type Sha256State, tailStart } from "./checkpoint.ts";
import { crc32 } from "./crc32.ts";
import { ControlFileError } from "../errors.ts";
import { SHA256_INITIAL_WORDS } from "../hashing/sha256.ts";

/**
 * The format version this module writes and the only one it reads.
 *
 * @example
 * ```ts
 * import { CONTROL_FILE_VERSION } from "./control_file.ts";
 * console.log(CONTROL_FILE_VERSION); // 2
 * ```
 */
export const CONTROL_FILE_VERSION = 2;

/**
 * The eight bytes every control file starts with: `89 48 41 55 4C 0D 0A 1A`
 * (`\x89HAUL\r\n\x1a`). Like PNG's signature, the high-bit first byte catches
 * 7-bit transfers and non-binary files, the CR LF pair catches newline
 * translation, and `0x1A` stops `type` on DOS/Windows consoles.
 *
 * A fresh copy: changing it does not change what the codec writes or accepts.
 *
 * @example
 * ```ts
 * import { CONTROL_FILE_MAGIC } from "./control_file.ts";
 * console.log(new TextDecoder().decode(CONTROL_FILE_MAGIC.subarray(1, 5))); // "HAUL"
 * ```
 */
export const CONTROL_FILE_MAGIC: Uint8Array = Uint8Array.of(
  0x89,
  0x48,
  0x41,
  0x55,
  0x4c,
  0x0d,
  0x0a,
  0x1a,
);

/**
 * The longest `etag`, `lastModified` or `contentType` the control file holds,
 * in UTF-8 bytes. Longer values are refused on encode (`RangeError`) and on
 * decode (`ControlFileError`).
 *
 * @example
 * ```ts
 * import { CONTROL_FILE_MAX_STRING_BYTES } from "./control_file.ts";
 * console.log(CONTROL_FILE_MAX_STRING_BYTES); // 4096
 * ```
 */
export const CONTROL_FILE_MAX_STRING_BYTES = 4096;

/** Byte offsets of the fixed-position fields of a version-2 control file. */
export interface ControlFileOffsets {
  /** 8 bytes: {@link CONTROL_FILE_MAGIC}. */
  readonly magic: number;
  /** u16: the format version. */
  readonly version: number;
  /** u16: header flags, all reserved (zero) in version 2. */
  readonly headerFlags: number;
  /** u32: bytes in the body (everything after the header). */
  readonly bodyLength: number;
  /** u32: CRC-32C of the body. */
  readonly bodyCrc: number;
  /** u32: CRC-32C of the header bytes before this field. */
  readonly headerCrc: number;
  /** u64: `start`. First byte of the body. */
  readonly start: number;
  /** u64: `cursor`. */
  readonly cursor: number;
  /** u64: `blockSize`. */
  readonly blockSize: number;
  /** u64: `extent`. */
  readonly extent: number;
  /** u64: `reportedLength`, or 0 when unknown. */
  readonly reportedLength: number;
  /** u64: `anchor`. */
  readonly anchor: number;
  /** u64: `hash.length`, the bytes the resumable hash state covers. */
  readonly hashLength: number;
  /** u32: field flags (length known, which strings are present, tail digest present). */
  readonly fieldFlags: number;
  /** u32: reserved, zero. */
  readonly reserved: number;
  /** 8 × u32: `anchorHash.words`. */
  readonly anchorWords: number;
  /** 8 × u32: `hash.words`. */
  readonly hashWords: number;
  /** 64 bytes: `hash.pending` (`hash.length % 64` bytes) then zeros. */
  readonly hashPending: number;
  /** 32 bytes: `tailDigest`, or zeros when it is `null`. */
  readonly tailDigest: number;
  /** Where the three string records begin: `etag`, `lastModified`, `contentType`. */
  readonly strings: number;
}

/**
 * Where each fixed field of a version-2 control file sits, from the start of
 * the file. Every u64 offset is a multiple of 8.
 *
 * @example
 * ```ts
 * import { CONTROL_FILE_OFFSETS } from "./control_file.ts";
 * console.log(CONTROL_FILE_OFFSETS.cursor % 8); // 0
 * ```
 */
export const CONTROL_FILE_OFFSETS: ControlFileOffsets = Object.freeze({
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

const O = CONTROL_FILE_OFFSETS;
/** Private copy of the magic, immune to callers mutating the export. */
const MAGIC: Uint8Array = CONTROL_FILE_MAGIC.slice();
const HEADER_SIZE = 24;
/** Bytes of the body before the strings. */
const FIXED_BODY_SIZE = O.strings - HEADER_SIZE;
/** Smallest body: the fixed fields and three empty string records. */
const MIN_BODY_SIZE = FIXED_BODY_SIZE + 3 * 8;
/** Largest body: the fixed fields and three strings of maximum length. */
const MAX_BODY_SIZE = FIXED_BODY_SIZE + 3 * pad8(2 + CONTROL_FILE_MAX_STRING_BYTES);

const FLAG_LENGTH_KNOWN = 1 << 0;
const FLAG_ETAG = 1 << 1;
const FLAG_LAST_MODIFIED = 1 << 2;
const FLAG_CONTENT_TYPE = 1 << 3;
const FLAG_TAIL_DIGEST = 1 << 4;
const KNOWN_FLAGS = FLAG_LENGTH_KNOWN | FLAG_ETAG | FLAG_LAST_MODIFIED | FLAG_CONTENT_TYPE |
  FLAG_TAIL_DIGEST;
/** Bytes in a SHA-256 digest, the size of `tailDigest`. */
const DIGEST_SIZE = 32;
const STRING_FIELDS = [
  ["etag", FLAG_ETAG],
  ["lastModified", FLAG_LAST_MODIFIED],
  ["contentType", FLAG_CONTENT_TYPE],
] as const;

/** SHA-256's initial chaining words: the state after zero bytes. */
const SHA256_IV: readonly number[] = SHA256_INITIAL_WORDS;

const TWO_32 = 0x1_0000_0000;
/** Largest high word of a u64 that is still a safe integer (2^53 - 1). */
const MAX_SAFE_HIGH = 0x1f_ffff;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function pad8(n: number): number {
  return (n + 7) & ~7;
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function sameWords(a: Uint32Array, b: ArrayLike<number>): boolean {
  for (let i = 0; i < 8; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The first invariant `checkpoint` breaks, or `null` when it keeps them all.
 * Shared by the encoder (which throws `RangeError`) and the decoder (which
 * throws `ControlFileError`) so that they accept exactly the same values.
 * Assumes the fields are already well-typed.
 */
function invariantViolation(c: Checkpoint): string | null {
  const hashed = c.hash.length;
  if (c.start !== 0) return `start is ${c.start}, but format v2 requires 0`;
  if (c.blockSize === 0 || c.blockSize % 64 !== 0) {
    return `blockSize ${c.blockSize} is not a positive multiple of 64`;
  }
  if (c.anchor > hashed) return `anchor ${c.anchor} is beyond hash.length ${hashed}`;
  if (hashed > c.cursor) return `hash.length ${hashed} is beyond cursor ${c.cursor}`;
  if (hashed - c.anchor > c.blockSize) {
    return `anchor ${c.anchor} is more than blockSize ${c.blockSize} below hash.length ${hashed}`;
  }
  if (c.anchor % c.blockSize !== 0) {
    return `anchor ${c.anchor} is not a multiple of blockSize ${c.blockSize}`;
  }
  if (c.extent < c.cursor) return `extent ${c.extent} is below cursor ${c.cursor}`;
  if (c.reportedLength !== null && c.cursor > c.reportedLength) {
    return `cursor ${c.cursor} is beyond reportedLength ${c.reportedLength}`;
  }
  if (c.anchorHash.length !== c.anchor) {
    return `anchorHash.length ${c.anchorHash.length} differs from anchor ${c.anchor}`;
  }
  if (c.anchorHash.pending.length !== 0) {
    return `anchorHash.pending has ${c.anchorHash.pending.length} bytes, expected 0`;
  }
  if (c.hash.pending.length !== hashed % 64) {
    return `hash.pending has ${c.hash.pending.length} bytes, expected hash.length % 64 = ${
      hashed % 64
    }`;
  }
  if (c.anchor === 0 && !sameWords(c.anchorHash.words, SHA256_IV)) {
    return "anchorHash covers 0 bytes but its words are not SHA-256's initial values";
  }
  if (hashed === 0 && !sameWords(c.hash.words, SHA256_IV)) {
    return "hash covers 0 bytes but its words are not SHA-256's initial values";
  }
  if (c.anchor === hashed && !sameWords(c.anchorHash.words, c.hash.words)) {
    return "anchor equals hash.length but anchorHash and hash words differ";
  }
  const tail = tailStart(c);
  if (tail === c.cursor) {
    if (c.tailDigest !== null) {
      return `tailDigest is present, but the range it covers, [${tail}, ${c.cursor}), is empty`;
    }
  } else {
    if (c.tailDigest === null) {
      return `tailDigest is missing for the bytes [${tail}, ${c.cursor}) the hash does not cover`;
    }
    if (c.tailDigest.length !== DIGEST_SIZE) {
      return `tailDigest has ${c.tailDigest.length} bytes, expected ${DIGEST_SIZE}`;
    }
  }
  return null;
}

/** Type checks the encoder makes before {@link invariantViolation}. */
function typeViolation(c: Checkpoint): string | null {
  if (typeof c !== "object" || c === null) return "checkpoint is not an object";
  for (const name of ["start", "cursor", "blockSize", "extent", "anchor"] as const) {
    if (!isCount(c[name])) return `${name} ${String(c[name])} is not a safe non-negative integer`;
  }
  if (c.reportedLength !== null && !isCount(c.reportedLength)) {
    return `reportedLength ${
      String(c.reportedLength)
    } is neither null nor a safe non-negative integer`;
  }
  for (const name of ["anchorHash", "hash"] as const) {
    const state: Sha256State = c[name];
    if (typeof state !== "object" || state === null) return `${name} is not an object`;
    if (!(state.words instanceof Uint32Array) || state.words.length !== 8) {
      return `${name}.words is not a Uint32Array of 8 words`;
    }
    if (!isCount(state.length)) {
      return `${name}.length ${String(state.length)} is not a safe non-negative integer`;
    }
    if (!(state.pending instanceof Uint8Array)) return `${name}.pending is not a Uint8Array`;
  }
  if (c.tailDigest !== null && !(c.tailDigest instanceof Uint8Array)) {
    return "tailDigest is neither null nor a Uint8Array";
  }
  for (const [name] of STRING_FIELDS) {
    const value: unknown = c[name];
    if (value === null) continue;
    if (typeof value !== "string") return `${name} is neither null nor a string`;
    if (!value.isWellFormed()) return `${name} contains a lone surrogate (not valid Unicode)`;
  }
  return null;
}

function setU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % TWO_32, true);
  view.setUint32(offset + 4, Math.floor(value / TWO_32), true);
}

/**
 * Encodes a checkpoint as the bytes of a version-2 control file.
 *
 * Refuses anything {@link decodeCheckpoint} would reject, so what it writes
 * always reads back equal (`decodeCheckpoint(encodeCheckpoint(c))` deep-equals
 * `c`).
 *
 * @param checkpoint the checkpoint to encode.
 * @returns a new byte array, a multiple of 8 bytes long.
 * @throws {RangeError} when `checkpoint` breaks an invariant of
 *   {@link Checkpoint} (see `docs/control-file.md`), a number is not a safe
 *   non-negative integer, a hash state is malformed, `tailDigest` is not
 *   `null` or 32 bytes (or is present or absent when it should not be), or a
 *   string is longer than {@link CONTROL_FILE_MAX_STRING_BYTES} UTF-8 bytes or
 *   not valid Unicode.
 *
 * @example
 * ```ts
 * import { decodeCheckpoint, encodeCheckpoint } from "./control_file.ts";
 * const iv = [
 *   0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
 *   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
 * ];
 * const empty = { words: Uint32Array.from(iv), length: 0, pending: new Uint8Array(0) };
 * const bytes = encodeCheckpoint({
 *   start: 0, cursor: 0, blockSize: 65536, extent: 0, reportedLength: 1000,
 *   etag: '"v1"', lastModified: null, contentType: "application/octet-stream",
 *   anchor: 0, anchorHash: empty, hash: empty, tailDigest: null,
 * });
 * console.log(bytes.length, decodeCheckpoint(bytes).etag); // 296 "v1"
 * ```
 */
export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array {
  const violation = typeViolation(checkpoint) ?? invariantViolation(checkpoint);
  if (violation !== null) throw new RangeError(`Cannot encode checkpoint: ${violation}`);
  const c = checkpoint;

  const strings: (Uint8Array | null)[] = [];
  let bodyLength = FIXED_BODY_SIZE;
  for (const [name] of STRING_FIELDS) {
    const value = c[name];
    const utf8 = value === null ? null : encoder.encode(value);
    if (utf8 !== null && utf8.length > CONTROL_FILE_MAX_STRING_BYTES) {
      throw new RangeError(
        `Cannot encode checkpoint: ${name} is ${utf8.length} UTF-8 bytes, more than ${CONTROL_FILE_MAX_STRING_BYTES}`,
      );
    }
    strings.push(utf8);
    bodyLength += pad8(2 + (utf8?.length ?? 0));
  }

  const out = new Uint8Array(HEADER_SIZE + bodyLength);
  const view = new DataView(out.buffer);
  out.set(MAGIC, O.magic);
  view.setUint16(O.version, CONTROL_FILE_VERSION, true);
  view.setUint16(O.headerFlags, 0, true);
  view.setUint32(O.bodyLength, bodyLength, true);

  setU64(view, O.start, c.start);
  setU64(view, O.cursor, c.cursor);
  setU64(view, O.blockSize, c.blockSize);
  setU64(view, O.extent, c.extent);
  setU64(view, O.reportedLength, c.reportedLength ?? 0);
  setU64(view, O.anchor, c.anchor);
  setU64(view, O.hashLength, c.hash.length);
  let flags = c.reportedLength === null ? 0 : FLAG_LENGTH_KNOWN;
  STRING_FIELDS.forEach(([, flag], i) => {
    if (strings[i] !== null) flags |= flag;
  });
  if (c.tailDigest !== null) flags |= FLAG_TAIL_DIGEST;
  view.setUint32(O.fieldFlags, flags, true);
  view.setUint32(O.reserved, 0, true);
  for (let i = 0; i < 8; i++) {
    view.setUint32(O.anchorWords + 4 * i, c.anchorHash.words[i]!, true);
    view.setUint32(O.hashWords + 4 * i, c.hash.words[i]!, true);
  }
  out.set(c.hash.pending, O.hashPending);
  if (c.tailDigest !== null) out.set(c.tailDigest, O.tailDigest);

  let pos = O.strings;
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

function getU64(view: DataView, offset: number, name: string): number {
  const low = view.getUint32(offset, true);
  const high = view.getUint32(offset + 4, true);
  if (high > MAX_SAFE_HIGH) {
    throw corrupt(`${name} exceeds 2^53 - 1 (high word ${hex32(high)})`);
  }
  return high * TWO_32 + low;
}

function allZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * Decodes the bytes of a control file into a checkpoint, checking everything:
 * magic, header CRC, version, lengths, body CRC, ranges, invariants, UTF-8
 * and canonical form (zero padding and reserved fields).
 *
 * @param bytes the whole content of `<dest>.part.ctrl`.
 * @returns the checkpoint, with fresh `Uint32Array` words and `Uint8Array`
 *   pending bytes and tail digest (never views of `bytes`).
 * @throws {ControlFileError} for any defect: too short, bad magic, header or
 *   body CRC mismatch, unsupported version (named in the message; a version-1
 *   file, written by an older haul, is one), length mismatch or trailing
 *   bytes, a number above `Number.MAX_SAFE_INTEGER`, invalid or over-long
 *   strings, non-zero padding, or broken invariants. Never throws anything
 *   else.
 *
 * @example
 * ```ts
 * import { decodeCheckpoint } from "./control_file.ts";
 * import { ControlFileError } from "../errors.ts";
 * try {
 *   decodeCheckpoint(new TextEncoder().encode("not a checkpoint"));
 * } catch (error) {
 *   console.log(error instanceof ControlFileError); // true
 * }
 * ```
 */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  if (!(bytes instanceof Uint8Array)) throw corrupt("content is not a Uint8Array");
  if (bytes.length < HEADER_SIZE) {
    throw corrupt(`truncated: ${bytes.length} bytes, shorter than the ${HEADER_SIZE}-byte header`);
  }
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw corrupt("bad magic: not a haul control file");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  const storedHeaderCrc = view.getUint32(O.headerCrc, true);
  const headerCrc = crc32(bytes.subarray(0, O.headerCrc));
  if (storedHeaderCrc !== headerCrc) {
    throw corrupt(
      `header CRC mismatch (stored ${hex32(storedHeaderCrc)}, computed ${hex32(headerCrc)})`,
    );
  }
  const version = view.getUint16(O.version, true);
  if (version !== CONTROL_FILE_VERSION) {
    const reads = `this haul reads version ${CONTROL_FILE_VERSION} only`;
    throw new ControlFileError(
      version >= 1 && version < CONTROL_FILE_VERSION
        ? `Checkpoint version ${version} is not supported: it was written by an older haul, and ${reads}`
        : `Checkpoint version ${version} is not supported: ${reads} (the file was probably written by ${
          version > CONTROL_FILE_VERSION ? "a newer" : "another"
        } haul)`,
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
  const storedBodyCrc = view.getUint32(O.bodyCrc, true);
  const bodyCrc = crc32(bytes.subarray(HEADER_SIZE, end));
  if (storedBodyCrc !== bodyCrc) {
    throw corrupt(
      `body CRC mismatch (stored ${hex32(storedBodyCrc)}, computed ${hex32(bodyCrc)})`,
    );
  }

  const start = getU64(view, O.start, "start");
  const cursor = getU64(view, O.cursor, "cursor");
  const blockSize = getU64(view, O.blockSize, "blockSize");
  const extent = getU64(view, O.extent, "extent");
  const storedLength = getU64(view, O.reportedLength, "reportedLength");
  const anchor = getU64(view, O.anchor, "anchor");
  const hashLength = getU64(view, O.hashLength, "hashLength");
  const flags = view.getUint32(O.fieldFlags, true);
  if ((flags & ~KNOWN_FLAGS) !== 0) throw corrupt(`unknown field flags ${hex32(flags)}`);
  if (view.getUint32(O.reserved, true) !== 0) throw corrupt("reserved field is not zero");
  const lengthKnown = (flags & FLAG_LENGTH_KNOWN) !== 0;
  if (!lengthKnown && storedLength !== 0) {
    throw corrupt(`reportedLength is marked unknown but stored as ${storedLength}`);
  }

  const anchorWords = new Uint32Array(8);
  const hashWords = new Uint32Array(8);
  for (let i = 0; i < 8; i++) {
    anchorWords[i] = view.getUint32(O.anchorWords + 4 * i, true);
    hashWords[i] = view.getUint32(O.hashWords + 4 * i, true);
  }
  const pendingLength = hashLength % 64;
  const pendingStart = O.hashPending;
  if (!allZero(bytes, pendingStart + pendingLength, pendingStart + 64)) {
    throw corrupt(`non-zero bytes after the ${pendingLength} pending bytes of hash`);
  }
  const pending = new Uint8Array(pendingLength);
  pending.set(bytes.subarray(pendingStart, pendingStart + pendingLength));
  let tailDigest: Uint8Array | null = null;
  if ((flags & FLAG_TAIL_DIGEST) !== 0) {
    tailDigest = new Uint8Array(DIGEST_SIZE);
    tailDigest.set(bytes.subarray(O.tailDigest, O.tailDigest + DIGEST_SIZE));
  } else if (!allZero(bytes, O.tailDigest, O.tailDigest + DIGEST_SIZE)) {
    throw corrupt("tailDigest is marked absent but its bytes are not zero");
  }

  const strings: (string | null)[] = [];
  let pos = O.strings;
  for (const [name, flag] of STRING_FIELDS) {
    if (pos + 8 > end) throw corrupt(`body ends before the ${name} record`);
    const length = view.getUint16(pos, true);
    if (length > CONTROL_FILE_MAX_STRING_BYTES) {
      throw corrupt(`${name} is ${length} bytes, more than ${CONTROL_FILE_MAX_STRING_BYTES}`);
    }
    const next = pos + pad8(2 + length);
    if (next > end) throw corrupt(`${name} (${length} bytes) runs past the end of the body`);
    if (!allZero(bytes, pos + 2 + length, next)) throw corrupt(`non-zero padding after ${name}`);
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
    start,
    cursor,
    blockSize,
    extent,
    reportedLength: lengthKnown ? storedLength : null,
    etag: strings[0] ?? null,
    lastModified: strings[1] ?? null,
    contentType: strings[2] ?? null,
    anchor,
    anchorHash: { words: anchorWords, length: anchor, pending: new Uint8Array(0) },
    hash: { words: hashWords, length: hashLength, pending },
    tailDigest,
  };
  const violation = invariantViolation(checkpoint);
  if (violation !== null) throw corrupt(violation);
  return checkpoint;
}
