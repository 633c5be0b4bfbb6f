import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { haul, PartialHaulError } from "../../mod.ts";
import { haulWith } from "../../src/engine/haul.ts";
import { type Reply, startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, randomBody, withTempDir } from "../helpers/temp.ts";
import { join } from "node:path";

const DISPOSITION = "attachment; filename*=UTF-8''%E2%82%AC%20rates.csv; filename=\"../rates.csv\"";

function withName(honest: Reply): Reply {
  const headers = [...(honest.headers as [string, string][])];
  return { ...honest, headers: [...headers, ["Content-Disposition", DISPOSITION]] };
}

describe("HaulResult.suggestedName", () => {
  it("is the server's Content-Disposition name, made safe; dest is still the caller's", async () => {
    const body = randomBody(100_000);
    const server = await startResourceServer({ body }, (_req, honest) => withName(honest));
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "out.bin");
        const result = await haul(`${server.url}/dl?id=7`, { dest });
        assert.equal(result.suggestedName, "€ rates.csv");
        assert.equal(result.dest, dest);
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });

  it("is null without the header, and when dest is already there (no request)", async () => {
    const body = randomBody(1000);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        assert.equal((await haul(server.url, { dest })).suggestedName, null);
        await writeFile(join(dir, "b.bin"), body);
        const existing = await haul(server.url, { dest: join(dir, "b.bin") });
        assert.equal(existing.alreadyComplete, true);
        assert.equal(existing.suggestedName, null);
        assert.equal(server.requests.length, 1);
      });
    } finally {
      await server.close();
    }
  });

  it("comes from the 206 of a resumed download", async () => {
    const body = randomBody(1_000_000);
    const server = await startResourceServer({ body, etag: '"s1"' }, (req, honest) => {
      if (req.index === 0) return { ...honest, cutAfter: 300_000, cutLingerMs: 100 };
      return req.headers["range"] === undefined ? honest : withName(honest);
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "r.bin");
        assert.ok(await haul(server.url, { dest }).catch((e) => e) instanceof PartialHaulError);
        const result = await haul(server.url, { dest });
        assert.equal(result.resumedFrom, 300_000);
        assert.equal(result.suggestedName, "€ rates.csv");
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });

  it("over several connections: from the range responses when the first has none", async () => {
    const body = randomBody(1_000_000);
    const server = await startResourceServer({ body, etag: '"m1"' }, (req, honest) => {
      return req.headers["range"] === undefined ? honest : withName(honest);
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "m.bin");
        const result = await haulWith(server.url, { dest, connections: 4 }, {
          rangeFloor: 64 * 1024,
        });
        assert.ok(result.connections > 1, `connections ${result.connections}`);
        assert.equal(result.suggestedName, "€ rates.csv");
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });
});
