import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdir, writeFile } from "node:fs/promises";
import {
  haul,
  haulAll,
  HaulError,
  HaulState,
  haulWithRetry,
  IntegrityError,
  isRetryable,
  UnexpectedStatusError,
} from "../../mod.ts";
import {
  startResourceServer,
  startScriptServer,
  startThrottledServer,
} from "../helpers/script_server.ts";
import { REPO_ROOT, runtimeChild, runtimeExecutable } from "../helpers/runtime.ts";
import { WorkerPool, workersStarted } from "../../src/worker/worker_pool.ts";
import { haulInWorker } from "../../src/worker/in_worker.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const MiB = 1 << 20;

describe("haul(url, { worker: true })", () => {
  for (const connections of [1, 3]) {
    it(`downloads on a worker thread over ${connections} connection(s): the same file and result`, async () => {
      const body = randomBody(12 * MiB + 345);
      const server = await startResourceServer({ body });
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "a.bin");
          const state = new HaulState();
          const reports: number[] = [];
          const result = await haul(server.url, {
            dest,
            worker: true,
            connections,
            state,
            onProgress: (seen) => reports.push(seen.validLength),
          });
          assert.equal(result.sha256, sha256(body));
          assert.equal(result.size, body.length);
          assert.equal(result.dest, dest);
          assert.equal(result.connections, connections);
          assert.deepEqual(await bytesOf(dest), body);
          assert.equal(
            state.validLength,
            body.length,
            "the caller's state holds the final figures",
          );
          assert.equal(state.isComplete, true);
          assert.ok(reports.length >= 1, "onProgress ran on the caller's thread");
          assert.equal(reports.at(-1), body.length);
          assert.deepEqual(await readdir(dir), ["a.bin"], "no sidecar left");
          if (connections > 1) {
            assert.ok(server.requests.some((req) => req.headers["range"] !== undefined));
          }
        });
      } finally {
        await server.close();
      }
    });
  }

  it("takes an abort that comes while the worker starts, or before the call", async () => {
    const body = randomBody(2 * MiB);
    let slow = true;
    const server = await startResourceServer(
      { body },
      (_req, honest) => slow ? { ...honest, chunkSize: 16_384, bytesPerSecond: 200_000 } : honest,
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        const early = new Error("stopped at once");
        const controller = new AbortController();
        const running = haul(server.url, { dest, worker: true, signal: controller.signal });
        controller.abort(early);
        await assert.rejects(running, (error) => error === early);
        const before = new Error("stopped before");
        await assert.rejects(
          haul(server.url, { dest, worker: true, signal: AbortSignal.abort(before) }),
          (error) => error === before,
        );
        assert.equal(exists(dest), false);
        // Whatever was saved, the next call ends with the exact file.
        slow = false;
        const result = await haul(server.url, { dest, worker: true, overwrite: false });
        assert.equal(result.sha256, sha256(body));
      });
    } finally {
      await server.close();
    }
  });

  it("stops waiting for a slow worker's start at the caller's abort", async () => {
    const server = await startResourceServer({ body: randomBody(1000) });
    const pool = new WorkerPool(new URL("../fixtures/slow_start_worker.ts", import.meta.url));
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "never.bin");
        const started = performance.now();
        const call = haulInWorker(
          "haul",
          server.url,
          { dest, signal: AbortSignal.timeout(200) },
          pool,
        )
          .catch((e: unknown) => e);
        const error = await call;
        assert.ok(error instanceof DOMException && error.name === "TimeoutError", String(error));
        assert.ok(performance.now() - started < 2500, "rejected before the worker was up");
        assert.equal(server.requests.length, 0);
        assert.deepEqual(await readdir(dir), []);
      });
    } finally {
      pool.close();
      await server.close();
    }
  });

  it("gives up on a worker that does not start in time, with a retryable error", async () => {
    const server = await startResourceServer({ body: randomBody(1000) });
    const entry = new URL("../fixtures/slow_start_worker.ts", import.meta.url);
    const pool = new WorkerPool(entry, 300);
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "late.bin");
        const started = performance.now();
        const error = await haulInWorker("haul", server.url, { dest }, pool).catch((e) => e);
        assert.ok(error instanceof HaulError, String(error));
        assert.match(error.message, /did not start within 0\.3 s/);
        assert.equal(isRetryable(error), true);
        assert.ok(performance.now() - started < 2500, "it did not wait for the worker");
        assert.equal(server.requests.length, 0);
        assert.deepEqual(await readdir(dir), []);
      });
    } finally {
      pool.close();
      await server.close();
    }
  });

  it("rejects with haul's own error classes and fields", async () => {
    const server = await startScriptServer(() => ({
      status: 503,
      headers: { "retry-after": "7" },
      body: "busy",
    }));
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        const error = await haul(server.url, { dest, worker: true }).catch((e: unknown) => e);
        assert.ok(error instanceof UnexpectedStatusError, String(error));
        assert.equal(error.status, 503);
        assert.equal(error.retryAfterMs, 7000);
        assert.equal(error.headers.get("retry-after"), "7");
        assert.equal(isRetryable(error), true);
        assert.deepEqual(await readdir(dir), []);
      });
    } finally {
      await server.close();
    }
  });

  it("checks integrity on the worker: a mismatch leaves nothing at dest", async () => {
    const body = randomBody(300_000);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        const integrity = `sha256:${"0".repeat(64)}`;
        const error = await haul(server.url, { dest, worker: true, integrity })
          .catch((e: unknown) => e);
        assert.ok(error instanceof IntegrityError, String(error));
        assert.equal(error.actual, sha256(body));
        assert.equal(exists(dest), false);
      });
    } finally {
      await server.close();
    }
  });

  it("stops the download when the caller's onProgress throws, rejecting with its error", async () => {
    const body = randomBody(2 * MiB);
    // 20 s of body: onProgress runs (and throws) long before its end.
    const server = await startResourceServer(
      { body },
      (_req, honest) => ({ ...honest, chunkSize: 16_384, bytesPerSecond: 100_000 }),
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        const mistake = new Error("the caller's bug");
        const started = performance.now();
        const error = await haul(server.url, {
          dest,
          worker: true,
          onProgress: () => {
            throw mistake;
          },
        }).catch((e: unknown) => e);
        assert.equal(error, mistake);
        assert.ok(performance.now() - started < 15_000, "it did not wait for the whole body");
        assert.equal(exists(dest), false);
      });
    } finally {
      await server.close();
    }
  });

  it("refuses a custom fetch with a TypeError, before any request or file", async () => {
    const server = await startResourceServer({ body: randomBody(1000) });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        await assert.rejects(
          haul(server.url, { dest, worker: true, fetch: (r) => fetch(r) }),
          (error: unknown) => error instanceof TypeError && /fetch/.test(error.message),
        );
        assert.equal(server.requests.length, 0);
        assert.deepEqual(await readdir(dir), []);
      });
    } finally {
      await server.close();
    }
  });

  it("reports bad options as haul() does (a RangeError from the worker)", async () => {
    await withTempDir(async (dir) => {
      await assert.rejects(
        haul("http://127.0.0.1:9/a", { dest: join(dir, "a"), worker: true, blockSize: 3 }),
        (error: unknown) => error instanceof RangeError && /blockSize/.test(error.message),
      );
      assert.deepEqual(await readdir(dir), []);
    });
  });
});

