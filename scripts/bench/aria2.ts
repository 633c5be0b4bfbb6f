/**
 * aria2c as a reference client for the `connections` section: whether it is
 * installed, and its command lines for one file over several connections
 * and for a list of files. Both leave out preallocation
 * (`--file-allocation=none`), so that aria2c writes the bytes once as haul
 * and curl do, allow overwriting, so that a leftover never changes a round,
 * and split down to haul's 4 MiB smallest range (`-k 4M`).
 *
 * @module
 */

import { basename, dirname } from "node:path";
import { run } from "./proc.ts";

/**
 * Options every aria2c run here shares: quiet, no preallocation, no
 * renaming, and `-k 4M`, haul's smallest range (aria2c splits nothing under
 * twice `-k`; with its default, 20 MiB, it would fetch a 32 MiB file over
 * one connection).
 */
const COMMON: readonly string[] = [
  "-k",
  "4M",
  "--quiet=true",
  "--file-allocation=none",
  "--allow-overwrite=true",
  "--auto-file-renaming=false",
  "--summary-interval=0",
  "--check-certificate=false",
];

/**
 * aria2c's version line, or `null` when it is not installed.
 *
 * @example
 * ```ts
 * const version = aria2Version();
 * console.log(version ?? "aria2c not installed");
 * ```
 */
export function aria2Version(): string | null {
  try {
    return run(["aria2c", "--version"]).split("\n")[0]?.trim() ?? null;
  } catch {
    return null;
  }
}

/**
 * `aria2c -xN -sN -k 4M` putting `url` at `dest`.
 *
 * @example
 * ```ts
 * const argv = aria2One("http://127.0.0.1:8080/a.bin", "/tmp/a.bin", 8);
 * console.log(argv.join(" "));
 * ```
 */
export function aria2One(url: string, dest: string, connections: number): string[] {
  return [
    "aria2c",
    `-x${connections}`,
    `-s${connections}`,
    ...COMMON,
    "-d",
    dirname(dest),
    "-o",
    basename(dest),
    url,
  ];
}

/**
 * `aria2c -jJ -xN -sN -k 4M -i LIST -d DIR`.
 *
 * @example
 * ```ts
 * const argv = aria2List("/tmp/list.txt", "/tmp/out", 4, 4);
 * console.log(argv.join(" "));
 * ```
 */
export function aria2List(
  list: string,
  dir: string,
  jobs: number,
  connections: number,
): string[] {
  return [
    "aria2c",
    `-j${jobs}`,
    `-x${connections}`,
    `-s${connections}`,
    ...COMMON,
    "-i",
    list,
    "-d",
    dir,
  ];
}
