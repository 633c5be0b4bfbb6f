/**
 * The `haul` command line: resumable, crash-safe, verified downloads from a
 * terminal or a script.
 *
 * ```sh
 * deno run -A jsr:@haul/haul/cli https://example.com/big.iso
 * bun cli.ts -i urls.txt --dir downloads -j 8
 * ```
 *
 * Run with `--help` for every option. This file only adapts the runtime
 * (Deno, or Bun and Node) to the runtime-neutral `runCli()`.
 *
 * @module
 */

import { mkdir, readFile, stat } from "node:fs/promises";
import process from "node:process";
import type { CliIo, CliSignal } from "./src/cli/io.ts";
import { runCli } from "./src/cli/main.ts";
import { scrub } from "./src/cli/error_wording.ts";

const SIGNALS: readonly CliSignal[] = ["SIGINT", "SIGTERM"];
const encoder = new TextEncoder();

function envColumns(): number {
  const value = Number(process.env["COLUMNS"]);
  return Number.isSafeInteger(value) && value > 0 ? value : 80;
}

/** The files part of {@link CliIo}: `node:fs`, which all three runtimes have. */
const files: Pick<CliIo, "readTextFile" | "makeDir" | "statPath"> = {
  readTextFile: (path) => readFile(path, "utf8"),
  makeDir: async (path) => {
    await mkdir(path, { recursive: true });
  },
  statPath: async (path) => {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === "ENOENT" || code === "ENOTDIR") return null;
      throw error;
    }
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

/** The {@link CliIo} over Deno's APIs. */
function denoIo(): CliIo {
  const writeAll = (file: typeof Deno.stdout, text: string): void => {
    let bytes = encoder.encode(text);
    try {
      for (let tries = 0; bytes.length > 0 && tries < 1_000_000; tries++) {
        bytes = bytes.subarray(file.writeSync(bytes));
      }
    } catch {
      // The reader went away (a closed pipe): the downloads go on regardless.
    }
  };
  return {
    ...files,
    stdout: (text) => writeAll(Deno.stdout, text),
    writeOut: async (bytes) => {
      try {
        while (bytes.length > 0) bytes = bytes.subarray(await Deno.stdout.write(bytes));
        return true;
      } catch (error) {
        if (error instanceof Deno.errors.BrokenPipe) return false;
        throw error;
      }
    },
    stderr: (text) => writeAll(Deno.stderr, text),
    isTTY: Deno.stderr.isTerminal(),
    columns: () => {
      try {
        return Deno.consoleSize().columns || envColumns();
      } catch {
        return envColumns();
      }
    },
    onSignal: (handler) => {
      const listeners = SIGNALS.map((signal) => {
        const listener = (): void => handler(signal);
        try {
          Deno.addSignalListener(signal, listener);
        } catch {
          return null; // e.g. SIGTERM on Windows
        }
        return { signal, listener };
      });
      return () => {
        for (const entry of listeners) {
          if (entry !== null) Deno.removeSignalListener(entry.signal, entry.listener);
        }
      };
    },
    exit: (code) => Deno.exit(code),
  };
}

/** The {@link CliIo} over Node's APIs, for Bun and Node. */
function nodeIo(): CliIo {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", () => {
      // The reader went away (a closed pipe): the downloads go on regardless.
    });
  }
  return {
    ...files,
    stdout: (text) => void process.stdout.write(text),
    writeOut: (bytes) =>
      new Promise((resolve, reject) => {
        if (process.stdout.destroyed) return resolve(false);
        process.stdout.write(bytes, (error) => {
          if (error === null || error === undefined) resolve(true);
          else if ((error as { code?: unknown }).code === "EPIPE") resolve(false);
          else reject(error);
        });
      }),
    stderr: (text) => void process.stderr.write(text),
    isTTY: process.stderr.isTTY === true,
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
  };
}

if (import.meta.main) {
  const isDeno = typeof globalThis.Deno?.addSignalListener === "function";
  const io = isDeno ? denoIo() : nodeIo();
  const argv = isDeno ? Deno.args : process.argv.slice(2);
  let status: number;
  try {
    status = await runCli(argv, io);
  } catch (error) {
    io.stderr(`haul: Internal error: ${scrub((error as Error)?.stack ?? String(error))}\n`);
    status = 1;
  }
  if (!isDeno) {
    // Waits until everything written to stdout and stderr has been handed over.
    for (const stream of [process.stdout, process.stderr]) {
      await new Promise<void>((resolve) => stream.write("", () => resolve()));
    }
  }
  io.exit(status);
}
