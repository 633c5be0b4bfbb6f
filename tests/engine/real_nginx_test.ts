/**
 * haul against nginx as servers are configured in the wild: `etag off` (Last-Modified only),
 * `max_ranges 0` (ranges ignored), a file replaced between a cut and its resume, `revalidate`,
 * `add_header Content-Disposition`, `maxBytesPerSecond`, and nginx's own cache (`proxy_cache`) in
 * front of nginx holding another version than the checkpoint. nginx must be installed: these tests
 * fail loudly otherwise (CI runs where it is). Each nginx listens on 127.0.0.1 with a config of its
 * own in a temp dir and is stopped at the end of its test. Every file is dated an hour back, so its
 * `Last-Modified` is a strong validator.
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, rename, stat, utimes, writeFile } from "node:fs/promises";
import { haul, haulStream, haulWithRetry } from "../../mod.ts";
import { firstCutAfter } from "../helpers/cutting_fetch.ts";
import { startNginx } from "../helpers/real_servers.ts";
import { bytesOf, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const MiB = 1024 * 1024;

/** Writes `body` to `path` by a rename (a new file, as a deploy replaces one), dated `age` s back. */
async function publish(path: string, body: Uint8Array, age = 3600): Promise<void> {
  await writeFile(`${path}.new`, body);
  const time = Date.now() / 1000 - age;
  await utimes(`${path}.new`, time, time);
  await rename(`${path}.new`, path);
}

/**
 * Starts a download of `url` into `dest`, read at 16 MiB/s, and stops it once `stopAt` bytes are
 * saved, leaving a checkpoint; returns the bytes saved.
 */
async function cutShort(url: string, dest: string, connections: number, stopAt = MiB) {
  const abort = new AbortController();
  let saved = 0;
  await assert.rejects(haul(url, {
    dest,
    connections,
    signal: abort.signal,
    maxBytesPerSecond: 16 * MiB,
    checkpointEvery: { bytes: 256 * 1024, ms: 10 },
    onProgress: (state) => {
      saved = state.validLength;
      if (saved >= stopAt) abort.abort(new Error("stopped by the test"));
    },
  }));
  return saved;
}

