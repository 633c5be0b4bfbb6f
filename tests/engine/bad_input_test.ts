/**
 * Bad input from a plain-JavaScript caller (no types to stop it) or a config file: each is a clear
 * `TypeError` or `RangeError` that `isRetryable()` refuses, before any request and before anything
 * is created on disk, or a typed outcome that loses nothing. One table pins what held when probed.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { readdir, readFile, writeFile } from "node:fs/promises";
import process from "node:process";
import { Readable } from "node:stream";
import {
  DestinationError,
  haul,
  haulAll,
  haulStream,
  haulWithRetry,
  isRetryable,
} from "../../mod.ts";
import { haulWith } from "../../src/engine/haul.ts";
import { defaultFs } from "../../src/runtime/default_fs.ts";
import { type RecordedOp, recordingFs } from "../helpers/recording_fs.ts";
import { cuttingFetch } from "../helpers/cutting_fetch.ts";
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

describe("a Request that is not a GET", () => {
  it("is a non-retryable TypeError before any request or file, whether dest exists or not", async () => {
    await withTempDir(async (dir) => {
      const log: RecordedOp[] = [];
      const fs = recordingFs(await defaultFs(), log);
      const { requests, fetch } = countingFetch();
      const dest = join(dir, "f.bin");
      const there = join(dir, "there.bin");
      await writeFile(there, "an older file");
      for (const method of ["POST", "HEAD", "PUT"]) {
        const request = () => new Request(URL_, { method, body: method === "HEAD" ? null : "x" });
        for (
          const [name, run] of [
            ["haul", () => haul(request(), { dest, fetch })],
            ["haul, dest there", () => haul(request(), { dest: there, fetch })],
            ["haul, revalidate", () => haul(request(), { dest: there, fetch, revalidate: true })],
            ["haulWithRetry", () => haulWithRetry(request(), { dest, fetch })],
            ["haulWith", () => haulWith(request(), { dest, fetch }, { fs })],
            ["haulWith(fn)", () => haulWith(() => request(), { dest, fetch }, { fs })],
          ] as const
        ) {
          log.length = 0;
          const error = await rejection(run, `${method}, ${name}`);
          assertMisuse(error, `${method}, ${name}`);
          assert.match((error as Error).message, new RegExp(`GET, not ${method}`));
          // A function source is called under the lock: the others create nothing, not even it.
          if (name === "haulWith") assert.deepEqual(log, [], `${method}, ${name}`);
        }
        assert.throws(() => haulStream(request(), { fetch }), (error) => {
          assertMisuse(error, `${method}, haulStream`);
          return true;
        });
      }
      assert.equal(requests.length, 0);
      assert.deepEqual(await readdir(dir), ["there.bin"]);
    });
  });
});

describe("a caller's fetch that gives no Response, with a body of no cancel()", () => {
  for (const body of ["a string", {}, 42]) {
    it(`rejects with a TypeError and leaves no unhandled rejection (${JSON.stringify(body)})`, async () => {
      await withTempDir(async (dir) => {
        const unhandled: unknown[] = [];
        const onUnhandled = (reason: unknown) => void unhandled.push(reason);
        process.on("unhandledRejection", onUnhandled);
        try {
          const fetch = () => Promise.resolve({ status: 200, body } as unknown as Response);
          const error = await rejection(() => haul(URL_, { dest: join(dir, "a"), fetch }), "haul");
          assertMisuse(error, "haul");
          await new Promise((resolve) => setTimeout(resolve, 50)); // a late rejection's turn
        } finally {
          process.off("unhandledRejection", onUnhandled);
        }
        assert.deepEqual(unhandled.map(String), []);
        assert.deepEqual(await readdir(dir), []);
      });
    });
  }
});

describe("a caller's fetch that gives a Response-like object of no web stream", () => {
  /** node-fetch 2's `Response`: `headers.get()`, but its body is a Node stream. */
  const nodeFetch2 = () => ({
    status: 200,
    ok: true,
    headers: new Headers({ "content-length": "12" }),
    body: Readable.from([Buffer.from(BODY)]),
  });
  const shapes: [string, () => unknown][] = [
    ["node-fetch 2", nodeFetch2],
    ["a string body", () => ({ ...nodeFetch2(), body: "hello, haul\n" })],
    ["a body of no reader", () => ({ ...nodeFetch2(), body: {} })],
  ];
  for (const [name, make] of shapes) {
    it(`${name}: a non-retryable TypeError, asked once, nothing left`, async () => {
      await withTempDir(async (dir) => {
        let calls = 0;
        const fetch = () => (calls++, Promise.resolve(make() as Response));
        for (const call of [haul, haulWithRetry]) {
          const run = () => call(URL_, { dest: join(dir, "a"), fetch, minDelayMs: 1 });
          const error = await rejection(run, call.name);
          assertMisuse(error, `${call.name}, ${name}`);
          assert.match((error as Error).message, /^Invalid options: fetch gave /);
        }
        const body = haulStream(URL_, { fetch, minDelayMs: 1 });
        assertMisuse(await rejection(() => new Response(body).text(), "haulStream"), "haulStream");
        assert.equal(calls, 3, "each asked once");
        assert.deepEqual(await readdir(dir), []);
      });
    });
  }
});

