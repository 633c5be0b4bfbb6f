import { type FsShim, FsShimError, type OpenMode, type ShimFile } from "./fs_shim.ts";

/**
 * The {@link FsShim} for this runtime: `node_fs.ts` in Bun and Node; in Deno `deno_fs.ts` (least
 * privilege, flock), but for the `.part` file (opened `"readwrite"`, {@link openTwice}). Bun and
 * Node never load the Deno file.
 */
export async function defaultFs(): Promise<FsShim> {
  if (typeof globalThis.Deno?.open === "function") {
    const [{ denoFs, granted }, { nodeFs }] = await Promise.all([
      import("./deno_fs.ts"),
      import("./node_fs.ts"),
    ]);
    // Copied as descriptors: a spread would call the getters (`processScope` reads /proc) now.
    const shim = Object.defineProperties({}, Object.getOwnPropertyDescriptors(denoFs)) as FsShim;
    return Object.assign(shim, {
      open: (path: string, mode: OpenMode): Promise<ShimFile> =>
        mode === "readwrite" ? openTwice(path, nodeFs, denoFs) : denoFs.open(path, mode),
      copyFile: nodeFs.copyFile!,
      list: nodeFs.list!,
      processStart: (pid: number) =>
        granted({ name: "read", path: `/proc/${pid}/stat` }) ? nodeFs.processStart!(pid) : null,
    });
  }
  return (await import("./node_fs.ts")).nodeFs;
}

/**
 * {@link defaultFs} for a batch of calls (`haulAll()`, the CLI): this process's scope and start,
 * which its lock records carry, read once for the batch instead of from `/proc` for every file.
 */
export async function batchFs(): Promise<FsShim> {
  const fs = await defaultFs();
  const [pid, scope] = [fs.pid, fs.processScope ?? null];
  const start = fs.processStart?.(pid) ?? null;
  const shim = Object.defineProperties({}, Object.getOwnPropertyDescriptors(fs)) as FsShim;
  return Object.defineProperties(shim, {
    processScope: { value: scope },
    processStart: { value: (of: number) => of === pid ? start : fs.processStart?.(of) ?? null },
  });
}

/**
 * Deno's `.part`, opened twice: writes through `Deno.FsFile` (Deno runs them on its blocking pool,
 * where `node:fs` writes run on the main thread), the rest through `node:fs` (positional reads, an
 * `fdatasync` beside the next write; `Deno.FsFile` has one cursor). docs/performance.md. Both must
 * be one file: the path may be replaced between the two opens (`ESTALE`); where no inode number
 * tells (Windows), the `node:fs` handle alone. Exported for its test.
 */
export async function openTwice(path: string, nodeFs: FsShim, denoFs: FsShim): Promise<ShimFile> {
  const positional = await nodeFs.open(path, "readwrite");
  const writer = await denoFs.open(path, "readwrite").catch(async (error: unknown) => {
    await positional.close();
    throw error;
  });
  const close = () => writer.close().finally(positional.close);
  const [one, other] = await Promise.all([positional.identity!(), writer.identity!()])
    .catch(() => ["", "unknown"]); // cannot tell: refused below
  if (one === null || other === null) return await writer.close().then(() => positional);
  if (one === other) return { ...positional, write: writer.write, close };
  await close().catch(() => {});
  throw new FsShimError("ESTALE", path, `open '${path}': replaced while it was opened`);
}
