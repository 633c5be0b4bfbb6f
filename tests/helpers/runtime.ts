/**
 * Which runtime runs the tests, and child processes of any runtime: the
 * pinned binaries in `tools/node_modules/.bin` (the current runtime's own
 * executable when it is the one asked for). Deno children get only the
 * permissions a test names: `--allow-read` and `--allow-write` on one
 * directory, `--allow-net` on one host, nothing else.
 *
 * @module
 */

import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** A JavaScript runtime haul is tested on. */
export type Runtime = "deno" | "bun" | "node";

/** The repository's root directory. */
export const REPO_ROOT: string = fileURLToPath(new URL("../..", import.meta.url));
const TOOLS_BIN = `${REPO_ROOT}tools/node_modules/.bin`;

/** The runtime running this code. */
export function currentRuntime(): Runtime {
  if (typeof (globalThis as { Deno?: unknown }).Deno !== "undefined") return "deno";
  if (typeof (globalThis as { Bun?: unknown }).Bun !== "undefined") return "bun";
  return "node";
}

/** The executable of `runtime`: this process's own when it is that runtime, else the pinned one. */
export function runtimeExecutable(runtime: Runtime = currentRuntime()): string {
  if (runtime === currentRuntime()) return process.execPath;
  const pinned = `${TOOLS_BIN}/${runtime}`;
  if (!existsSync(pinned)) throw new Error(`${runtime} is not installed: run scripts/setup.sh`);
  return pinned;
}

/** What a child may do. */
export interface ChildPermissions {
  /** The runtime (default: the current one). */
  readonly runtime?: Runtime;
  /** Deno: `--allow-read=DIR --allow-write=DIR`. */
  readonly readWriteDir?: string;
  /** Deno: `--allow-read=DIR` only. */
  readonly readOnlyDir?: string;
  /** Deno: a further directory for `--allow-read` (with `readWriteDir`). */
  readonly alsoReadDir?: string;
  /** Deno: `--allow-net=HOST` (e.g. `127.0.0.1:8080`). */
  readonly net?: string;
  /** Deno: run with `-A` instead of the flags above. */
  readonly allowAll?: boolean;
}

/**
 * The command line that runs `script` with `args` under a runtime.
 *
 * @param script the script's path.
 * @param args its arguments.
 * @param permissions the runtime and, for Deno, the flags.
 * @returns the executable and its arguments.
 */
export function runtimeCommand(
  script: string,
  args: readonly string[],
  permissions: ChildPermissions = {},
): [string, string[]] {
  const runtime = permissions.runtime ?? currentRuntime();
  const executable = runtimeExecutable(runtime);
  if (runtime !== "deno") return [executable, [script, ...args]];
  const flags: string[] = [];
  if (permissions.allowAll === true) flags.push("-A");
  if (permissions.readWriteDir !== undefined) {
    flags.push(
      `--allow-read=${
        [permissions.readWriteDir, permissions.alsoReadDir].filter((dir) => dir !== undefined)
          .join(",")
      }`,
      `--allow-write=${permissions.readWriteDir}`,
    );
  }
  if (permissions.readOnlyDir !== undefined) flags.push(`--allow-read=${permissions.readOnlyDir}`);
  if (permissions.net !== undefined) flags.push(`--allow-net=${permissions.net}`);
  return [executable, ["run", ...flags, script, ...args]];
}

/** A running child. */
export interface RuntimeChild {
  /** The process. */
  readonly proc: ChildProcess;
  /** Resolves when it has exited. */
  readonly exited: Promise<number | null>;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Its first line on stdout; rejects (with its output) if it exits or 60 s pass first. */
  firstLine(): Promise<string>;
  /** SIGKILL (if still running), then waits for the exit. */
  kill(): Promise<void>;
  /** Whether it has exited. */
  readonly hasExited: boolean;
}

/**
 * Starts `script` under a runtime with the given permissions.
 *
 * @param script the script's path.
 * @param args its arguments.
 * @param permissions the runtime and, for Deno, the flags.
 * @param env variables added to this process's environment.
 * @param stdin a pipe for the child's standard input, or none.
 * @returns the child.
 */
