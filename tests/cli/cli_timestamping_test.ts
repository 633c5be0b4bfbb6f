/**
 * `-R` (`--remote-time`) and `-N` (`--timestamping`) in child processes: the
 * mtime from Last-Modified, then one conditional `GET` per existing file.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { stat, writeFile } from "node:fs/promises";
import { runCli } from "../fixtures/cli_run.ts";
import { parseArgs, UsageError } from "../../src/cli/args.ts";
import { startScriptServer } from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, withTempDir } from "../helpers/temp.ts";

const FILES: Record<string, { body: Uint8Array; lastModified: string }> = {
  "/a.bin": { body: randomBody(20_000), lastModified: "Mon, 02 Jun 2025 10:00:00 GMT" },
  "/b.bin": { body: randomBody(30_000), lastModified: "Mon, 02 Jun 2025 11:00:00 GMT" },
};

/** Serves {@link FILES} by path, evaluating If-Modified-Since. */
function filesServer() {
  return startScriptServer((req) => {
    const file = FILES[req.path];
    if (file === undefined) return { status: 404, body: "" };
    const headers = { Date: new Date().toUTCString(), "Last-Modified": file.lastModified };
    const since = req.headers["if-modified-since"];
    if (since !== undefined && Date.parse(file.lastModified) <= Date.parse(since)) {
      return { status: 304, headers };
    }
    return { status: 200, headers, body: file.body };
  });
}

describe("haul CLI -R and -N", () => {
  it("-R sets the mtime; -N asks If-Modified-Since instead of the size, and replaces a changed file", async () => {
    const server = await filesServer();
    try {
      await withTempDir(async (dir) => {
        const url = `${server.url}/a.bin`;
        const dest = join(dir, "a.bin");
        const first = await runCli([url, "-o", dest, "-R"]);
        assert.equal(first.code, 0, first.stderr);
        assert.equal((await stat(dest)).mtimeMs, Date.parse(FILES["/a.bin"]!.lastModified));

        const second = await runCli([url, "-o", dest, "-N"]);
        assert.equal(second.code, 0, second.stderr);
        assert.match(second.stdout, /^Skipped .*a\.bin: unchanged on the server, 19\.5 KiB/);
        const asked = server.requests.slice(1).map((
          req,
        ) => [req.method, req.headers["if-modified-since"]]);
        assert.deepEqual(asked, [["GET", FILES["/a.bin"]!.lastModified]]);

        const changed = randomBody(25_000);
        FILES["/a.bin"] = { body: changed, lastModified: "Wed, 04 Jun 2025 08:00:00 GMT" };
        const third = await runCli([url, "-o", dest, "--timestamping"]);
        assert.equal(third.code, 0, third.stderr);
        assert.match(third.stdout, /^Saved /);
        assert.deepEqual(await bytesOf(dest), changed);
        assert.equal((await stat(dest)).mtimeMs, Date.parse("Wed, 04 Jun 2025 08:00:00 GMT"));
      });
    } finally {
      await server.close();
    }
  });

  it("-N with -i LIST asks once per existing file, and a 404 keeps the file and fails", async () => {
    const server = await filesServer();
    try {
      await withTempDir(async (dir) => {
        const list = join(dir, "list.txt");
        const urls = ["a.bin", "b.bin"].map((name) => `${server.url}/${name}`);
        await writeFile(list, urls.join("\n") + "\n");
        const first = await runCli(["-i", list, "--dir", dir, "-N"]);
        assert.equal(first.code, 0, first.stderr);
        const before = server.requests.length;
        const second = await runCli(["-i", list, "--dir", dir, "-N", "--json"]);
        assert.equal(second.code, 0, second.stderr);
        const asked = server.requests.slice(before).map((
          req,
        ) => [req.path, req.headers["if-modified-since"]])
          .sort();
        assert.deepEqual(asked, [
          ["/a.bin", FILES["/a.bin"]!.lastModified],
          ["/b.bin", FILES["/b.bin"]!.lastModified],
        ]);

        const kept = await bytesOf(join(dir, "b.bin"));
        delete FILES["/b.bin"];
        const gone = await runCli(["-i", list, "--dir", dir, "-N", "--retries", "0"]);
        assert.equal(gone.code, 1);
        assert.match(gone.stderr, /b\.bin.*404/);
        assert.deepEqual(await bytesOf(join(dir, "b.bin")), kept, "the old file stays");
      });
    } finally {
      await server.close();
    }
  });

  it("-R keeps the time of writing when Last-Modified is malformed, not before Date, or missing", async () => {
    const body = randomBody(5000);
    const server = await startScriptServer((req) => {
      const modified = req.path === "/bad.bin"
        ? "yesterday"
        : req.path === "/future.bin"
        ? "Fri, 01 Jan 2100 00:00:00 GMT"
        : null;
      const headers: [string, string][] = [["Date", new Date().toUTCString()]];
      if (modified !== null) headers.push(["Last-Modified", modified]);
      return { status: 200, headers, body };
    });
    try {
      await withTempDir(async (dir) => {
        const before = Date.now() - 2000;
        const names = ["bad.bin", "future.bin", "none.bin"];
        const run = await runCli([
          ...names.map((name) => `${server.url}/${name}`),
          "-R",
          "--dir",
          dir,
        ]);
        assert.equal(run.code, 0, run.stderr);
        for (const name of names) {
          const { mtimeMs } = await stat(join(dir, name));
          assert.ok(mtimeMs >= before && mtimeMs <= Date.now() + 2000, `${name}: ${mtimeMs}`);
        }
      });
    } finally {
      await server.close();
    }
  });

  it("refuses -N and -R with -o -", () => {
    for (const flag of ["-N", "-R", "--timestamping", "--remote-time"]) {
      assert.throws(() => parseArgs(["https://e.com/a", "-o", "-", flag]), UsageError);
    }
  });
});
