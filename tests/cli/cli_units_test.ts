import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import type { HaulAllProgress } from "../../src/batch/haul_all.ts";
import { parseArgs, UsageError } from "../../src/cli/args.ts";
import { displayWidth, formatBytes, formatDuration, formatEta } from "../../src/cli/format.ts";
import {
  batchItem,
  lookupChecksum,
  parseChecksums,
  parseList,
  planJobs,
  requestHeaders,
} from "../../src/cli/jobs.ts";
import { ProgressView, type ViewClock } from "../../src/cli/progress_view.ts";
import { describeError, retryReason, scrub } from "../../src/cli/error_wording.ts";
import { ContentRangeError } from "../../src/errors.ts";
import { parseIntegrity } from "../../src/protocol/integrity.ts";
import { FALLBACK_NAME, nameFromUrl } from "../../src/protocol/safe_name.ts";
import { HELP, VERSION } from "../../src/cli/help.ts";

function options(argv: string[]) {
  const parsed = parseArgs(argv);
  assert.equal(parsed.kind, "run");
  return (parsed as Extract<typeof parsed, { kind: "run" }>).options;
}

describe("CLI arguments", () => {
  it("parses every flag in long, short, attached and = forms", () => {
    const o = options([
      "https://example.com/a.iso",
      "-oout.iso",
      "--dir=downloads",
      "--retries",
      "3",
      "--retry-delay=0.25",
      "--stall-timeout",
      "10",
      "-H",
      "X-Token: abc",
      "--header=Accept: */*",
      "-A",
      "my-agent/1",
      "--sha256",
      "AB".repeat(32),
      "-v",
      "--json",
    ]);
    assert.deepEqual(o.urls, ["https://example.com/a.iso"]);
    assert.equal(o.output, "out.iso");
    assert.equal(o.dir, "downloads");
    assert.equal(o.retries, 3);
    assert.equal(o.retryDelayMs, 250);
    assert.equal(o.stallTimeoutMs, 10_000);
    assert.deepEqual(o.headers, [["X-Token", "abc"], ["Accept", "*/*"]]);
    assert.equal(o.userAgent, "my-agent/1");
    assert.equal(o.integrity, `sha256:${"ab".repeat(32)}`);
    assert.equal(o.verbose, true);
    assert.equal(o.json, true);
  });

  it("turns --sha512 into a sha512 integrity, like --sha256", () => {
    const o = options(["https://e.com/a", "--sha512", "CD".repeat(64)]);
    assert.equal(o.integrity, `sha512:${"cd".repeat(64)}`);
    assert.equal(parseIntegrity(o.integrity!).algorithm, "sha512");
    assert.throws(() => parseArgs(["https://e.com/a", "--sha512", "cd"]), {
      name: "UsageError",
      message: /^Invalid --sha512 "cd": give 128 hexadecimal digits$/,
    });
    assert.throws(
      () => parseArgs(["https://e.com/a", "--sha256", "a".repeat(64), "--sha512", "b".repeat(128)]),
      {
        message: "Use either --sha256 or --sha512, not both",
      },
    );
  });

  it("has defaults of 20 retries, a 60 s stall timeout and 4 jobs", () => {
    const o = options(["-i", "list.txt"]);
    assert.equal(o.retries, 20);
    assert.equal(o.stallTimeoutMs, 60_000);
    assert.equal(o.jobs, 4);
    assert.equal(o.inputFile, "list.txt");
    assert.equal(options(["-qOj", "8", "https://e.com/x"]).jobs, 8);
  });

  it("documents every flag in --help", () => {
    const flags = [
      "-o, --output",
      "-O, --remote-name",
      "-d, --dir",
      "-i, --input-file",
      "-j, --jobs",
      "--overwrite",
      "-H, --header",
      "-A, --user-agent",
      "--retries",
      "--retry-delay",
      "--stall-timeout",
      "--sha256",
      "--sha512",
      "--integrity",
      "--checksums",
      "-q, --quiet",
      "-s, --silent",
      "-v, --verbose",
      "--json",
      "-h, --help",
      "-V, --version",
      "-L, --location",
      "-C -, --continue-at -",
      "-c, --continue",
      "-f, --fail",
      "-S, --show-error",
    ];
    for (const flag of flags) assert.ok(HELP.includes(`  ${flag} `), flag);
    for (const flag of flags) {
      const long = flag.split(", ").at(-1)!.split(" ")[0]!;
      const args = long === "--continue-at" ? [long, "-"] : [long];
      const value = [
        "--overwrite",
        "--json",
        "--silent",
        "--verbose",
        "--quiet",
        "--location",
        "--continue",
        "--fail",
        "--show-error",
        "--remote-name",
        "--continue-at",
      ].includes(long);
      if (value && long !== "--help" && long !== "--version") {
        assert.equal(parseArgs([...args, "https://e.com/a"]).kind, "run", long);
      }
    }
  });

  it("accepts curl's and wget's habits and --overwrite", () => {
    const o = options(["-sLfSc", "-C-", "--overwrite", "https://e.com/a"]);
    assert.equal(o.quiet, true);
    assert.equal(o.overwrite, true);
    assert.equal(options(["https://e.com/a", "--continue-at", "-"]).overwrite, false);
    assert.throws(() => parseArgs(["-C", "10", "https://e.com/a"]), /not from an offset/);
    assert.equal(options(["-o", "-", "https://e.com/a"]).output, "-");
    assert.throws(
      () => parseArgs(["-o", "-", "-j4", "https://e.com/a"]),
      /Use either -o - \(standard output\) or -j, not both/,
    );
    assert.throws(() => parseArgs(["-o", "", "https://e.com/a"]), /give a file name, or -/);
    assert.throws(
      () => parseArgs(["-s", "-v", "https://e.com/a"]),
      /Use either -q \(or -s\) or -v/,
    );
  });

  it("answers --help and --version whatever else is given", () => {
    assert.equal(parseArgs(["--help", "--bogus"]).kind, "help");
    assert.equal(parseArgs(["-h"]).kind, "help");
    assert.equal(parseArgs(["--version"]).kind, "version");
  });

  it("refuses unknown options, missing values, bad numbers and conflicts", () => {
    const refused: string[][] = [
      ["--bogus", "https://e.com/a"],
      ["--constructor", "x", "https://e.com/a"],
      ["--toString=1", "https://e.com/a"],
      ["https://e.com/a", "-o"],
      ["https://e.com/a", "--retries", "-1"],
      ["https://e.com/a", "-j", "0"],
      ["https://e.com/a", "--stall-timeout", "soon"],
      ["https://e.com/a", "-H", "no colon"],
      // Headers fetch manages itself (Node's undici throws on each attempt: 20 retries of no use).
      ["https://e.com/a", "-H", "Keep-Alive: timeout=5"],
      ["https://e.com/a", "-H", "transfer-encoding: chunked"],
      ["https://e.com/a", "-H", "Upgrade: websocket"],
      ["https://e.com/a", "-H", "Expect: 100-continue"],
      ["https://e.com/a", "-H", "Content-Length: 5"],
      ["https://e.com/a", "--sha256", "abc"],
      ["https://e.com/a", "--sha512", "ab".repeat(32)],
      ["https://e.com/a", "--sha256", "ab".repeat(64)],
      ["https://e.com/a", "--sha256", "ab".repeat(32), "--sha512", "ab".repeat(64)],
      ["https://e.com/a", "--sha512", "ab".repeat(64), "--integrity", `sha256:${"a".repeat(64)}`],
      ["-i", "list", "--sha512", "ab".repeat(64)],
      ["https://e.com/a", "--integrity", "md5-xyz"],
      ["https://e.com/a", "-o", "a", "-O"],
      ["https://e.com/a", "https://e.com/b", "-o", "a"],
      ["-i", "list", "https://e.com/a"],
      ["-i", "list", "--sha256", "ab".repeat(32)],
      ["https://e.com/a", "-q", "-v"],
      ["https://e.com/a", "--dir", "d", "-o", "/abs/a"],
      [],
    ];
    for (const argv of refused) {
      assert.throws(() => parseArgs(argv), UsageError, argv.join(" "));
    }
  });

  it("refuses a -H or -A value fetch cannot send (past U+00FF) as a usage error, not a crash", () => {
    for (
      const argv of [["-H", "X-Name: caf\u00e9\u2615"], ["-A", "a/1 \u{1F600}"], ["-H", "X: a\nb"]]
    ) {
      assert.throws(() => parseArgs(["https://e.com/a", ...argv]), UsageError, argv.join(" "));
    }
    const latin1 = options(["https://e.com/a", "-H", "X-Name: caf\u00e9", "-A", "a/1 (\u00ff)"]);
    assert.equal(requestHeaders(latin1).get("x-name"), "caf\u00e9");
  });

  it("refuses an -o that names a directory (a trailing /, . or ..) as a usage error", () => {
    for (const output of ["newdir/", "a/b/", ".", "..", "x/.", "x/.."]) {
      for (const extra of [[], ["--dir", "d"]]) {
        assert.throws(() => parseArgs(["https://e.com/a", "-o", output, ...extra]), {
          name: "UsageError",
          message: new RegExp(
            `^Invalid -o "${output.replaceAll(".", "\\.")}": it names a directory: `,
          ),
        }, output);
      }
    }
    assert.throws(() => parseArgs(["https://e.com/a", "-o", "newdir/"]), {
      message: /give a file name \(-o newdir\/NAME\), or save into it with --dir newdir$/,
    });
    assert.equal(options(["https://e.com/a", "-o", "./a.bin"]).output, "./a.bin");
  });

  it("refuses control characters in -o, --dir, -i and --checksums", () => {
    // A newline in -o made a file named "out\nSaved fake.bin" and a report line of its own.
    for (const flag of ["-o", "--dir", "-i", "--checksums"]) {
      for (const name of ["out\nSaved fake.bin", "d\u001b[31mred", "a\tb", "x\u0085y"]) {
        assert.throws(() => parseArgs(["https://e.com/a", flag, name]), (error: Error) => {
          assert.ok(error instanceof UsageError, String(error));
          assert.match(
            error.message,
            new RegExp(`^Invalid ${flag}: remove its control characters$`),
          );
          return true;
        }, `${flag} ${JSON.stringify(name)}`);
      }
    }
  });

  it("reports the version of deno.json and jsr.json (JSR) and package.json (npm)", async () => {
    for (const file of ["deno.json", "jsr.json", "package.json"]) {
      const text = await readFile(new URL(`../../${file}`, import.meta.url), "utf8");
      assert.equal(VERSION, JSON.parse(text).version, file);
    }
  });

  it("jsr.json says what deno.json says about the package (deno publish reads deno.json)", async () => {
    const read = async (file: string) =>
      JSON.parse(await readFile(new URL(`../../${file}`, import.meta.url), "utf8"));
    const deno = await read("deno.json");
    const jsr = await read("jsr.json");
    for (const field of ["name", "version", "license", "exports", "publish"]) {
      assert.deepEqual(jsr[field], deno[field], `jsr.json ${field}`);
    }
    assert.deepEqual(Object.keys(jsr).sort(), ["exports", "license", "name", "publish", "version"]);
  });
});

