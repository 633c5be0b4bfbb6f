/**
 * The benchmark's bare loop: the least a runtime does to put a fetch body in
 * a file. `fetch(url)`, read the body chunk by chunk, write each chunk at its
 * position through `node:fs/promises` (the fastest write path measured in
 * both Deno and Bun). Optionally hash every chunk with the native
 * `node:crypto` SHA-256 and `fdatasync` at a fixed cadence, to show what each
 * of those costs the runtime itself.
 *
 * Usage:
 *
 * ```sh
 * deno run -A scripts/bench/bare_client.ts --url URL --dest FILE [--hash] [--sync-every BYTES]
 * bun scripts/bench/bare_client.ts --url URL --dest FILE [--hash] [--sync-every BYTES]
 * ```
 *
 * Prints one JSON line: `{ ok, size, sha256, elapsedMs }`.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { open } from "node:fs/promises";
import process from "node:process";

/** What the bare loop prints. */
export interface BareReport {
  /** Whether the whole body was written. */
  readonly ok: boolean;
  /** Bytes written. */
  readonly size: number;
  /** Hex SHA-256 when `--hash` was given, else empty. */
  readonly sha256: string;
  /** Milliseconds from `fetch()` to the file's close. */
  readonly elapsedMs: number;
}

function parse(
  argv: readonly string[],
): { url: string; dest: string; hash: boolean; sync: number } {
  let url = "";
  let dest = "";
  let hash = false;
  let sync = 0;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--url") url = argv[++i] ?? "";
    else if (flag === "--dest") dest = argv[++i] ?? "";
    else if (flag === "--hash") hash = true;
    else if (flag === "--sync-every") sync = Number(argv[++i] ?? "0");
    else throw new Error(`Unknown option: ${flag}`);
  }
  return { url, dest, hash, sync };
}

async function main(): Promise<BareReport> {
  const { url, dest, hash, sync } = parse(process.argv.slice(2));
  const started = performance.now();
  const response = await fetch(url, { headers: { "accept-encoding": "identity" } });
  if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status}`);
  const file = await open(dest, "w");
  const hasher: Hash | null = hash ? createHash("sha256") : null;
  let position = 0;
  let sinceSync = 0;
  try {
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hasher?.update(value);
      let written = 0;
      while (written < value.length) {
        const { bytesWritten } = await file.write(
          value,
          written,
          value.length - written,
          position + written,
        );
        written += bytesWritten;
      }
      position += value.length;
      sinceSync += value.length;
      if (sync > 0 && sinceSync >= sync) {
        await file.datasync();
        sinceSync = 0;
      }
    }
    if (sync > 0) await file.datasync();
  } finally {
    await file.close();
  }
  return {
    ok: true,
    size: position,
    sha256: hasher?.digest("hex") ?? "",
    elapsedMs: performance.now() - started,
  };
}

process.stdout.write(`${JSON.stringify(await main())}\n`);
