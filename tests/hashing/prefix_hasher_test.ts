import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { PrefixHasher } from "../../src/hashing/prefix_hasher.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import type { ShimFile } from "../../src/runtime/fs_shim.ts";
import { createNativeHash } from "../../src/runtime/native_hash.ts";
import { join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

/** `body` as a `.part`, opened with the bytes read back from it counted, for `use`. */
async function withCountedPart(
  body: Uint8Array,
  use: (file: ShimFile, readBack: () => number) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const path = join(dir, "f.part");
    await writeFile(path, body);
    const real = await (await defaultFs()).open(path, "readwrite");
    let readBack = 0;
    const file: ShimFile = {
      ...real,
      read: (view, at) => real.read(view, at).then((n) => (readBack += n, n)),
    };
    try {
      await use(file, () => readBack);
    } finally {
      await real.close();
    }
  });
}

describe("PrefixHasher", () => {
  it("hashes the written prefix as it moves, and the digest is sha256sum's", async () => {
    const body = randomBody(3 * 1024 * 1024 + 17);
    await withTempDir(async (dir) => {
      const path = join(dir, "f.part");
      await writeFile(path, body);
      const fs = await defaultFs();
      const file = await fs.open(path, "readwrite");
      try {
        const hasher = new PrefixHasher(file, createNativeHash());
        for (const end of [1000, 500, 2 << 20, 2 << 20, body.length - 1]) hasher.advance(end);
        assert.equal((await hasher.digests(body.length)).sha256, sha256(body));
        assert.equal(hasher.position, body.length);
      } finally {
        await file.close();
      }
    });
  });

  it("never loses an advance that comes while a read-back is ending", async () => {
    // The prefix grows right after a read-back's last read, a few microtasks
    // later each time, so that one of them lands after the read-back's loop
    // ended and before it settled: the digest must still cover every byte.
    const body = randomBody(64 * 1024);
    const first = 1000;
    await withTempDir(async (dir) => {
      const path = join(dir, "f.part");
      await writeFile(path, body);
      const fs = await defaultFs();
      const real = await fs.open(path, "readwrite");
      try {
        for (let hops = 0; hops < 24; hops++) {
          let digest: Promise<string> | null = null;
          let hasher: PrefixHasher | null = null;
          const file: ShimFile = {
            ...real,
            read: async (view, at) => {
              const n = await real.read(view, at);
              if (digest === null && at + n >= first) {
                let later = Promise.resolve();
                for (let i = 0; i < hops; i++) later = later.then(() => {});
                digest = later.then(() => hasher!.digests(body.length).then((d) => d.sha256));
              }
              return n;
            },
          };
          hasher = new PrefixHasher(file, createNativeHash());
          hasher.advance(first);
          for (let i = 0; i < 100 && digest === null; i++) {
            await new Promise((resolve) => setTimeout(resolve, 1));
          }
          assert.ok(digest !== null, "the read-back never read");
          assert.equal(await digest, sha256(body), `advance ${hops} microtasks after the read`);
        }
      } finally {
        await real.close();
      }
    });
  });

  it("hashes from memory the bytes offered where the hash stands, and reads back only the others", async () => {
    const piece = 256 * 1024;
    const body = randomBody(8 * piece + 5);
    const at = (i: number) => Math.min(i * piece, body.length);
    await withCountedPart(body, async (file, readBack) => {
      // In order, each piece offered before it is written: nothing is read back.
      const inOrder = new PrefixHasher(file, createNativeHash());
      for (let i = 0; i < 9; i++) {
        inOrder.offer(body.subarray(at(i), at(i + 1)), at(i));
        inOrder.advance(at(i + 1));
      }
      assert.equal((await inOrder.digests(body.length)).sha256, sha256(body));
      assert.equal(readBack(), 0);

      // Pieces 4 and 5 land first (another range): they are read back once
      // the prefix reaches them, and the head's own pieces are not.
      const mixed = new PrefixHasher(file, createNativeHash());
      for (const i of [4, 5]) mixed.offer(body.subarray(at(i), at(i + 1)), at(i));
      for (let i = 0; i < 4; i++) {
        mixed.offer(body.subarray(at(i), at(i + 1)), at(i));
        mixed.advance(at(i + 1));
      }
      assert.equal(mixed.position, 4 * piece);
      mixed.advance(at(6)); // 4 and 5 are written: read back
      assert.equal((await mixed.digests(at(6))).sha256, sha256(body.subarray(0, at(6))));
      assert.equal(readBack(), 2 * piece);
    });
  });

  it("hashes chunks as they arrive, and a buffer offered later only for its bytes not yet hashed", async () => {
    const body = randomBody(300_000);
    await withCountedPart(body, async (file, readBack) => {
      const hasher = new PrefixHasher(file, createNativeHash());
      hasher.take(body.subarray(0, 70_000), 0);
      hasher.take(body.subarray(90_000, 100_000), 90_000); // not next: left to the offer
      assert.equal(hasher.position, 70_000);
      // The buffer of bytes 0–150,000 before its write: only 70,000–150,000 is new.
      await hasher.offer(body.subarray(0, 150_000), 0);
      assert.equal(hasher.position, 150_000);
      hasher.take(body.subarray(150_000), 150_000);
      hasher.advance(body.length);
      assert.equal((await hasher.digests(body.length)).sha256, sha256(body));
      assert.equal(readBack(), 0);
    });
  });

  it("does not hash twice the bytes offered while a read-back of them is in flight", async () => {
    const body = randomBody(300 * 1024);
    const half = 150 * 1024;
    await withTempDir(async (dir) => {
      const path = join(dir, "f.part");
      await writeFile(path, body);
      const fs = await defaultFs();
      const real = await fs.open(path, "readwrite");
      let reads = 0;
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      const file: ShimFile = {
        ...real,
        read: async (view, at) => {
          reads++;
          await gate; // the read-back read stays in flight
          return await real.read(view, at);
        },
      };
      try {
        const hasher = new PrefixHasher(file, createNativeHash());
        hasher.advance(half); // [0, half) was written by another range: read back
        await new Promise((resolve) => setTimeout(resolve, 5));
        assert.equal(reads, 1);
        // Where the hash stands, but the read in flight brings those bytes.
        hasher.offer(body.subarray(0, half), 0);
        assert.equal(hasher.position, 0);
        release();
        assert.equal((await hasher.digests(half)).sha256, sha256(body.subarray(0, half)));
      } finally {
        await real.close();
      }
    });
  });

  it("reports a .part shorter than the prefix it was told was written", async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "f.part");
      await writeFile(path, randomBody(1000));
      const fs = await defaultFs();
      const file = await fs.open(path, "readwrite");
      try {
        const hasher = new PrefixHasher(file, createNativeHash());
        await assert.rejects(hasher.digests(5000), /\.part ended at byte 1000/);
      } finally {
        await file.close();
      }
    });
  });

  it("stops on close without throwing", async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "f.part");
      await writeFile(path, randomBody(4 << 20));
      const fs = await defaultFs();
      const file = await fs.open(path, "readwrite");
      try {
        const hasher = new PrefixHasher(file, createNativeHash());
        hasher.advance(4 << 20);
        await hasher.close();
        assert.ok(hasher.position <= 4 << 20);
      } finally {
        await file.close();
      }
    });
  });
});
