/**
 * The command line against folders it cannot make: `--dir` (or `-o`'s folder) under a file, or
 * under `/proc`, where Linux answers ENOENT for a child of a folder that exists (Node's own
 * recursive `mkdir` loops on that answer forever). Each must fail at once with one line, exit
 * status 1, no request and nothing left; a deep `--dir` that can be made is made.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { Buffer } from "node:buffer";
import { childEnv, cliCommand, runCli } from "../fixtures/cli_run.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, withTempDir } from "../helpers/temp.ts";

const BODY = randomBody(10_000);

describe("haul CLI and a folder it cannot make", () => {
  it("fails at once, exit 1, naming the folder, with no request and nothing left", {
    timeout: 120_000,
  }, async () => {
    const server = await startResourceServer({ body: BODY });
    try {
      await withTempDir(async (dir) => {
        const file = join(dir, "file");
        await writeFile(file, "not a folder");
        const url = `${server.url}/a.bin`;
        const cases: [string[], string][] = [
          [["--dir", "/proc/haul-nope"], "/proc/haul-nope"],
          [["--dir", "/proc/haul-nope/deeper"], "/proc/haul-nope"],
          [["-o", "/proc/haul-nope/a.bin"], "/proc/haul-nope"],
          [["--dir", file], file],
          [["--dir", join(file, "sub")], file],
          [["-o", join(file, "sub", "a.bin")], file],
        ];
        for (const [args, named] of cases) {
          const run = await runCli(["-q", url, ...args], { timeoutMs: 15_000 });
          const what = `${args.join(" ")}: ${run.signal ?? run.code} ${run.stderr}`;
          assert.equal(run.code, 1, what);
          assert.match(run.stderr, /^haul: Cannot create directory \S+: .*: check the path/, what);
          assert.ok(run.stderr.includes(named), what);
          assert.equal(run.stderr.split("\n").length, 2, `one line: ${what}`);
        }
        assert.equal(server.requests.length, 0);
        assert.deepEqual(await readdir(dir), ["file"]);
        const deep = join(dir, "a", "b", "c");
        const made = await runCli(["-q", url, "--dir", deep], { timeoutMs: 15_000 });
        assert.equal(made.code, 0, made.stderr);
        assert.deepEqual(await bytesOf(join(deep, "a.bin")), BODY);
      });
    } finally {
      await server.close();
    }
  });
});

describe("haul CLI and a directory where its checkpoint goes", () => {
  it("says the directory is in the way, in words, with status 1, and leaves it", {
    timeout: 60_000,
  }, async () => {
    const server = await startResourceServer({ body: BODY });
    try {
      await withTempDir(async (dir) => {
        for (const sidecar of ["a.bin.part.ctrl", "a.bin.part.ctrl.tmp"]) {
          await mkdir(join(dir, sidecar, "kept"), { recursive: true });
          const run = await runCli(["-q", `${server.url}/a.bin`, "--dir", dir]);
          assert.equal(run.code, 1, run.stderr);
          const named = `${join(dir, sidecar)}: a directory is in the way; remove it`;
          assert.ok(run.stderr.includes(named), run.stderr);
          assert.deepEqual(await readdir(join(dir, sidecar)), ["kept"]);
          await rm(join(dir, sidecar), { recursive: true });
        }
      });
    } finally {
      await server.close();
    }
  });
});

/** `haul ARGS REDIRECTS` in bash (e.g. `>/dev/full`): its status (`null`: killed at 30 s) and output. */
function runRedirected(
  args: readonly string[],
  redirects: string,
  cwd: string,
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const { command, args: argv } = cliCommand(args);
  const quoted = [command, ...argv].map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(" ");
  const child = spawn("bash", ["-c", `exec ${quoted} ${redirects}`], { cwd, env: childEnv() });
  const stdout: Buffer[] = [];
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => (stderr += String(chunk)));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout), stderr });
    });
  });
}

describe("haul CLI writing to a full device (/dev/full)", () => {
  it("downloads with its messages lost, streams with -o - as a failure, never a stack or a hang", {
    timeout: 120_000,
  }, async () => {
    assert.ok(existsSync("/dev/full"), "this test needs Linux's /dev/full");
    const server = await startResourceServer({ body: BODY });
    try {
      await withTempDir(async (dir) => {
        const url = `${server.url}/a.bin`;
        for (const args of [[url, "-o", "a.bin"], [url, "-o", "j.bin", "--json"]]) {
          const run = await runRedirected(args, ">/dev/full", dir);
          const what = `${args.join(" ")} >/dev/full: ${run.code} ${run.stderr}`;
          assert.equal(run.code, 0, what);
          assert.doesNotMatch(run.stderr, /Internal error|\n\s+at /, what);
          assert.deepEqual(await bytesOf(join(dir, args[2]!)), BODY, what);
        }
        const quiet = await runRedirected([url, "-o", "-"], "2>/dev/full", dir);
        assert.equal(quiet.code, 0, "-o - 2>/dev/full: the body was written whole");
        assert.deepEqual(new Uint8Array(quiet.stdout), BODY);
        const full = await runRedirected([url, "-o", "-"], ">/dev/full", dir);
        assert.equal(full.code, 1, full.stderr);
        assert.match(full.stderr, /^Failed a\.bin \(stdout\): .*(ENOSPC|No space left)/);
        assert.doesNotMatch(full.stderr, /Internal error|\n\s+at /);
        assert.deepEqual((await readdir(dir)).sort(), ["a.bin", "j.bin"]);
      });
    } finally {
      await server.close();
    }
  });
});
