/**
 * The least a verified, durable download can cost in this runtime, as a
 * reference for haul: one `fetch`, its body read with the default reader,
 * every chunk into the native SHA-256 (`node:crypto`) and gathered into
 * 1 MiB writes at their positions, one `fdatasync` and a rename at the end.
 * No resume, no checkpoint, no lock, no `Range`, no check of any header: what
 * haul adds over this loop is what its guarantees cost. Prints one JSON line
 * like `haul_client.ts` (`ok`, `sha256`).
 *
 * ```sh
 * deno run -A scripts/bench/floor_client.ts --url URL --dest FILE
 * bun scripts/bench/floor_client.ts --url URL --dest FILE
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
process.stdout.write(`${JSON.stringify({ ok: true, sha256: hash.digest("hex") })}\n`);
