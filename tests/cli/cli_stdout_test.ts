import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { childEnv, cliCommand, REPO_ROOT, runCli, startCli, waitFor } from "../fixtures/cli_run.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { randomBody, sha256 } from "../helpers/temp.ts";

/** `haul ARGS | CONSUMER` in bash: the CLI's status, the consumer's output, the CLI's stderr. */
function pipeline(
  args: readonly string[],
  consumer: string,
): Promise<{ status: number; out: Buffer; stderr: string }> {
  const { command, args: argv } = cliCommand(args);
  const quoted = [command, ...argv].map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(" ");
  const script = `${quoted} 2>"$HAUL_ERR" | ${consumer}; echo "\${PIPESTATUS[0]}" >"$HAUL_STATUS"`;
  const tag = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const errFile = `/tmp/haul-stdout-test-${tag}.err`;
  const statusFile = `/tmp/haul-stdout-test-${tag}.status`;
  const child = spawn("bash", ["-c", script], {
    cwd: REPO_ROOT,
    env: childEnv({ HAUL_ERR: errFile, HAUL_STATUS: statusFile }),
    stdio: ["ignore", "pipe", "inherit"],
  });
  const chunks: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", reject);
    child.once("close", async () => {
      clearTimeout(timer);
      const { readFile, rm } = await import("node:fs/promises");
      const status = Number((await readFile(statusFile, "utf8")).trim());
      const stderr = await readFile(errFile, "utf8");
      await rm(statusFile, { force: true });
      await rm(errFile, { force: true });
      resolve({ status, out: Buffer.concat(chunks), stderr });
    });
  });
}

describe("haul -o - (child process)", () => {
  it("pipes the body into sha256sum, through five cuts, each byte once", async () => {
    const body = randomBody(3_000_000);
    const server = await startResourceServer(
      { body },
      (req, honest) =>
        req.path === "/cut.bin" && req.index < 6
          ? { ...honest, cutAfter: 300_000, chunkSize: 16_384 }
          : honest,
    );
    try {
      const whole = await pipeline([`${server.url}/whole.bin`, "-o", "-"], "sha256sum");
      assert.equal(whole.status, 0, whole.stderr);
      assert.equal(whole.out.toString().slice(0, 64), sha256(body));
      assert.match(whole.stderr, /^Streamed whole\.bin \(stdout\): 2\.9 MiB in .*\)\n$/);
      const before = server.requests.length;
      const cut = await pipeline(
        [`${server.url}/cut.bin`, "-o", "-", "--retry-delay", "0", "--sha256", sha256(body)],
        "sha256sum",
      );
      assert.equal(cut.status, 0, cut.stderr);
      assert.equal(cut.out.toString().slice(0, 64), sha256(body));
      assert.equal(server.requests.length - before, 6, cut.stderr);
      assert.equal((cut.stderr.match(/^Retrying cut\.bin \(stdout\) in /gm) ?? []).length, 5);
      assert.match(cut.stderr, /Streamed cut\.bin .*; 5 retries\), sha256 verified\n$/);
    } finally {
      await server.close();
    }
  });

  it("names the algorithm it checked: sha512 verified after --sha512, sha384 after --integrity", async () => {
    const body = randomBody(200_000);
    const server = await startResourceServer({ body });
    try {
      const sha512 = createHash("sha512").update(body).digest("hex");
      const sri = `sha384-${createHash("sha384").update(body).digest("base64")}`;
      const cases = [["--sha512", sha512, "sha512"], ["--integrity", sri, "sha384"]];
      for (const [flag, value, algorithm] of cases) {
        const result = await pipeline([`${server.url}/v.bin`, "-o", "-", flag!, value!], "cat");
        assert.equal(result.status, 0, result.stderr);
        assert.ok(result.out.equals(Buffer.from(body)));
        assert.match(
          result.stderr,
          new RegExp(`^Streamed v\\.bin .*\\), ${algorithm} verified\n$`),
        );
      }
    } finally {
      await server.close();
    }
  });

  it("fails with status 1 when the file changes mid-stream, after only bytes of the first version", async () => {
    const v1 = randomBody(400_000);
    const v2 = randomBody(400_000);
    const server = await startResourceServer(
      (req) => req.index === 0 ? { body: v1, etag: '"v1"' } : { body: v2, etag: '"v2"' },
      // The close waits, so that the first bytes reach the reader first (Bun's fetch drops the
      // bytes it reads with the end: none given, the retry would start the new version afresh).
      (req, honest) =>
        req.index === 0 ? { ...honest, cutAfter: 100_000, cutLingerMs: 300 } : honest,
    );
    try {
      const result = await pipeline(
        [server.url + "/f.bin", "-o", "-", "--retry-delay", "0"],
        "cat",
      );
      assert.equal(result.status, 1, result.stderr);
      assert.match(
        result.stderr,
        /Failed f\.bin \(stdout\): Stream of .* cannot continue at byte \d+: the file changed/,
      );
      assert.ok(result.out.length > 0 && result.out.length <= 100_000);
      assert.ok(result.out.equals(Buffer.from(v1.subarray(0, result.out.length))));
    } finally {
      await server.close();
    }
  });

  it("ends quietly with status 141 when the reader goes away (| head -c 10)", async () => {
    const body = randomBody(16 << 20);
    const server = await startResourceServer({ body });
    try {
      const result = await pipeline([server.url + "/big.bin", "-o", "-"], "head -c 10");
      assert.equal(result.status, 141, result.stderr);
      assert.equal(result.stderr, "");
      assert.ok(result.out.equals(Buffer.from(body.subarray(0, 10))));
    } finally {
      await server.close();
    }
  });

  it("exits 130 on SIGINT mid-stream, having written a prefix of the body", async () => {
    const body = "0123456789abcdef".repeat(1 << 16); // 1 MiB of text: stdout is read as UTF-8
    const server = await startResourceServer(
      { body: new TextEncoder().encode(body) },
      (_req, honest) => ({ ...honest, bytesPerSecond: 128 * 1024 }),
    );
    const running = startCli([server.url + "/slow.txt", "-o", "-"]);
    try {
      await waitFor(() => running.stdout().length > 0, 10_000, "the first bytes");
      running.signal("SIGINT");
      const result = await running.done;
      assert.equal(result.code, 130, `${result.signal} ${result.stderr}`);
      assert.match(result.stderr, /^haul: SIGINT: stopped after .* to standard output/m);
      assert.ok(result.stdout.length < body.length && body.startsWith(result.stdout));
    } finally {
      running.kill();
      await server.close();
    }
  });

  it("refuses what makes no sense with -o -, before any request", async () => {
    const url = "http://127.0.0.1:9/a.bin";
    for (
      const [extra, message] of [
        [["-j", "2"], /Use either -o - \(standard output\) or -j, not both/],
        [["--json"], /or --json, not both/],
        [["--dir", "out"], /or --dir, not both/],
        [["-x", "4"], /with one connection/],
        [["http://127.0.0.1:9/b.bin"], /Use -o with a single URL/],
      ] as const
    ) {
      const result = await runCli([url, "-o", "-", ...extra]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, "");
    }
  });
});
