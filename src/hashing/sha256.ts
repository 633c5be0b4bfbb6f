/**
 * SHA-256 (FIPS 180-4) in plain TypeScript, with a state that can be saved
 * and restored. The download engine keeps a {@link Sha256State} in its
 * checkpoint so that, after a crash, hashing resumes where it stopped instead
 * of re-reading everything already on disk. Native hashers cannot export their
 * state, hence this implementation.
 *
 * @module
 */

import type { Sha256State } from "../store/checkpoint.ts";

/** Initial hash value H(0) (FIPS 180-4 §5.3.3): the chaining words after zero bytes. */
export const SHA256_INITIAL_WORDS: readonly number[] = [
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
];
const IV = SHA256_INITIAL_WORDS;

/** 2^29: bytes per 2^32 bits, for splitting the bit length into two words. */
const BYTES_PER_HI_BIT_WORD = 0x20000000;

/**
 * Compresses the 64-byte blocks `p[pos..end)` into the chaining words `state`
 * (FIPS 180-4 §6.2.2). `end - pos` must be a multiple of 64.
 *
 * This is the hot path, written for speed rather than brevity:
 *
 * - All 64 rounds are unrolled. Instead of shifting a..h down one place per
 *   round, each round renames them: round t updates only the variables
 *   playing T1's and d's roles, and the names rotate by one each round (the
 *   comments on rounds 0..7 spell out the cycle, which repeats every 8).
 *   Each round is `h += K[t] + W[t] + Ch(e,f,g) + Σ1(e); d += h;
 *   h += Maj(a,b,c) + Σ0(a)`, with the round constant K[t] inlined.
 * - The message schedule lives in sixteen locals used as a ring: before round
 *   t >= 16, w(t mod 16) becomes W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) +
 *   W[t-16].
 * - Maj(a,b,c) = b ^ ((a ^ b) & (b ^ c)), and this round's b ^ c is the
 *   previous round's a ^ b, saving an operation per round.
 * - Words are read big-endian with DataView, straight from the caller's
 *   bytes; values are kept as signed 32-bit integers (`| 0`) so the JIT
 *   keeps them in integer registers. `(x >>> n) | (x << (32 - n))` is
 *   ROTR^n(x).
 */