describe("CLI list format", () => {
  it("reads URL and URL PATH lines, skipping comments and blank lines, with line numbers", () => {
    const entries = parseList(
      "\uFEFF# comment\n\nhttps://e.com/a.bin\r\n  https://e.com/b.bin\tsub/my b.bin  \n#x\n",
      "list.txt",
    );
    assert.deepEqual(entries, [
      { where: "list.txt:3", url: "https://e.com/a.bin", mirrors: [], path: null },
      { where: "list.txt:4", url: "https://e.com/b.bin", mirrors: [], path: "sub/my b.bin" },
    ]);
  });

  it("reads old Mac CR line ends as lines, and a binary file without throwing", () => {
    const cr = parseList("https://e.com/a.bin\rhttps://e.com/b.bin  b\rc.bin\r", "l");
    assert.deepEqual(cr.map((entry) => [entry.where, entry.url, entry.path]), [
      ["l:1", "https://e.com/a.bin", null],
      ["l:2", "https://e.com/b.bin", "b"],
      ["l:3", "c.bin", null],
    ]);
    const odd = parseList("x y\u2028z\nhttps://e.com/d.bin d\u2029e\n", "l");
    assert.deepEqual(odd.map((entry) => entry.path), ["y\u2028z", "d\u2029e"]);
  });

  it("reads several URLs before the path as mirrors of one file", () => {
    const entries = parseList(
      "https://a.com/f.iso https://b.com/f.iso\thttp://c.com/f.iso isos/f.iso\n" +
        "https://a.com/g.iso\thttps://b.com/g.iso\n" +
        "example.com/x out/x\n",
      "l",
    );
    assert.deepEqual(entries, [
      {
        where: "l:1",
        url: "https://a.com/f.iso",
        mirrors: ["https://b.com/f.iso", "http://c.com/f.iso"],
        path: "isos/f.iso",
      },
      { where: "l:2", url: "https://a.com/g.iso", mirrors: ["https://b.com/g.iso"], path: null },
      { where: "l:3", url: "example.com/x", mirrors: [], path: "out/x" },
    ]);
    const { jobs, problems } = planJobs(
      [entries[0]!, {
        where: "l:9",
        url: "https://a.com/h",
        mirrors: ["ftp://b/h"],
        path: null,
      }],
      { dir: null, output: null, integrity: null, checksums: null },
    );
    assert.deepEqual(jobs[0]!.mirrors.map(String), ["https://b.com/f.iso", "http://c.com/f.iso"]);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^l:9: Unsupported URL scheme ftp/);
  });

  it("refuses malformed URLs, duplicates, absolute paths and .. with the line number", () => {
    const sources = parseList(
      [
        "https://e.com/ok.bin",
        "htp//broken",
        "ftp://e.com/x.bin",
        "https://e.com/dup.bin",
        "https://f.com/dup.bin",
        "https://e.com/x /etc/passwd",
        "https://e.com/x ../outside.bin",
        "https://e.com/x a/../../b.bin",
        "https://e.com/x C:/win.bin",
        "https://e.com/file a",
        "https://e.com/x a/inner.bin",
      ].join("\n"),
      "list",
    );
    const { jobs, problems } = planJobs(sources, {
      dir: "out",
      output: null,
      integrity: null,
      checksums: null,
    });
    assert.deepEqual(jobs.map((job) => job.dest).slice(0, 3), [
      "out/ok.bin",
      "out/dup.bin",
      "out/a",
    ]);
    const lines = problems.map((problem) => problem.slice(0, problem.indexOf(":", 5)));
    assert.deepEqual(lines, [
      "list:2",
      "list:3",
      "list:5",
      "list:6",
      "list:7",
      "list:8",
      "list:9",
      "list:11",
    ]);
    assert.match(problems[0]!, /Invalid URL/);
    assert.match(problems[1]!, /Unsupported URL scheme ftp/);
    assert.match(problems[2]!, /Duplicate destination dup\.bin \(also list:4\)/);
    assert.match(problems[3]!, /Absolute path/);
    assert.match(problems[4]!, /'\.\.' would leave/);
    assert.match(problems[7]!, /needs a as a directory/);
  });

  it("refuses a destination that is another one's .part, checkpoint or lock", () => {
    const urls = [
      "x.iso.part.ctrl",
      "x.iso",
      "d/x.iso.part",
      "x.iso.part.lock",
      "x.iso.part.ctrl.tmp",
    ];
    const sources = parseList(urls.map((name) => `https://e.com/${name} ${name}`).join("\n"), "l");
    const settings = { dir: "out", output: null, integrity: null, checksums: null };
    const { problems } = planJobs(sources, settings);
    assert.deepEqual(problems.map((problem) => problem.slice(0, 4)).sort(), [
      "l:1:",
      "l:4:",
      "l:5:",
    ]);
    assert.match(
      problems.find((p) => p.startsWith("l:1:"))!,
      /x\.iso\.part\.ctrl is where x\.iso \(l:2\)/,
    );
    assert.deepEqual(
      planJobs(parseList(`https://e.com/x.iso\nhttps://e.com/y.part`, "l"), settings).problems,
      [],
    );
  });

  it("puts a trailing-slash path's file in that directory, named after the URL", () => {
    const { jobs } = planJobs(
      [{ where: "l:1", url: "https://e.com/x/y.iso?sig=1", path: "isos/" }],
      {
        dir: null,
        output: null,
        integrity: null,
        checksums: null,
      },
    );
    assert.equal(jobs[0]?.dest, "isos/y.iso");
  });

  it("accepts destinations whose name starts with '!' from the URL, a list path and -o", () => {
    const settings = { dir: null, output: null, integrity: null, checksums: null };
    const fromUrl = planJobs(
      [{ where: "argument", url: "https://e.com/!notes.txt", path: null }],
      settings,
    );
    assert.deepEqual(fromUrl.problems, []);
    assert.equal(fromUrl.jobs[0]?.dest, "!notes.txt");
    const fromList = planJobs(
      [{ where: "l:1", url: "https://e.com/d.bin", path: "!draft.bin" }],
      settings,
    );
    assert.deepEqual(fromList.problems, []);
    assert.equal(fromList.jobs[0]?.dest, "!draft.bin");
    const fromOutput = planJobs(
      [{ where: "argument", url: "https://e.com/x", path: null }],
      { ...settings, output: "!x.iso" },
    );
    assert.deepEqual(fromOutput.problems, []);
    assert.equal(fromOutput.jobs[0]?.dest, "!x.iso");
    const refused = planJobs(
      [{ where: "l:2", url: "https://e.com/d.bin", path: "../!a" }],
      settings,
    );
    assert.equal(refused.jobs.length, 0);
    assert.match(refused.problems[0]!, /^l:2: '\.\.' would leave the download directory/);
  });

  it("sends URL credentials as curl does: %XX is a byte, any other % itself (no crash)", () => {
    const basic = (url: string) =>
      new Headers(batchItem({ url: new URL(url), dest: "f", integrity: null }).headers)
        .get("authorization");
    assert.equal(basic("http://u:100%@e.com/f"), `Basic ${btoa("u:100%")}`);
    assert.equal(basic("http://u%zz:p%25%3a@e.com/f"), `Basic ${btoa("u%zz:p%:")}`);
    assert.equal(basic("http://u:%ff@e.com/f"), `Basic ${btoa("u:\xff")}`);
    assert.equal(basic("http://u:päss@e.com/f"), `Basic ${btoa("u:p\xc3\xa4ss")}`);
    assert.equal(
      new URL(batchItem({ url: new URL("http://u:%@e.com/f"), dest: "f", integrity: null }).url)
        .username,
      "",
    );
  });
});

