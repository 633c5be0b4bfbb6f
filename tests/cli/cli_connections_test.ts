import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import { parseArgs, UsageError } from "../../src/cli/args.ts";
import { HELP } from "../../src/cli/help.ts";
import { shardOf } from "../../src/cli/jobs.ts";
import { jsonLines, runCli } from "../fixtures/cli_run.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

function options(argv: string[]) {
  const parsed = parseArgs(argv);
  assert.equal(parsed.kind, "run");
  return parsed.kind === "run" ? parsed.options : assert.fail();
}

describe("haul CLI: -x and --shard", () => {
  it("parses -x / --connections, --max-connections and --shard, and documents them", () => {
    assert.equal(options(["https://e.com/a"]).connections, 1);
    assert.equal(options(["-x", "8", "https://e.com/a"]).connections, 8);
    assert.equal(options(["-x8", "https://e.com/a"]).connections, 8);
    assert.equal(options(["--connections=4", "https://e.com/a"]).connections, 4);
    assert.equal(options(["https://e.com/a"]).maxConnections, 16);
    assert.equal(options(["--max-connections", "64", "https://e.com/a"]).maxConnections, 64);
    for (const bad of ["0", "33", "x", "1.5"]) {
      assert.throws(() => parseArgs(["-x", bad, "https://e.com/a"]), UsageError, bad);
    }
    assert.deepEqual(options(["-i", "l.txt", "--shard", "3/8"]).shard, { index: 3, count: 8 });
    assert.equal(options(["-i", "l.txt"]).shard, null);
    assert.deepEqual(options(["-i", "l.txt", "--shard", "8/8"]).shard, { index: 8, count: 8 });
    assert.throws(() => parseArgs(["-i", "l.txt", "--shard", "0/8"]), /K counts from 1/);
    assert.throws(() => parseArgs(["-i", "l.txt", "--shard", "9/8"]), /K counts from 1/);
    assert.throws(() => parseArgs(["https://e.com/a", "--shard", "1/2"]), /with -i LIST/);
    for (const flag of ["-x, --connections N", "--max-connections N", "--shard K/N"]) {
      assert.ok(HELP.includes(`  ${flag} `), flag);
    }
  });

  it("-x 4 fetches one file over 4 connections; --json says so", { timeout: 120_000 }, async () => {
    const body = randomBody(16 * 1024 * 1024 + 99); // four ranges of the 4 MiB floor
    const server = await startResourceServer({ body, etag: '"cli-x"' });
    try {
      await withTempDir(async (dir) => {
        const run = await runCli([`${server.url}/big.bin`, "--dir", dir, "-x", "4", "--json"]);
        assert.equal(run.code, 0, run.stderr);
        const [line] = jsonLines(run.stdout);
        assert.equal(line?.["connections"], 4);
        assert.equal(line?.["sha256"], sha256(body));
        assert.deepEqual(await bytesOf(join(dir, "big.bin")), body);
        assert.ok(server.requests.filter((r) => r.headers["range"] !== undefined).length >= 3);
      });
    } finally {
      await server.close();
    }
  });

  it("--shard K/N: the shards of one list are disjoint and together download every line", {
    timeout: 120_000,
  }, async () => {
    const bodies = new Map<string, Uint8Array>();
    for (let i = 0; i < 9; i++) bodies.set(`/f${i}.bin`, randomBody(1000 + i));
    const server = await startResourceServer((req) => ({ body: bodies.get(req.path)! }));
    try {
      await withTempDir(async (dir) => {
        const names = [...bodies.keys()].map((path) => `data/${path.slice(1)}`);
        const list = [...bodies.keys()].map((path, i) => `${server.url}${path} ${names[i]}`);
        await writeFile(join(dir, "list.txt"), list.join("\n") + "\n");
        const sums = [...bodies.values()].map((b, i) => `${sha256(b)}  ${names[i]}`);
        await writeFile(join(dir, "SHA256SUMS"), sums.join("\n") + "\n");
        const seen = new Set<string>();
        for (let k = 1; k <= 3; k++) {
          const run = await runCli([
            "-i",
            join(dir, "list.txt"),
            "--dir",
            join(dir, "out"),
            "--checksums",
            join(dir, "SHA256SUMS"),
            "--shard",
            `${k}/3`,
            "--json",
          ]);
          assert.equal(run.code, 0, run.stderr);
          const dests = jsonLines(run.stdout).map((line) => String(line["dest"]));
          const expected = names.filter((name) => shardOf(name, 3) === k - 1);
          assert.equal(dests.length, expected.length, `shard ${k}`);
          for (const dest of dests) {
            const name = expected.find((n) => dest.endsWith(n));
            assert.ok(name !== undefined, `${dest} is not in shard ${k}`);
            assert.ok(!seen.has(name), `${name} in two shards`);
            seen.add(name);
          }
        }
        assert.equal(seen.size, names.length);
        const files = await readdir(join(dir, "out", "data"));
        assert.equal(files.length, names.length);
        for (const [i, path] of [...bodies.keys()].entries()) {
          assert.deepEqual(await bytesOf(join(dir, "out", names[i]!)), bodies.get(path));
        }
      });
    } finally {
      await server.close();
    }
  });

  it("--shard still refuses a bad line in another shard's part of the list", async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, "list.txt"), "https://e.com/a.bin\nftp://e.com/b.bin\n");
      const run = await runCli(["-i", join(dir, "list.txt"), "--dir", dir, "--shard", "1/1"]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /Unsupported URL scheme ftp/);
    });
  });

  it("--shard 0/N and K above N exit 2 saying that K counts from 1", async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, "list.txt"), "https://e.com/a.bin\n");
      for (const value of ["0/3", "4/3"]) {
        const run = await runCli(["-i", join(dir, "list.txt"), "--dir", dir, "--shard", value]);
        assert.equal(run.code, 2, value);
        assert.match(run.stderr, /K counts from 1, so it must be from 1 to N \(1 to 3\)/);
        assert.deepEqual(await readdir(dir), ["list.txt"], "nothing written");
      }
    });
  });
});
