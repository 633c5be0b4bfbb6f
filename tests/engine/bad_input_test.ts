/**
 * Bad input from a plain-JavaScript caller (no types to stop it) or a config file: each is a clear
 * `TypeError` or `RangeError` that `isRetryable()` refuses, before any request and before anything
 * is created on disk, or a typed outcome that loses nothing. One table pins what held when probed.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import process from "node:process";
import { Readable } from "node:stream";
import {
  DestinationError,
  haul,
  haulAll,
  haulStream,
  haulWithRetry,
  IntegrityError,
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

/** What each call rejects with, before any request and with nothing on disk (probed; pinned here). */
describe("what held: typed refusals of wrong values, before any request or file", () => {
  const RANGE: [string, Record<string, unknown>][] = [
    ["connections", { connections: "4" }],
    ["connections", { connections: Number.NaN }],
    ["connections", { connections: 1.5 }],
    ["connections", { connections: 33 }],
    ["connections", { connections: 2 ** 60 }],
    ["maxBytesPerSecond", { maxBytesPerSecond: "1M" }],
    ["maxBytesPerSecond", { maxBytesPerSecond: 0 }],
    ["maxBytesPerSecond", { maxBytesPerSecond: Infinity }],
    ["maxBytesPerSecond", { maxBytesPerSecond: null }],
    ["stallTimeout", { stallTimeout: "100" }],
    ["stallTimeout", { stallTimeout: -1 }],
    ["blockSize", { blockSize: "1024" }],
    ["blockSize", { blockSize: 100 }],
    ["checkpointEvery", { checkpointEvery: { bytes: 0 } }],
    ["checkpointEvery", { checkpointEvery: { ms: "soon" } }],
  ];
  const RETRY_RANGE: [string, Record<string, unknown>][] = [
    ["retries", { retries: "3" }],
    ["retries", { retries: 1.5 }],
    ["retries", { retries: null }],
    ["delays", { minDelayMs: Number.NaN }],
    ["delays", { minDelayMs: 5, maxDelayMs: 1 }],
  ];
  const TYPE: [string, Record<string, unknown>][] = [
    ["integrity", { integrity: "" }],
    ["integrity", { integrity: 5 }],
    ["integrity", { integrity: null }],
    ["integrity", { integrity: "sha256-abc" }],
    ["integrity", { integrity: "sha256-!!!!" }],
    ["integrity", { integrity: "md5-AAAA sha1:00" }],
    ["dest", { dest: "" }],
    ["dest", { dest: 5 }],
    ["dest", { dest: new URL("http://example.com/f") }],
    ["dest", { dest: "file:///tmp/a%2Fb" }],
  ];

  it("haul() and haulWithRetry(): a RangeError or TypeError naming the option", async () => {
    await withTempDir(async (dir) => {
      const { requests, fetch } = countingFetch();
      const dest = join(dir, "f.bin");
      const cases = [
        ...RANGE.map(([name, options]) => [RangeError, name, options] as const),
        ...TYPE.map(([name, options]) => [TypeError, name, options] as const),
      ];
      for (const [kind, name, options] of cases) {
        for (const call of [haul, haulWithRetry]) {
          const what = `${call.name} ${JSON.stringify(options)}`;
          const run = () => call(URL_, { dest, fetch, ...options } as never);
          const error = await rejection(run, what);
          assert.ok(error instanceof kind, `${what}: ${error}`);
          assert.match((error as Error).message, new RegExp(`^Invalid ${name}\\b`), what);
          assert.equal(isRetryable(error), false, what);
        }
      }
      for (const [name, options] of RETRY_RANGE) {
        const run = () => haulWithRetry(URL_, { dest, fetch, ...options } as never);
        const error = await rejection(run, name);
        assert.ok(error instanceof RangeError, `${name}: ${error}`);
        assert.match((error as Error).message, new RegExp(`^Invalid ${name}\\b`));
      }
      assert.equal(requests.length, 0);
      assert.deepEqual(await readdir(dir), []);
    });
  });

  it("haulStream() and haulAll(): the same, thrown or rejected before any request", async () => {
    const { requests, fetch } = countingFetch();
    for (const [name, options] of [...RANGE, ...RETRY_RANGE]) {
      if (name === "blockSize" || name === "checkpointEvery" || name === "connections") continue;
      assert.throws(() => haulStream(URL_, { fetch, ...options } as never), RangeError, name);
    }
    for (const options of [{ concurrency: "2" }, { concurrency: 0 }, { maxConnections: 0 }]) {
      const run = () => haulAll([{ url: URL_, dest: "never.bin" }], { fetch, ...options } as never);
      assert.ok((await rejection(run, JSON.stringify(options))) instanceof RangeError);
    }
    assert.equal(requests.length, 0);
  });

  it("URLs that are not absolute or not one: a TypeError 'Invalid URL' before any request", async () => {
    const { requests, fetch } = countingFetch();
    for (const url of ["a.bin", "/a.bin", "", "http://", 5, null, {}, []]) {
      const run = () => haul(url as never, { dest: "never.bin", fetch });
      assertMisuse(await rejection(run, JSON.stringify(url)), JSON.stringify(url));
      assert.throws(() => haulStream(url as never, { fetch }), /^TypeError: Invalid URL/);
    }
    assert.equal(requests.length, 0);
  });
});

