/**
 * One native pass over a file: reads it in 1 MiB pieces and hashes it with
 * `node:crypto`'s SHA-256, the least a resume that re-hashes the bytes on
 * disk can cost. Prints one JSON line with wall and CPU milliseconds of the
 * pass (start-up excluded).
 *
 * ```sh
 * deno run -A scripts/bench/hash_file.ts FILE
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import process from "node:process";

const path = process.argv[2];
if (path === undefined) throw new Error("Pass the file to hash");
const cpu = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};
const started = performance.now();
const cpuStarted = cpu();
const file = await open(path, "r");
const hash = createHash("sha256");
const buffer = new Uint8Array(1024 * 1024);
let size = 0;
try {
  for (;;) {
    const { bytesRead } = await file.read(buffer, 0, buffer.length, size);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    size += bytesRead;
  }
} finally {
  await file.close();
}
process.stdout.write(
  `${
    JSON.stringify({
      ok: true,
      size,
      sha256: hash.digest("hex"),
      elapsedMs: performance.now() - started,
      cpuMs: cpu() - cpuStarted,
    })
  }\n`,
);
