/**
 * A soak check of the engine's fast path, which the test suite's small bodies
 * never reach (the hashing worker starts only once 8 MiB wait to be hashed,
 * the background `fdatasync` every 16 MiB): big downloads under Deno and Bun,
 * killed with SIGKILL or aborted at random points, then resumed to the end.
 *
 * After every cut it checks what is on disk: the checkpoint decodes, its
 * cursor is within `.part`, the bytes below it are the source's, and the
 * resumed call (on the other runtime) reports the source's SHA-256 (computed
 * from the checkpoint's hash state, so a wrong state cannot pass) and leaves
 * the exact file. Not part of the test suite; run it after changing
 * `part_writer.ts`, `hash_follower.ts` or `hash_worker.ts`:
 *
 * ```sh
 * deno run -A scripts/bench/engine_check.ts [--size 1G] [--cuts 6]
 * ```
 *
 * @module
 */

import { spawn } from "node:child_process";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { mkdir, open, readFile, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import { ensureDataFile, startServer } from "./server.ts";

const MiB = 1024 * 1024;
const root = join(dirname(new URL(import.meta.url).pathname), "..", "..");
const bin = join(root, "tools", "node_modules", ".bin");
const DENO = process.env["HAUL_DENO"] ?? join(bin, "deno");
const BUN = process.env["HAUL_BUN"] ?? join(bin, "bun");
const CLIENT = join(root, "scripts", "bench", "haul_client.ts");
const work = join(root, ".bench");

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] ?? fallback : fallback;
}

const size = Number(option("--size", String(1024))) * MiB;
const cuts = Number(option("--cuts", "6"));

function command(runtime: "deno" | "bun", args: string[]): string[] {
  return runtime === "deno"
    ? [DENO, "run", "-A", "--quiet", CLIENT, ...args]
    : [BUN, CLIENT, ...args];
}

/** Runs the client; kills it with SIGKILL after `killAfterMs` if given. Returns its stdout. */
function runClient(argv: string[], killAfterMs: number | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const [program, ...args] = argv;
    const child = spawn(program!, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      out += text;
    });
    const timer = killAfterMs === null
      ? null
      : setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    child.once("error", reject);
    child.once("close", () => {
      if (timer !== null) clearTimeout(timer);
      resolve(out);
    });
  });
}

/** Whether the first `length` bytes of `a` and `b` are equal (compared 8 MiB at a time). */
async function samePrefix(a: string, b: string, length: number): Promise<boolean> {
  const fa = await open(a, "r");
  const fb = await open(b, "r");
  try {
    const ba = Buffer.alloc(8 * MiB);
    const bb = Buffer.alloc(8 * MiB);
    for (let position = 0; position < length; position += ba.length) {
      const want = Math.min(ba.length, length - position);
      const ra = await fa.read(ba, 0, want, position);
      const rb = await fb.read(bb, 0, want, position);
      if (ra.bytesRead !== want || rb.bytesRead !== want) return false;
      if (!ba.subarray(0, want).equals(bb.subarray(0, want))) return false;
    }
    return true;
  } finally {
    await fa.close();
    await fb.close();
  }
}

async function checkDisk(source: string, dest: string, where: string): Promise<number> {
  const ctrl = await readFile(`${dest}.part.ctrl`).catch(() => null);
  const part = await stat(`${dest}.part`).catch(() => null);
  if (ctrl === null) {
    console.log(`  ${where}: no checkpoint yet (.part ${part?.size ?? "absent"})`);
    return 0;
  }
  const saved = decodeCheckpoint(new Uint8Array(ctrl));
  if (part === null || part.size < saved.cursor) {
    throw new Error(`${where}: cursor ${saved.cursor} beyond .part (${part?.size})`);
  }
  if (!(await samePrefix(source, `${dest}.part`, saved.cursor))) {
    throw new Error(`${where}: the first ${saved.cursor} bytes of .part are not the source's`);
  }
  console.log(
    `  ${where}: checkpoint cursor ${(saved.cursor / MiB).toFixed(1)} MiB of .part ` +
      `${(part.size / MiB).toFixed(1)} MiB, anchor ${(saved.anchor / MiB).toFixed(1)} MiB: ok`,
  );
  return saved.cursor;
}

async function main(): Promise<void> {
  const www = join(work, "www");
  const source = join(www, `check-${size}.bin`);
  const digest = await ensureDataFile(source, size);
  const server = await startServer({
    www,
    work,
    slowRate: 20e6,
    kind: "auto",
    runtime: [DENO, "run", "-A", "--quiet"],
  });
  await mkdir(join(work, "dl"), { recursive: true });
  const dest = join(work, "dl", "check.bin");
  const url = `${server.url}/${source.split("/").pop()}`;
  let failures = 0;
  try {
    for (const runtime of ["deno", "bun"] as const) {
      for (let cut = 0; cut < cuts; cut++) {
        for (const suffix of ["", ".part", ".part.ctrl"]) {
          await rm(`${dest}${suffix}`, { force: true });
        }
        const kill = cut % 2 === 0;
        const first = kill
          ? await runClient(
            command(runtime, ["--url", url, "--dest", dest]),
            400 + Math.random() * 2500,
          )
          : await runClient(
            command(runtime, [
              "--url",
              url,
              "--dest",
              dest,
              "--abort-at",
              String(Math.floor(Math.random() * size * 0.9)),
            ]),
            null,
          );
        const where = `${runtime} ${kill ? "SIGKILL" : "abort"} #${cut + 1}`;
        try {
          if (!kill) {
            const report = JSON.parse(first.trim().split("\n").pop() ?? "{}") as {
              validLength?: number;
              ok?: boolean;
            };
            const cursor = await checkDisk(source, dest, where);
            if (report.ok !== true && report.validLength !== cursor) {
              throw new Error(`${where}: validLength ${report.validLength} but cursor ${cursor}`);
            }
          } else {
            await checkDisk(source, dest, where);
          }
          const second = await runClient(
            command(runtime === "deno" ? "bun" : "deno", ["--url", url, "--dest", dest]),
            null,
          );
          const report = JSON.parse(second.trim().split("\n").pop() ?? "{}") as {
            ok?: boolean;
            sha256?: string;
            error?: string;
          };
          if (report.ok !== true || report.sha256 !== digest) {
            throw new Error(`${where}: the resumed call gave ${JSON.stringify(report)}`);
          }
          const whole = createHash("sha256").update(await readFile(dest)).digest("hex");
          if (whole !== digest) throw new Error(`${where}: the file on disk has sha256 ${whole}`);
          console.log(`  ${where}: resumed to the exact file`);
        } catch (error) {
          failures++;
          console.log(`  FAILED ${String(error)}`);
        }
      }
    }
  } finally {
    await server.stop();
    for (const suffix of ["", ".part", ".part.ctrl"]) await rm(`${dest}${suffix}`, { force: true });
    await rm(source, { force: true });
    await rm(`${source}.sha256`, { force: true });
  }
  console.log(
    failures === 0 ? "engine check: all cuts resumed exactly" : `engine check: ${failures} FAILED`,
  );
  if (failures > 0) process.exit(1);
}

await main();
