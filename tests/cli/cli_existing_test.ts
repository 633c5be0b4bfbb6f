import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { jsonLines, runCli, startCli } from "../fixtures/cli_run.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const BODY = randomBody(150_000);

describe("haul CLI and a destination that already exists", () => {
  it("calls a file of the server's size complete after a HEAD, and refuses one of another size with --overwrite advice", async () => {
    const server = await startResourceServer({ body: BODY });
    try {
      await withTempDir(async (dir) => {
        const url = `${server.url}/a.bin`;
        const dest = join(dir, "a.bin");
        await writeFile(dest, BODY);
        const same = await runCli([url, "-o", dest]);
        assert.equal(same.code, 0, same.stderr);
        assert.match(same.stdout, /^Skipped .*a\.bin: already complete, 146\.5 KiB/);
        assert.deepEqual(server.requests.map((req) => req.method), ["HEAD"]);

        const cut = BODY.subarray(0, 1000); // e.g. what an interrupted curl left
        await writeFile(dest, cut);
        const shorter = await runCli([url, "-o", dest, "--json"]);
        assert.equal(shorter.code, 1, shorter.stderr);
        assert.doesNotMatch(shorter.stdout + shorter.stderr, /already complete/);
        assert.match(
          shorter.stderr,
          /^Failed .*a\.bin: Existing .*a\.bin is 1000 B but the server's file is 146\.5 KiB: .*use --overwrite to download it again\n$/,
        );
        const [object] = jsonLines(shorter.stdout);
        assert.equal(object?.status, "failed");
        assert.deepEqual(
          {
            name: (object?.error as { name: string }).name,
            retryable: (object?.error as { retryable: boolean }).retryable,
          },
          { name: "ExistingFileError", retryable: false },
        );
        assert.deepEqual(await bytesOf(dest), cut, "the file is left as it was");
        assert.deepEqual((await readdir(dir)).sort(), ["a.bin"], "no sidecar made");

        const again = await runCli([url, "-o", dest, "--overwrite"]);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /^Saved /);
        assert.deepEqual(await bytesOf(dest), BODY);
      });
    } finally {
      await server.close();
    }
  });

  it("asks for the first byte when HEAD gives no length, and checks a digest instead of the size when one is given", async () => {
    const server = await startResourceServer({ body: BODY }, (req, honest) => {
      if (req.method === "HEAD") return { status: 405, headers: { Allow: "GET" }, body: "" };
      return honest;
    });
    try {
      await withTempDir(async (dir) => {
        const url = `${server.url}/b.bin`;
        const dest = join(dir, "b.bin");
        await writeFile(dest, BODY.subarray(0, 149_999));
        const run = await runCli([url, "-o", dest]);
        assert.equal(run.code, 1);
        // Sizes that round alike are given in bytes: "146.5 KiB but 146.5 KiB" says nothing.
        assert.match(run.stderr, /is 149999 bytes but the server's file is 150000 bytes/);
        assert.deepEqual(server.requests.map((req) => [req.method, req.headers["range"]]), [
          ["HEAD", undefined],
          ["GET", "bytes=0-0"],
        ]);
        await writeFile(dest, BODY);
        const before = server.requests.length;
        const good = await runCli([url, "-o", dest, "--sha256", sha256(BODY)]);
        assert.equal(good.code, 0, good.stderr);
        assert.match(good.stdout, /^Skipped .*\(verified\)/);
        assert.equal(server.requests.length, before, "a digest is checked on disk, no request");
        const bad = await runCli([url, "-o", dest, "--sha256", "0".repeat(64)]);
        assert.equal(bad.code, 1);
        assert.match(bad.stderr, /use --overwrite to download it again/);
        assert.doesNotMatch(bad.stderr, /overwrite: true|run the same command/);
      });
    } finally {
      await server.close();
    }
  });

  it("calls a second run's files complete without a digest, and verifies them with --checksums", async () => {
    const server = await startResourceServer({ body: BODY });
    try {
      await withTempDir(async (dir) => {
        const list = join(dir, "list.txt");
        await writeFile(list, `${server.url}/d1.bin\n${server.url}/d2.bin\n`);
        const out = join(dir, "o");
        const first = await runCli(["-i", list, "--dir", out]);
        assert.equal(first.code, 0, first.stderr);
        const second = await runCli(["-i", list, "--dir", out]);
        assert.equal(second.code, 0, second.stderr);
        const lines = second.stdout.trimEnd().split("\n").sort();
        assert.deepEqual(lines, [
          `Skipped ${join(out, "d1.bin")}: already complete, 146.5 KiB`,
          `Skipped ${join(out, "d2.bin")}: already complete, 146.5 KiB`,
        ], "no digest: the files were not read");
        const json = jsonLines((await runCli(["-i", list, "--dir", out, "--json"])).stdout);
        assert.deepEqual(json.map((object) => [object.status, object.sha256, object.verified]), [
          ["skipped", null, false],
          ["skipped", null, false],
        ]);

        const sums = join(dir, "SUMS");
        await writeFile(sums, `${sha256(BODY)}  d1.bin\n${sha256(BODY)}  d2.bin\n`);
        const before = server.requests.length;
        const checked = await runCli(["-i", list, "--dir", out, "--checksums", sums]);
        assert.equal(checked.code, 0, checked.stderr);
        assert.match(
          checked.stdout,
          new RegExp(`already complete, 146\\.5 KiB, sha256 ${sha256(BODY)} \\(verified\\)`),
        );
        assert.equal(server.requests.length, before, "a digest is checked on disk, no request");
        await writeFile(sums, `${sha256(BODY)}  d1.bin\n${"0".repeat(64)}  d2.bin\n`);
        const bad = await runCli(["-i", list, "--dir", out, "--checksums", sums]);
        assert.equal(bad.code, 1);
        assert.match(bad.stderr, /d2\.bin .*: Integrity check failed: .*use --overwrite/);
      });
    } finally {
      await server.close();
    }
  });

  it("refuses a device, a fifo or a directory as the destination before any request, with status 2", async () => {
    const server = await startResourceServer({ body: BODY });
    try {
      await withTempDir(async (dir) => {
        const url = `${server.url}/c.bin`;
        const fifo = join(dir, "pipe");
        assert.equal(spawnSync("mkfifo", [fifo]).status, 0, "mkfifo");
        await mkdir(join(dir, "sub"));
        const cases: [string[], RegExp][] = [
          [[url, "-o", "/dev/null"], /-o \/dev\/null is a character device, not a regular file/],
          [[url, "-o", fifo], /-o .*pipe is a fifo, not a regular file/],
          [[url, "-o", join(dir, "sub")], /-o .*sub is a directory: give a file name/],
          [[`${server.url}/sub`, "--dir", dir], /Destination .*sub is a directory/],
        ];
        for (const [args, expected] of cases) {
          const run = await runCli(args, { timeoutMs: 20_000 });
          assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
          assert.match(run.stderr, expected);
          assert.match(run.stderr, /Nothing was downloaded/);
        }
        assert.equal(server.requests.length, 0);
        assert.deepEqual((await readdir(dir)).sort(), ["pipe", "sub"]);
      });
    } finally {
      await server.close();
    }
  });
});

