/**
 * The `haul` command line: resumable, crash-safe, verified downloads from a
 * terminal or a script.
 *
 * ```sh
 * deno run -A jsr:@haul/haul/cli https://example.com/big.iso
 * bun cli.ts -i urls.txt --dir downloads -j 8
 * ```
 *
 * Run with `--help` for every option. This file only gives the runtime-neutral
 * `runCli()` its runtime: `node:process` and `node:fs`, as Deno, Bun and Node have them
 * (and Deno's own write for `-o -`).
 *
 * @module
 */

import { statSync } from "node:fs";
import { dirname } from "node:path";
import { mkdir, readFile } from "node:fs/promises";
import process from "node:process";
import type { Writable } from "node:stream";
import { isatty } from "node:tty";
import type { CliIo, CliSignal } from "./src/cli/io.ts";
import { runCli } from "./src/cli/main.ts";
import { scrub } from "./src/cli/error_wording.ts";

// SIGHUP (its terminal closed) only on a terminal: under nohup (none) it stays as the runtime set it.
const ON_TERMINAL = [0, 1, 2].some((fd) => isatty(fd));
const SIGNALS: readonly CliSignal[] = [
  "SIGINT",
  "SIGTERM",
  ...(ON_TERMINAL ? ["SIGHUP"] as const : []),
];

/** An environment variable; on Deno only when granted (asked about, never prompted for). */
function env(name: string): string | undefined {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  const state = deno?.permissions.querySync({ name: "env", variable: name }).state ?? "granted";
  return state === "granted" ? process.env[name] : undefined;
}

function envColumns(): number {
  const value = Number(env("COLUMNS"));
  return Number.isSafeInteger(value) && value > 0 ? value : 80;
}

/**
 * `-o -`'s bytes on Deno: `node:process` writes to a pipe synchronously there, so a slow
 * reader would hold up timers and signals (Ctrl-C) until it reads; this write waits instead.
 */
async function denoWriteOut(bytes: Uint8Array): Promise<boolean> {
  try {
    while (bytes.length > 0) bytes = bytes.subarray(await Deno.stdout.write(bytes));
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.BrokenPipe) return false;
    throw error;
  }
}

/**
 * `mkdir -p`, a level at a time. Node's own `recursive` loops forever where a folder that exists
 * answers ENOENT for a new child (`--dir /proc/nope`); here that ENOENT, after the parent is
 * made, is the answer. A folder that exists is left alone, so a download into it reports what
 * it lacks (Deno's `mkdir` asks for write access even there).
 */
async function makeDirs(path: string, parentMade = false): Promise<void> {
  if (isDirectory(path)) return;
  try {
    await mkdir(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "EEXIST" && statSync(path).isDirectory()) return; // made meanwhile
    if (code !== "ENOENT" || parentMade || dirname(path) === path) throw error;
    await makeDirs(dirname(path));
    await makeDirs(path, true);
  }
}

/** Whether `path` is a folder (or a link to one); `false` when it cannot be looked at. */
function isDirectory(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false; // e.g. no permission to look: mkdir says why
  }
}

/** The streams a write threw on: Deno's `node:process` then never calls a later write's callback. */
const wedged = new Set<Writable>();

/**
 * Writes text to standard output or error. A write that fails (a full disk: `>/dev/full`) is
 * dropped, as the `"error"` listener drops it on Bun and Node; Deno's `node:process` throws it.
 */
function writeText(stream: Writable, text: string): void {
  try {
    stream.write(text);
  } catch {
    wedged.add(stream); // the messages are lost; the downloads go on regardless
  }
}

/** The {@link CliIo} over `node:process` and `node:fs`, which Deno, Bun and Node all have. */
function nodeIo(): CliIo {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", () => {
      // The reader went away (a closed pipe): the downloads go on regardless.
    });
  }
  let stdinRead = false;
  return {
    stdout: (text) => writeText(process.stdout, text),
    writeOut: typeof globalThis.Deno?.stdout?.write === "function"
      ? denoWriteOut
      : (bytes) =>
        new Promise((resolve, reject) => {
          if (process.stdout.destroyed) return resolve(false);
          process.stdout.write(bytes, (error) => {
            if (error === null || error === undefined) resolve(true);
            else if ((error as { code?: unknown }).code === "EPIPE") resolve(false);
            else reject(error);
          });
        }),
    stderr: (text) => writeText(process.stderr, text),
    // TERM=dumb (Emacs' shell) cannot move the cursor to redraw bars: the lines instead.
    isTTY: process.stderr.isTTY === true && env("TERM") !== "dumb",
    columns: () => process.stderr.columns || envColumns(),
    onSignal: (handler) => {
      const listeners = SIGNALS.map((signal) => {
        const listener = (): void => handler(signal);
        process.on(signal, listener);
        return { signal, listener };
      });
      return () => {
        for (const { signal, listener } of listeners) process.off(signal, listener);
      };
    },
    exit: (code) => process.exit(code),
    readTextFile: async (path) => {
      if (path !== "-") return await readFile(path, "utf8");
      if (stdinRead) throw new Error("standard input is read once, and -i - read it");
      stdinRead = true;
      const chunks: Uint8Array<ArrayBuffer>[] = []; // `-i -`: the list from standard input, to its end
      for await (const chunk of process.stdin) chunks.push(chunk);
      return await new Blob(chunks).text();
    },
    makeDir: makeDirs,
    // Synchronous, once per item: a lookup costs microseconds, a thread-pool round trip tens.
    // deno-lint-ignore require-await
    statPath: async (path) => {
      let info;
      try {
        info = statSync(path, { throwIfNoEntry: false });
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === "ENOENT" || code === "ENOTDIR") return null;
        throw error;
      }
      if (info === undefined) return null;
      if (info.isFile()) return { type: "file", what: "a file", size: info.size };
      if (info.isDirectory()) return { type: "directory", what: "a directory", size: 0 };
      const what = info.isCharacterDevice()
        ? "a character device"
        : info.isBlockDevice()
        ? "a block device"
        : info.isFIFO()
        ? "a fifo"
        : info.isSocket()
        ? "a socket"
        : "not a regular file";
      return { type: "other", what, size: 0 };
    },
  };
}

if (import.meta.main) {
  const io = nodeIo();
  let status: number;
  try {
    status = await runCli(process.argv.slice(2), io);
  } catch (error) {
    io.stderr(`haul: Internal error: ${scrub((error as Error)?.stack ?? String(error))}\n`);
    status = 1;
  }
  // Everything written to stdout and stderr is handed over before the process ends.
  for (const stream of [process.stdout, process.stderr].filter((one) => !wedged.has(one))) {
    await new Promise<void>((resolve) => stream.write("", () => resolve()));
  }
  io.exit(status);
}
