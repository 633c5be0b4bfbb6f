/**
 * Measures how responsive a server stays while it downloads: starts the
 * server command given after `--` (`serve_client.ts`), sends `GET /ping`
 * one at a time every `--interval-ms` for `--before-ms`, then `GET /start`,
 * and keeps pinging until the server says its download is done. Prints one
 * JSON line with latency percentiles before and during the download.
 *
 * ```sh
 * deno run -A scripts/bench/pinger.ts --before-ms 2000 --interval-ms 5 -- bun serve_client.ts ...
 * ```
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";

/** Latency figures of one phase, in milliseconds. */
export interface Latency {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

function summarise(samples: readonly number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: at(1) };
}

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const beforeMs = option("--before-ms", 2000);
const intervalMs = option("--interval-ms", 5);
const command = process.argv.slice(process.argv.indexOf("--") + 1);
const [program, ...args] = command;
if (program === undefined || !process.argv.includes("--")) {
  throw new Error("Pass the server command after --");
}

const server = spawn(program, args, { stdio: ["ignore", "pipe", "inherit"] });
const port = await new Promise<number>((resolve, reject) => {
  let text = "";
  server.once("exit", (code) => reject(new Error(`The server exited (${code}) before listening`)));
  server.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    text += chunk;
    const line = text.split("\n")[0];
    if (text.includes("\n") && line !== undefined) {
      resolve((JSON.parse(line) as { port: number }).port);
    }
  });
});
const base = `http://127.0.0.1:${port}`;

async function ping(): Promise<{ ms: number; status: string }> {
  const started = performance.now();
  const response = await fetch(`${base}/ping`);
  const status = await response.text();
  return { ms: performance.now() - started, status };
}

const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, intervalMs));

try {
  const before: number[] = [];
  const until = performance.now() + beforeMs;
  while (performance.now() < until) {
    before.push((await ping()).ms);
    await pause();
  }
  const during: number[] = [];
  const started = performance.now();
  await (await fetch(`${base}/start`)).text();
  const deadline = started + 600_000;
  let status = "busy";
  while (status === "busy" && performance.now() < deadline) {
    const sample = await ping();
    status = sample.status;
    if (status === "busy") during.push(sample.ms);
    await pause();
  }
  const downloadMs = performance.now() - started;
  if (status !== "done") throw new Error(`The server's download ended with: ${status}`);
  process.stdout.write(
    `${
      JSON.stringify({
        ok: true,
        before: summarise(before),
        during: summarise(during),
        downloadMs,
      })
    }\n`,
  );
} finally {
  await fetch(`${base}/stop`).then((response) => response.text()).catch(() => "");
  if (server.exitCode === null) server.kill("SIGKILL");
}