describe("CLI safe names", () => {
  it("derives a safe name from the last path segment", () => {
    const cases: [string, string][] = [
      ["https://e.com/dl/My%20File.iso?token=x#frag", "My File.iso"],
      ["https://e.com/a/..%2F..%2Fetc%2Fpasswd", "_._etc_passwd"],
      ["https://e.com/a%5Cb", "a_b"],
      ["https://e.com/", FALLBACK_NAME],
      ["https://e.com/..", FALLBACK_NAME],
      ["https://e.com/%2E%2E", FALLBACK_NAME],
      ["https://e.com/x/%00%1b%0Aevil", "___evil"],
      ["https://e.com/.hidden", "hidden"],
      ["https://e.com/bad%zzname", "bad%zzname"],
      ["https://e.com/%E2%80%AEgpj.exe", "_gpj.exe"],
    ];
    for (const [url, name] of cases) assert.equal(nameFromUrl(url), name, url);
    const long = nameFromUrl(`https://e.com/${"x".repeat(400)}.tar.gz`);
    assert.ok(new TextEncoder().encode(long).length <= 200);
    assert.ok(long.endsWith(".gz"));
    for (const [url] of cases) {
      const name = nameFromUrl(url);
      assert.ok(!name.includes("/") && !name.includes("\\") && !name.includes(".."), name);
      // deno-lint-ignore no-control-regex
      assert.ok(!/[\u0000-\u001f\u007f]/.test(name));
    }
  });
});

