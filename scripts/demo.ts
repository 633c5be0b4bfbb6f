/**
 * The demo behind `deno task demo` / `bash scripts/demo.sh`: a local server on
 * 127.0.0.1 serves a generated 300 MiB file and cuts the connection four
 * times; the `haul` CLI downloads it, resuming after each cut, and verifies
 * its SHA-256; then everything is stopped and removed.
 *
 * Runs under Deno (`deno run -A scripts/demo.ts`) or Bun (`bun scripts/demo.ts`);
 * the CLI child runs on the same runtime.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { startResourceServer } from "../tests/helpers/script_server.ts";

const MiB = 1024 * 1024;
const SIZE = 300 * MiB;
const CUTS = 4;
const CUT_EVERY = 55 * MiB;
const RATE = 120 * MiB;
const NAME = "demo-300MiB.bin";
const isDeno = "Deno" in globalThis;
const cliPath = fileURLToPath(new URL("../cli.ts", import.meta.url));

/** 300 MiB from a fixed-seed xorshift32: the same bytes on every run. */
function generate(size: number): Uint8Array {
  const words = new Uint32Array(size / 4);
  let x = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer);
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MiB })) {
    hash.update(chunk as Uint8Array);
  }
  return hash.digest("hex");
}

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function main(): Promise<number> {
  const runtime = isDeno ? "deno" : "bun";
  say(`haul demo (${runtime}): generating a ${SIZE / MiB} MiB file…`);
  const body = generate(SIZE);
  const expected = createHash("sha256").update(body).digest("hex");
  const server = await startResourceServer(
    { body, etag: '"demo-v1"' },
    (req, honest) =>
      req.index < CUTS
        ? { ...honest, cutAfter: CUT_EVERY, bytesPerSecond: RATE }
        : { ...honest, bytesPerSecond: RATE },
  );
  const dir = await mkdtemp(join(tmpdir(), "haul-demo-"));
  let child: ReturnType<typeof spawn> | null = null;
  const ignoreSignal = (): void => {
    // The CLI (same terminal) handles Ctrl-C itself; the demo cleans up after it.
  };
  process.on("SIGINT", ignoreSignal);
  try {
    const url = `${server.url}/${NAME}`;
    say(`Server: ${url} (cuts the connection ${CUTS} times, every ${CUT_EVERY / MiB} MiB)`);
    say(`Server's SHA-256: ${expected}\n`);
    const args = [url, "--dir", dir, "--sha256", expected, "--retry-delay", "0.2", "-v"];
    // The permissions of `deno task haul` (README, "Deno permissions").
    const denoFlags = ["--allow-net", "--allow-read", "--allow-write", "--allow-env"];
    const shown = isDeno ? `deno run ${denoFlags.join(" ")} cli.ts` : "bun cli.ts";
    say(`$ ${shown} ${args.join(" ")}`);
    const command = isDeno
      ? ["run", ...denoFlags, "--no-lock", cliPath, ...args]
      : [cliPath, ...args];
    const started = performance.now();
    const spawned = spawn(process.execPath, command, { stdio: "inherit" });
    child = spawned;
    const status = await new Promise<number | null>((resolve) => {
      spawned.once("error", () => resolve(null));
      spawned.once("close", (code) => resolve(code));
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (status !== 0) {
      say(`\nThe CLI exited with status ${status}: run the demo again to see a fresh download.`);
      return status === 130 ? 130 : 1;
    }
    const actual = await sha256File(join(dir, NAME));
    const ranges = server.requests.slice(1).map((req) => req.headers["range"] ?? "none");
    say(`\nDownloaded in ${seconds} s with ${server.requests.length} requests.`);
    say(`Resumed with: ${ranges.join(", ")} (each with If-Range: "demo-v1")`);
    say(`Server's SHA-256: ${expected}`);
    say(`File's SHA-256:   ${actual}`);
    say(
      actual === expected ? "Verified: the SHA-256 values match." : "MISMATCH: please report it.",
    );
    say(`\nNext: install the haul command (README.md, "Install"), then: haul --help`);
    say(
      `  or from this checkout: tools/node_modules/.bin/${runtime} ${
        isDeno ? "task haul" : "cli.ts"
      } --help`,
    );
    return actual === expected ? 0 : 1;
  } finally {
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
    }
    process.off("SIGINT", ignoreSignal);
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

process.exit(await main());
