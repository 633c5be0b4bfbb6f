/**
 * Bad input from a plain-JavaScript caller (no types to stop it) or a config file: each is a clear
 * `TypeError` or `RangeError` that `isRetryable()` refuses, before any request and before anything
 * is created on disk, or a typed outcome that loses nothing. One table pins what held when probed.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { haul, haulAll, haulStream, haulWithRetry, isRetryable } from "../../mod.ts";
import { haulWith } from "../../src/engine/haul.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { type RecordedOp, recordingFs } from "../helpers/recording_fs.ts";
import { exists, join, withTempDir } from "../helpers/temp.ts";

const BODY = new TextEncoder().encode("hello, haul\n");
const URL_ = "https://example.com/file.bin";

/** A fetch that answers every request with BODY, counting them. */
function countingFetch() {
  const requests: Request[] = [];
  const fetch = (request: Request) => {
    requests.push(request);
    return Promise.resolve(new Response(BODY, { headers: { etag: '"v1"' } }));
  };
  return { requests, fetch };
}

/** What `run` rejected with (a resolve fails the test). */
async function rejection(run: () => Promise<unknown>, what: string): Promise<unknown> {
  return await run().then(() => assert.fail(`${what}: resolved`), (error: unknown) => error);
}

/** A bad argument: a `TypeError` worded as haul's misuse (`Invalid …`), that no retry cures. */
function assertMisuse(error: unknown, what: string): void {
  assert.ok(error instanceof TypeError, `${what}: ${error}`);
  assert.match(error.message, /^Invalid /, what);
  assert.equal(isRetryable(error), false, `${what}: isRetryable`);
}

const untyped = (headers: unknown) => headers as HeadersInit;

/** Headers that no `Headers` takes, as config files and plain JavaScript pass them. */
const BAD_HEADERS: [string, unknown][] = [
  ["a value with a newline", { "x-token": "a\nb" }],
  ["a name with a space", { "x token": "a" }],
  ["null", null],
  ["a string", "x-token: a"],
  ["a number", 5],
  ["pairs of one", [["x-token"]]],
];

/** The same as a sources' URL that this runtime's `Request` refuses (Node: credentials). */
const CREDENTIALS_URL = "https://user:secret@example.com/file.bin";
const refusesCredentials = (() => {
  try {
    new Request(CREDENTIALS_URL);
    return false;
  } catch {
    return true;
  }
})();

describe("bad headers and URLs a Request refuses", () => {
  it("reject haul(), haulWithRetry() and haulStream() with a non-retryable TypeError, before any request or file", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "f.bin");
      const { requests, fetch } = countingFetch();
      for (const [name, headers] of BAD_HEADERS) {
        const options = { dest, fetch, headers: untyped(headers) };
        assertMisuse(await rejection(() => haul(URL_, options), name), `haul, ${name}`);
        const retried = await rejection(() => haulWithRetry(URL_, options), name);
        assertMisuse(retried, `haulWithRetry, ${name}`);
        assert.throws(() => haulStream(URL_, { fetch, headers: untyped(headers) }), (error) => {
          assertMisuse(error, `haulStream, ${name}`);
          return true;
        });
        // A function source is resolved only under the lock: its headers are checked before.
        const source = () => URL_;
        assertMisuse(await rejection(() => haul(source, options), name), `haul(fn), ${name}`);
      }
      assert.equal(requests.length, 0);
      assert.deepEqual(await readdir(dir), []);
    });
  });

  it("create nothing on disk before the TypeError (not even the lock)", async () => {
    await withTempDir(async (dir) => {
      const log: RecordedOp[] = [];
      const fs = recordingFs(await defaultFs(), log);
      const { fetch } = countingFetch();
      const dest = join(dir, "f.bin");
      for (const [name, headers] of BAD_HEADERS) {
        const options = { dest, fetch, headers: untyped(headers) };
        assertMisuse(await rejection(() => haulWith(URL_, options, { fs }), name), name);
      }
      assert.deepEqual(log.map(({ op, path }) => `${op} ${path}`), []);
    });
  });

  it("a URL with credentials: downloaded where this runtime's Request takes it, else refused as misuse before any file", async () => {
    await withTempDir(async (dir) => {
      const log: RecordedOp[] = [];
      const fs = recordingFs(await defaultFs(), log);
      const { requests, fetch } = countingFetch();
      const dest = join(dir, "f.bin");
      if (!refusesCredentials) {
        const result = await haulWith(CREDENTIALS_URL, { dest, fetch }, { fs });
        assert.equal(result.size, BODY.length);
        assert.equal(requests.length, 1);
        return;
      }
      for (const call of [haul, haulWithRetry]) {
        const error = await rejection(() => call(CREDENTIALS_URL, { dest, fetch }), call.name);
        assertMisuse(error, call.name);
        assert.doesNotMatch((error as Error).message, /secret/, "the password is not repeated");
      }
      assertMisuse(
        await rejection(() => haulWith(CREDENTIALS_URL, { dest, fetch }, { fs }), "haulWith"),
        "haulWith",
      );
      assert.throws(() => haulStream(CREDENTIALS_URL, { fetch }), (error) => {
        assertMisuse(error, "haulStream");
        return true;
      });
      assert.equal(requests.length, 0);
      assert.deepEqual(log, []);
      assert.equal(exists(dest), false);
    });
  });
});

describe("haulAll() callbacks that are not functions", () => {
  for (const name of ["onProgress", "onItemDone", "onRetry"]) {
    it(`${name}: a TypeError before any request or file, not after the downloads`, async () => {
      await withTempDir(async (dir) => {
        const { requests, fetch } = countingFetch();
        const items = [{ url: URL_, dest: join(dir, "f.bin") }];
        const run = () => haulAll(items, { fetch, [name]: "log" });
        const error = await rejection(run, name);
        assertMisuse(error, name);
        assert.match((error as Error).message, new RegExp(`^Invalid options: ${name} `));
        assert.equal(requests.length, 0);
        assert.deepEqual(await readdir(dir), []);
      });
    });
  }
});
