/**
 * CRC-32C (Castagnoli), the checksum of the control file
 * (`docs/control-file.md`): polynomial 0x1EDC6F41 (reflected 0x82F63B78),
 * init and final XOR 0xFFFFFFFF, reflected (iSCSI, RFC 3720); check value
 * `0xE3069283`. Chosen over IEEE for its larger Hamming distance at these
 * sizes. Table-driven, slicing by 8.
 *
 * @module
 */

/** The reflected Castagnoli polynomial. */
const POLYNOMIAL = 0x82f63b78;

/** `TABLES[k * 256 + b]`: the CRC of byte `b` followed by `k` zero bytes. */
const TABLES: Uint32Array = buildTables();

function buildTables(): Uint32Array {
  const tables = new Uint32Array(8 * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let bit = 0; bit < 8; bit++) {
      c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    }
    tables[b] = c;
  }
  for (let k = 1; k < 8; k++) {
    for (let b = 0; b < 256; b++) {
      const previous = tables[(k - 1) * 256 + b]!;
      tables[k * 256 + b] = (previous >>> 8) ^ tables[previous & 0xff]!;
    }
  }
  return tables;
}

/**
 * Computes the CRC-32C (Castagnoli) of `data`.
 *
 * Pass an earlier result as `seed` to continue a checksum across chunks:
 * `crc32(b, crc32(a))` equals the CRC of `a` followed by `b`.
 *
 * @param data the bytes to checksum.
 * @param seed the CRC of the bytes that came before `data` (default 0: none).
 * @returns the CRC as an unsigned 32-bit integer.
 * @throws never.
 */
export function crc32(data: Uint8Array, seed = 0): number {
  const t = TABLES;
  let crc = ~seed;
  let i = 0;
  const n = data.length;
  const fast = n - (n % 8);
  while (i < fast) {
    const lo = crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    crc = t[7 * 256 + (lo & 0xff)]! ^
      t[6 * 256 + ((lo >>> 8) & 0xff)]! ^
      t[5 * 256 + ((lo >>> 16) & 0xff)]! ^
      t[4 * 256 + (lo >>> 24)]! ^
      t[3 * 256 + data[i + 4]!]! ^
      t[2 * 256 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!;
    i += 8;
  }
  while (i < n) {
    crc = (crc >>> 8) ^ t[(crc ^ data[i]!) & 0xff]!;
    i++;
  }
  return ~crc >>> 0;
}
