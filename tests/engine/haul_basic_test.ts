import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { haul, HaulState, PartialHaulError } from "../../mod.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

describe("haul() basics", () => {
  it("downloads a file with one request and leaves no sidecars", async () => {
    const body = randomBody(3 * 1024 * 1024 + 17);
    const server = await startResourceServer({ body, etag: '"abc"', contentType: "x/y" });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const result = await haul(`${server.url}/file.bin`, { dest });
        assert.equal(server.requests.length, 1);
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(result.sha256, sha256(body));
        assert.equal(result.size, body.length);
        assert.equal(result.etag, '"abc"');
        assert.equal(result.contentType, "x/y");
        assert.equal(result.status, 200);
        assert.equal(result.resumedFrom, 0);
        assert.equal(result.alreadyComplete, false);
        assert.ok(result.elapsedMs >= 0);
        for (const suffix of [".part", ".part.ctrl", ".part.ctrl.tmp", ".part.lock"]) {
          assert.equal(exists(dest + suffix), false, suffix);
        }
        const sent = server.requests[0]!.headers;
        assert.equal(sent["accept-encoding"], "identity");
        assert.equal(sent["cache-control"], "no-transform");
        assert.equal(sent["range"], undefined);
      });
    } finally {
      await server.close();
    }
  });

  it("resumes after a cut with Range and If-Range and produces the right file", async () => {
    const body = randomBody(2 * 1024 * 1024);
    let cut = true;
    const server = await startResourceServer({ body, etag: '"strong-1"' }, (req, honest) => {
      if (req.index === 0 && cut) return { ...honest, cutAfter: 700_000, cutLingerMs: 150 };
      return honest;
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const first = await haul(server.url, { dest }).catch((e) => e);
        assert.ok(first instanceof PartialHaulError, String(first));
        assert.equal(exists(dest), false);
        assert.equal(exists(dest + ".part"), true);
        assert.equal(exists(dest + ".part.ctrl"), true);
        assert.equal(first.validLength, 700_000);
        cut = false;
        const result = await haul(server.url, { dest });
        assert.deepEqual(await bytesOf(dest), body);
        assert.equal(result.sha256, sha256(body));
        assert.equal(result.resumedFrom, 700_000);
        assert.equal(result.status, 206);
        const second = server.requests[1]!.headers;
        assert.equal(second["range"], "bytes=700000-");
        assert.equal(second["if-range"], '"strong-1"');
        assert.equal(exists(dest + ".part.ctrl"), false);
      });
    } finally {
      await server.close();
    }
  });

  it("returns alreadyComplete without a request when dest exists", async () => {
    const body = randomBody(1000);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "have.bin");
        const existing = randomBody(4321);
        await writeFile(dest, existing);
        const state = new HaulState();
        const result = await haul(server.url, { dest, state });
        assert.equal(server.requests.length, 0);
        assert.equal(result.alreadyComplete, true);
        assert.equal(result.sha256, null, "not read: no integrity was given");
        assert.equal(result.size, 4321);
        assert.equal(state.isComplete, true);
        const again = await haul(server.url, { dest, overwrite: true });
        assert.equal(server.requests.length, 1);
        assert.equal(again.alreadyComplete, false);
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });
});