export function runtimeChild(
  script: string,
  args: readonly string[],
  permissions: ChildPermissions = {},
  env: Record<string, string> = {},
  stdin: "ignore" | "pipe" = "ignore",
): RuntimeChild {
  const [command, argv] = runtimeCommand(script, args, permissions);
  const proc = spawn(command, argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: [stdin, "pipe", "pipe"],
  });
  let stdout = "";
  let all = "";
  let done = false;
  const decoder = new TextDecoder();
  proc.stdout?.on("data", (data: Uint8Array) => {
    const text = decoder.decode(data);
    stdout += text;
    all += text;
  });
  proc.stderr?.on("data", (data: Uint8Array) => (all += new TextDecoder().decode(data)));
  const exited = new Promise<number | null>((resolve) => {
    proc.once("close", (code: number | null) => {
      done = true;
      resolve(code);
    });
  });
  return {
    proc,
    exited,
    output: () => all,
    async firstLine(): Promise<string> {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const cut = stdout.indexOf("\n");
        if (cut >= 0) return stdout.slice(0, cut);
        if (done) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`no line from ${command} ${argv.join(" ")}; output: ${all}`);
    },
    async kill(): Promise<void> {
      if (!done) proc.kill("SIGKILL");
      await exited;
    },
    get hasExited(): boolean {
      return done;
    },
  };
}

/**
 * Children of `fixtures/haul_child.ts` started one ahead: each loads its modules and then waits for
 * its arguments on stdin (`--stdin`), so a test that starts and kills many in a row does not wait
 * out each one's start-up (0.2-0.8 s): the next one loads while the current one downloads.
 */
export class WarmChildren {
  readonly #script: string;
  readonly #permissions: ChildPermissions;
  #spare: RuntimeChild | null = null;

  /**
   * @param script `fixtures/haul_child.ts`'s path.
   * @param permissions the runtime and, for Deno, the flags of every child.
   */
  constructor(script: string, permissions: ChildPermissions) {
    this.#script = script;
    this.#permissions = permissions;
  }

  /**
   * A child that runs with `args` and with `env` added to its environment (the spare, loaded
   * already, when there is one); the next spare starts loading.
   *
   * @param args the child's arguments.
   * @param env variables the child adds to its environment before it reads any.
   * @returns the child.
   */
  start(args: readonly string[], env: Record<string, string> = {}): RuntimeChild {
    const child = this.#spare ?? this.#spawn();
    this.#spare = this.#spawn();
    child.proc.stdin!.end(JSON.stringify({ args, env }) + "\n");
    return child;
  }

  /**
   * A child that waits for its line on stdin. A write to one that is gone fails (EPIPE, and Bun's
   * end of the pipe after the child read its line): ignored, the child's output tells.
   */
  #spawn(): RuntimeChild {
    const child = runtimeChild(this.#script, ["--stdin"], this.#permissions, {}, "pipe");
    child.proc.stdin!.on("error", () => {});
    return child;
  }

  /** Kills the spare. */
  async close(): Promise<void> {
    const spare = this.#spare;
    this.#spare = null;
    await spare?.kill();
  }
}

/**
 * Polls `condition` (between turns of the event loop) until it holds, the
 * child exits, or `ms` pass: a bounded loop.
 *
 * @param child the child whose exit ends the wait.
 * @param condition what to wait for.
 * @param ms the bound.
 * @returns true when the condition held, false when the child exited first.
 * @throws {Error} when `ms` pass first, with the child's output.
 */
export async function waitFor(
  child: RuntimeChild,
  condition: () => boolean,
  ms = 20_000,
): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (condition()) return true;
    if (child.hasExited) return false;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`condition not reached within ${ms} ms; child output: ${child.output()}`);
}

/**
 * What `child` prints (stdout and stderr) until it closes, and its exit code; killed after `ms`, or
 * as soon as it shows a Deno permission prompt.
 */
export function outputOf(
  child: ChildProcess,
  ms = 30_000,
): Promise<{ code: number | null; output: string }> {
  let output = "";
  const take = (chunk: Uint8Array) => {
    output += String(chunk);
    if (/Deno requests/.test(output)) child.kill("SIGKILL");
  };
  child.stdout?.on("data", take);
  child.stderr?.on("data", take);
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** `argv` run in a pseudo-terminal of its own (util-linux `script`), stdin left open for a prompt. */
export function onTerminal(argv: readonly string[], options: SpawnOptions): ChildProcess {
  const quoted = argv.map((arg) => `'${arg.replaceAll("'", `'\\''`)}'`).join(" ");
  return spawn("script", ["-qfec", quoted, "/dev/null"], { ...options, stdio: "pipe" });
}
