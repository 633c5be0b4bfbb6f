import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { PrefixHasher } from "../../src/hashing/prefix_hasher.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import type { ShimFile } from "../../src/runtime/fs_shim.ts";
import { createNativeHash } from "../../src/runtime/native_hash.ts";
import { join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

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
        assert.equal(await hasher.digestHex(body.length), sha256(body));
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
                digest = later.then(() => hasher!.digestHex(body.length));
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

  it("reports a .part shorter than the prefix it was told was written", async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, "f.part");
      await writeFile(path, randomBody(1000));
      const fs = await defaultFs();
      const file = await fs.open(path, "readwrite");
      try {
        const hasher = new PrefixHasher(file, createNativeHash());
        await assert.rejects(hasher.digestHex(5000), /\.part ended at byte 1000/);
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
