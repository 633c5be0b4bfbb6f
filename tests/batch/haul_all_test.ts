import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { type FetchLike, haulAll, type HaulAllProgress, UnexpectedStatusError } from "../../mod.ts";
import { type RecordedRequest, startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const bodies = new Map<string, Uint8Array>();
function bodyFor(req: RecordedRequest): Uint8Array {
  const name = req.path.split("?")[0]!;
  let body = bodies.get(name);
  if (body === undefined) {
    body = randomBody(300_000 + bodies.size * 1000);
    bodies.set(name, body);
  }
  return body;
}

/** A fetch that counts responses whose bodies are still being read. */
function countingFetch(): { fetch: FetchLike; max: () => number } {
  let active = 0;
  let max = 0;
  const fetch: FetchLike = async (request) => {
    active++;
    max = Math.max(max, active);
    const response = await globalThis.fetch(request).catch((error) => {
      active--;
      throw error;
    });
    if (response.body === null) {
      active--;
      return response;
    }
    const body = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({ flush: () => void active-- }),
    );
    return new Response(body, { status: response.status, headers: response.headers });
  };
  return { fetch, max: () => max };
}

describe("haulAll()", () => {
  it("downloads every item with no more than `concurrency` requests at once", async () => {
    const server = await startResourceServer((req) => ({ body: bodyFor(req) }), (_req, honest) => ({
      ...honest,
      bytesPerSecond: 3_000_000,
    }));
    try {
      await withTempDir(async (dir) => {
        const items = Array.from({ length: 6 }, (_, i) => ({
          url: `${server.url}/pool-${i}.bin`,
          dest: join(dir, `pool-${i}.bin`),
        }));
        const counter = countingFetch();
        const reports = await haulAll(items, { concurrency: 2, fetch: counter.fetch });
        assert.equal(counter.max(), 2);
        assert.deepEqual(reports.map((r) => r.status), Array(6).fill("done"));
        for (const [i, item] of items.entries()) {
          assert.deepEqual(await bytesOf(item.dest), bodies.get(`/pool-${i}.bin`));
          assert.equal(reports[i]!.index, i);
        }
      });
    } finally {
      await server.close();
    }
  });

  it("reports done, skipped and failed items without rejecting, skipping without a request", async () => {
    const server = await startResourceServer((req) => ({ body: bodyFor(req) }), (req, honest) => {
      return req.path === "/missing.bin" ? { status: 404, body: "no such file" } : honest;
    });
    try {
      await withTempDir(async (dir) => {
        const existing = randomBody(1234);
        await writeFile(join(dir, "have.bin"), existing);
        const finished: string[] = [];
        const reports = await haulAll([
          { url: `${server.url}/new.bin`, dest: join(dir, "new.bin") },
          { url: `${server.url}/have.bin`, dest: join(dir, "have.bin") },
          { url: `${server.url}/missing.bin`, dest: join(dir, "missing.bin") },
        ], { concurrency: 3, minDelayMs: 1, onItemDone: (r) => finished.push(r.status) });
        assert.deepEqual(reports.map((r) => r.status), ["done", "skipped", "failed"]);
        assert.deepEqual([...finished].sort(), ["done", "failed", "skipped"]);
        const [done, skipped, failed] = reports;
        assert.ok(done?.status === "done");
        assert.equal(done.result.sha256, sha256(bodies.get("/new.bin")!));
        assert.ok(skipped?.status === "skipped");
        assert.equal(skipped.result.sha256, null, "kept unread: no integrity");
        assert.equal(skipped.result.size, existing.length);
        assert.equal(skipped.received, 0);
        assert.ok(failed?.status === "failed");
        assert.ok(failed.error instanceof UnexpectedStatusError);
        assert.equal(failed.attempts, 1);
        assert.equal(exists(join(dir, "missing.bin")), false);
        assert.deepEqual(server.requests.map((r) => r.path).sort(), ["/missing.bin", "/new.bin"]);
      });
    } finally {
      await server.close();
    }
  });

  it("resumes each item on its own after a cut, with progress that never goes backwards", async () => {
    const cutOnce = new Set<string>();
    const server = await startResourceServer((req) => ({ body: bodyFor(req) }), (req, honest) => {
      if (cutOnce.has(req.path)) return { ...honest, bytesPerSecond: 2_000_000 };
      cutOnce.add(req.path);
      return { ...honest, cutAfter: 150_000, bytesPerSecond: 2_000_000, chunkSize: 16_384 };
    });
    try {
      await withTempDir(async (dir) => {
        const items = ["r-0.bin", "r-1.bin", "r-2.bin"].map((name) => ({
          url: `${server.url}/${name}`,
          dest: join(dir, name),
        }));
        const seen = new Map<number, number>();
        let last: HaulAllProgress | null = null;
        const reports = await haulAll(items, {
          concurrency: 3,
          minDelayMs: 1,
          onProgress: (progress) => {
            last = progress;
            for (const item of progress.items) {
              assert.ok(item.validLength >= (seen.get(item.index) ?? 0), "never backwards");
              seen.set(item.index, item.validLength);
            }
          },
        });
        for (const [i, report] of reports.entries()) {
          assert.ok(report.status === "done", String(report.status));
          assert.equal(report.attempts, 2);
          assert.ok(report.result.resumedFrom > 0);
          assert.deepEqual(await bytesOf(items[i]!.dest), bodies.get(`/r-${i}.bin`));
        }
        const final = last as HaulAllProgress | null;
        assert.equal(final?.done, 3);
        assert.equal(final?.active, 0);
        const sizes = [0, 1, 2].reduce((sum, i) => sum + bodies.get(`/r-${i}.bin`)!.length, 0);
        assert.ok(final!.received >= sizes, `received ${final!.received} of ${sizes}`);
      });
    } finally {
      await server.close();
    }
  });

  it("fails the running and the unstarted items when the signal aborts, and still resolves", async () => {
    const server = await startResourceServer((req) => ({ body: bodyFor(req) }), (_req, honest) => ({
      ...honest,
      bytesPerSecond: 500_000,
    }));
    try {
      await withTempDir(async (dir) => {
        const controller = new AbortController();
        const items = [0, 1, 2].map((i) => ({
          url: `${server.url}/slow-${i}.bin`,
          dest: join(dir, `slow-${i}.bin`),
        }));
        const reports = await haulAll(items, {
          concurrency: 1,
          signal: controller.signal,
          onProgress: (progress) => {
            if (progress.received > 50_000) controller.abort(new Error("user stop"));
          },
        });
        assert.deepEqual(reports.map((r) => r.status), ["failed", "failed", "failed"]);
        assert.deepEqual(reports.map((r) => r.attempts), [1, 0, 0]);
        for (const report of reports) {
          assert.ok(report.status === "failed");
          assert.equal((report.error as Error).message, "user stop");
        }
        assert.equal(exists(join(dir, "slow-0.bin.part.ctrl")), true, "progress saved");
        assert.equal(server.requests.length, 1);
      });
    } finally {
      await server.close();
    }
  });

  it("refuses an invalid concurrency before any request", async () => {
    await assert.rejects(
      haulAll([{ url: "http://127.0.0.1:9/", dest: "x" }], { concurrency: 0 }),
      RangeError,
    );
    assert.deepEqual(await haulAll([]), []);
  });
});

