import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { haul, haulAll } from "../../mod.ts";
import { shareConnections } from "../../src/batch/haul_all.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, withTempDir } from "../helpers/temp.ts";

/** A fetch that counts responses whose bodies are still open (ended or cancelled closes them). */
function openBodies(): { fetch: (request: Request) => Promise<Response>; max: () => number } {
  let open = 0;
  let max = 0;
  const fetchFn = async (request: Request): Promise<Response> => {
    open++;
    max = Math.max(max, open);
    let response: Response;
    try {
      response = await fetch(request);
    } catch (error) {
      open--;
      throw error;
    }
    const source = response.body;
    if (source === null) {
      open--;
      return response;
    }
    const reader = source.getReader();
    let closed = false;
    const close = () => {
      if (!closed) open--;
      closed = true;
    };
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { value, done } = await reader.read();
          if (done) {
            close();
            controller.close();
          } else controller.enqueue(value);
        } catch (error) {
          close();
          controller.error(error);
        }
      },
      async cancel(reason) {
        close();
        await reader.cancel(reason).catch(() => {});
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  return { fetch: fetchFn, max: () => max };
}

describe("haulAll() connections", () => {
  it("shares a cap over the batch: -j 8 -x 8 under 16 gives 2 each; a cap below -j shrinks the pool", () => {
    assert.deepEqual(shareConnections(8, 8, 16), { pool: 8, perItem: 2 });
    assert.deepEqual(shareConnections(4, 4, 16), { pool: 4, perItem: 4 });
    assert.deepEqual(shareConnections(2, 1, 16), { pool: 2, perItem: 1 });
    assert.deepEqual(shareConnections(8, 4, 4), { pool: 4, perItem: 1 });
    for (const [j, x, cap] of [[8, 8, 16], [3, 5, 7], [1, 32, 16], [16, 2, 9]] as const) {
      const { pool, perItem } = shareConnections(j, x, cap);
      assert.ok(pool * perItem <= cap && perItem <= x && pool <= j, `${j} ${x} ${cap}`);
    }
  });

  it("never opens more than maxConnections over the batch, and each file uses its share", {
    timeout: 120_000,
  }, async () => {
    const size = 8 * 1024 * 1024 + 4096; // two ranges of at least the 4 MiB floor
    const bodies = [randomBody(size), randomBody(size), randomBody(size)];
    const server = await startResourceServer(
      (req) => ({ body: bodies[Number(req.path.slice(1))]!, etag: `"b${req.path.slice(1)}"` }),
      (_req, honest) => ({ ...honest, bytesPerSecond: 8_000_000 }),
    );
    try {
      await withTempDir(async (dir) => {
        const items = bodies.map((_, i) => ({
          url: `${server.url}/${i}`,
          dest: join(dir, `${i}.bin`),
        }));
        const counter = openBodies();
        const reports = await haulAll(items, {
          concurrency: 3,
          connections: 8,
          maxConnections: 6,
          fetch: counter.fetch,
        });
        assert.ok(counter.max() <= 6, `${counter.max()} open at once`);
        for (const [i, report] of reports.entries()) {
          assert.equal(report.status, "done");
          if (report.status !== "done") continue;
          assert.equal(report.result.connections, 2);
          assert.deepEqual(await bytesOf(items[i]!.dest), bodies[i]);
        }
      });
    } finally {
      await server.close();
    }
  });

  it("rejects an invalid maxConnections before any request", async () => {
    await assert.rejects(haulAll([], { maxConnections: 0 }), RangeError);
  });

  it("rejects connections that haul() would refuse (0, -1, 1.5, NaN, 33, 65) before any request, as haul() does", async () => {
    for (const connections of [0, -1, 1.5, NaN, 33, 65]) {
      const said = await haul("http://127.0.0.1:9/", { dest: "x", connections }).catch((e) => e);
      for (const cap of [{}, { maxConnections: 64 }]) {
        const batch = haulAll([{ url: "http://127.0.0.1:9/", dest: "x" }], { connections, ...cap });
        await assert.rejects(batch, (error) => {
          assert.ok(error instanceof RangeError, `${connections}: ${error}`);
          assert.equal(error.message, said.message);
          return true;
        });
      }
    }
  });
});