describe("CLI checksums", () => {
  const a = "a".repeat(64);
  const b = "B".repeat(64);
  it("reads sha256sum and BSD lines and matches by path, then by unique base name", () => {
    const table = parseChecksums(
      `# sums\n${a}  ./data/a.bin\n${b} *b.bin\nSHA256 (c d.bin) = ${a}\n`,
    );
    assert.deepEqual(table.problems, []);
    assert.equal(lookupChecksum(table, "data/a.bin"), `sha256:${a}`);
    assert.equal(lookupChecksum(table, "b.bin"), `sha256:${b.toLowerCase()}`);
    assert.equal(lookupChecksum(table, "elsewhere/b.bin"), `sha256:${b.toLowerCase()}`);
    assert.equal(lookupChecksum(table, "c d.bin"), `sha256:${a}`);
    assert.equal(lookupChecksum(table, "z.bin"), null);
  });

  it("reads sha512sum, sha384sum and BSD SHA512 lines, picking the algorithm per line", () => {
    const long = "C".repeat(128);
    const mid = "d".repeat(96);
    const table = parseChecksums(
      `${long}  big.iso\n${mid} *mid.bin\nSHA512 (tag.bin) = ${long}\n${a}  small.bin\n`,
    );
    assert.deepEqual(table.problems, []);
    assert.equal(lookupChecksum(table, "big.iso"), `sha512:${long.toLowerCase()}`);
    assert.equal(lookupChecksum(table, "mid.bin"), `sha384:${mid}`);
    assert.equal(lookupChecksum(table, "tag.bin"), `sha512:${long.toLowerCase()}`);
    assert.equal(lookupChecksum(table, "small.bin"), `sha256:${a}`);
  });

  it("keeps a sha256 and a sha512 line for one name (the sha512 decides), not two of one kind", () => {
    const long = "e".repeat(128);
    const table = parseChecksums(
      `SHA256 (x.bin) = ${a}\nSHA512 (x.bin) = ${long}\n${long}  x.bin\n${
        "f".repeat(128)
      }  x.bin\n`,
    );
    assert.equal(lookupChecksum(table, "x.bin"), `sha256:${a} sha512:${long}`);
    assert.equal(parseIntegrity(lookupChecksum(table, "x.bin")!).algorithm, "sha512");
    assert.deepEqual(table.problems, [{ line: 4, message: "Two different checksums for x.bin" }]);
  });

  it("refuses a digest whose length does not fit its tag or any algorithm", () => {
    const lines = [
      `SHA512 (a.bin) = ${a}`, // a SHA-256 labelled SHA512
      `SHA256 (b.bin) = ${"a".repeat(128)}`,
      `${"a".repeat(100)}  c.bin`,
      `MD5 (d.bin) = ${"a".repeat(32)}`,
    ];
    const { problems, byName } = parseChecksums(lines.join("\n"));
    assert.deepEqual(problems.map((p) => p.line), [1, 2, 3, 4]);
    assert.match(problems[0]!.message, /128 for SHA-512/);
    assert.equal(byName.size, 0);
  });

  it("refuses malformed lines and a destination without a checksum", () => {
    assert.deepEqual(parseChecksums(`${a}  x\nnot a checksum\n`).problems.map((p) => p.line), [2]);
    const table = parseChecksums(`${a}  x.bin\n`);
    const { problems } = planJobs([
      { where: "l:1", url: "https://e.com/x.bin", path: null },
      { where: "l:2", url: "https://e.com/y.bin", path: null },
    ], { dir: null, output: null, integrity: null, checksums: { table, name: "SUMS" } });
    assert.deepEqual(problems.length, 1);
    assert.match(problems[0]!, /^l:2: No checksum for y\.bin in SUMS/);
  });
});

