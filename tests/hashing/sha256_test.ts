import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Sha256, sha256Hex } from "../../src/hashing/sha256.ts";
import type { Sha256State } from "../../src/store/checkpoint.ts";

const enc = new TextEncoder();

/** SHA-256 of `data` by node:crypto, as hex. */
function nativeHex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A seeded PRNG (mulberry32): the same numbers on every run and runtime. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` pseudo-random bytes from `rand`. */
function randomBytes(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

/** A whole number in [lo, hi] from `rand`. */
function between(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

/** Feeds `data` to `hasher` in pieces of random sizes in [0, maxChunk]. */
function feedInChunks(hasher: Sha256, data: Uint8Array, rand: () => number, maxChunk: number) {
  let pos = 0;
  while (pos < data.length) {
    const n = Math.min(between(rand, 0, maxChunk), data.length - pos);
    hasher.update(data.subarray(pos, pos + n));
    pos += n;
  }
}

/** A deep copy of a state, as if it went through a checkpoint file and back. */
function roundTrip(state: Sha256State): Sha256State {
  return {
    words: Uint32Array.from(state.words),
    length: state.length,
    pending: Uint8Array.from(state.pending),
  };
}

// --- A deliberately plain reference SHA-256, independent of src/hashing/sha256.ts. ---
// It uses ordinary number arrays and BigInt for the message length, so it can
// finish a hash from an arbitrary state (including lengths beyond 2^32 bytes
// and bit lengths beyond 2^53) without sharing any code with the unit under test.

const REF_K: number[] = [];
{
  // FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube
  // roots of the first 64 primes, computed exactly with BigInt.
  const primes: number[] = [];
  for (let n = 2; primes.length < 64; n++) {
    if (primes.every((p) => n % p !== 0)) primes.push(n);
  }
  for (const p of primes) {
    // floor(cbrt(p) * 2^32) = floor(cbrt(p * 2^96)), by binary search.
    const target = BigInt(p) << 96n;
    let lo = 0n;
    let hi = 1n << 40n;
    while (lo < hi) {
      const mid = (lo + hi + 1n) / 2n;
      if (mid * mid * mid <= target) lo = mid;
      else hi = mid - 1n;
    }
    REF_K.push(Number(lo & 0xffffffffn));
  }
}
const REF_IV = [
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
];

function refRotr(x: number, n: number): number {
  return ((x >>> n) | (x << (32 - n))) >>> 0;
}

/** One compression of a 64-byte block into `h` (eight unsigned words), in place. */
function refCompress(h: number[], block: Uint8Array): void {
  const w: number[] = [];
  for (let t = 0; t < 16; t++) {
    w.push(
      ((block[4 * t]! << 24) | (block[4 * t + 1]! << 16) | (block[4 * t + 2]! << 8) |
        block[4 * t + 3]!) >>> 0,
    );
  }
  for (let t = 16; t < 64; t++) {
    const s0 = refRotr(w[t - 15]!, 7) ^ refRotr(w[t - 15]!, 18) ^ (w[t - 15]! >>> 3);
    const s1 = refRotr(w[t - 2]!, 17) ^ refRotr(w[t - 2]!, 19) ^ (w[t - 2]! >>> 10);
    w.push((w[t - 16]! + s0 + w[t - 7]! + s1) >>> 0);
  }
  let [a, b, c, d, e, f, g, hh] = h as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  for (let t = 0; t < 64; t++) {
    const S1 = refRotr(e, 6) ^ refRotr(e, 11) ^ refRotr(e, 25);
    const ch = (e & f) ^ (~e & g);
    const t1 = (hh + S1 + ch + REF_K[t]! + w[t]!) >>> 0;
    const S0 = refRotr(a, 2) ^ refRotr(a, 13) ^ refRotr(a, 22);
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) >>> 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) >>> 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) >>> 0;
  }
  const out = [a, b, c, d, e, f, g, hh];
  for (let i = 0; i < 8; i++) h[i] = (h[i]! + out[i]!) >>> 0;
}

/**
 * Finishes a hash from a state: feeds `more`, pads (FIPS 180-4 §5.1.1, the
 * bit length as a 64-bit big-endian BigInt) and returns the hex digest.
 */
function refFinish(
  words: readonly number[],
  length: number,
  pending: Uint8Array,
  more: Uint8Array,
) {
  const h = [...words];
  const bits = (BigInt(length) + BigInt(more.length)) * 8n;
  const tail = [...pending, ...more, 0x80];
  while (tail.length % 64 !== 56) tail.push(0);
  for (let i = 7; i >= 0; i--) tail.push(Number((bits >> BigInt(8 * i)) & 0xffn));
  const bytes = Uint8Array.from(tail);
  for (let i = 0; i < bytes.length; i += 64) refCompress(h, bytes.subarray(i, i + 64));
  return h.map((x) => x.toString(16).padStart(8, "0")).join("");
}

/** The reference SHA-256 of a whole message. */
function refHex(data: Uint8Array): string {
  const h = [...REF_IV];
  const full = data.length - (data.length % 64);
  for (let i = 0; i < full; i += 64) refCompress(h, data.subarray(i, i + 64));
  return refFinish(h, full, new Uint8Array(0), data.subarray(full));
}

describe("Sha256", () => {
  describe("known answers", () => {
    const vectors: [string, Uint8Array, string][] = [
      [
        "the empty message",
        new Uint8Array(0),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      ],
      [
        '"abc"',
        enc.encode("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      ],
      [
        "the 448-bit NIST message",
        enc.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
      ],
      [
        "the 896-bit NIST message",
        enc.encode(
          "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno" +
            "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        ),
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
      ],
      [
        "one million 'a' bytes",
        new Uint8Array(1_000_000).fill(0x61),
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
      ],
    ];
    for (const [name, data, expected] of vectors) {
      it(`hashes ${name} to the published digest, as node:crypto does`, () => {
        assert.equal(nativeHex(data), expected);
        assert.equal(sha256Hex(data), expected);
        assert.equal(new Sha256().update(data).hex(), expected);
        const bytes = new Sha256().update(data).digest();
        assert.equal(bytes.length, 32);
        assert.equal(Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""), expected);
      });
    }

    it("agrees with node:crypto for every message length from 0 to 300 bytes", () => {
      const data = randomBytes(prng(1), 300);
      for (let n = 0; n <= 300; n++) {
        assert.equal(sha256Hex(data.subarray(0, n)), nativeHex(data.subarray(0, n)), `length ${n}`);
      }
    });

    it("hashes a subarray view by its own bytes, not its underlying buffer", () => {
      const data = randomBytes(prng(2), 1000);
      const view = data.subarray(3, 3 + 517);
      assert.equal(sha256Hex(view), nativeHex(view.slice()));
    });
  });

  describe("chunked input", () => {
    it("matches node:crypto when random data arrives in random chunks of 0 to 200 bytes", () => {
      const rand = prng(0x5eed);
      for (let round = 0; round < 50; round++) {
        const data = randomBytes(rand, between(rand, 0, 5000));
        const hasher = new Sha256();
        feedInChunks(hasher, data, rand, 200);
        assert.equal(hasher.length, data.length);
        assert.equal(hasher.hex(), nativeHex(data), `round ${round}, ${data.length} bytes`);
      }
    });

    it("matches node:crypto when random data arrives in random chunks of 0 to 3 MiB", () => {
      const rand = prng(0xc0ffee);
      const data = randomBytes(rand, 7 * 1024 * 1024 + 37);
      for (let round = 0; round < 3; round++) {
        const hasher = new Sha256();
        feedInChunks(hasher, data, rand, 3 * 1024 * 1024);
        assert.equal(hasher.length, data.length);
        assert.equal(hasher.hex(), nativeHex(data), `round ${round}`);
      }
    });

    it("treats an empty update as a no-op", () => {
      const hasher = new Sha256().update(enc.encode("ab"));
      hasher.update(new Uint8Array(0)).update(enc.encode("c")).update(new Uint8Array(0));
      assert.equal(hasher.length, 3);
      assert.equal(hasher.hex(), nativeHex(enc.encode("abc")));
    });

    it("does not keep a reference to the bytes passed to update", () => {
      const rand = prng(3);
      const data = randomBytes(rand, 1000);
      const expected = nativeHex(data);
      for (const split of [1, 63, 64, 65, 130, 999]) {
        const scratch = data.slice(0, split);
        const hasher = new Sha256().update(scratch);
        scratch.fill(0xff); // the caller reuses its buffer
        hasher.update(data.subarray(split));
        assert.equal(hasher.hex(), expected, `split at ${split}`);
      }
    });
  });

  describe("snapshot and restore", () => {
    it("resumes from a snapshot at every offset from 0 to 200 and gets the one-shot digest", () => {
      const data = randomBytes(prng(4), 333);
      const expected = nativeHex(data);
      for (let cut = 0; cut <= 200; cut++) {
        const first = new Sha256().update(data.subarray(0, cut));
        const state = roundTrip(first.snapshot());
        assert.equal(state.length, cut);
        assert.equal(state.pending.length, cut % 64);
        const resumed = new Sha256(state);
        assert.equal(resumed.length, cut);
        resumed.update(data.subarray(cut));
        assert.equal(resumed.hex(), expected, `cut at ${cut}`);
      }
    });

    it("resumes through a chain of snapshots at random offsets of a 3 MiB message", () => {
      const rand = prng(5);
      const data = randomBytes(rand, 3 * 1024 * 1024 + 11);
      const expected = nativeHex(data);
      for (let round = 0; round < 5; round++) {
        const cuts = Array.from({ length: 8 }, () => between(rand, 0, data.length)).sort((a, b) =>
          a - b
        );
        let hasher = new Sha256();
        let pos = 0;
        for (const cut of cuts) {
          hasher.update(data.subarray(pos, cut));
          pos = cut;
          hasher = new Sha256(roundTrip(hasher.snapshot()));
          assert.equal(hasher.length, cut);
        }
        hasher.update(data.subarray(pos));
        assert.equal(hasher.hex(), expected, `cuts ${cuts.join(",")}`);
      }
    });

    it("starts a fresh hasher from the initial hash value with nothing pending", () => {
      const state = new Sha256().snapshot();
      assert.deepEqual(Array.from(state.words), REF_IV);
      assert.equal(state.length, 0);
      assert.equal(state.pending.length, 0);
    });

    it("gives snapshots that share nothing with the hasher", () => {
      const data = randomBytes(prng(6), 200);
      const hasher = new Sha256().update(data.subarray(0, 100));
      const state = hasher.snapshot();
      const frozen = roundTrip(state);
      hasher.update(data.subarray(100)); // moving on must not change the snapshot
      assert.deepEqual(state, frozen);
      const restored = new Sha256(state);
      state.words.fill(0); // nor may scribbling on the snapshot change the restored hasher
      state.pending.fill(0);
      restored.update(data.subarray(100));
      assert.equal(restored.hex(), nativeHex(data));
      assert.equal(hasher.hex(), nativeHex(data));
    });

    it("reports words as unsigned 32-bit values", () => {
      const state = new Sha256().update(randomBytes(prng(7), 640)).snapshot();
      assert.ok(state.words instanceof Uint32Array);
      assert.equal(state.words.length, 8);
      assert.ok(state.words.some((w) => w >= 0x80000000), "some word has its top bit set");
    });
  });

  describe("digest", () => {
    it("leaves the running state alone so hashing can continue afterwards", () => {
      const rand = prng(8);
      const data = randomBytes(rand, 5000);
      const hasher = new Sha256();
      let pos = 0;
      while (pos < data.length) {
        const n = Math.min(between(rand, 0, 300), data.length - pos);
        hasher.update(data.subarray(pos, pos + n));
        pos += n;
        const before = roundTrip(hasher.snapshot());
        assert.equal(hasher.hex(), nativeHex(data.subarray(0, pos)), `after ${pos} bytes`);
        assert.equal(hasher.hex(), nativeHex(data.subarray(0, pos)), "twice in a row");
        assert.deepEqual(hasher.snapshot(), before);
      }
      assert.equal(hasher.hex(), nativeHex(data));
    });

    it("returns a fresh array each time", () => {
      const hasher = new Sha256().update(enc.encode("abc"));
      const a = hasher.digest();
      a.fill(0);
      assert.equal(
        hasher.hex(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      );
    });
  });

  describe("malformed states", () => {
    const good = new Sha256().update(randomBytes(prng(9), 100)).snapshot();
    const cases: [string, Sha256State][] = [
      ["a pending part longer than length % 64", { ...good, pending: new Uint8Array(37) }],
      ["a pending part shorter than length % 64", { ...good, pending: new Uint8Array(35) }],
      ["pending bytes when length is a multiple of 64", {
        ...good,
        length: 128,
        pending: new Uint8Array(36),
      }],
      ["7 chaining words", { ...good, words: good.words.subarray(0, 7) }],
      ["9 chaining words", { ...good, words: new Uint32Array(9) }],
      ["a negative length", { ...good, length: -28, pending: new Uint8Array(36) }],
      ["a fractional length", { ...good, length: 100.5 }],
      ["a NaN length", { ...good, length: NaN }],
      ["an unsafe length (2^53)", { ...good, length: 2 ** 53, pending: new Uint8Array(0) }],
      ["an infinite length", { ...good, length: Infinity }],
    ];
    for (const [name, state] of cases) {
      it(`rejects a state with ${name} by throwing RangeError`, () => {
        assert.throws(() => new Sha256(state), RangeError);
      });
    }

    it("accepts the well-formed state those were derived from", () => {
      assert.equal(new Sha256(good).length, 100);
    });

    it("refuses to grow past Number.MAX_SAFE_INTEGER bytes", () => {
      const max = Number.MAX_SAFE_INTEGER;
      const hasher = new Sha256({
        words: new Uint32Array(8),
        length: max,
        pending: new Uint8Array(max % 64),
      });
      assert.throws(() => hasher.update(new Uint8Array(1)), RangeError);
      assert.equal(hasher.length, max, "the failed update changed nothing");
    });
  });

  describe("long messages", () => {
    it("has a reference implementation that itself agrees with node:crypto", () => {
      const rand = prng(10);
      for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 4097]) {
        const data = randomBytes(rand, n);
        assert.equal(refHex(data), nativeHex(data), `length ${n}`);
      }
    });

    // A message of 2^32 bytes or more cannot be hashed in a test, but its
    // digest depends only on the state before the final blocks. So restore a
    // state at such a length (arbitrary chaining words) and check the padding,
    // whose 64-bit length field is where large lengths go wrong, against the
    // BigInt reference.
    const lengths = [
      2 ** 32 - 3, // the length field crosses 2^32 bits long before this
      2 ** 32 - 8, // 2^35 - 64 bits: pending exactly 56 bytes, padding needs a second block
      2 ** 32,
      2 ** 32 + 5,
      2 ** 35 + 17, // 2^38 bits
      2 ** 35 - 1,
      2 ** 50 + 63,
      Number.MAX_SAFE_INTEGER, // 2^56 - 8 bits: beyond 2^53, the largest safe integer
    ];
    for (const length of lengths) {
      it(`finishes a ${length}-byte message with the right 64-bit bit length`, () => {
        const rand = prng(length % 1000003);
        const words = Uint32Array.from({ length: 8 }, () => Math.floor(rand() * 2 ** 32));
        const pending = randomBytes(rand, length % 64);
        const hasher = new Sha256({ words, length, pending });
        assert.equal(hasher.length, length);
        const nothingMore = new Uint8Array(0);
        assert.equal(hasher.hex(), refFinish(Array.from(words), length, pending, nothingMore));
        if (length < Number.MAX_SAFE_INTEGER - 200) {
          const more = randomBytes(rand, 150);
          hasher.update(more);
          assert.equal(hasher.length, length + 150);
          assert.equal(hasher.hex(), refFinish(Array.from(words), length, pending, more));
        }
      });
    }
  });
});
