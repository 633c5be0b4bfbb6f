/**
 * haul against real servers on this machine: nginx 1.22 and Python's `http.server` (HTTP/1.0, no
 * ranges, a close after each response). Both must be installed: these tests fail loudly otherwise
 * (CI runs where both are). Each server listens on 127.0.0.1 with a config of its own in a temp
 * dir and is stopped at the end of its test.
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import { haul, haulStream } from "../../mod.ts";
import { haulWith } from "../../src/engine/haul.ts";
import { freePort } from "../../scripts/bench/server.ts";
import { type Running, serve, startNginx } from "../helpers/real_servers.ts";
import { bytesOf, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const KiB = 1024;

/** `python3 -m http.server` serving `root`: HTTP/1.0, no ranges, `Last-Modified` and no ETag. */
async function startPython(root: string): Promise<Running> {
  try {
    execFileSync("python3", ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error("python3 is not installed: these tests need it");
  }
  const port = await freePort();
  return await serve("python3", ["-m", "http.server", String(port), "--bind", "127.0.0.1"], root, [
    port,
  ]);
}

describe("real servers", () => {
  it("a checkpoint of several ranges, resumed where ranges are no longer served, downloads whole", async () => {
    await withTempDir(async (dir) => {
      const www = join(dir, "www");
      await mkdir(www);
      const body = randomBody(2048 * KiB);
      await writeFile(join(www, "f.bin"), body);
      const dest = join(dir, "out", "f.bin");
      await mkdir(join(dir, "out"));
      // nginx, slowed per connection, splits the file into four ranges; the call is stopped while
      // every range is under way, leaving a checkpoint of several ranges.
      const nginx = await startNginx(dir, [`root ${www}; limit_rate 512k;`]);
      try {
        const abort = new AbortController();
        const timer = setTimeout(() => abort.abort(new Error("stopped")), 600);
        await assert.rejects(haulWith(`${nginx.urls[0]}/f.bin`, {
          dest,
          connections: 4,
          signal: abort.signal,
          checkpointEvery: { bytes: 32 * KiB, ms: 5 },
        }, { rangeFloor: 64 * KiB }));
        clearTimeout(timer);
      } finally {
        await nginx.stop();
      }
      assert.ok((await readdir(join(dir, "out"))).includes("f.bin.part.ctrl"));
      // The same file (same Last-Modified) from a server that answers every range with a 200.
      const python = await startPython(www);
      try {
        const result = await haul(`${python.urls[0]}/f.bin`, { dest, connections: 4 });
        assert.equal(result.sha256, sha256(body));
        assert.equal(sha256(await bytesOf(dest)), sha256(body));
        assert.deepEqual(await readdir(join(dir, "out")), ["f.bin"]);
      } finally {
        await python.stop();
      }
    });
  });

  it("nginx gzip on, one range a request: four connections and a stream get the file as it is", async () => {
    await withTempDir(async (dir) => {
      const www = join(dir, "www");
      await mkdir(www);
      const body = new Uint8Array(6144 * KiB).fill(97); // compressible: gzip would shrink it
      await writeFile(join(www, "f.txt"), body);
      const hourAgo = Date.now() / 1000 - 3600; // a file of this second has no strong ETag here
      await utimes(join(www, "f.txt"), hourAgo, hourAgo);
      const nginx = await startNginx(dir, [
        `root ${www}; gzip on; gzip_types *; gzip_min_length 1; max_ranges 1;`,
      ]);
      try {
        const dest = join(dir, "f.txt");
        const result = await haulWith(`${nginx.urls[0]}/f.txt`, { dest, connections: 4 }, {
          rangeFloor: 64 * KiB,
        });
        assert.equal(result.connections, 4);
        assert.equal(sha256(await bytesOf(dest)), sha256(body));
        assert.equal(result.sha256, sha256(body));
        let streamed = 0;
        for await (const chunk of haulStream(`${nginx.urls[0]}/f.txt`)) streamed += chunk.length;
        assert.equal(streamed, body.length);
      } finally {
        await nginx.stop();
      }
    });
  });

  it("python3 -m http.server (HTTP/1.0, no ranges): four connections asked, one used, the file whole", async () => {
    await withTempDir(async (dir) => {
      const body = randomBody(1024 * KiB);
      await writeFile(join(dir, "f.bin"), body);
      const python = await startPython(dir);
      try {
        const dest = join(dir, "out.bin");
        const result = await haul(`${python.urls[0]}/f.bin`, { dest, connections: 4 });
        assert.equal(result.connections, 1);
        assert.equal(result.sha256, sha256(body));
        assert.equal(sha256(await bytesOf(dest)), sha256(body));
      } finally {
        await python.stop();
      }
    });
  });
});