describe("CLI formatting", () => {
  it("formats sizes, durations and ETAs", () => {
    assert.equal(formatBytes(0), "0 B");
    assert.equal(formatBytes(300 * 1024 * 1024), "300.0 MiB");
    assert.equal(formatDuration(850), "850 ms");
    assert.equal(formatDuration(3_725_000), "1 h 02 min");
    assert.equal(formatEta(3725), "1:02:05");
    assert.equal(formatEta(null), "--:--");
    assert.equal(displayWidth("日本.bin"), 8);
  });

  it("says a reset's retry starts over in this run, and its last failure in the next run", () => {
    const reset = new ContentRangeError(
      "Server resumed at byte 9: http://e.co/; progress discarded, the next call starts over",
      { retryable: true },
    );
    assert.match(retryReason(reset), /progress discarded, the next attempt starts over$/);
    const job = { url: new URL("http://e.co/"), dest: "a" };
    assert.match(describeError(reset, job, 3), /the next run starts over \(3 attempts\)$/);
  });

  it("removes credentials from messages", () => {
    const text = scrub("at https://user:secret@e.com/a?token=abc&x=1 and //u:p@h/");
    assert.ok(!text.includes("secret") && !text.includes("abc") && !text.includes("u:p@"), text);
    assert.match(text, /x=1 and/);
    assert.equal(
      scrub("HTTP 404 from https://e.com/a?sig=1: check it"),
      "HTTP 404 from https://e.com/a?sig=%5Bredacted%5D: check it",
    );
  });
});