describe("worker: true calls for one destination in one process", () => {
  // The README's Bun server does this: two requests at once, each awaiting
  // haulWithRetry({ worker: true }) for the same file. Like haul(), they must
  // share one download, not race two workers through the lock.
  for (
    const [name, start] of [
      [
        "two haulWithRetry() calls",
        (url: string, dest: string) => [
          haulWithRetry(url, { dest, worker: true, minDelayMs: 10 }),
          haulWithRetry(url, { dest, worker: true, minDelayMs: 10 }),
        ],
      ],
      [
        "haul() on this thread and haulWithRetry() on a worker",
        (url: string, dest: string) => [
          haul(url, { dest }),
          haulWithRetry(url, { dest, worker: true, minDelayMs: 10 }),
        ],
      ],
      [
        "two items of one haulAll() batch",
        (url: string, dest: string) => [
          haulAll([{ url, dest }, { url, dest }], { worker: true, concurrency: 2 }).then(
            (reports) => {
              assert.deepEqual(reports.map((report) => report.status), ["done", "done"]);
              const first = reports[0];
              assert.ok(first?.status === "done");
              return first.result;
            },
          ),
        ],
      ],
    ] as const
  ) {
    it(`${name} share one download`, async () => {
      const body = randomBody(2 * MiB);
      const server = await startThrottledServer(body, 8 * MiB);
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "shared.bin");
          const results = await Promise.all(start(server.url, dest));
          for (const result of results) assert.equal(result.sha256, sha256(body));
          assert.equal(server.requests.length, 1, "one download, one request");
          assert.deepEqual(await bytesOf(dest), body);
          assert.deepEqual(await readdir(dir), ["shared.bin"], "litter left");
        });
      } finally {
        await server.close();
      }
    });
  }
});

