/**
 * The command line under Deno as its README says to run it: `--allow-net=HOST --allow-read=DIR
 * --allow-write=DIR --allow-env=COLUMNS`, and with one of them missing. A missing permission is
 * a message that names the flag (not "permission denied: choose a directory you can write to"),
 * and on a terminal the command never prompts. With exactly those flags (no `--allow-env`), every
 * feature runs: `-x`, `--limit-rate`, `-i`, `-j`, `--checksums`, a `--dir` to make, `-J`, `-N`, `-o -`,
 * and Ctrl-C then a resume. Runs under every runtime: the child is always the pinned Deno.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { readdir, writeFile } from "node:fs/promises";
import process from "node:process";
import { CLI_PATH, REPO_ROOT } from "../fixtures/cli_run.ts";
import { onTerminal, outputOf, runtimeExecutable } from "../helpers/runtime.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { bytesOf, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

/** Runs `deno run FLAGS cli.ts ARGS`, on a pseudo-terminal when `terminal` (killed at a prompt). */
function runDenoCli(
  flags: readonly string[],
  args: readonly string[],
  terminal = false,
  cwd = REPO_ROOT,
): Promise<{ code: number | null; output: string }> {
  return outputOf(startDenoCli(flags, args, terminal, cwd));
}

/** Starts `deno run FLAGS cli.ts ARGS` (see {@link runDenoCli}); `stdout`: a file descriptor for it. */
function startDenoCli(
  flags: readonly string[],
  args: readonly string[],
  terminal: boolean,
  cwd: string,
  stdout?: number,
) {
  const argv = [runtimeExecutable("deno"), "run", "--no-lock", ...flags, CLI_PATH, ...args];
  const env = { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
  return terminal
    ? onTerminal(argv, { cwd, env })
    : spawn(argv[0]!, argv.slice(1), { cwd, env, stdio: ["ignore", stdout ?? "pipe", "pipe"] });
}

describe("haul CLI under Deno with narrow permissions", () => {
  it("names the missing --allow-read or --allow-write flag, exits 1 and leaves nothing", {
    timeout: 60_000,
  }, async () => {
    const server = await startResourceServer({ body: randomBody(1000) });
    try {
      await withTempDir(async (dir) => {
        const net = `--allow-net=127.0.0.1:${server.port}`;
        const cases: [string[], RegExp][] = [
          [[net, `--allow-read=${dir}`], new RegExp(`--allow-write=(\\.|${dir})(\\s|$)`)],
          [[net, `--allow-write=${dir}`], new RegExp(`--allow-read=(\\.|${dir})(\\s|$)`)],
        ];
        for (const [flags, named] of cases) {
          // Run in the folder, as a user would (cd there): -o f.
          const run = await runDenoCli(flags, ["-q", `${server.url}/f.bin`, "-o", "f"], false, dir);
          assert.equal(run.code, 1, run.output);
          assert.match(run.output, named);
          assert.doesNotMatch(run.output, /\n\s+at /, "no stack trace");
          assert.deepEqual(await readdir(dir), []);
        }
        // An existing folder given by its path: the missing --allow-write is named, not
        // "Cannot create directory DIR" (it exists: the CLI has nothing to create).
        const run = await runDenoCli(
          [net, `--allow-read=${dir}`],
          ["-q", `${server.url}/f.bin`, "-o", join(dir, "f")],
        );
        assert.equal(run.code, 1, run.output);
        assert.match(run.output, new RegExp(`--allow-write=${dir}(\\s|$)`));
        assert.doesNotMatch(run.output, /Cannot create directory/);
        assert.deepEqual(await readdir(dir), []);
      });
    } finally {
      await server.close();
    }
  });

  it("never prompts on a terminal, however wide it is (COLUMNS is only asked about)", {
    timeout: 60_000,
  }, async () => {
    const hasScript = spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;
    assert.ok(hasScript, "script(1) is missing: run bash scripts/setup.sh (installs bsdutils)");
    const server = await startResourceServer({ body: randomBody(100_000) });
    try {
      await withTempDir(async (dir) => {
        const flags = [
          `--allow-net=127.0.0.1:${server.port}`,
          `--allow-read=${dir}`,
          `--allow-write=${dir}`,
        ];
        // script(1) with no terminal of its own makes a pseudo-terminal of 0 columns.
        const run = await runDenoCli(flags, [`${server.url}/f.bin`, "-o", join(dir, "f")], true);
        assert.doesNotMatch(run.output, /Deno requests/, run.output);
        assert.equal(run.code, 0, run.output);
        assert.deepEqual(await readdir(dir), ["f"]);
      });
    } finally {
      await server.close();
    }
  });

  it(
    "runs every feature with exactly the README's flags, no --allow-env, and resumes after Ctrl-C",
    {
      timeout: 120_000,
    },
    async () => {
      const body = randomBody(9 * 1024 * 1024); // two 4 MiB ranges at least: -x splits it
      let paced = true; // slow.bin, until Ctrl-C
      const server = await startResourceServer({ body }, (req, honest) => {
        if (req.headers["if-modified-since"] !== undefined) return { status: 304 };
        return req.path === "/slow.bin" && paced
          ? { ...honest, bytesPerSecond: 1_000_000 }
          : honest;
      });
      try {
        await withTempDir(async (dir) => {
          const flags = [
            `--allow-net=127.0.0.1:${server.port}`,
            `--allow-read=${dir}`,
            `--allow-write=${dir}`,
          ];
          const url = (name: string) => `${server.url}/${name}`;
          await writeFile(join(dir, "list.txt"), `${url("a.bin")}\n${url("b.bin")} b/b.bin\n`);
          const sums = `${sha256(body)}  a.bin\n${sha256(body)}  b/b.bin\n`;
          await writeFile(join(dir, "SUMS"), sums);
          const cases: [string, string[], RegExp][] = [
            [
              "-x 4, --limit-rate",
              ["-x", "4", "--limit-rate", "256M", url("x.bin"), "--json"],
              /"connections":[234]/,
            ],
            ["-i, -j, --checksums, a --dir to make", [
              "-i",
              "list.txt",
              "-j",
              "2",
              "--checksums",
              "SUMS",
              "--dir",
              "out/deeper",
            ], /Done 2, skipped 0, failed 0/],
            ["-J", ["-J", url("j.bin")], /Saved j\.bin/],
            ["-N, new", ["-N", url("n.bin")], /Saved n\.bin/],
            ["-N, unchanged", ["-N", url("n.bin")], /Skipped n\.bin: unchanged on the server/],
            ["a second run", [url("x.bin")], /Skipped x\.bin: already complete/],
          ];
          for (const [what, args, expected] of cases) {
            const run = await runDenoCli(flags, args, false, dir);
            assert.equal(run.code, 0, `${what}: ${run.output}`);
            assert.match(run.output, expected, what);
            assert.doesNotMatch(run.output, /NotCapable|PermissionDenied|\n\s+at /, what);
          }
          for (
            const name of ["x.bin", "out/deeper/a.bin", "out/deeper/b/b.bin", "j.bin", "n.bin"]
          ) {
            assert.equal(sha256(await bytesOf(join(dir, name))), sha256(body), name);
          }
          const fd = openSync(join(dir, "stdout.bin"), "w"); // -o -: standard output
          const streamed = await outputOf(
            startDenoCli(flags, [url("o.bin"), "-o", "-"], false, dir, fd),
          );
          closeSync(fd);
          assert.equal(streamed.code, 0, streamed.output);
          assert.equal(sha256(await bytesOf(join(dir, "stdout.bin"))), sha256(body));

          const slow = startDenoCli(flags, [url("slow.bin")], false, dir);
          const stopped = outputOf(slow);
          const ctrl = join(dir, "slow.bin.part.ctrl");
          for (let i = 0; i < 1000 && !existsSync(ctrl); i++) {
            await new Promise((resolve) => setTimeout(resolve, 20)); // a checkpoint: 1 s in
          }
          paced = false;
          process.kill(slow.pid!, "SIGINT"); // (Deno's ChildProcess.kill would report a kill)
          const interrupted = await stopped;
          assert.equal(interrupted.code, 130, interrupted.output);
          assert.match(interrupted.output, /progress is saved/);
          const left = (await readdir(dir)).filter((name) => name.startsWith("slow.bin"));
          assert.deepEqual(left.sort(), ["slow.bin.part", "slow.bin.part.ctrl"], "no lock left");
          const resumed = await runDenoCli(
            flags,
            [url("slow.bin")],
            false,
            dir,
          );
          assert.equal(resumed.code, 0, resumed.output);
          assert.match(resumed.output, /resumed at [1-9]/);
          assert.equal(sha256(await bytesOf(join(dir, "slow.bin"))), sha256(body));
        });
      } finally {
        await server.close();
      }
    },
  );
});
