/**
 * Picks the filesystem shim for the runtime haul is running in.
 *
 * @module
 */

import type { FsShim, OpenMode, ShimFile } from "./fs_shim.ts";

/**
 * The {@link FsShim} for the current runtime, chosen by feature check: in
 * Deno (when `globalThis.Deno.open` exists) the Deno shim (`deno_fs.ts`),
 * except that files opened `"readwrite"` (the `.part` file) are opened through
 * the `node:fs/promises` shim (`node_fs.ts`); elsewhere (Bun, Node) the
 * `node:fs/promises` shim. Each shim is loaded with a dynamic `import()`, so
 * Bun and Node never evaluate the Deno file (the runtime keeps loaded modules,
 * so a later call costs one small object and nothing is cached here).
 *
 * Why `.part` goes through `node:fs` in Deno: its `FileHandle` has positional
 * `pwrite`/`pread`, so a background `fdatasync` runs while the next write
 * proceeds, where `Deno.FsFile` (one cursor, hence one operation at a time)
 * makes every write wait for the sync; measured on a 1 GiB download, 367 vs
 * 230 MB/s (`docs/performance.md`). For everything else (lock files,
 * checkpoints, small reads) `Deno.open` is the cheaper call: 1,000 small
 * downloads took about 10 % longer with every file opened through `node:fs`.
 *
 * @example
 * ```ts
 * import { defaultFs } from "./default_fs.ts";
 * const fs = await defaultFs();
 * console.log(fs.name); // "deno" in Deno, "node" in Bun and Node
 * ```
 */
export async function defaultFs(): Promise<FsShim> {
  if (typeof globalThis.Deno?.open === "function") {
    const [{ denoFs }, { nodeFs }] = await Promise.all([
      import("./deno_fs.ts"),
      import("./node_fs.ts"),
    ]);
    return {
      name: denoFs.name,
      pid: denoFs.pid,
      open: (path: string, mode: OpenMode): Promise<ShimFile> =>
        mode === "readwrite" ? nodeFs.open(path, mode) : denoFs.open(path, mode),
      rename: denoFs.rename,
      remove: denoFs.remove,
      stat: denoFs.stat,
      readFile: denoFs.readFile,
      syncDir: denoFs.syncDir,
      utime: (path: string, mtimeMs: number) => denoFs.utime!(path, mtimeMs),
      copyFile: (from: string, to: string) => nodeFs.copyFile!(from, to),
      list: (dir: string) => nodeFs.list!(dir),
      isProcessAlive: denoFs.isProcessAlive,
      processStart: (pid: number) => nodeFs.processStart?.(pid) ?? null,
      get processScope(): string | null {
        return denoFs.processScope ?? null;
      },
    };
  }
  return (await import("./node_fs.ts")).nodeFs;
}