describe("the workers of worker: true", () => {
  it("start for each haul() call and stop with it; a haulAll() batch reuses its own", async () => {
    const body = randomBody(500_000);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        const first = workersStarted();
        for (const name of ["a", "b", "c"]) {
          await haul(server.url, { dest: join(dir, `${name}.bin`), worker: true });
        }
        assert.equal(workersStarted() - first, 3, "one worker per call, none kept after it");
        const second = workersStarted();
        const items = ["d", "e", "f", "g", "h", "i"].map((name) => ({
          url: server.url,
          dest: join(dir, `${name}.bin`),
        }));
        const reports = await haulAll(items, { worker: true, concurrency: 2 });
        assert.deepEqual(reports.map((report) => report.status), Array(6).fill("done"));
        assert.ok(workersStarted() - second <= 2, "at most one worker per item running at once");
        for (const { dest } of items) assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });

  it("haulAll() refuses a custom fetch with worker: true before any request", async () => {
    await assert.rejects(
      haulAll([{ url: "http://127.0.0.1:9/a", dest: "/nonexistent/a" }], {
        worker: true,
        fetch: (request) => fetch(request),
      }),
      (error: unknown) => error instanceof TypeError && /fetch/.test(error.message),
    );
  });

  it("leave no worker behind: a process ends by itself after its call", {
    timeout: 60_000,
  }, async () => {
    await withTempDir(async (dir) => {
      const body = randomBody(100_000);
      const server = await startResourceServer({ body });
      try {
        const script = join(dir, "one.ts");
        await writeFile(
          script,
          `import { haul } from ${JSON.stringify(join(REPO_ROOT, "mod.ts"))};
const result = await haul(${JSON.stringify(server.url)}, { dest: ${
            JSON.stringify(join(dir, "x.bin"))
          }, worker: true });
console.log(result.size);`,
        );
        // The server runs in this process: the child is awaited, never waited for synchronously.
        const child = runtimeChild(script, [], { allowAll: true });
        try {
          assert.equal(await child.firstLine(), String(body.length));
          let timer: ReturnType<typeof setTimeout> | undefined;
          const code = await Promise.race([
            child.exited,
            new Promise<string>((resolve) => {
              timer = setTimeout(() => resolve("still running after 20 s"), 20_000);
            }),
          ]);
          clearTimeout(timer);
          assert.equal(code, 0, "the process ended by itself after its call");
        } finally {
          await child.kill();
        }
      } finally {
        await server.close();
      }
    });
  });
});

describe("worker: true in a bundle without its worker file", () => {
  it("fails at once with a non-retryable error, before any request or file", {
    timeout: 60_000,
  }, async () => {
    const server = await startResourceServer({ body: randomBody(1000) });
    try {
      await withTempDir(async (dir) => {
        // The library bundled on its own, as an application's bundler would, without worker_main.js.
        const built = spawnSync(runtimeExecutable("bun"), [
          "build",
          join(REPO_ROOT, "mod.ts"),
          "--target=node",
          "--format=esm",
          "--outfile",
          join(dir, "bundle", "mod.js"),
        ]);
        assert.equal(built.status, 0, String(built.stderr));
        const script = join(dir, "bundle", "call.mjs");
        await writeFile(
          script,
          `const { haul, isRetryable } = await import("./mod.js");
const error = await haul(process.argv[2], { dest: process.argv[3], worker: true }).catch((e) => e);
console.log(JSON.stringify({ name: error.name, message: error.message, retryable: isRetryable(error) }));`,
        );
        const dest = join(dir, "a.bin");
        const run = spawnSync(runtimeExecutable("node"), [script, server.url, dest], {
          timeout: 30_000,
        });
        const outcome = JSON.parse(String(run.stdout).trim()) as Record<string, unknown>;
        assert.equal(outcome["name"], "HaulError", JSON.stringify(outcome));
        assert.match(String(outcome["message"]), /^Download worker could not start/);
        assert.equal(outcome["retryable"], false);
        assert.equal(server.requests.length, 0);
        assert.equal(exists(dest), false);
        assert.deepEqual((await readdir(dir)).sort(), ["bundle"]);
      });
    } finally {
      await server.close();
    }
  });
});

describe("haulAll() with worker: true", () => {
  it("haulAll runs its items on workers it reuses", async () => {
    const bodies = [randomBody(400_000), randomBody(700_000), randomBody(100_000)];
    const servers = await Promise.all(bodies.map((body) => startResourceServer({ body })));
    try {
      await withTempDir(async (dir) => {
        const items = servers.map((server, i) => ({
          url: server.url,
          dest: join(dir, `${i}.bin`),
        }));
        const before = workersStarted();
        const reports = await haulAll(items, { worker: true, concurrency: 2 });
        assert.ok(workersStarted() - before <= 2, "at most one worker per concurrent item");
        assert.equal(reports.length, 3);
        for (const [i, body] of bodies.entries()) {
          assert.deepEqual(await bytesOf(join(dir, `${i}.bin`)), body);
        }
        assert.deepEqual(reports.map((report) => report.status), ["done", "done", "done"]);
        assert.ok(reports.every((report) => report.received > 0), "progress reached the batch");
      });
    } finally {
      await Promise.all(servers.map((server) => server.close()));
    }
  });
});
