/**
 * A/B runs of engine levers: serves one generated file from nginx on
 * 127.0.0.1 and runs each variant (runtime + engine hooks) as its own
 * process, interleaved, round after round; prints MB/s and CPU per run and
 * the median per variant.
 *
 * Usage:
 *
 *     deno run -A scripts/bench/ab.ts <MiB> '<variants-json>' [rounds]
 *
 * where variants-json maps a name to `[runtime, hooks]`, e.g.
 * `'{"worker":["deno",{}],"inline":["deno",{"digestWorkerAfter":1e15}]}'`.
 * Files live under `.bench/ab/`.
 *
 * @module
 */

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { startServer } from "./server.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const work = join(root, ".bench", "ab");
const bin = join(root, "tools", "node_modules", ".bin");
const client = join(here, "ab_client.ts");

const mebibytes = Number(process.argv[2] ?? 1024);
const variants = JSON.parse(process.argv[3] ?? '{"default":["deno",{}]}') as Record<
  string,
  [string, Record<string, unknown>]
>;
const rounds = Number(process.argv[4] ?? 3);
mkdirSync(join(work, "www"), { recursive: true });
mkdirSync(join(work, "dl"), { recursive: true });
const source = join(work, "www", `f${mebibytes}.bin`);
if (!existsSync(source)) {
  execFileSync("head", ["-c", String(mebibytes * 1024 * 1024), "/dev/urandom"], {
    stdio: ["ignore", openSync(source, "w"), "inherit"],
  });
}
const server = await startServer({
  www: join(work, "www"),
  work: join(work, "server"),
  slowRate: 1e6,
  kind: "auto",
  runtime: [join(bin, "deno"), "run", "-A", "--quiet"],
});
const samples: Record<string, number[]> = {};
const dest = join(work, "dl", "x.bin");
try {
  for (let round = 0; round < rounds; round++) {
    for (const [name, [runtime, hooks]] of Object.entries(variants)) {
      rmSync(dest, { force: true });
      spawnSync("sync");
      const command = runtime === "bun"
        ? [join(bin, "bun"), client]
        : [join(bin, "deno"), "run", "-A", client];
      const run = spawnSync(command[0]!, [
        ...command.slice(1),
        `${server.url}/f${mebibytes}.bin`,
        dest,
        JSON.stringify(hooks),
      ], { encoding: "utf8" });
      const line = run.stdout.trim().split("\n").pop() ?? "";
      try {
        const report = JSON.parse(line) as { mbPerS: number; cpuMs: number };
        (samples[name] ??= []).push(report.mbPerS);
        console.log(
          `${name}: ${report.mbPerS.toFixed(0)} MB/s, CPU ${(report.cpuMs / 1000).toFixed(2)} s`,
        );
      } catch {
        console.log(`${name}: failed: ${run.stderr.slice(-400)}`);
      }
    }
  }
} finally {
  await server.stop();
}
for (const [name, values] of Object.entries(samples)) {
  values.sort((a, b) => a - b);
  console.log(
    `${name.padEnd(24)} median ${values[Math.floor(values.length / 2)]!.toFixed(0)} MB/s`,
  );
}
