import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { jsonLines, runCli } from "../fixtures/cli_run.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

describe("haul CLI --stall-timeout (child process)", () => {
  it("gives up on a server that keeps stalling, retrying from what it saved, and a later run finishes", async () => {
    const body = randomBody(300_000);
    let stalling = true;
    const server = await startResourceServer(
      { body },
      (_req, honest) => stalling ? { ...honest, stallAfter: 20_000, chunkSize: 4096 } : honest,
    );
    try {
      await withTempDir(async (dir) => {
        const args = [
          `${server.url}/stuck.bin`,
          "--dir",
          dir,
          "--stall-timeout",
          "0.3",
          "--retries",
          "2",
          "--retry-delay",
          "0.01",
        ];
        const started = performance.now();
        const run = await runCli(args);
        assert.equal(run.code, 1, run.stderr);
        assert.ok(performance.now() - started < 15_000);
        assert.equal((run.stderr.match(/^Retrying .*stalled/gm) ?? []).length, 2, run.stderr);
        // The library's own stall timeout ended each attempt (not a wrapper around fetch).
        assert.match(run.stderr, /No body byte for 300 ms/);
        assert.match(run.stderr, /the connection stalled; see --stall-timeout/);
        assert.equal(server.requests.length, 3);
        assert.equal(server.requests[0]!.headers["range"], undefined);
        assert.equal(server.requests[1]!.headers["range"], "bytes=20000-");
        assert.equal(server.requests[2]!.headers["range"], "bytes=40000-");
        assert.ok(exists(join(dir, "stuck.bin.part.ctrl")));
        stalling = false;
        const again = await runCli([...args, "--json"]);
        assert.equal(again.code, 0, again.stderr);
        const [result] = jsonLines(again.stdout);
        assert.equal(result?.["resumedFrom"], 60_000);
        assert.equal(result?.["sha256"], sha256(body));
        assert.deepEqual(await bytesOf(join(dir, "stuck.bin")), body);
      });
    } finally {
      await server.close();
    }
  });

  it("-x 4: a stalled range ends the attempt with every range saved; the retry finishes", {
    timeout: 120_000,
  }, async () => {
    const body = randomBody(16 * 1024 * 1024 + 99); // four ranges of the 4 MiB floor
    const server = await startResourceServer(
      { body, etag: '"cli-stall"' },
      (req, honest) =>
        req.index === 2 ? { ...honest, stallAfter: 1 << 20, chunkSize: 64 * 1024 } : honest,
    );
    try {
      await withTempDir(async (dir) => {
        const run = await runCli([
          `${server.url}/big.bin`,
          "--dir",
          dir,
          "-x",
          "4",
          "--stall-timeout",
          "0.5",
          "--retry-delay",
          "0.01",
          "--json",
          "-v",
        ], { timeoutMs: 100_000 });
        assert.equal(run.code, 0, run.stderr);
        const [result] = jsonLines(run.stdout);
        assert.equal(result?.["attempts"], 2);
        assert.ok(Number(result?.["resumedFrom"]) > 1 << 20, String(result?.["resumedFrom"]));
        assert.equal(result?.["sha256"], sha256(body));
        assert.match(run.stderr, /^Retrying .*stalled/m);
        assert.deepEqual(await bytesOf(join(dir, "big.bin")), body);
      });
    } finally {
      await server.close();
    }
  });
});