describe("what held: destinations haul refuses, before any request, overwrite or not", () => {
  it("a folder, a path through a file, a device, a link to a folder, a name too long", async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, "file.txt"), "x");
      await mkdir(join(dir, "sub"));
      await symlink(join(dir, "sub"), join(dir, "to-sub"));
      const before = (await readdir(dir)).sort();
      const { requests, fetch } = countingFetch();
      const refused: [string, RegExp][] = [
        [".", /names a directory/],
        ["/", /names a directory/],
        [`${dir}/`, /names a directory/],
        [join(dir, "f.bin") + "/", /names a directory/],
        [join(dir, "sub"), /is a directory/],
        [join(dir, "to-sub"), /links to a directory/],
        [join(dir, "file.txt", "x.bin"), /parent is not a directory/],
        [join(dir, "missing", "x.bin"), /does not exist/],
        [join(dir, "a".repeat(242)), /name too long/],
        ["/dev/null", /not a regular file/],
      ];
      for (const [dest, message] of refused) {
        for (const overwrite of [false, true]) {
          const what = `${dest.slice(0, 60)}, overwrite ${overwrite}`;
          const error = await rejection(() => haul(URL_, { dest, fetch, overwrite }), what);
          assert.ok(error instanceof DestinationError, `${what}: ${error}`);
          assert.match(error.message, message, what);
          assert.equal(isRetryable(error), false, what);
        }
      }
      assert.equal(requests.length, 0);
      assert.deepEqual((await readdir(dir)).sort(), before);
    });
  });

  it("a dangling link or a link loop: refused, and replaced by the file with overwrite", async () => {
    await withTempDir(async (dir) => {
      await symlink(join(dir, "nowhere"), join(dir, "dangling"));
      await symlink(join(dir, "loop-b"), join(dir, "loop-a"));
      await symlink(join(dir, "loop-a"), join(dir, "loop-b"));
      const { requests, fetch } = countingFetch();
      for (const name of ["dangling", "loop-a"]) {
        const dest = join(dir, name);
        const error = await rejection(() => haul(URL_, { dest, fetch }), name);
        assert.ok(error instanceof DestinationError, `${name}: ${error}`);
        assert.equal(requests.length, 0, name);
        const result = await haul(URL_, { dest, fetch, overwrite: true });
        assert.equal(result.size, BODY.length);
        assert.ok((await lstat(dest)).isFile(), `${name} is now the file`);
        requests.length = 0;
      }
      assert.equal(exists(join(dir, "nowhere")), false, "nothing written through the link");
    });
  });
});

