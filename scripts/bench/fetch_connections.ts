/**
 * What the runtime's own `fetch` costs over several connections, with no disk
 * and no hash: the file at `--url` fetched as `--connections` `Range` requests
 * at once, each body read through a BYOB reader into a 1 MiB buffer and
 * dropped. Prints one JSON line: connections, reads, wall and CPU ms of the
 * process. Deno only (Bun's `fetch` bodies take no BYOB reader).
 *
 * ```sh
 * deno run -A scripts/bench/fetch_connections.ts --url URL --bytes N --connections 8
 * ```
 *
 * @module
 */

import process from "node:process";
import { option } from "./argv.ts";

const url = option("--url");
const bytes = Number(option("--bytes"));
const connections = Number(option("--connections"));
const share = Math.ceil(bytes / connections);
let reads = 0;
const started = performance.now();
const cpu = process.cpuUsage();
await Promise.all(Array.from({ length: connections }, async (_, index) => {
  const first = index * share;
  const last = Math.min(bytes, first + share) - 1;
  const response = await fetch(url, {
    headers: { range: `bytes=${first}-${last}`, "accept-encoding": "identity" },
  });
  if (response.status !== 206 || response.body === null) {
    throw new Error(`fetch_connections: status ${response.status}`);
  }
  const reader = response.body.getReader({ mode: "byob" });
  let buffer = new Uint8Array(1 << 20);
  for (;;) {
    const { done, value } = await reader.read(buffer);
    if (done) break;
    reads++;
    buffer = new Uint8Array(value.buffer);
  }
}));
const used = process.cpuUsage(cpu);
console.log(JSON.stringify({
  connections,
  reads,
  wallMs: Math.round(performance.now() - started),
  cpuMs: Math.round((used.user + used.system) / 1000),
}));
