/**
 * Picks the filesystem shim for the runtime haul is running in.
 *
 * @module
 */

import type { FsShim } from "./fs_shim.ts";

let cached: Promise<FsShim> | undefined;

/**
 * The {@link FsShim} for the current runtime, chosen by feature check: the
 * Deno shim (`deno_fs.ts`) when `globalThis.Deno.open` exists, else the
 * `node:fs/promises` shim (`node_fs.ts`) for Bun and Node. Each shim is
 * loaded with a dynamic `import()`, so Bun and Node never evaluate the Deno
 * file. The choice is made once and the same promise is returned afterwards
 * (a failed load is not cached).
 *
 * @returns the shim for this runtime.
 *
 * @example
 * ```ts
 * import { defaultFs } from "./default_fs.ts";
 * const fs = await defaultFs();
 * console.log(fs.name); // "deno" in Deno, "node" in Bun and Node
 * ```
 */
export function defaultFs(): Promise<FsShim> {
  cached ??= load();
  return cached;
}

async function load(): Promise<FsShim> {
  try {
    if (typeof globalThis.Deno?.open === "function") {
      return (await import("./deno_fs.ts")).denoFs;
    }
    return (await import("./node_fs.ts")).nodeFs;
  } catch (error) {
    cached = undefined;
    throw error;
  }
}
