import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseArgs, UsageError } from "../../src/cli/args.ts";
import { runCli } from "../fixtures/cli_run.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, withTempDir } from "../helpers/temp.ts";

const MiB = 1 << 20;

function limitOf(value: string): number | null {
  const parsed = parseArgs(["https://e.com/a", "--limit-rate", value]);
  return parsed.kind === "run" ? parsed.options.limitRate : null;
}

describe("haul --limit-rate", () => {
  it("reads curl's rates: K, M and G count in 1024s", () => {
    assert.equal(limitOf("500K"), 500 * 1024);
    assert.equal(limitOf("500k"), 500 * 1024);
    assert.equal(limitOf("10M"), 10 * MiB);
    assert.equal(limitOf("1.5m"), 1.5 * MiB);
    assert.equal(limitOf("1G"), 1024 * MiB);
    assert.equal(limitOf("2048"), 2048);
    const parsed = parseArgs(["https://e.com/a", "--limit-rate=1M", "-o", "-"]);
    assert.ok(parsed.kind === "run" && parsed.options.limitRate === MiB, "with -o -");
  });

  it("refuses 0, a negative rate and junk as usage errors", () => {
    for (const bad of ["0", "0K", "-1", "0.5", "abc", "10X", "", "1e6", "5 M", "10MB"]) {
      assert.throws(
        () => limitOf(bad),
        (e: unknown) => e instanceof UsageError && /--limit-rate/.test(e.message),
        bad,
      );
    }
  });

  it("paces a download (child process), and exits 2 on a bad rate", async () => {
    const body = randomBody(2 * MiB);
    const server = await startResourceServer({ body });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "a.bin");
        const run = await runCli([`${server.url}/a.bin`, "-o", dest, "--limit-rate", "1M"]);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(await bytesOf(dest), body);
        // 2 s at the limit, less the last burst (0.5 s), whose debt ends unslept.
        assert.ok(run.ms >= 1400, `${run.ms} ms`);
        const bad = await runCli([
          `${server.url}/b.bin`,
          "-o",
          join(dir, "b"),
          "--limit-rate",
          "0",
        ]);
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /Invalid --limit-rate "0"/);
        assert.ok(!exists(join(dir, "b")));
        assert.equal(server.requests.length, 1);
      });
    } finally {
      await server.close();
    }
  });

  it("paces -o - too", async () => {
    const body = new TextEncoder().encode("x".repeat(MiB));
    const server = await startResourceServer({ body });
    try {
      const run = await runCli([`${server.url}/a.txt`, "-o", "-", "--limit-rate", "512K"]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.length, MiB);
      assert.ok(run.ms >= 1400, `${run.ms} ms`); // as above: 2 s less the last burst's 0.5 s
    } finally {
      await server.close();
    }
  });
});