describe("real nginx", () => {
  it("etag off (Last-Modified only): four connections cut short, resumed whole with one and four", async () => {
    await withTempDir(async (dir) => {
      const www = join(dir, "www");
      await mkdir(www);
      const body = randomBody(12 * MiB);
      await publish(join(www, "f.bin"), body);
      const nginx = await startNginx(dir, [`root ${www}; etag off;`]);
      try {
        for (const connections of [1, 4]) {
          const dest = join(dir, `f${connections}.bin`);
          assert.ok(await cutShort(`${nginx.urls[0]}/f.bin`, dest, 4) > 0);
          const result = await haul(`${nginx.urls[0]}/f.bin`, { dest, connections });
          assert.ok(result.resumedFrom > 0, `resumed from ${result.resumedFrom}`);
          assert.equal(result.sha256, sha256(body));
          assert.equal(sha256(await bytesOf(dest)), sha256(body));
        }
      } finally {
        await nginx.stop();
      }
    });
  });

  it("max_ranges 0: four connections asked, one used; a resume gets a 200 and the file whole", async () => {
    await withTempDir(async (dir) => {
      const www = join(dir, "www");
      await mkdir(www);
      const body = randomBody(6 * MiB);
      await publish(join(www, "f.bin"), body);
      const nginx = await startNginx(dir, [`root ${www}; max_ranges 0;`]);
      try {
        const dest = join(dir, "f.bin");
        assert.ok(await cutShort(`${nginx.urls[0]}/f.bin`, dest, 4) > 0);
        const result = await haul(`${nginx.urls[0]}/f.bin`, { dest, connections: 4 });
        assert.equal(result.status, 200);
        assert.equal(result.connections, 1);
        assert.equal(result.resumedFrom, 0);
        assert.equal(sha256(await bytesOf(dest)), sha256(body));
      } finally {
        await nginx.stop();
      }
    });
  });

  it("a file replaced between a cut and its resume (new ETag, same length): the new file, whole", async () => {
    await withTempDir(async (dir) => {
      const www = join(dir, "www");
      await mkdir(www);
      const nginx = await startNginx(dir, [`root ${www};`]);
      try {
        for (const connections of [1, 4]) {
          const old = randomBody(12 * MiB);
          await publish(join(www, "f.bin"), old, 7200);
          const dest = join(dir, `f${connections}.bin`);
          await cutShort(`${nginx.urls[0]}/f.bin`, dest, connections);
          const replaced = randomBody(old.length);
          await publish(join(www, "f.bin"), replaced);
          const result = await haulWithRetry(`${nginx.urls[0]}/f.bin`, {
            dest,
            connections,
            minDelayMs: 10,
            maxDelayMs: 20,
          });
          assert.equal(result.resumedFrom, 0);
          assert.equal(sha256(await bytesOf(dest)), sha256(replaced));
        }
      } finally {
        await nginx.stop();
      }
    });
  });

  it("a file replaced within one second of mtime (nginx gives the same ETag): never spliced", async () => {
    // nginx's ETag is its mtime in whole seconds and its length: a file of the same length replaced
    // within the same second keeps it. Dated ahead of the response's Date, as a file modified in
    // the second of the request is, its Last-Modified is weak, and so must its ETag be.
    await withTempDir(async (dir) => {
      const www = join(dir, "www");
      await mkdir(www);
      const nginx = await startNginx(dir, [`root ${www};`]);
      try {
        for (const connections of [1, 4]) {
          const second = Math.floor(Date.now() / 1000) + 600;
          const old = randomBody(12 * MiB);
          await publish(join(www, "f.bin"), old, Date.now() / 1000 - second);
          const dest = join(dir, `f${connections}.bin`);
          await cutShort(`${nginx.urls[0]}/f.bin`, dest, connections);
          const replaced = randomBody(old.length);
          await publish(join(www, "f.bin"), replaced, Date.now() / 1000 - (second + 0.5));
          const result = await haul(`${nginx.urls[0]}/f.bin`, { dest, connections });
          assert.equal(sha256(await bytesOf(dest)), sha256(replaced));
          assert.equal(result.sha256, sha256(replaced));
          assert.equal(result.resumedFrom, 0);
        }
      } finally {
        await nginx.stop();
      }
    });
  });

  it("revalidate: 200 dates the file by Last-Modified, 304 keeps it, a newer file replaces it", async () => {
    await withTempDir(async (dir) => {
      const www = join(dir, "www");
      await mkdir(www);
      const first = randomBody(256 * 1024);
      await publish(join(www, "f.bin"), first, 7200);
      const nginx = await startNginx(dir, [`root ${www};`]);
      try {
        const url = `${nginx.urls[0]}/f.bin`;
        const dest = join(dir, "f.bin");
        const seconds = async (path: string) => Math.floor((await stat(path)).mtimeMs / 1000);
        assert.equal((await haul(url, { dest, revalidate: true })).status, 200);
        assert.equal(await seconds(dest), await seconds(join(www, "f.bin")));
        const unchanged = await haul(url, { dest, revalidate: true });
        assert.equal(unchanged.status, 304);
        assert.equal(unchanged.alreadyComplete, true);
        const second = randomBody(first.length);
        await publish(join(www, "f.bin"), second, 60);
        const changed = await haul(url, { dest, revalidate: true });
        assert.equal(changed.status, 200);
        assert.equal(sha256(await bytesOf(dest)), sha256(second));
        assert.equal(await seconds(dest), await seconds(join(www, "f.bin")));
      } finally {
        await nginx.stop();
      }
    });
  });

  it("add_header Content-Disposition: suggestedName is filename*, reduced to a safe base name", async () => {
    await withTempDir(async (dir) => {
      const www = join(dir, "www");
      await mkdir(www);
      await publish(join(www, "f.bin"), randomBody(1024));
      const nginx = await startNginx(dir, [
        `root ${www}; location /a/ { alias ${www}/; add_header Content-Disposition ` +
        `"attachment; filename=\\"report 2024.bin\\"; filename*=UTF-8''r%C3%A9sum%C3%A9.bin"; }` +
        ` location /b/ { alias ${www}/; add_header Content-Disposition ` +
        `"attachment; filename=\\"../../etc/.passwd\\""; }`,
      ]);
      try {
        const a = await haul(`${nginx.urls[0]}/a/f.bin`, { dest: join(dir, "a.bin") });
        assert.equal(a.suggestedName, "résumé.bin");
        const b = await haul(`${nginx.urls[0]}/b/f.bin`, { dest: join(dir, "b.bin") });
        assert.equal(b.suggestedName, "passwd");
      } finally {
        await nginx.stop();
      }
    });
  });

  it("maxBytesPerSecond over four connections: the rate is the limit (never above it by 10 %)", async () => {
    await withTempDir(async (dir) => {
      const www = join(dir, "www");
      await mkdir(www);
      const body = randomBody(16 * MiB);
      await publish(join(www, "f.bin"), body);
      const nginx = await startNginx(dir, [`root ${www};`]);
      try {
        const limit = 5 * MiB;
        const started = performance.now();
        const result = await haul(`${nginx.urls[0]}/f.bin`, {
          dest: join(dir, "f.bin"),
          connections: 4,
          maxBytesPerSecond: limit,
        });
        const rate = body.length / ((performance.now() - started) / 1000);
        assert.equal(result.sha256, sha256(body));
        assert.equal(result.connections, 4);
        assert.ok(rate <= limit * 1.1, `${(rate / MiB).toFixed(2)} MiB/s`);
        // A loaded machine may be slower; a limiter that waits far too long is not.
        assert.ok(rate >= limit * 0.5, `${(rate / MiB).toFixed(2)} MiB/s`);
      } finally {
        await nginx.stop();
      }
    });
  });

  it("through nginx's cache holding another version than the checkpoint: one version, whole", async () => {
    await withTempDir(async (dir) => {
      const www = join(dir, "www");
      await mkdir(www);
      const origin = await startNginx(join(dir, "o"), [`root ${www};`]);
      const cache = await startNginx(join(dir, "c"), [
        `location / { proxy_cache cache; proxy_cache_valid 200 1h; proxy_pass ${origin.urls[0]}; }`,
      ]).catch(async (error) => {
        await origin.stop();
        throw error;
      });
      try {
        for (const connections of [1, 4]) {
          // The checkpoint is of A (from the origin); the cache then holds B.
          const a = randomBody(8 * MiB);
          const name = `ab${connections}.bin`;
          await publish(join(www, name), a, 7200);
          const dest = join(dir, name);
          await cutShort(`${origin.urls[0]}/${name}`, dest, connections);
          const b = randomBody(a.length);
          await publish(join(www, name), b);
          await (await fetch(`${cache.urls[0]}/${name}`)).arrayBuffer();
          const viaCache = await haulWithRetry(`${cache.urls[0]}/${name}`, {
            dest,
            connections,
            minDelayMs: 10,
            maxDelayMs: 20,
          });
          assert.equal(viaCache.resumedFrom, 0);
          assert.equal(sha256(await bytesOf(dest)), sha256(b));
          // The cache holds C; the checkpoint is of D (the origin's newer file).
          const c = randomBody(8 * MiB);
          const other = `cd${connections}.bin`;
          await publish(join(www, other), c, 7200);
          await (await fetch(`${cache.urls[0]}/${other}`)).arrayBuffer();
          const d = randomBody(c.length);
          await publish(join(www, other), d);
          const otherDest = join(dir, other);
          await cutShort(`${origin.urls[0]}/${other}`, otherDest, connections);
          await haulWithRetry(`${cache.urls[0]}/${other}`, {
            dest: otherDest,
            connections,
            minDelayMs: 10,
            maxDelayMs: 20,
          });
          assert.equal(sha256(await bytesOf(otherDest)), sha256(c));
        }
        // A stream cut through the cache resumes with Range and If-Range: every byte once.
        const e = randomBody(6 * MiB);
        await publish(join(www, "e.bin"), e);
        const streamed = createHash("sha256");
        let length = 0;
        for await (
          const chunk of haulStream(`${cache.urls[0]}/e.bin`, {
            fetch: firstCutAfter(3 * MiB + 7),
            minDelayMs: 10,
            maxDelayMs: 20,
          })
        ) {
          streamed.update(chunk);
          length += chunk.length;
        }
        assert.equal(length, e.length);
        assert.equal(streamed.digest("hex"), sha256(e));
      } finally {
        await cache.stop();
        await origin.stop();
      }
    });
  });
});
