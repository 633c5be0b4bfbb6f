import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { IS_DENO, jsonLines, runCli } from "../fixtures/cli_run.ts";
import { type RecordedRequest, startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const bodies = new Map<string, Uint8Array>();
function bodyFor(req: RecordedRequest): Uint8Array {
  const name = req.path.split("?")[0]!;
  let body = bodies.get(name);
  if (body === undefined) {
    body = randomBody(200_000 + 1000 * bodies.size);
    bodies.set(name, body);
  }
  return body;
}
const body = (path: string): Uint8Array => bodies.get(path)!;
const IS_BUN = !IS_DENO && "Bun" in globalThis;

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("haul CLI (child process)", () => {
  it("downloads one file with headers and a user agent, then skips it on a second run", async () => {
    const server = await startResourceServer((req) => ({ body: bodyFor(req) }));
    try {
      await withTempDir(async (dir) => {
        const args = [
          `${server.url}/one.bin`,
          "-o",
          "saved.bin",
          "--dir",
          dir,
          "-H",
          "X-Test: yes",
          "-A",
          "tester/1",
        ];
        const first = await runCli(args);
        assert.equal(first.code, 0, first.stderr);
        assert.deepEqual(await bytesOf(join(dir, "saved.bin")), body("/one.bin"));
        assert.match(first.stdout, /^Saved .*saved\.bin: 195\.3 KiB in .*, sha256 [0-9a-f]{64}\n$/);
        assert.ok(first.stdout.includes(sha256(body("/one.bin"))));
        assert.equal(first.stderr, "");
        assert.ok(!(first.stdout + first.stderr).includes("\x1b["), "no bars off a terminal");
        assert.equal(server.requests[0]!.headers["x-test"], "yes");
        assert.equal(server.requests[0]!.headers["user-agent"], "tester/1");
        const second = await runCli(args);
        assert.equal(second.code, 0);
        assert.match(second.stdout, /^Skipped .*saved\.bin: already complete/);
        assert.deepEqual(
          server.requests.map((req) => req.method),
          ["GET", "HEAD"],
          "only a HEAD for a complete file, to compare its size",
        );
      });
    } finally {
      await server.close();
    }
  });

  it("reads the list from standard input with -i -, with -j, --shard and the list's checks", async () => {
    const server = await startResourceServer((req) => ({ body: bodyFor(req) }));
    try {
      await withTempDir(async (dir) => {
        const names = ["s1.bin", "s2.bin", "s3.bin", "s4.bin"];
        const list = `# from a pipe\r\n${
          names.map((name) => `${server.url}/${name}`).join("\n")
        }\n`;
        const shards = [];
        for (const shard of ["1/2", "2/2"]) {
          const args = ["-i", "-", "--dir", join(dir, shard[0]!), "-j", "2", "--shard", shard];
          const run = await runCli([...args, "--json"], { input: list });
          assert.equal(run.code, 0, run.stderr);
          const objects = jsonLines(run.stdout);
          assert.ok(
            objects.every((o) => o.status === "done" && /^stdin:\d$/.test(String(o.source))),
          );
          shards.push(...objects.map((o) => String(o.dest).split("/").at(-1)));
        }
        assert.deepEqual(shards.sort(), names, "each line in exactly one shard");
        for (const name of names) {
          const where = exists(join(dir, "1", name)) ? "1" : "2";
          assert.deepEqual(await bytesOf(join(dir, where, name)), body(`/${name}`));
        }
        const before = server.requests.length;
        const twice = `${server.url}/s1.bin\n${server.url}/s1.bin\n`;
        const refused = await runCli(["-i", "-", "--dir", join(dir, "x")], { input: twice });
        assert.equal(refused.code, 2);
        assert.match(
          refused.stderr,
          /^haul: stdin:2: Duplicate destination s1\.bin \(also stdin:1\)/,
        );
        const empty = await runCli(["-i", "-", "--dir", join(dir, "x")], { input: "" });
        assert.equal(empty.code, 2);
        assert.match(empty.stderr, /^haul: stdin: The list has no URLs/);
        assert.equal(server.requests.length, before, "nothing asked for a refused list");
        const both = await runCli(["-i", "-", "--checksums", "-"], { input: twice });
        assert.equal(both.code, 2);
        assert.match(
          both.stderr,
          /^haul: Cannot read checksums file -: standard input is read once/,
        );
      });
    } finally {
      await server.close();
    }
  });

  it("runs a list with a failing and a skipped item, prints JSON and a summary, and a re-run finishes", async () => {
    let missing = true;
    const server = await startResourceServer((req) => ({ body: bodyFor(req) }), (req, honest) => {
      return req.path === "/late.bin" && missing ? { status: 404, body: "not yet" } : honest;
    });
    try {
      await withTempDir(async (dir) => {
        const out = join(dir, "out");
        const list = join(dir, "list.txt");
        await writeFile(
          list,
          `# three files\n${server.url}/a.bin\n\n${server.url}/b.bin data/b.bin\n` +
            `${server.url}/late.bin\n`,
        );
        await runCli([`${server.url}/b.bin`, "-o", join(out, "data", "b.bin")]);
        const before = server.requests.length;
        const first = await runCli(["-i", list, "--dir", out, "-j", "2", "--json"]);
        assert.equal(first.code, 1, first.stderr);
        const objects = jsonLines(first.stdout);
        const byDest = new Map(objects.map((o) => [String(o.dest).replace(`${out}/`, ""), o]));
        assert.equal(byDest.size, 3);
        const a = byDest.get("a.bin")!;
        assert.equal(a.status, "done");
        assert.equal(a.sha256, sha256(body("/a.bin")));
        assert.equal(a.size, body("/a.bin").length);
        assert.equal(a.source, `${list}:2`);
        assert.equal(a.attempts, 1);
        assert.equal(byDest.get("data/b.bin")!.status, "skipped");
        const late = byDest.get("late.bin")!;
        assert.equal(late.status, "failed");
        assert.deepEqual(late.error, {
          name: "UnexpectedStatusError",
          message:
            `Download refused: HTTP 404 from ${server.url}/late.bin: check the URL and credentials`,
          retryable: false,
          status: 404,
        });
        assert.match(first.stderr, /Done 1, skipped 1, failed 1: \d+\.\d KiB downloaded in /);
        assert.match(
          first.stderr,
          /Failed:\n {2}.*late\.bin \(.*list\.txt:5\): Download refused: HTTP 404/,
        );
        const sent = server.requests.slice(before).map((r) => `${r.method} ${r.path}`).sort();
        assert.deepEqual(
          sent,
          ["GET /a.bin", "GET /late.bin", "HEAD /b.bin"],
          "only a HEAD for the skipped item",
        );

        missing = false;
        const second = await runCli(["-i", list, "--dir", out, "-j", "2"]);
        assert.equal(second.code, 0, second.stderr);
        assert.match(second.stdout, /Saved .*late\.bin/);
        assert.equal((second.stdout.match(/^Skipped /gm) ?? []).length, 2);
        assert.match(second.stderr, /Done 1, skipped 2, failed 0/);
        assert.deepEqual(await bytesOf(join(out, "late.bin")), body("/late.bin"));
      });
    } finally {
      await server.close();
    }
  });

  it("retries through a cut and a stall, resuming each time", async () => {
    const server = await startResourceServer((req) => ({ body: bodyFor(req) }), (req, honest) => {
      if (req.index === 0) return { ...honest, cutAfter: 60_000, chunkSize: 8192 };
      if (req.index === 1) return { ...honest, stallAfter: 40_000, chunkSize: 8192 };
      return honest;
    });
    try {
      await withTempDir(async (dir) => {
        const run = await runCli([
          `${server.url}/flaky.bin`,
          "--dir",
          dir,
          "--stall-timeout",
          "0.5",
          "--retry-delay",
          "0.01",
          "--json",
          "-v",
        ]);
        assert.equal(run.code, 0, run.stderr);
        const [result] = jsonLines(run.stdout);
        assert.equal(result?.status, "done");
        assert.equal(result?.attempts, 3);
        assert.ok(Number(result?.resumedFrom) > 0);
        assert.deepEqual(await bytesOf(join(dir, "flaky.bin")), body("/flaky.bin"));
        assert.equal((run.stderr.match(/^Retrying /gm) ?? []).length, 2, run.stderr);
        assert.match(run.stderr, /stalled/);
        assert.equal(server.requests.length, 3);
        assert.ok(server.requests[2]!.headers["range"]?.startsWith("bytes="));
      });
    } finally {
      await server.close();
    }
  });

  it("refuses a file whose SHA-256 does not match and keeps nothing", async () => {
    const server = await startResourceServer((req) => ({ body: bodyFor(req) }));
    try {
      await withTempDir(async (dir) => {
        const wrong = "0".repeat(64);
        const run = await runCli([`${server.url}/bad.bin`, "--dir", dir, "--sha256", wrong]);
        assert.equal(run.code, 1);
        assert.match(run.stderr, /^Failed .*bad\.bin: Integrity check failed: .* expected 0{64}/);
        assert.deepEqual(await readdir(dir), []);
        const good = sha256(body("/bad.bin"));
        const ok = await runCli([`${server.url}/bad.bin`, "--dir", dir, "--sha256", good]);
        assert.equal(ok.code, 0, ok.stderr);
        assert.match(ok.stdout, /\(verified\)/);
      });
    } finally {
      await server.close();
    }
  });

  it("verifies every file of a list against a sha256sum file", async () => {
    const server = await startResourceServer((req) => ({ body: bodyFor(req) }));
    try {
      await withTempDir(async (dir) => {
        bodyFor({ path: "/c1.bin" } as RecordedRequest);
        const list = join(dir, "list.txt");
        const sums = join(dir, "SHA256SUMS");
        await writeFile(list, `${server.url}/c1.bin\n${server.url}/c2.bin\n`);
        await writeFile(sums, `${sha256(body("/c1.bin"))}  c1.bin\n${"f".repeat(64)} *c2.bin\n`);
        const run = await runCli([
          "-i",
          list,
          "--dir",
          join(dir, "o"),
          "--checksums",
          sums,
          "--json",
        ]);
        assert.equal(run.code, 1);
        const [c1, c2] = jsonLines(run.stdout).sort((x, y) =>
          String(x.dest) < String(y.dest) ? -1 : 1
        );
        assert.equal(c1?.status, "done");
        assert.equal(c1?.verified, true);
        assert.equal(c2?.status, "failed");
        assert.equal((c2?.error as { name: string }).name, "IntegrityError");
        assert.equal(exists(join(dir, "o", "c2.bin")), false);
        assert.equal(exists(join(dir, "o", "c2.bin.part")), false);
      });
    } finally {
      await server.close();
    }
  });

  it("checks --sha512, and a list against sha512sum and BSD SHA512 lines", async () => {
    const server = await startResourceServer((req) => ({ body: bodyFor(req) }));
    const sha512 = (data: Uint8Array) => createHash("sha512").update(data).digest("hex");
    try {
      await withTempDir(async (dir) => {
        const one = `${server.url}/s512.bin`;
        const wrong = await runCli([one, "--dir", dir, "--sha512", "0".repeat(128)]);
        assert.equal(wrong.code, 1);
        assert.match(
          wrong.stderr,
          /Integrity check failed: .*got sha512 [0-9a-f]{128}, expected 0{128}/,
        );
        assert.deepEqual(await readdir(dir), []);
        const good = sha512(body("/s512.bin"));
        const ok = await runCli([one, "--dir", dir, "--sha512", good.toUpperCase()]);
        assert.equal(ok.code, 0, ok.stderr);
        assert.ok(ok.stdout.includes(`sha512 ${good} (verified)`), ok.stdout);

        for (const name of ["/d1.bin", "/d2.bin", "/d3.bin"]) {
          bodyFor({ path: name } as RecordedRequest);
        }
        const list = join(dir, "list.txt");
        const sums = join(dir, "SHA512SUMS");
        await writeFile(list, ["d1", "d2", "d3"].map((n) => `${server.url}/${n}.bin\n`).join(""));
        await writeFile(
          sums,
          `${sha512(body("/d1.bin"))}  d1.bin\n` +
            `SHA512 (d2.bin) = ${sha512(body("/d2.bin"))}\n` +
            `SHA256 (d3.bin) = ${sha256(body("/d3.bin"))}\n` + // one line each, its own algorithm
            `SHA512 (d3.bin) = ${"e".repeat(128)}\n`, // the strongest decides: d3 fails
        );
        const out = join(dir, "o");
        const run = await runCli(["-i", list, "--dir", out, "--checksums", sums, "--json"]);
        assert.equal(run.code, 1);
        const lines = jsonLines(run.stdout).sort((x, y) =>
          String(x.dest) < String(y.dest) ? -1 : 1
        );
        assert.deepEqual(lines.map((line) => [line.status, line.sha512]), [
          ["done", sha512(body("/d1.bin"))],
          ["done", sha512(body("/d2.bin"))],
          ["failed", undefined],
        ]);
        assert.equal((lines[2]?.error as { name: string }).name, "IntegrityError");
        assert.deepEqual((await readdir(out)).sort(), ["d1.bin", "d2.bin"]);
      });
    } finally {
      await server.close();
    }
  });

  it("refuses each kind of bad list line before any request, naming the line", async () => {
    const server = await startResourceServer((req) => ({ body: bodyFor(req) }));
    try {
      await withTempDir(async (dir) => {
        const ok = `${server.url}/fine.bin`;
        const cases: [string, RegExp][] = [
          [`${ok}\nhttp//no-scheme/x.bin\n`, /list\.txt:2: Invalid URL/],
          // A control character in a message (a terminal escape) is shown as "?", never sent.
          [`${ok}\n\x1b]0;title\x07\n`, /list\.txt:2: Invalid URL "\?\]0;title\?"/],
          [`${ok}\n${server.url}/other/fine.bin\n`, /list\.txt:2: Duplicate destination fine\.bin/],
          [`${ok}\n${server.url}/x.bin /tmp/x.bin\n`, /list\.txt:2: Absolute path/],
          [`${ok}\n${server.url}/x.bin sub/a\x1b[2Jb.bin\n`, /list\.txt:2: Control characters in/],
          [`${ok}\n\n${server.url}/x.bin ../x.bin\n`, /list\.txt:3: '\.\.' would leave/],
          ["# nothing but a comment\n\n", /list\.txt: The list has no URLs/],
          [
            `${server.url}/fine.bin.part\n${ok}\n`,
            /list\.txt:1: Destination fine\.bin\.part is where/,
          ],
        ];
        for (const [text, expected] of cases) {
          const list = join(dir, "list.txt");
          await writeFile(list, text);
          const run = await runCli(["-i", list, "--dir", join(dir, "out")]);
          assert.equal(run.code, 2, text);
          assert.match(run.stderr, expected);
          assert.match(run.stderr, /Nothing was downloaded/);
          assert.doesNotMatch(run.stderr, /\p{Cc}(?<!\n)/u, "no control character but line ends");
        }
        assert.equal(server.requests.length, 0);
        assert.equal(exists(join(dir, "out")), false, "nothing created");
      });
    } finally {
      await server.close();
    }
  });

  it("exits 2 on usage errors, 0 for --help and --version, and 1 when a download fails", async () => {
    const usage = await runCli(["--retries", "many", "https://example.com/"]);
    assert.equal(usage.code, 2);
    assert.equal(
      usage.stderr,
      'haul: Invalid --retries "many": give a whole number from 0 to 1000000\n',
    );
    assert.equal((await runCli([])).code, 2);
    assert.equal((await runCli(["-i", "/nonexistent/list.txt"])).code, 2);
    const help = await runCli(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Examples:/);
    assert.match(
      help.stdout,
      /Exit status: 0 all done, 1 a download failed \(or --dir cannot be made\), 2 usage/,
    );
    const version = await runCli(["--version"]);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^haul \d+\.\d+\.\d+\n$/);
    await withTempDir(async (dir) => {
      const refused = await runCli(["http://127.0.0.1:9/x.bin", "--dir", dir, "--retries", "0"]);
      assert.equal(refused.code, 1);
      assert.equal(refused.stderr.trim().split("\n").length, 1, "one line per error");
      // A control character in a path is a usage error, shown as "?": no file, no spliced line.
      const spliced = await runCli(["http://127.0.0.1:9/x.bin", "-o", `${dir}/a\nSaved b: 1 GiB`]);
      assert.equal(spliced.code, 2);
      assert.equal(
        spliced.stderr,
        "haul: Invalid -o: remove its control characters\n",
      );
      const escape = await runCli(["--retries", "\u001b[2J", "https://example.com/"]);
      assert.equal(escape.code, 2);
      assert.equal(
        escape.stderr,
        'haul: Invalid --retries "?[2J": give a whole number from 0 to 1000000\n',
      );
      assert.deepEqual(await readdir(dir), []);
    });
  });

  it("downloads to names that start with '!' from the URL, -o and a list path", async () => {
    const server = await startResourceServer((req) => ({ body: bodyFor(req) }));
    try {
      await withTempDir(async (dir) => {
        const fromUrl = await runCli([`${server.url}/!notes.txt`, "--dir", dir]);
        assert.equal(fromUrl.code, 0, fromUrl.stderr);
        assert.deepEqual(await bytesOf(join(dir, "!notes.txt")), body("/!notes.txt"));
        const fromOutput = await runCli([`${server.url}/x.iso`, "--dir", dir, "-o", "!x.iso"]);
        assert.equal(fromOutput.code, 0, fromOutput.stderr);
        assert.deepEqual(await bytesOf(join(dir, "!x.iso")), body("/x.iso"));
        const list = join(dir, "list.txt");
        await writeFile(list, `${server.url}/draft.bin !draft.bin\n`);
        const fromList = await runCli(["-i", list, "--dir", dir]);
        assert.equal(fromList.code, 0, fromList.stderr);
        assert.deepEqual(await bytesOf(join(dir, "!draft.bin")), body("/draft.bin"));
      });
    } finally {
      await server.close();
    }
  });

  it("prints one line per retry with its OS reason off a terminal, and a closing line with it", async () => {
    const port = await closedPort();
    await withTempDir(async (dir) => {
      const url = `http://127.0.0.1:${port}/gone.bin`;
      const run = await runCli([url, "--dir", dir, "--retries", "2", "--retry-delay", "0.01"]);
      assert.equal(run.code, 1);
      const lines = run.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 3, run.stderr);
      assert.match(
        lines[0]!,
        /^Retrying .*gone\.bin in \d+\.\d s \(attempt 2 of 3\): ECONNREFUSED \(connection refused\)$/,
      );
      assert.match(lines[1]!, /^Retrying .*\(attempt 3 of 3\): ECONNREFUSED/);
      assert.match(
        lines[2]!,
        /^Failed .*gone\.bin: Network error: ECONNREFUSED \(connection refused\) for http:\/\/127\.0\.0\.1:\d+\/gone\.bin: .*run the same command again \(3 attempts\)$/,
      );
      const quiet = await runCli([
        url,
        "--dir",
        dir,
        "--retries",
        "1",
        "--retry-delay",
        "0.01",
        "-q",
      ]);
      assert.doesNotMatch(quiet.stderr, /Retrying/);
      assert.match(quiet.stderr, /^Failed .*ECONNREFUSED/);
    });
  });

  it("stops at once on what no retry cures, with advice that fits and no 'run again' for it", async () => {
    const server = await startResourceServer((req) => ({ body: bodyFor(req) }), (req, honest) => {
      return req.path === "/missing.bin" ? { status: 404, body: "no" } : honest;
    });
    try {
      await withTempDir(async (dir) => {
        bodyFor({ path: "/bad.bin" } as RecordedRequest);
        const list = join(dir, "list.txt");
        const sums = join(dir, "SUMS");
        await writeFile(list, `${server.url}/missing.bin\n${server.url}/bad.bin\n`);
        await writeFile(sums, `${"0".repeat(64)}  missing.bin\n${"1".repeat(64)}  bad.bin\n`);
        const run = await runCli(["-i", list, "--dir", dir, "--checksums", sums]);
        assert.equal(run.code, 1);
        assert.equal(server.requests.length, 2, "one attempt each");
        assert.doesNotMatch(run.stderr, /Retrying|run the same command again/);
        assert.match(run.stderr, /missing\.bin .*HTTP 404 .*check the URL/);
        assert.match(run.stderr, /bad\.bin .*Integrity check failed: .*nothing was saved/);
        const blocked = await runCli([
          "http://127.0.0.1:1/x.bin",
          "--dir",
          dir,
          "--retries",
          "1",
          "--retry-delay",
          "3",
        ]);
        assert.equal(blocked.code, 1);
        if (IS_BUN) {
          // Bun's fetch has no blocked-port list: the OS refuses, which may pass later.
          assert.match(blocked.stderr, /ECONNREFUSED/);
        } else {
          assert.equal(blocked.stderr.trimEnd().split("\n").length, 1, blocked.stderr);
          assert.match(
            blocked.stderr,
            /fetch refuses to use port 1 .*: serve the file on another port$/m,
          );
          assert.ok(blocked.ms < 5000, "no retry wait");
        }
      });
    } finally {
      await server.close();
    }
  });

  it("says plainly what to do when the destination's directory cannot be written", async () => {
    // /sys refuses new files even to root (EACCES): a destination no retry can cure.
    const run = await runCli([`http://127.0.0.1:9/x.bin`, "-o", "/sys/haul-test.bin"]);
    assert.equal(run.code, 1);
    assert.equal(run.stderr.trimEnd().split("\n").length, 1, run.stderr);
    assert.match(
      run.stderr,
      /^Failed \/sys\/haul-test\.bin: Cannot write to \/sys: permission denied: choose a directory you can write to \(--dir or -o\)/,
    );
  });

  it("sends credentials from the URL as Basic auth and never prints them", async () => {
    const server = await startResourceServer((req) => ({ body: bodyFor(req) }), (_req, honest) => {
      return { ...honest, status: 403, body: "forbidden" };
    });
    try {
      await withTempDir(async (dir) => {
        const url = server.url.replace("//", "//alice:s3cret@") + "/private.bin?token=hunter2";
        const run = await runCli([url, "--dir", dir, "-v", "--json"]);
        assert.equal(run.code, 1);
        const output = run.stdout + run.stderr;
        assert.ok(!output.includes("s3cret") && !output.includes("hunter2"), output);
        assert.match(run.stderr, /HTTP 403 from http:\/\/127\.0\.0\.1:\d+\/private\.bin/);
        assert.equal(
          server.requests[0]!.headers["authorization"],
          `Basic ${btoa("alice:s3cret")}`,
        );
      });
    } finally {
      await server.close();
    }
  });

  it("sends a list line's URL credentials to that URL only, never to its mirror", async () => {
    // The primary fails once with a 503, so the next attempt goes to the mirror.
    const primary = await startResourceServer((req) => ({ body: bodyFor(req) }), (_req, honest) => {
      return primary.requests.length === 1 ? { ...honest, status: 503, body: "busy" } : honest;
    });
    const mirror = await startResourceServer((req) => ({ body: bodyFor(req) }));
    try {
      await withTempDir(async (dir) => {
        const list = join(dir, "list.txt");
        const url = primary.url.replace("//", "//alice:s3cret@") + "/creds.bin";
        await writeFile(list, `${url} ${mirror.url}/creds.bin\n`);
        const run = await runCli(["-i", list, "--dir", dir, "--retry-delay", "0"]);
        assert.equal(run.code, 0, run.stderr);
        assert.ok(!(run.stdout + run.stderr).includes("s3cret"));
        assert.deepEqual(await bytesOf(join(dir, "creds.bin")), body("/creds.bin"));
        assert.equal(
          primary.requests[0]!.headers["authorization"],
          `Basic ${btoa("alice:s3cret")}`,
        );
        assert.ok(mirror.requests.length > 0, "the mirror was asked");
        for (const request of mirror.requests) {
          assert.equal(request.headers["authorization"], undefined);
        }
      });
    } finally {
      await primary.close();
      await mirror.close();
    }
  });
});