describe("haul CLI with curl's and wget's habits", () => {
  it("accepts -L, -C -, -c, -s, -S and -f for what haul always does", async () => {
    const server = await startResourceServer({ body: BODY }, (req, honest) => {
      return req.path === "/missing" ? { status: 404, body: "no" } : honest;
    });
    try {
      await withTempDir(async (dir) => {
        const url = `${server.url}/d.bin`;
        const run = await runCli([
          "-sSLf",
          "-C",
          "-",
          "-c",
          "--location",
          "--fail",
          url,
          "--dir",
          dir,
        ]);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.stdout + run.stderr, "", "-s prints nothing on success");
        assert.deepEqual(await bytesOf(join(dir, "d.bin")), BODY);
        const offset = await runCli(["-C", "100", url, "--dir", dir]);
        assert.equal(offset.code, 2);
        assert.match(offset.stderr, /haul resumes from its own checkpoint, not from an offset/);
        const stdout = await runCli([url, "-o", "-", "--dir", dir]);
        assert.equal(stdout.code, 2);
        assert.match(stdout.stderr, /Use either -o - \(standard output\) or --dir, not both/);
        assert.equal(server.requests.length, 1, "no request after a usage error");
        const failing = await runCli(["-s", `${server.url}/missing`, "--dir", dir]);
        assert.equal(failing.code, 1);
        assert.equal(failing.stdout, "");
        assert.match(
          failing.stderr,
          /^Failed .*missing: Download refused: HTTP 404/,
          "errors still show",
        );
      });
    } finally {
      await server.close();
    }
  });

  it("stops at once on SIGTERM while it checks an existing file", async () => {
    const server = await startResourceServer({ body: BODY }, () => ({ status: 503, body: "busy" }));
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "e.bin");
        await writeFile(dest, BODY);
        const child = startCli([`${server.url}/e.bin`, "-o", dest, "--retry-delay", "5"]);
        for (let i = 0; i < 1000 && !child.stderr().includes("Retrying"); i++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        child.signal("SIGTERM");
        const result = await child.done;
        assert.equal(result.code, 143, result.stderr);
        assert.match(result.stderr, /Retrying .*e\.bin in .*: HTTP 503/);
        assert.deepEqual(await bytesOf(dest), BODY);
      });
    } finally {
      await server.close();
    }
  });
});
