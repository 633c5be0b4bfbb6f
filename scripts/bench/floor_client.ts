/**
 * The least a verified, durable download can cost in this runtime, as a
 * reference for haul: one `fetch`, its body read with the default reader,
 * every chunk into the native SHA-256 (`node:crypto`) and gathered into
 * 1 MiB writes at their positions, one `fdatasync` and a rename at the end.
 * No resume, no checkpoint, no lock, no `Range`, no check of any header: what
 * haul adds over this loop is what its guarantees cost. Prints one JSON line
 * like `haul_client.ts` (`ok`, `sha256`, and the loop's own `elapsedMs` and
 * `cpuMs`).
 *
 * With `--max-bytes-per-second N`, the body is read no faster than `N`, in
 * bursts of 250 ms as haul's limiter reads it: what pacing costs the runtime
 * itself, with none of haul's work.
 *
 * ```sh
 * deno run -A scripts/bench/floor_client.ts --url URL --dest FILE [--max-bytes-per-second N]
 * bun scripts/bench/floor_client.ts --url URL --dest FILE [--max-bytes-per-second N]
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";
import { open, rename } from "node:fs/promises";
import process from "node:process";
import { option } from "./argv.ts";

const url = option("--url");
const dest = option("--dest");
const part = `${dest}.part`;
const limit = process.argv.includes("--max-bytes-per-second")
  ? Number(option("--max-bytes-per-second"))
  : Infinity;
const started = performance.now();
const cpu = process.cpuUsage();
/** When the bytes read so far are paid for at the pace (as haul's limiter: 100 ms of credit). */
let paidUntil = started;
const response = await fetch(url, { headers: { "accept-encoding": "identity" } });
if (response.status !== 200 || response.body === null) {
  throw new Error(`floor: status ${response.status}`);
}
const hash = createHash("sha256");
const file = await open(part, "w");
const buffer = new Uint8Array(1 << 20);
let filled = 0;
let position = 0;
const reader = response.body.getReader();
for (;;) {
  const { done, value } = await reader.read();
  if (done) break;
  hash.update(value);
  if (limit < Infinity) {
    paidUntil = Math.max(paidUntil, performance.now() - 100) + (value.length * 1000) / limit;
    const wait = paidUntil - performance.now();
    if (wait >= 250) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  for (let offset = 0; offset < value.length;) {
    const take = Math.min(buffer.length - filled, value.length - offset);
    buffer.set(value.subarray(offset, offset + take), filled);
    filled += take;
    offset += take;
    if (filled === buffer.length) {
      await file.write(buffer, 0, filled, position);
      position += filled;
      filled = 0;
    }
  }
}
await file.write(buffer, 0, filled, position);
await file.datasync();
await file.close();
await rename(part, dest);
const used = process.cpuUsage(cpu);
const report = {
  ok: true,
  sha256: hash.digest("hex"),
  elapsedMs: performance.now() - started,
  cpuMs: (used.user + used.system) / 1000,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
