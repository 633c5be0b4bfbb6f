/**
 * `worker: true` is gone (issue 19): a call that still passes it is refused
 * with a `TypeError` naming the recipe, and the recipe itself (docs/api.md,
 * "haul in your own Worker") runs as written on Deno, Bun and Node. Its two
 * files are `tests/fixtures/recipe/`: the same code as the doc's blocks, but
 * for the import of haul (`@haul/haul` there, this checkout's `mod.ts` here).
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { haul, haulAll, haulWithRetry } from "../mod.ts";
import { haulOnThread, type ThreadError } from "./fixtures/recipe/haul_on_thread.ts";
import { startResourceServer, startScriptServer } from "./helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "./helpers/temp.ts";

const RECIPE = ["download_worker.ts", "haul_on_thread.ts"];

describe("haul in your own Worker (docs/api.md)", () => {
  it("the doc's blocks are the fixture's files, but for the import of haul", async () => {
    const doc = await readFile(new URL("../docs/api.md", import.meta.url), "utf8");
    for (const name of RECIPE) {
      const fixture = await readFile(new URL(`./fixtures/recipe/${name}`, import.meta.url), "utf8");
      const block = new RegExp("```ts\\n(// " + name.replace(".", "\\.") + ":[\\s\\S]*?)```")
        .exec(doc)?.[1];
      assert.ok(block !== undefined, `docs/api.md has no block starting "// ${name}:"`);
      assert.equal(block, fixture.replaceAll('"../../../mod.ts"', '"@haul/haul"'), name);
    }
  });

  it("downloads on the worker thread, with progress posted back", async () => {
    const body = randomBody(3 * 1024 * 1024 + 5);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        const seen: [number, number | null][] = [];
        const result = await haulOnThread(`${server.url}/a.bin`, dest, (valid, total) => {
          seen.push([valid, total]);
        });
        assert.equal(result.sha256, sha256(body));
        assert.equal(result.size, body.length);
        assert.deepEqual(await bytesOf(dest), body);
        assert.ok(seen.length > 0, "progress was posted back");
        assert.deepEqual(seen.at(-1), [body.length, body.length]);
      });
    } finally {
      await server.close();
    }
  });

  it("rejects with the name and message of haul's typed error", async () => {
    const server = await startScriptServer(() => ({ status: 404, body: "no such file" }));
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        const error = await haulOnThread(`${server.url}/a.bin`, dest).then(
          () => assert.fail("resolved"),
          (e: ThreadError) => e,
        );
        assert.equal(error.name, "UnexpectedStatusError");
        assert.match(error.message, /404/);
        assert.equal(error.retryable, false);
        assert.equal(exists(dest), false);
      });
    } finally {
      await server.close();
    }
  });
});

describe("worker: true, removed", () => {
  it("is a TypeError naming the recipe, before any request or file", async () => {
    const server = await startResourceServer({ body: randomBody(1000) });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        const old = { dest, worker: true } as never;
        for (
          const call of [
            () => haul(server.url, old),
            () => haulWithRetry(server.url, old),
            () => haulAll([{ url: server.url, dest }], { worker: true } as never),
          ]
        ) {
          await assert.rejects(call(), (error: unknown) => {
            assert.ok(error instanceof TypeError, String(error));
            assert.match(error.message, /worker: true was removed/);
            assert.match(error.message, /own Worker" in docs\/api\.md/);
            return true;
          });
        }
        assert.equal(server.requests.length, 0);
        assert.equal(exists(dest), false);
        assert.equal(exists(`${dest}.part`), false);
        // worker: false asked for what every call does now: it still works.
        const result = await haul(server.url, { dest, worker: false } as never);
        assert.equal(result.size, 1000);
      });
    } finally {
      await server.close();
    }
  });
});