function compress(state: Int32Array, p: Uint8Array, pos: number, end: number): void {
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  let h0 = state[0]!, h1 = state[1]!, h2 = state[2]!, h3 = state[3]!;
  let h4 = state[4]!, h5 = state[5]!, h6 = state[6]!, h7 = state[7]!;
  for (; pos < end; pos += 64) {
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    // ab is a ^ b of the current round; bc is b ^ c, which is the previous round's a ^ b.
    let ab = 0, bc = b ^ c;
    let w0 = view.getInt32(pos + 0);
    let w1 = view.getInt32(pos + 4);
    let w2 = view.getInt32(pos + 8);
    let w3 = view.getInt32(pos + 12);
    let w4 = view.getInt32(pos + 16);
    let w5 = view.getInt32(pos + 20);
    let w6 = view.getInt32(pos + 24);
    let w7 = view.getInt32(pos + 28);
    let w8 = view.getInt32(pos + 32);
    let w9 = view.getInt32(pos + 36);
    let w10 = view.getInt32(pos + 40);
    let w11 = view.getInt32(pos + 44);
    let w12 = view.getInt32(pos + 48);
    let w13 = view.getInt32(pos + 52);
    let w14 = view.getInt32(pos + 56);
    let w15 = view.getInt32(pos + 60);
    // Round 0: the spec's (a, b, c, d, e, f, g, h) live in (a, b, c, d, e, f, g, h).
    h = (h + 0x428a2f98 + w0 + (g ^ (e & (f ^ g))) +
      (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))) | 0;
    d = (d + h) | 0;
    ab = a ^ b;
    h = (h +
      ((b ^ (ab & bc)) +
        (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))))) | 0;
    bc = ab;
    // Round 1: the spec's (a, b, c, d, e, f, g, h) live in (h, a, b, c, d, e, f, g).
    g = (g + 0x71374491 + w1 + (f ^ (d & (e ^ f))) +
      (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7)))) | 0;
    c = (c + g) | 0;
    ab = h ^ a;
    g = (g +
      ((a ^ (ab & bc)) +
        (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))))) | 0;
    bc = ab;
    // Round 2: the spec's (a, b, c, d, e, f, g, h) live in (g, h, a, b, c, d, e, f).
    f = (f + 0xb5c0fbcf + w2 + (e ^ (c & (d ^ e))) +
      (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7)))) | 0;
    b = (b + f) | 0;
    ab = g ^ h;
    f = (f +
      ((h ^ (ab & bc)) +
        (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))))) | 0;
    bc = ab;
    // Round 3: the spec's (a, b, c, d, e, f, g, h) live in (f, g, h, a, b, c, d, e).
    e = (e + 0xe9b5dba5 + w3 + (d ^ (b & (c ^ d))) +
      (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7)))) | 0;
    a = (a + e) | 0;
    ab = f ^ g;
    e = (e +
      ((g ^ (ab & bc)) +
        (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))))) | 0;
    bc = ab;
    // Round 4: the spec's (a, b, c, d, e, f, g, h) live in (e, f, g, h, a, b, c, d).
    d = (d + 0x3956c25b + w4 + (c ^ (a & (b ^ c))) +
      (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7)))) | 0;
    h = (h + d) | 0;
    ab = e ^ f;
    d = (d +
      ((f ^ (ab & bc)) +
        (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))))) | 0;
    bc = ab;
    // Round 5: the spec's (a, b, c, d, e, f, g, h) live in (d, e, f, g, h, a, b, c).
    c = (c + 0x59f111f1 + w5 + (b ^ (h & (a ^ b))) +
      (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7)))) | 0;
    g = (g + c) | 0;
    ab = d ^ e;
    c = (c +
      ((e ^ (ab & bc)) +
        (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))))) | 0;
    bc = ab;
    // Round 6: the spec's (a, b, c, d, e, f, g, h) live in (c, d, e, f, g, h, a, b).
    b = (b + 0x923f82a4 + w6 + (a ^ (g & (h ^ a))) +
      (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7)))) | 0;
    f = (f + b) | 0;
    ab = c ^ d;
    b = (b +
      ((d ^ (ab & bc)) +
        (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))))) | 0;
    bc = ab;
    // Round 7: the spec's (a, b, c, d, e, f, g, h) live in (b, c, d, e, f, g, h, a).
    a = (a + 0xab1c5ed5 + w7 + (h ^ (f & (g ^ h))) +
      (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7)))) | 0;
    e = (e + a) | 0;
    ab = b ^ c;
    a = (a +
      ((c ^ (ab & bc)) +
        (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))))) | 0;
    bc = ab;
    // Round 8
    h = (h + 0xd807aa98 + w8 + (g ^ (e & (f ^ g))) +
      (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))) | 0;
    d = (d + h) | 0;
    ab = a ^ b;
    h = (h +
      ((b ^ (ab & bc)) +
        (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))))) | 0;
    bc = ab;
    // Round 9
    g = (g + 0x12835b01 + w9 + (f ^ (d & (e ^ f))) +
      (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7)))) | 0;
    c = (c + g) | 0;
    ab = h ^ a;
    g = (g +
      ((a ^ (ab & bc)) +
        (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))))) | 0;
    bc = ab;
    // Round 10
    f = (f + 0x243185be + w10 + (e ^ (c & (d ^ e))) +
      (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7)))) | 0;
    b = (b + f) | 0;
    ab = g ^ h;
    f = (f +
      ((h ^ (ab & bc)) +
        (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))))) | 0;
    bc = ab;
    // Round 11
    e = (e + 0x550c7dc3 + w11 + (d ^ (b & (c ^ d))) +
      (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7)))) | 0;
    a = (a + e) | 0;
    ab = f ^ g;
    e = (e +
      ((g ^ (ab & bc)) +
        (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))))) | 0;
    bc = ab;
    // Round 12
    d = (d + 0x72be5d74 + w12 + (c ^ (a & (b ^ c))) +
      (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7)))) | 0;
    h = (h + d) | 0;
    ab = e ^ f;
    d = (d +
      ((f ^ (ab & bc)) +
        (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))))) | 0;
    bc = ab;
    // Round 13
    c = (c + 0x80deb1fe + w13 + (b ^ (h & (a ^ b))) +
      (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7)))) | 0;
    g = (g + c) | 0;
    ab = d ^ e;
    c = (c +
      ((e ^ (ab & bc)) +
        (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))))) | 0;
    bc = ab;
    // Round 14
    b = (b + 0x9bdc06a7 + w14 + (a ^ (g & (h ^ a))) +
      (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7)))) | 0;
    f = (f + b) | 0;
    ab = c ^ d;
    b = (b +
      ((d ^ (ab & bc)) +
        (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))))) | 0;
    bc = ab;
    // Round 15
    a = (a + 0xc19bf174 + w15 + (h ^ (f & (g ^ h))) +
      (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7)))) | 0;
    e = (e + a) | 0;
    ab = b ^ c;
    a = (a +
      ((c ^ (ab & bc)) +
        (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))))) | 0;
    bc = ab;
    // Round 16
    w0 = (w0 + (((w1 >>> 7) | (w1 << 25)) ^ ((w1 >>> 18) | (w1 << 14)) ^ (w1 >>> 3)) + w9 +
      (((w14 >>> 17) | (w14 << 15)) ^ ((w14 >>> 19) | (w14 << 13)) ^ (w14 >>> 10))) | 0;
    h = (h + 0xe49b69c1 + w0 + (g ^ (e & (f ^ g))) +
      (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))) | 0;
    d = (d + h) | 0;
    ab = a ^ b;
    h = (h +
      ((b ^ (ab & bc)) +
        (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))))) | 0;
    bc = ab;
    // Round 17
    w1 = (w1 + (((w2 >>> 7) | (w2 << 25)) ^ ((w2 >>> 18) | (w2 << 14)) ^ (w2 >>> 3)) + w10 +
      (((w15 >>> 17) | (w15 << 15)) ^ ((w15 >>> 19) | (w15 << 13)) ^ (w15 >>> 10))) | 0;
    g = (g + 0xefbe4786 + w1 + (f ^ (d & (e ^ f))) +
      (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7)))) | 0;
    c = (c + g) | 0;
    ab = h ^ a;
    g = (g +
      ((a ^ (ab & bc)) +
        (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))))) | 0;
    bc = ab;
    // Round 18
    w2 = (w2 + (((w3 >>> 7) | (w3 << 25)) ^ ((w3 >>> 18) | (w3 << 14)) ^ (w3 >>> 3)) + w11 +
      (((w0 >>> 17) | (w0 << 15)) ^ ((w0 >>> 19) | (w0 << 13)) ^ (w0 >>> 10))) | 0;
    f = (f + 0x0fc19dc6 + w2 + (e ^ (c & (d ^ e))) +
      (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7)))) | 0;
    b = (b + f) | 0;
    ab = g ^ h;
    f = (f +
      ((h ^ (ab & bc)) +
        (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))))) | 0;
    bc = ab;
    // Round 19
    w3 = (w3 + (((w4 >>> 7) | (w4 << 25)) ^ ((w4 >>> 18) | (w4 << 14)) ^ (w4 >>> 3)) + w12 +
      (((w1 >>> 17) | (w1 << 15)) ^ ((w1 >>> 19) | (w1 << 13)) ^ (w1 >>> 10))) | 0;
    e = (e + 0x240ca1cc + w3 + (d ^ (b & (c ^ d))) +
      (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7)))) | 0;
    a = (a + e) | 0;
    ab = f ^ g;
    e = (e +
      ((g ^ (ab & bc)) +
        (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))))) | 0;
    bc = ab;
    // Round 20
    w4 = (w4 + (((w5 >>> 7) | (w5 << 25)) ^ ((w5 >>> 18) | (w5 << 14)) ^ (w5 >>> 3)) + w13 +
      (((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10))) | 0;
    d = (d + 0x2de92c6f + w4 + (c ^ (a & (b ^ c))) +
      (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7)))) | 0;
    h = (h + d) | 0;
    ab = e ^ f;
    d = (d +
      ((f ^ (ab & bc)) +
        (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))))) | 0;
    bc = ab;
    // Round 21
    w5 = (w5 + (((w6 >>> 7) | (w6 << 25)) ^ ((w6 >>> 18) | (w6 << 14)) ^ (w6 >>> 3)) + w14 +
      (((w3 >>> 17) | (w3 << 15)) ^ ((w3 >>> 19) | (w3 << 13)) ^ (w3 >>> 10))) | 0;
    c = (c + 0x4a7484aa + w5 + (b ^ (h & (a ^ b))) +
      (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7)))) | 0;
    g = (g + c) | 0;
    ab = d ^ e;
    c = (c +
      ((e ^ (ab & bc)) +
        (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))))) | 0;
    bc = ab;
    // Round 22
    w6 = (w6 + (((w7 >>> 7) | (w7 << 25)) ^ ((w7 >>> 18) | (w7 << 14)) ^ (w7 >>> 3)) + w15 +
      (((w4 >>> 17) | (w4 << 15)) ^ ((w4 >>> 19) | (w4 << 13)) ^ (w4 >>> 10))) | 0;
    b = (b + 0x5cb0a9dc + w6 + (a ^ (g & (h ^ a))) +
      (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7)))) | 0;
    f = (f + b) | 0;
    ab = c ^ d;
    b = (b +
      ((d ^ (ab & bc)) +
        (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))))) | 0;
    bc = ab;
    // Round 23
    w7 = (w7 + (((w8 >>> 7) | (w8 << 25)) ^ ((w8 >>> 18) | (w8 << 14)) ^ (w8 >>> 3)) + w0 +
      (((w5 >>> 17) | (w5 << 15)) ^ ((w5 >>> 19) | (w5 << 13)) ^ (w5 >>> 10))) | 0;
    a = (a + 0x76f988da + w7 + (h ^ (f & (g ^ h))) +
      (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7)))) | 0;
    e = (e + a) | 0;
    ab = b ^ c;
    a = (a +
      ((c ^ (ab & bc)) +
        (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))))) | 0;
    bc = ab;
    // Round 24
    w8 = (w8 + (((w9 >>> 7) | (w9 << 25)) ^ ((w9 >>> 18) | (w9 << 14)) ^ (w9 >>> 3)) + w1 +
      (((w6 >>> 17) | (w6 << 15)) ^ ((w6 >>> 19) | (w6 << 13)) ^ (w6 >>> 10))) | 0;
    h = (h + 0x983e5152 + w8 + (g ^ (e & (f ^ g))) +
      (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))) | 0;
    d = (d + h) | 0;
    ab = a ^ b;
    h = (h +
      ((b ^ (ab & bc)) +
        (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))))) | 0;
    bc = ab;
    // Round 25
    w9 = (w9 + (((w10 >>> 7) | (w10 << 25)) ^ ((w10 >>> 18) | (w10 << 14)) ^ (w10 >>> 3)) + w2 +
      (((w7 >>> 17) | (w7 << 15)) ^ ((w7 >>> 19) | (w7 << 13)) ^ (w7 >>> 10))) | 0;
    g = (g + 0xa831c66d + w9 + (f ^ (d & (e ^ f))) +
      (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7)))) | 0;
    c = (c + g) | 0;
    ab = h ^ a;
    g = (g +
      ((a ^ (ab & bc)) +
        (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))))) | 0;
    bc = ab;
    // Round 26
    w10 = (w10 + (((w11 >>> 7) | (w11 << 25)) ^ ((w11 >>> 18) | (w11 << 14)) ^ (w11 >>> 3)) + w3 +
      (((w8 >>> 17) | (w8 << 15)) ^ ((w8 >>> 19) | (w8 << 13)) ^ (w8 >>> 10))) | 0;
    f = (f + 0xb00327c8 + w10 + (e ^ (c & (d ^ e))) +
      (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7)))) | 0;
    b = (b + f) | 0;
    ab = g ^ h;
    f = (f +
      ((h ^ (ab & bc)) +
        (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))))) | 0;
    bc = ab;
    // Round 27
    w11 = (w11 + (((w12 >>> 7) | (w12 << 25)) ^ ((w12 >>> 18) | (w12 << 14)) ^ (w12 >>> 3)) + w4 +
      (((w9 >>> 17) | (w9 << 15)) ^ ((w9 >>> 19) | (w9 << 13)) ^ (w9 >>> 10))) | 0;
    e = (e + 0xbf597fc7 + w11 + (d ^ (b & (c ^ d))) +
      (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7)))) | 0;
    a = (a + e) | 0;
    ab = f ^ g;
    e = (e +
      ((g ^ (ab & bc)) +
        (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))))) | 0;
    bc = ab;
    // Round 28
    w12 = (w12 + (((w13 >>> 7) | (w13 << 25)) ^ ((w13 >>> 18) | (w13 << 14)) ^ (w13 >>> 3)) + w5 +
      (((w10 >>> 17) | (w10 << 15)) ^ ((w10 >>> 19) | (w10 << 13)) ^ (w10 >>> 10))) | 0;
    d = (d + 0xc6e00bf3 + w12 + (c ^ (a & (b ^ c))) +
      (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7)))) | 0;
    h = (h + d) | 0;
    ab = e ^ f;
    d = (d +
      ((f ^ (ab & bc)) +
        (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))))) | 0;
    bc = ab;
    // Round 29
    w13 = (w13 + (((w14 >>> 7) | (w14 << 25)) ^ ((w14 >>> 18) | (w14 << 14)) ^ (w14 >>> 3)) + w6 +
      (((w11 >>> 17) | (w11 << 15)) ^ ((w11 >>> 19) | (w11 << 13)) ^ (w11 >>> 10))) | 0;
    c = (c + 0xd5a79147 + w13 + (b ^ (h & (a ^ b))) +
      (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7)))) | 0;
    g = (g + c) | 0;
    ab = d ^ e;
    c = (c +
      ((e ^ (ab & bc)) +
        (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))))) | 0;
    bc = ab;
    // Round 30
    w14 = (w14 + (((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3)) + w7 +
      (((w12 >>> 17) | (w12 << 15)) ^ ((w12 >>> 19) | (w12 << 13)) ^ (w12 >>> 10))) | 0;
    b = (b + 0x06ca6351 + w14 + (a ^ (g & (h ^ a))) +
      (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7)))) | 0;
    f = (f + b) | 0;
    ab = c ^ d;
    b = (b +
      ((d ^ (ab & bc)) +
        (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))))) | 0;
    bc = ab;
    // Round 31
    w15 = (w15 + (((w0 >>> 7) | (w0 << 25)) ^ ((w0 >>> 18) | (w0 << 14)) ^ (w0 >>> 3)) + w8 +
      (((w13 >>> 17) | (w13 << 15)) ^ ((w13 >>> 19) | (w13 << 13)) ^ (w13 >>> 10))) | 0;
    a = (a + 0x14292967 + w15 + (h ^ (f & (g ^ h))) +
      (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7)))) | 0;
    e = (e + a) | 0;
    ab = b ^ c;
    a = (a +
      ((c ^ (ab & bc)) +
        (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))))) | 0;
    bc = ab;
    // Round 32
    w0 = (w0 + (((w1 >>> 7) | (w1 << 25)) ^ ((w1 >>> 18) | (w1 << 14)) ^ (w1 >>> 3)) + w9 +
      (((w14 >>> 17) | (w14 << 15)) ^ ((w14 >>> 19) | (w14 << 13)) ^ (w14 >>> 10))) | 0;
    h = (h + 0x27b70a85 + w0 + (g ^ (e & (f ^ g))) +
      (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))) | 0;
    d = (d + h) | 0;
    ab = a ^ b;
    h = (h +
      ((b ^ (ab & bc)) +
        (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))))) | 0;
    bc = ab;
    // Round 33
    w1 = (w1 + (((w2 >>> 7) | (w2 << 25)) ^ ((w2 >>> 18) | (w2 << 14)) ^ (w2 >>> 3)) + w10 +
      (((w15 >>> 17) | (w15 << 15)) ^ ((w15 >>> 19) | (w15 << 13)) ^ (w15 >>> 10))) | 0;
    g = (g + 0x2e1b2138 + w1 + (f ^ (d & (e ^ f))) +
      (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7)))) | 0;
    c = (c + g) | 0;
    ab = h ^ a;
    g = (g +
      ((a ^ (ab & bc)) +
        (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))))) | 0;
    bc = ab;
    // Round 34
    w2 = (w2 + (((w3 >>> 7) | (w3 << 25)) ^ ((w3 >>> 18) | (w3 << 14)) ^ (w3 >>> 3)) + w11 +
      (((w0 >>> 17) | (w0 << 15)) ^ ((w0 >>> 19) | (w0 << 13)) ^ (w0 >>> 10))) | 0;
    f = (f + 0x4d2c6dfc + w2 + (e ^ (c & (d ^ e))) +
      (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7)))) | 0;
    b = (b + f) | 0;
    ab = g ^ h;
    f = (f +
      ((h ^ (ab & bc)) +
        (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))))) | 0;
    bc = ab;
    // Round 35
    w3 = (w3 + (((w4 >>> 7) | (w4 << 25)) ^ ((w4 >>> 18) | (w4 << 14)) ^ (w4 >>> 3)) + w12 +
      (((w1 >>> 17) | (w1 << 15)) ^ ((w1 >>> 19) | (w1 << 13)) ^ (w1 >>> 10))) | 0;
    e = (e + 0x53380d13 + w3 + (d ^ (b & (c ^ d))) +
      (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7)))) | 0;
    a = (a + e) | 0;
    ab = f ^ g;
    e = (e +
      ((g ^ (ab & bc)) +
        (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))))) | 0;
    bc = ab;
    // Round 36
    w4 = (w4 + (((w5 >>> 7) | (w5 << 25)) ^ ((w5 >>> 18) | (w5 << 14)) ^ (w5 >>> 3)) + w13 +
      (((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10))) | 0;
    d = (d + 0x650a7354 + w4 + (c ^ (a & (b ^ c))) +
      (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7)))) | 0;
    h = (h + d) | 0;
    ab = e ^ f;
    d = (d +
      ((f ^ (ab & bc)) +
        (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))))) | 0;
    bc = ab;
    // Round 37
    w5 = (w5 + (((w6 >>> 7) | (w6 << 25)) ^ ((w6 >>> 18) | (w6 << 14)) ^ (w6 >>> 3)) + w14 +
      (((w3 >>> 17) | (w3 << 15)) ^ ((w3 >>> 19) | (w3 << 13)) ^ (w3 >>> 10))) | 0;
    c = (c + 0x766a0abb + w5 + (b ^ (h & (a ^ b))) +
      (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7)))) | 0;
    g = (g + c) | 0;
    ab = d ^ e;
    c = (c +
      ((e ^ (ab & bc)) +
        (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))))) | 0;
    bc = ab;
    // Round 38
    w6 = (w6 + (((w7 >>> 7) | (w7 << 25)) ^ ((w7 >>> 18) | (w7 << 14)) ^ (w7 >>> 3)) + w15 +
      (((w4 >>> 17) | (w4 << 15)) ^ ((w4 >>> 19) | (w4 << 13)) ^ (w4 >>> 10))) | 0;
    b = (b + 0x81c2c92e + w6 + (a ^ (g & (h ^ a))) +
      (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7)))) | 0;
    f = (f + b) | 0;
    ab = c ^ d;
    b = (b +
      ((d ^ (ab & bc)) +
        (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))))) | 0;
    bc = ab;
    // Round 39
    w7 = (w7 + (((w8 >>> 7) | (w8 << 25)) ^ ((w8 >>> 18) | (w8 << 14)) ^ (w8 >>> 3)) + w0 +
      (((w5 >>> 17) | (w5 << 15)) ^ ((w5 >>> 19) | (w5 << 13)) ^ (w5 >>> 10))) | 0;
    a = (a + 0x92722c85 + w7 + (h ^ (f & (g ^ h))) +
      (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7)))) | 0;
    e = (e + a) | 0;
    ab = b ^ c;
    a = (a +
      ((c ^ (ab & bc)) +
        (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))))) | 0;
    bc = ab;
    // Round 40
    w8 = (w8 + (((w9 >>> 7) | (w9 << 25)) ^ ((w9 >>> 18) | (w9 << 14)) ^ (w9 >>> 3)) + w1 +
      (((w6 >>> 17) | (w6 << 15)) ^ ((w6 >>> 19) | (w6 << 13)) ^ (w6 >>> 10))) | 0;
    h = (h + 0xa2bfe8a1 + w8 + (g ^ (e & (f ^ g))) +
      (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))) | 0;
    d = (d + h) | 0;
    ab = a ^ b;
    h = (h +
      ((b ^ (ab & bc)) +
        (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))))) | 0;
    bc = ab;
    // Round 41
    w9 = (w9 + (((w10 >>> 7) | (w10 << 25)) ^ ((w10 >>> 18) | (w10 << 14)) ^ (w10 >>> 3)) + w2 +
      (((w7 >>> 17) | (w7 << 15)) ^ ((w7 >>> 19) | (w7 << 13)) ^ (w7 >>> 10))) | 0;
    g = (g + 0xa81a664b + w9 + (f ^ (d & (e ^ f))) +
      (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7)))) | 0;
    c = (c + g) | 0;
    ab = h ^ a;
    g = (g +
      ((a ^ (ab & bc)) +
        (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))))) | 0;
    bc = ab;
    // Round 42
    w10 = (w10 + (((w11 >>> 7) | (w11 << 25)) ^ ((w11 >>> 18) | (w11 << 14)) ^ (w11 >>> 3)) + w3 +
      (((w8 >>> 17) | (w8 << 15)) ^ ((w8 >>> 19) | (w8 << 13)) ^ (w8 >>> 10))) | 0;
    f = (f + 0xc24b8b70 + w10 + (e ^ (c & (d ^ e))) +
      (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7)))) | 0;
    b = (b + f) | 0;
    ab = g ^ h;
    f = (f +
      ((h ^ (ab & bc)) +
        (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))))) | 0;
    bc = ab;
    // Round 43
    w11 = (w11 + (((w12 >>> 7) | (w12 << 25)) ^ ((w12 >>> 18) | (w12 << 14)) ^ (w12 >>> 3)) + w4 +
      (((w9 >>> 17) | (w9 << 15)) ^ ((w9 >>> 19) | (w9 << 13)) ^ (w9 >>> 10))) | 0;
    e = (e + 0xc76c51a3 + w11 + (d ^ (b & (c ^ d))) +
      (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7)))) | 0;
    a = (a + e) | 0;
    ab = f ^ g;
    e = (e +
      ((g ^ (ab & bc)) +
        (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))))) | 0;
    bc = ab;
    // Round 44
    w12 = (w12 + (((w13 >>> 7) | (w13 << 25)) ^ ((w13 >>> 18) | (w13 << 14)) ^ (w13 >>> 3)) + w5 +
      (((w10 >>> 17) | (w10 << 15)) ^ ((w10 >>> 19) | (w10 << 13)) ^ (w10 >>> 10))) | 0;
    d = (d + 0xd192e819 + w12 + (c ^ (a & (b ^ c))) +
      (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7)))) | 0;
    h = (h + d) | 0;
    ab = e ^ f;
    d = (d +
      ((f ^ (ab & bc)) +
        (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))))) | 0;
    bc = ab;
    // Round 45
    w13 = (w13 + (((w14 >>> 7) | (w14 << 25)) ^ ((w14 >>> 18) | (w14 << 14)) ^ (w14 >>> 3)) + w6 +
      (((w11 >>> 17) | (w11 << 15)) ^ ((w11 >>> 19) | (w11 << 13)) ^ (w11 >>> 10))) | 0;
    c = (c + 0xd6990624 + w13 + (b ^ (h & (a ^ b))) +
      (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7)))) | 0;
    g = (g + c) | 0;
    ab = d ^ e;
    c = (c +
      ((e ^ (ab & bc)) +
        (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))))) | 0;
    bc = ab;
    // Round 46
    w14 = (w14 + (((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3)) + w7 +
      (((w12 >>> 17) | (w12 << 15)) ^ ((w12 >>> 19) | (w12 << 13)) ^ (w12 >>> 10))) | 0;
    b = (b + 0xf40e3585 + w14 + (a ^ (g & (h ^ a))) +
      (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7)))) | 0;
    f = (f + b) | 0;
    ab = c ^ d;
    b = (b +
      ((d ^ (ab & bc)) +
        (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))))) | 0;
    bc = ab;
    // Round 47
    w15 = (w15 + (((w0 >>> 7) | (w0 << 25)) ^ ((w0 >>> 18) | (w0 << 14)) ^ (w0 >>> 3)) + w8 +
      (((w13 >>> 17) | (w13 << 15)) ^ ((w13 >>> 19) | (w13 << 13)) ^ (w13 >>> 10))) | 0;
    a = (a + 0x106aa070 + w15 + (h ^ (f & (g ^ h))) +
      (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7)))) | 0;
    e = (e + a) | 0;
    ab = b ^ c;
    a = (a +
      ((c ^ (ab & bc)) +
        (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))))) | 0;
    bc = ab;
    // Round 48
    w0 = (w0 + (((w1 >>> 7) | (w1 << 25)) ^ ((w1 >>> 18) | (w1 << 14)) ^ (w1 >>> 3)) + w9 +
      (((w14 >>> 17) | (w14 << 15)) ^ ((w14 >>> 19) | (w14 << 13)) ^ (w14 >>> 10))) | 0;
    h = (h + 0x19a4c116 + w0 + (g ^ (e & (f ^ g))) +
      (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))) | 0;
    d = (d + h) | 0;
    ab = a ^ b;
    h = (h +
      ((b ^ (ab & bc)) +
        (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))))) | 0;
    bc = ab;
    // Round 49
    w1 = (w1 + (((w2 >>> 7) | (w2 << 25)) ^ ((w2 >>> 18) | (w2 << 14)) ^ (w2 >>> 3)) + w10 +
      (((w15 >>> 17) | (w15 << 15)) ^ ((w15 >>> 19) | (w15 << 13)) ^ (w15 >>> 10))) | 0;
    g = (g + 0x1e376c08 + w1 + (f ^ (d & (e ^ f))) +
      (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7)))) | 0;
    c = (c + g) | 0;
    ab = h ^ a;
    g = (g +
      ((a ^ (ab & bc)) +
        (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))))) | 0;
    bc = ab;
    // Round 50
    w2 = (w2 + (((w3 >>> 7) | (w3 << 25)) ^ ((w3 >>> 18) | (w3 << 14)) ^ (w3 >>> 3)) + w11 +
      (((w0 >>> 17) | (w0 << 15)) ^ ((w0 >>> 19) | (w0 << 13)) ^ (w0 >>> 10))) | 0;
    f = (f + 0x2748774c + w2 + (e ^ (c & (d ^ e))) +
      (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7)))) | 0;
    b = (b + f) | 0;
    ab = g ^ h;
    f = (f +
      ((h ^ (ab & bc)) +
        (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))))) | 0;
    bc = ab;
    // Round 51
    w3 = (w3 + (((w4 >>> 7) | (w4 << 25)) ^ ((w4 >>> 18) | (w4 << 14)) ^ (w4 >>> 3)) + w12 +
      (((w1 >>> 17) | (w1 << 15)) ^ ((w1 >>> 19) | (w1 << 13)) ^ (w1 >>> 10))) | 0;
    e = (e + 0x34b0bcb5 + w3 + (d ^ (b & (c ^ d))) +
      (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7)))) | 0;
    a = (a + e) | 0;
    ab = f ^ g;
    e = (e +
      ((g ^ (ab & bc)) +
        (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))))) | 0;
    bc = ab;
    // Round 52
    w4 = (w4 + (((w5 >>> 7) | (w5 << 25)) ^ ((w5 >>> 18) | (w5 << 14)) ^ (w5 >>> 3)) + w13 +
      (((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10))) | 0;
    d = (d + 0x391c0cb3 + w4 + (c ^ (a & (b ^ c))) +
      (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7)))) | 0;
    h = (h + d) | 0;
    ab = e ^ f;
    d = (d +
      ((f ^ (ab & bc)) +
        (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))))) | 0;
    bc = ab;
    // Round 53
    w5 = (w5 + (((w6 >>> 7) | (w6 << 25)) ^ ((w6 >>> 18) | (w6 << 14)) ^ (w6 >>> 3)) + w14 +
      (((w3 >>> 17) | (w3 << 15)) ^ ((w3 >>> 19) | (w3 << 13)) ^ (w3 >>> 10))) | 0;
    c = (c + 0x4ed8aa4a + w5 + (b ^ (h & (a ^ b))) +
      (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7)))) | 0;
    g = (g + c) | 0;
    ab = d ^ e;
    c = (c +
      ((e ^ (ab & bc)) +
        (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))))) | 0;
    bc = ab;
    // Round 54
    w6 = (w6 + (((w7 >>> 7) | (w7 << 25)) ^ ((w7 >>> 18) | (w7 << 14)) ^ (w7 >>> 3)) + w15 +
      (((w4 >>> 17) | (w4 << 15)) ^ ((w4 >>> 19) | (w4 << 13)) ^ (w4 >>> 10))) | 0;
    b = (b + 0x5b9cca4f + w6 + (a ^ (g & (h ^ a))) +
      (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7)))) | 0;
    f = (f + b) | 0;
    ab = c ^ d;
    b = (b +
      ((d ^ (ab & bc)) +
        (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))))) | 0;
    bc = ab;
    // Round 55
    w7 = (w7 + (((w8 >>> 7) | (w8 << 25)) ^ ((w8 >>> 18) | (w8 << 14)) ^ (w8 >>> 3)) + w0 +
      (((w5 >>> 17) | (w5 << 15)) ^ ((w5 >>> 19) | (w5 << 13)) ^ (w5 >>> 10))) | 0;
    a = (a + 0x682e6ff3 + w7 + (h ^ (f & (g ^ h))) +
      (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7)))) | 0;
    e = (e + a) | 0;
    ab = b ^ c;
    a = (a +
      ((c ^ (ab & bc)) +
        (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))))) | 0;
    bc = ab;
    // Round 56
    w8 = (w8 + (((w9 >>> 7) | (w9 << 25)) ^ ((w9 >>> 18) | (w9 << 14)) ^ (w9 >>> 3)) + w1 +
      (((w6 >>> 17) | (w6 << 15)) ^ ((w6 >>> 19) | (w6 << 13)) ^ (w6 >>> 10))) | 0;
    h = (h + 0x748f82ee + w8 + (g ^ (e & (f ^ g))) +
      (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))) | 0;
    d = (d + h) | 0;
    ab = a ^ b;
    h = (h +
      ((b ^ (ab & bc)) +
        (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))))) | 0;
    bc = ab;
    // Round 57
    w9 = (w9 + (((w10 >>> 7) | (w10 << 25)) ^ ((w10 >>> 18) | (w10 << 14)) ^ (w10 >>> 3)) + w2 +
      (((w7 >>> 17) | (w7 << 15)) ^ ((w7 >>> 19) | (w7 << 13)) ^ (w7 >>> 10))) | 0;
    g = (g + 0x78a5636f + w9 + (f ^ (d & (e ^ f))) +
      (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7)))) | 0;
    c = (c + g) | 0;
    ab = h ^ a;
    g = (g +
      ((a ^ (ab & bc)) +
        (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))))) | 0;
    bc = ab;
    // Round 58
    w10 = (w10 + (((w11 >>> 7) | (w11 << 25)) ^ ((w11 >>> 18) | (w11 << 14)) ^ (w11 >>> 3)) + w3 +
      (((w8 >>> 17) | (w8 << 15)) ^ ((w8 >>> 19) | (w8 << 13)) ^ (w8 >>> 10))) | 0;
    f = (f + 0x84c87814 + w10 + (e ^ (c & (d ^ e))) +
      (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7)))) | 0;
    b = (b + f) | 0;
    ab = g ^ h;
    f = (f +
      ((h ^ (ab & bc)) +
        (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))))) | 0;
    bc = ab;
    // Round 59
    w11 = (w11 + (((w12 >>> 7) | (w12 << 25)) ^ ((w12 >>> 18) | (w12 << 14)) ^ (w12 >>> 3)) + w4 +
      (((w9 >>> 17) | (w9 << 15)) ^ ((w9 >>> 19) | (w9 << 13)) ^ (w9 >>> 10))) | 0;
    e = (e + 0x8cc70208 + w11 + (d ^ (b & (c ^ d))) +
      (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7)))) | 0;
    a = (a + e) | 0;
    ab = f ^ g;
    e = (e +
      ((g ^ (ab & bc)) +
        (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))))) | 0;
    bc = ab;
    // Round 60
    w12 = (w12 + (((w13 >>> 7) | (w13 << 25)) ^ ((w13 >>> 18) | (w13 << 14)) ^ (w13 >>> 3)) + w5 +
      (((w10 >>> 17) | (w10 << 15)) ^ ((w10 >>> 19) | (w10 << 13)) ^ (w10 >>> 10))) | 0;
    d = (d + 0x90befffa + w12 + (c ^ (a & (b ^ c))) +
      (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7)))) | 0;
    h = (h + d) | 0;
    ab = e ^ f;
    d = (d +
      ((f ^ (ab & bc)) +
        (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))))) | 0;
    bc = ab;
    // Round 61
    w13 = (w13 + (((w14 >>> 7) | (w14 << 25)) ^ ((w14 >>> 18) | (w14 << 14)) ^ (w14 >>> 3)) + w6 +
      (((w11 >>> 17) | (w11 << 15)) ^ ((w11 >>> 19) | (w11 << 13)) ^ (w11 >>> 10))) | 0;
    c = (c + 0xa4506ceb + w13 + (b ^ (h & (a ^ b))) +
      (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7)))) | 0;
    g = (g + c) | 0;
    ab = d ^ e;
    c = (c +
      ((e ^ (ab & bc)) +
        (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))))) | 0;
    bc = ab;
    // Round 62
    w14 = (w14 + (((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3)) + w7 +
      (((w12 >>> 17) | (w12 << 15)) ^ ((w12 >>> 19) | (w12 << 13)) ^ (w12 >>> 10))) | 0;
    b = (b + 0xbef9a3f7 + w14 + (a ^ (g & (h ^ a))) +
      (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7)))) | 0;
    f = (f + b) | 0;
    ab = c ^ d;
    b = (b +
      ((d ^ (ab & bc)) +
        (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))))) | 0;
    bc = ab;
    // Round 63
    w15 = (w15 + (((w0 >>> 7) | (w0 << 25)) ^ ((w0 >>> 18) | (w0 << 14)) ^ (w0 >>> 3)) + w8 +
      (((w13 >>> 17) | (w13 << 15)) ^ ((w13 >>> 19) | (w13 << 13)) ^ (w13 >>> 10))) | 0;
    a = (a + 0xc67178f2 + w15 + (h ^ (f & (g ^ h))) +
      (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7)))) | 0;
    e = (e + a) | 0;
    ab = b ^ c;
    a = (a +
      ((c ^ (ab & bc)) +
        (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))))) | 0;
    bc = ab;
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  state[0] = h0;
  state[1] = h1;
  state[2] = h2;
  state[3] = h3;
  state[4] = h4;
  state[5] = h5;
  state[6] = h6;
  state[7] = h7;
}