describe("a dest that is another download's .part, checkpoint or lock", () => {
  it("is refused before any request while that download is there (paused), and taken once it is done", async () => {
    await withTempDir(async (dir) => {
      const body = new Uint8Array(100_000).map((_, i) => i % 251);
      const g = join(dir, "g.bin");
      const cut = cuttingFetch(body, () => 50_000, [], '"g1"');
      await rejection(() => haul(URL_, { dest: g, fetch: cut }), "the cut download of g");
      const paused = new Uint8Array(await readFile(`${g}.part`));
      assert.ok(paused.length > 0 && exists(`${g}.part.ctrl`), "g's download is paused on disk");
      const { requests, fetch } = countingFetch();
      for (const suffix of [".part", ".part.ctrl"]) {
        for (const overwrite of [false, true]) {
          const what = `${suffix}, overwrite ${overwrite}`;
          const error = await rejection(
            () => haul(URL_, { dest: g + suffix, fetch, overwrite }),
            what,
          );
          assert.ok(error instanceof DestinationError, `${what}: ${error}`);
          assert.match(error.message, /keeps its download in progress/, what);
          assert.equal(isRetryable(error), false, what);
        }
      }
      assert.equal(requests.length, 0);
      assert.deepEqual(new Uint8Array(await readFile(`${g}.part`)), paused, "g's bytes untouched");
      const resumed = await haul(URL_, {
        dest: g,
        fetch: cuttingFetch(body, () => Infinity, [], '"g1"'),
      });
      assert.equal(resumed.resumedFrom > 0, true);
      // Once g is done, its sidecars are gone: a file may be named g.bin.part like any other.
      const result = await haul(URL_, { dest: `${g}.part`, fetch });
      assert.equal(result.size, BODY.length);
      assert.deepEqual(new Uint8Array(await readFile(`${g}.part`)), BODY);
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

/** A `Response` whose body gives `chunks`, as a caller's `fetch` may build one. */
function bodyOf(chunks: unknown[]): Response {
  const stream = new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  return new Response(stream as ReadableStream<Uint8Array>, { headers: { etag: '"v1"' } });
}

/** Chunks that are not `Uint8Array`s, which `response.arrayBuffer()` refuses with a `TypeError`. */
const NOT_BYTES: [string, unknown][] = [
  ["a string", "hello"],
  ["an ArrayBuffer", new ArrayBuffer(4)],
  ["a DataView", new DataView(new ArrayBuffer(4))],
  ["an array of numbers", [1, 2, 3]],
  ["null", null],
];

describe("a caller's fetch whose body gives no Uint8Array", () => {
  it("haul() and haulWithRetry() reject with a non-retryable TypeError, once, nothing at dest", async () => {
    await withTempDir(async (dir) => {
      for (const [name, chunk] of NOT_BYTES) {
        for (const call of [haul, haulWithRetry]) {
          const dest = join(dir, `${call.name} ${name}.bin`);
          let requests = 0;
          const fetch = () => (requests++, Promise.resolve(bodyOf([BODY.slice(0, 3), chunk])));
          const error = await rejection(() => call(URL_, { dest, fetch, minDelayMs: 1 }), name);
          assertMisuse(error, `${call.name}, ${name}`);
          assert.match((error as Error).message, /not a Uint8Array/, `${call.name}, ${name}`);
          assert.equal(requests, 1, `${call.name}, ${name}: not retried`);
          assert.equal(exists(dest), false, `${call.name}, ${name}`);
        }
      }
    });
  });

  it("keeps the bytes before the bad chunk: the next call resumes after them", async () => {
    await withTempDir(async (dir) => {
      const dest = join(dir, "f.bin");
      const fetch = () => Promise.resolve(bodyOf([BODY.slice(0, 3), "the rest"]));
      assertMisuse(await rejection(() => haul(URL_, { dest, fetch }), "haul"), "haul");
      const ranges: (string | null)[] = [];
      const result = await haul(URL_, {
        dest,
        fetch: (request) => {
          ranges.push(request.headers.get("range"));
          const headers = { etag: '"v1"', "content-range": `bytes 3-11/${BODY.length}` };
          return Promise.resolve(new Response(BODY.slice(3), { status: 206, headers }));
        },
      });
      assert.deepEqual(ranges, ["bytes=3-"]);
      assert.equal(result.resumedFrom, 3);
      assert.deepEqual(new Uint8Array(await readFile(dest)), BODY);
    });
  });

  it("haulStream() errors with the same TypeError, unretried", async () => {
    for (const [name, chunk] of NOT_BYTES) {
      let requests = 0;
      const fetch = () => (requests++, Promise.resolve(bodyOf([chunk])));
      const body = haulStream(URL_, { fetch, minDelayMs: 1 });
      const error = await rejection(() => new Response(body).arrayBuffer(), name);
      assertMisuse(error, `haulStream, ${name}`);
      assert.match((error as Error).message, /not a Uint8Array/, name);
      assert.equal(requests, 1, `${name}: not retried`);
    }
  });
});
