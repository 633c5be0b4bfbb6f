/**
 * The command line under Deno as its README says to run it: `--allow-net=HOST --allow-read=DIR
 * --allow-write=DIR --allow-env=COLUMNS`, and with one of them missing. A missing permission is
 * a message that names the flag (not "permission denied: choose a directory you can write to"),
 * and on a terminal the command never prompts. Runs under every runtime: the child is always the
 * pinned Deno.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readdir } from "node:fs/promises";
import process from "node:process";
import { CLI_PATH, REPO_ROOT } from "../fixtures/cli_run.ts";
import { onTerminal, outputOf, runtimeExecutable } from "../helpers/runtime.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { join, randomBody, withTempDir } from "../helpers/temp.ts";

/** Runs `deno run FLAGS cli.ts ARGS`, on a pseudo-terminal when `terminal` (killed at a prompt). */
function runDenoCli(
  flags: readonly string[],
  args: readonly string[],
  terminal = false,
  cwd = REPO_ROOT,
): Promise<{ code: number | null; output: string }> {
  const argv = [runtimeExecutable("deno"), "run", "--no-lock", ...flags, CLI_PATH, ...args];
  const env = { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
  return outputOf(
    terminal
      ? onTerminal(argv, { cwd, env })
      : spawn(argv[0]!, argv.slice(1), { cwd, env, stdio: ["ignore", "pipe", "pipe"] }),
  );
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
});