/**
 * An incremental SHA-256 hasher whose state can be saved with
 * {@link Sha256.snapshot} and restored by passing it to the constructor.
 *
 * @example Hashing in pieces, saving the state, and resuming from it
 * ```ts
 * import { Sha256 } from "./sha256.ts";
 * const enc = new TextEncoder();
 * const first = new Sha256().update(enc.encode("hello, "));
 * const saved = first.snapshot(); // e.g. written to a checkpoint file
 * const resumed = new Sha256(saved).update(enc.encode("world"));
 * console.log(resumed.hex());
 * // 09ca7e4eaa6e8ae9c7d261167129184883644d07dfba7cbfbc4c8a2e08360d5b
 * ```
 */
export class Sha256 {
  /** Chaining words H0..H7 as signed 32-bit values. */
  readonly #h = new Int32Array(8);
  /** Bytes fed but not yet compressed; only the first `#length % 64` matter. */
  readonly #buf = new Uint8Array(64);
  /** Total bytes fed. */
  #length = 0;

  /**
   * Starts a new hash, or resumes one from a saved state.
   *
   * @param state a state from {@link Sha256.snapshot} (possibly after a round
   *   trip through storage). It is copied, not retained.
   * @throws {RangeError} when `state` is malformed: `words` is not eight
   *   words long, `length` is not a safe non-negative integer, or
   *   `pending.length !== length % 64`.
   */
  constructor(state?: Sha256State) {
    if (state === undefined) {
      this.#h.set(IV);
      return;
    }
    const { words, length, pending } = state;
    if (!(words instanceof Uint32Array) || words.length !== 8) {
      throw new RangeError(
        `SHA-256 state must have 8 chaining words, got ${
          words instanceof Uint32Array ? words.length : typeof words
        }`,
      );
    }
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(
        `SHA-256 state length must be a safe non-negative integer, got ${length}`,
      );
    }
    if (!(pending instanceof Uint8Array) || pending.length !== length % 64) {
      throw new RangeError(
        `SHA-256 state for ${length} bytes must have ${length % 64} pending bytes, got ${
          pending instanceof Uint8Array ? pending.length : typeof pending
        }`,
      );
    }
    this.#h.set(words);
    this.#buf.set(pending);
    this.#length = length;
  }

  /** Total bytes fed so far (including those of a restored state). */
  get length(): number {
    return this.#length;
  }

  /**
   * Feeds more bytes. Any size works, including 0. `data` is not retained.
   *
   * @param data the next bytes of the message.
   * @returns this hasher, for chaining.
   * @throws {RangeError} when the total length would exceed
   *   `Number.MAX_SAFE_INTEGER` bytes.
   */
  update(data: Uint8Array): this {
    const n = data.length;
    if (n === 0) return this;
    const length = this.#length;
    if (n > Number.MAX_SAFE_INTEGER - length) {
      throw new RangeError("SHA-256 input longer than Number.MAX_SAFE_INTEGER bytes");
    }
    const buf = this.#buf;
    const h = this.#h;
    const used = length % 64;
    let pos = 0;
    if (used > 0) {
      const take = Math.min(64 - used, n);
      buf.set(take === n ? data : data.subarray(0, take), used);
      pos = take;
      if (used + take === 64) compress(h, buf, 0, 64);
    }
    // Not `& ~63`: bitwise operators would truncate lengths of 2^31 and more.
    const end = n - ((n - pos) % 64);
    if (end > pos) {
      compress(h, data, pos, end);
      pos = end;
    }
    if (pos < n) buf.set(data.subarray(pos), 0);
    this.#length = length + n;
    return this;
  }

  /**
   * A copy of the current state, for {@link Sha256.constructor} to resume from.
   * The copy shares nothing with this hasher.
   *
   * @returns the eight chaining words, the byte count and the pending bytes.
   */
  snapshot(): Sha256State {
    return {
      words: new Uint32Array(this.#h),
      length: this.#length,
      pending: this.#buf.slice(0, this.#length % 64),
    };
  }

  /**
   * The digest of everything fed so far. The running state is untouched, so
   * more bytes can be fed afterwards.
   *
   * @returns the 32-byte digest.
   */
  digest(): Uint8Array {
    const length = this.#length;
    const used = length % 64;
    const h = new Int32Array(this.#h);
    const block = new Uint8Array(used < 56 ? 64 : 128);
    block.set(this.#buf.subarray(0, used));
    block[used] = 0x80;
    // The message length in bits, as a 64-bit big-endian integer. It may
    // exceed 2^53 (and bitwise operators would truncate it to 32 bits), so
    // split the byte count into the high and low words arithmetically.
    const hi = Math.floor(length / BYTES_PER_HI_BIT_WORD);
    const lo = (length % BYTES_PER_HI_BIT_WORD) * 8;
    const view = new DataView(block.buffer);
    view.setUint32(block.length - 8, hi);
    view.setUint32(block.length - 4, lo);
    compress(h, block, 0, block.length);
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setInt32(i * 4, h[i]!);
    return out;
  }

  /**
   * The digest of everything fed so far, as lowercase hex. Like
   * {@link Sha256.digest}, it leaves the running state untouched.
   *
   * @returns 64 lowercase hex digits.
   */
  hex(): string {
    return toHex(this.digest());
  }
}

/** Lowercase hex of `bytes`. */
function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

/**
 * The SHA-256 of `data` as lowercase hex, in one call.
 *
 * @param data the whole message.
 * @returns 64 lowercase hex digits.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./sha256.ts";
 * console.log(sha256Hex(new TextEncoder().encode("abc")));
 * // ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
 * ```
 */
export function sha256Hex(data: Uint8Array): string {
  return new Sha256().update(data).hex();
}