/** A fake clock whose timers run when the test advances it. */
function fakeClock(): ViewClock & { advance(ms: number): void } {
  let now = 0;
  let timers: { at: number; fn: () => void; id: number }[] = [];
  let nextId = 0;
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = nextId++;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimeout: (id) => void (timers = timers.filter((timer) => timer.id !== id)),
    advance(ms: number) {
      const end = now + ms;
      for (let guard = 0; guard < 10_000; guard++) {
        const due = timers.filter((timer) => timer.at <= end).sort((x, y) => x.at - y.at)[0];
        if (due === undefined) break;
        timers = timers.filter((timer) => timer !== due);
        now = due.at;
        due.fn();
      }
      now = end;
    },
  };
}

function batch(valid: number[], total: (number | null)[], received: number): HaulAllProgress {
  return {
    items: valid.map((validLength, index) => ({
      index,
      item: { url: `https://e.com/${index}`, dest: `f${index}` },
      phase: "running" as const,
      validLength,
      totalLength: total[index] ?? null,
      received: validLength,
      attempt: 1,
      retryAt: null,
    })),
    pending: 0,
    active: valid.length,
    done: 0,
    skipped: 0,
    failed: 0,
    received,
  };
}

describe("CLI progress view", () => {
  it("redraws at most 10 times a second however often progress arrives", () => {
    const clock = fakeClock();
    let output = "";
    const view = new ProgressView({
      write: (text) => (output += text),
      columns: () => 80,
      label: (index) => `file-${index}.bin`,
      showTotal: true,
      maxAttempts: 21,
      clock,
    });
    for (let ms = 0; ms < 2000; ms += 5) {
      view.update(batch([ms * 1000, ms * 500], [4_000_000, 2_000_000], ms * 1500));
      clock.advance(5);
    }
    view.stop();
    assert.ok(view.frames <= 21 && view.frames >= 15, `frames ${view.frames}`);
    assert.match(output, /file-0\.bin +\[=+> *\] +\d+\.\d%/);
    assert.match(output, /Total 0\/2/);
    assert.match(output, /MiB\/s +ETA \d+:\d\d/);
    assert.ok(output.endsWith("\x1b[J"), "the bars are erased at the end");
  });

  it("fits every line in the terminal's width, however narrow (a wrapped line breaks the redraw)", () => {
    for (const columns of [50, 20, 12, 2]) {
      const view = new ProgressView({
        write: () => {},
        columns: () => columns,
        label: () => `${"very-long-name-".repeat(8)}.bin`,
        showTotal: true,
        maxAttempts: 21,
        clock: fakeClock(),
      });
      const lines = view.render(batch([1000, 2000], [5000, null], 3000), 1000);
      assert.equal(lines.length, 3);
      for (const line of lines) {
        assert.ok(displayWidth(line) <= columns - 1, `${columns}: ${line} (${line.length})`);
      }
      if (columns === 50) assert.doesNotMatch(lines[1]!, /%/, "no % when the total is unknown");
    }
  });
});