describe("what held: inputs haul takes as documented", () => {
  it("a file: URL dest, headers of any HeadersInit, the caller's Range and Accept-Encoding replaced", async () => {
    await withTempDir(async (dir) => {
      const { requests, fetch } = countingFetch();
      const headers: HeadersInit[] = [
        new Headers({ "x-token": "a", range: "bytes=5-", "accept-encoding": "gzip" }),
        [["x-token", "a"], ["if-range", '"other"']],
        { "x-token": "a", "x-count": 2 as unknown as string },
      ];
      for (const [i, given] of headers.entries()) {
        const dest = i === 0 ? pathToFileURL(join(dir, "0.bin")) : join(dir, `${i}.bin`);
        const result = await haul(URL_, { dest, fetch, headers: given });
        assert.equal(result.dest, join(dir, `${i}.bin`));
        const sent = requests.at(-1)!.headers;
        assert.equal(sent.get("x-token"), "a");
        assert.equal(sent.get("range"), null, "a fresh download asks for the whole file");
        assert.equal(sent.get("if-range"), null);
        assert.equal(sent.get("accept-encoding"), "identity");
      }
      assert.equal(requests.at(-1)!.headers.get("x-count"), "2");
      assert.deepEqual(new Uint8Array(await readFile(join(dir, "0.bin"))), BODY);
    });
  });

  it("a caller's abort with a string reason: rejects with that reason, no request, nothing on disk", async () => {
    await withTempDir(async (dir) => {
      const { requests, fetch } = countingFetch();
      const signal = AbortSignal.abort("stopped by the caller");
      for (const call of [haul, haulWithRetry]) {
        const error = await rejection(
          () => call(URL_, { dest: join(dir, "f"), fetch, signal }),
          "",
        );
        assert.equal(error, "stopped by the caller");
      }
      assert.equal(requests.length, 0);
      assert.deepEqual(await readdir(dir), []);
    });
  });

  it("several integrity tokens: the strongest algorithm decides (docs/api.md)", async () => {
    await withTempDir(async (dir) => {
      const { fetch } = countingFetch();
      const hex = (algorithm: string) => createHash(algorithm).update(BODY).digest("hex");
      const b64 = (algorithm: string) => createHash(algorithm).update(BODY).digest("base64");
      const wrong = (algorithm: string) =>
        `${algorithm}:${"0".repeat(algorithm === "sha512" ? 128 : 64)}`;
      const decided = await haul(URL_, {
        dest: join(dir, "a.bin"),
        fetch,
        integrity: `md5-AAAA ${wrong("sha256")} sha512-${b64("sha512")}`,
      });
      assert.equal(decided.sha512, hex("sha512"));
      const weaker = await haul(URL_, {
        dest: join(dir, "b.bin"),
        fetch,
        integrity: `sha1-AAAA sha256:${hex("sha256")}`,
      });
      assert.equal(weaker.sha256, hex("sha256"));
      const dest = join(dir, "c.bin");
      const integrity = `${wrong("sha512")} sha256:${hex("sha256")}`;
      const error = await rejection(() => haul(URL_, { dest, fetch, integrity }), "c");
      assert.ok(error instanceof IntegrityError, String(error));
      assert.equal(error.algorithm, "sha512");
      assert.deepEqual((await readdir(dir)).sort(), ["a.bin", "b.bin"]);
    });
  });

  it("an IPv6 loopback URL, from a real server on [::1] where the machine has it", async (t) => {
    const server = createServer((_request, response) => {
      response.writeHead(200, { etag: '"v1"', "content-length": String(BODY.length) });
      response.end(BODY);
    });
    const listening = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(0, "::1", () => resolve(true));
    });
    if (!listening) return t.skip("no IPv6 loopback on this machine");
    try {
      await withTempDir(async (dir) => {
        const { port } = server.address() as AddressInfo;
        const result = await haul(`http://[::1]:${port}/v6.bin`, { dest: join(dir, "v6.bin") });
        assert.equal(result.size, BODY.length);
        assert.deepEqual(new Uint8Array(await readFile(join(dir, "v6.bin"))), BODY);
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
