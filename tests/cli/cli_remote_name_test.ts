import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import { parseArgs } from "../../src/cli/args.ts";
import { HELP } from "../../src/cli/help.ts";
import { jsonLines, runCli } from "../fixtures/cli_run.ts";
import { type RecordedRequest, type Reply, startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

/** Adds `Content-Disposition: value` to a reply. */
function named(honest: Reply, value: string): Reply {
  return {
    ...honest,
    headers: [...(honest.headers as [string, string][]), ["Content-Disposition", value]],
  };
}

const isProbe = (req: RecordedRequest): boolean => req.headers["range"] === "bytes=0-0";

describe("haul CLI: -J / --remote-header-name", () => {
  it("parses -J, documents it, and refuses it with -o or --shard", () => {
    const run = parseArgs(["https://e.com/a", "-OJ"]);
    assert.ok(run.kind === "run" && run.options.remoteHeaderName);
    const long = parseArgs(["https://e.com/a", "--remote-header-name"]);
    assert.ok(long.kind === "run" && long.options.remoteHeaderName);
    assert.throws(
      () => parseArgs(["https://e.com/a", "-J", "-o", "x"]),
      /Use either -o FILE or -J/,
    );
    assert.throws(
      () => parseArgs(["-i", "l.txt", "-J", "--shard", "1/2"]),
      /Use either -J or --shard/,
    );
    assert.match(HELP, /-J, --remote-header-name/);
  });

  it("saves under the server's name (filename* first), asked with one GET of byte 0", async () => {
    const body = randomBody(300_000);
    const server = await startResourceServer(
      { body },
      (_req, honest) =>
        named(honest, "attachment; filename*=UTF-8''na%C3%AFve%20report.csv; filename=plain.csv"),
    );
    try {
      await withTempDir(async (dir) => {
        const run = await runCli([
          `${server.url}/dl?id=7`,
          "-J",
          "--dir",
          join(dir, "out"),
          "--json",
        ]);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(await readdir(join(dir, "out")), ["naïve report.csv"]);
        assert.deepEqual(await bytesOf(join(dir, "out", "naïve report.csv")), body);
        assert.match(String(jsonLines(run.stdout)[0]!["dest"]), /naïve report\.csv$/);
        assert.equal(server.requests.length, 2);
        assert.equal(server.requests[0]!.method, "GET", "not HEAD: presigned links are GET-only");
        assert.ok(isProbe(server.requests[0]!));
        assert.equal(server.requests[1]!.headers["range"], undefined);
      });
    } finally {
      await server.close();
    }
  });

  it("says when it asks the server for the name again, and then saves under it", async () => {
    const body = randomBody(3000);
    let refusals = 1;
    const server = await startResourceServer({ body }, (req, honest) => {
      if (isProbe(req) && refusals-- > 0) return { status: 503, body: "busy" };
      return named(honest, 'attachment; filename="report.pdf"');
    });
    try {
      await withTempDir(async (dir) => {
        const args = [`${server.url}/r?id=1`, "-J", "--dir", dir, "--retry-delay", "0.01"];
        const run = await runCli(args);
        assert.equal(run.code, 0, run.stderr);
        assert.match(
          run.stderr,
          /^Retrying .*\/r\?id=1 in \d+\.\d s \(attempt 2 of 21\): HTTP 503/m,
        );
        assert.deepEqual(await readdir(dir), ["report.pdf"]);
        refusals = 1;
        const quiet = await runCli([...args, "-q", "--overwrite"]);
        assert.equal(quiet.code, 0, quiet.stderr);
        assert.doesNotMatch(quiet.stderr, /Retrying/);
      });
    } finally {
      await server.close();
    }
  });

  it("keeps a hostile name inside --dir, and falls back to the URL's name", async () => {
    const body = randomBody(5000);
    const server = await startResourceServer({ body }, (req, honest) => {
      if (req.path.startsWith("/evil")) {
        return named(honest, 'attachment; filename="../../.profile"');
      }
      if (req.path.startsWith("/dots")) return named(honest, 'attachment; filename=".."');
      return honest;
    });
    try {
      await withTempDir(async (dir) => {
        const out = join(dir, "a", "out");
        const urls = ["evil.bin", "dots.bin", "plain.bin"].map((name) => `${server.url}/${name}`);
        const run = await runCli([...urls, "-J", "--dir", out]);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual((await readdir(out)).sort(), ["dots.bin", "plain.bin", "profile"]);
        assert.deepEqual(await readdir(join(dir, "a")), ["out"], "nothing outside --dir");
        assert.equal(server.requests.filter(isProbe).length, 3);
      });
    } finally {
      await server.close();
    }
  });

  it("never overwrites an existing file without --overwrite", async () => {
    const body = randomBody(4000);
    const server = await startResourceServer(
      { body },
      (_req, honest) => named(honest, 'attachment; filename="notes.txt"'),
    );
    try {
      await withTempDir(async (dir) => {
        const mine = new TextEncoder().encode("my own notes\n");
        await writeFile(join(dir, "notes.txt"), mine);
        const run = await runCli([`${server.url}/x.bin`, "-J", "--dir", dir, "--retries", "0"]);
        assert.equal(run.code, 1, run.stderr);
        assert.match(run.stderr, /Existing .*notes\.txt is 13 B .*use --overwrite/);
        assert.deepEqual(await bytesOf(join(dir, "notes.txt")), mine);
        assert.deepEqual((await readdir(dir)).sort(), ["notes.txt"], "no litter");
        const again = await runCli([`${server.url}/x.bin`, "-J", "--dir", dir, "--overwrite"]);
        assert.equal(again.code, 0, again.stderr);
        assert.deepEqual(await bytesOf(join(dir, "notes.txt")), body);
      });
    } finally {
      await server.close();
    }
  });

  it("refuses two URLs whose servers suggest one name, or one's .part, before any download", async () => {
    const suggest = (value: string) =>
      startResourceServer({ body: randomBody(1000) }, (_req, honest) => named(honest, value));
    const servers = await Promise.all([
      suggest('attachment; filename="same.bin"'),
      suggest("attachment; filename*=UTF-8''same.bin"),
      suggest('inline; filename="same.bin.part"'),
    ]);
    const [plain, encoded, sidecar] = servers;
    try {
      await withTempDir(async (dir) => {
        const cases = [
          [encoded!, /argument 2: Duplicate destination same\.bin \(also argument 1\)/],
          [sidecar!, /argument 2: Destination same\.bin\.part is where same\.bin \(argument 1\)/],
        ] as const;
        for (const [other, refusal] of cases) {
          const run = await runCli([`${plain!.url}/a`, `${other.url}/b`, "-J", "--dir", dir]);
          assert.equal(run.code, 2, run.stderr);
          assert.match(run.stderr, refusal);
          assert.deepEqual(await readdir(dir), [], "nothing created");
          const asked = [...plain!.requests, ...other.requests];
          assert.ok(asked.every(isProbe), "no request but the names' questions");
        }
      });
    } finally {
      for (const server of servers) await server.close();
    }
  });

  it("a second run asks again and resumes the same .part", async () => {
    const body = randomBody(1_000_000);
    let cut = true;
    const server = await startResourceServer({ body, etag: '"r1"' }, (req, honest) => {
      const reply = named(honest, 'attachment; filename="model.bin"');
      return cut && !isProbe(req) ? { ...reply, cutAfter: 400_000, cutLingerMs: 100 } : reply;
    });
    try {
      await withTempDir(async (dir) => {
        const args = [`${server.url}/download?token=abc`, "-J", "--dir", dir, "--retries", "0"];
        const first = await runCli(args);
        assert.equal(first.code, 1, first.stderr);
        assert.ok(exists(join(dir, "model.bin.part")), (await readdir(dir)).join(","));
        cut = false;
        const second = await runCli(args);
        assert.equal(second.code, 0, second.stderr);
        assert.deepEqual(await readdir(dir), ["model.bin"]);
        assert.deepEqual(await bytesOf(join(dir, "model.bin")), body);
        const last = server.requests.at(-1)!;
        assert.equal(last.headers["range"], "bytes=400000-", "resumed, not restarted");
      });
    } finally {
      await server.close();
    }
  });

  it("with -i: names lines without a path, keeps written paths, checks --checksums by name", async () => {
    const bodies = new Map([1, 2, 3].map((i) => [`/f${i}`, randomBody(2000 + i)]));
    const server = await startResourceServer(
      (req) => ({ body: bodies.get(req.path)! }),
      (req, honest) => named(honest, `attachment; filename="server-${req.path.slice(1)}.dat"`),
    );
    try {
      await withTempDir(async (dir) => {
        const list = [`${server.url}/f1`, `${server.url}/f2 sub/`, `${server.url}/f3 mine.dat`];
        await writeFile(join(dir, "list.txt"), list.join("\n") + "\n");
        const sums = [
          `${sha256(bodies.get("/f1")!)}  server-f1.dat`,
          `${sha256(bodies.get("/f2")!)}  sub/server-f2.dat`,
          `${sha256(bodies.get("/f3")!)}  mine.dat`,
        ];
        await writeFile(join(dir, "SUMS"), sums.join("\n") + "\n");
        const out = join(dir, "out");
        const run = await runCli([
          "-i",
          join(dir, "list.txt"),
          "-J",
          "--dir",
          out,
          "--checksums",
          join(dir, "SUMS"),
        ]);
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(await bytesOf(join(out, "server-f1.dat")), bodies.get("/f1"));
        assert.deepEqual(await bytesOf(join(out, "sub", "server-f2.dat")), bodies.get("/f2"));
        assert.deepEqual(await bytesOf(join(out, "mine.dat")), bodies.get("/f3"));
        assert.equal(server.requests.filter(isProbe).length, 2, "a written path is not asked");
      });
    } finally {
      await server.close();
    }
  });

  it("sends the run's headers and credentials with the question", async () => {
    const body = randomBody(1000);
    const server = await startResourceServer(
      { body },
      (_req, honest) => named(honest, 'attachment; filename="ok.bin"'),
    );
    try {
      await withTempDir(async (dir) => {
        const url = server.url.replace("http://", "http://user:pw@") + "/a";
        const run = await runCli([url, "-J", "--dir", dir, "-H", "X-Token: t1", "-A", "agent/1"]);
        assert.equal(run.code, 0, run.stderr);
        const probe = server.requests.find(isProbe)!;
        assert.equal(probe.headers["x-token"], "t1");
        assert.equal(probe.headers["user-agent"], "agent/1");
        assert.equal(probe.headers["authorization"], `Basic ${btoa("user:pw")}`);
        assert.ok(exists(join(dir, "ok.bin")));
      });
    } finally {
      await server.close();
    }
  });

  it("a server that refuses the question stops the run before any download (exit 1)", async () => {
    const server = await startResourceServer(
      { body: randomBody(100) },
      (req, honest) => req.path === "/gone" ? { status: 404, body: "no" } : honest,
    );
    try {
      await withTempDir(async (dir) => {
        const run = await runCli([`${server.url}/ok`, `${server.url}/gone`, "-J", "--dir", dir]);
        assert.equal(run.code, 1, run.stderr);
        assert.match(run.stderr, /argument 2: .*HTTP 404/);
        assert.match(run.stderr, /Nothing was downloaded/);
        assert.deepEqual(await readdir(dir), []);
        assert.ok(server.requests.every(isProbe), "no download started");
      });
    } finally {
      await server.close();
    }
  });
});