describe("haulAll() arguments", () => {
  it("fails a bad item alone (URL, dest, integrity, headers) and downloads the good ones", async () => {
    const server = await startResourceServer({ body: randomBody(100) });
    try {
      await withTempDir(async (dir) => {
        const bad = [
          { url: "not a url", dest: join(dir, "b") },
          { url: server.url, dest: "" },
          { url: server.url, dest: join(dir, "c"), integrity: "sha256:zz" },
          { url: server.url, dest: join(dir, "d"), headers: { "bad name": "x" } },
        ];
        const items = [{ url: server.url, dest: join(dir, "a") }, ...bad];
        const reports = await haulAll([...items, { url: server.url, dest: join(dir, "e") }]);
        assert.deepEqual(reports.map((r) => r.status), [
          "done",
          ...bad.map(() => "failed"),
          "done",
        ]);
        for (const report of reports.slice(1, -1)) {
          assert.ok(
            report.status === "failed" && report.error instanceof TypeError,
            `${report.index}`,
          );
          assert.equal(report.attempts, 1, `${report.index}`);
        }
        assert.equal(server.requests.length, 2);
        assert.ok(!exists(join(dir, "d")) && !exists(join(dir, "d.part")));
      });
    } finally {
      await server.close();
    }
  });

  it("refuses an item whose dest is another's .part, checkpoint, its temp file or lock, naming both, before any request", async () => {
    const server = await startResourceServer({ body: randomBody(100) });
    try {
      await withTempDir(async (dir) => {
        const a = join(dir, "a.bin");
        const sidecars = [".part", ".part.ctrl", ".part.ctrl.tmp", ".part.lock", ".part.unlock"];
        for (const sidecar of [...sidecars, ".part.takeover"]) {
          const spellings: [string | URL, string][] = [
            [a, a + sidecar],
            [new URL(`file://${a}`), `${dir}/./a.bin${sidecar}`],
            [`${dir}//a.bin`, `${dir}/sub/../a.bin${sidecar}`],
          ];
          for (const [dest, other] of spellings) {
            const items = [
              { url: `${server.url}/ok`, dest: join(dir, "ok") },
              { url: `${server.url}/a`, dest },
              { url: `${server.url}/b`, dest: other },
            ];
            const error = await haulAll(items).catch((e: unknown) => e);
            assert.ok(error instanceof TypeError, `${sidecar}: ${error}`);
            assert.match(
              error.message,
              /^Invalid items: item 2: Destination .* is where .* \(item 1\) keeps its download/,
              sidecar,
            );
            assert.ok(error.message.includes(`a.bin${sidecar} `), error.message);
          }
        }
        assert.equal(server.requests.length, 0);
        assert.equal(exists(join(dir, "ok")), false);
      });
    } finally {
      await server.close();
    }
  });

  it("refuses two items of one dest from different URLs, naming both, before any request; the same URL twice joins", async () => {
    const server = await startResourceServer((req) => ({ body: bodyFor(req) }));
    try {
      await withTempDir(async (dir) => {
        const a = join(dir, "a.bin");
        const spellings: [string | URL, string | URL][] = [
          [a, `${dir}/./a.bin`],
          [a, `${dir}//a.bin`],
          [new URL(`file://${a}`), a],
          [a, `${dir}/sub/../a.bin`], // else the second is "skipped" with the first's file
          [`${dir}/x/y/../../a.bin`, new URL(`file://${dir}/z/../a.bin`)],
        ];
        for (const [first, second] of spellings) {
          for (const concurrency of [1, 2]) {
            const items = [
              { url: `${server.url}/ok`, dest: join(dir, "ok") },
              { url: `${server.url}/one`, dest: first },
              { url: `${server.url}/two`, dest: second },
            ];
            const error = await haulAll(items, { concurrency }).catch((e: unknown) => e);
            assert.ok(error instanceof TypeError, `${first} ${second}: ${error}`);
            assert.match(
              error.message,
              /^Invalid items: item 1 and item 2 both download to .*a\.bin/,
            );
          }
        }
        assert.equal(server.requests.length, 0);
        assert.equal(exists(join(dir, "ok")), false);
        // One URL however spelled (as haul() joins a running call for it): one download.
        const one = { url: `${server.url}/one`, dest: a };
        const spelled = { url: new URL(`${server.url}/./one`), dest: `${dir}//a.bin` };
        const reports = await haulAll([one, spelled], { concurrency: 2 });
        assert.deepEqual(reports.map((report) => report.status === "failed"), [false, false]);
        assert.equal(sha256(await bytesOf(a)), sha256(bodies.get("/one")!));
      });
    } finally {
      await server.close();
    }
  });

  it("rejects missing items, malformed items or non-object options with a TypeError before any request", async () => {
    const server = await startResourceServer({ body: randomBody(100) });
    const untyped = haulAll as (items?: unknown, options?: unknown) => Promise<unknown>;
    const url = server.url;
    try {
      const cases: [string, unknown, unknown][] = [
        ["no items", undefined, undefined],
        ["null items", null, {}],
        ["a number for items", 3, {}],
        ["an item that is undefined", [{ url, dest: "a" }, undefined], {}],
        ["an item without dest", [{ url }], {}],
        ["an item without url", [{ dest: "a" }], {}],
        ["null options", [{ url, dest: "a" }], null],
      ];
      for (const [name, items, options] of cases) {
        const error = await untyped(items, options).catch((e: unknown) => e);
        assert.ok(error instanceof TypeError, `${name}: ${error}`);
        assert.match(error.message, /^Invalid (items|options): /, name);
      }
      assert.equal(server.requests.length, 0);
    } finally {
      await server.close();
    }
  });
});
