import { type FsShim, FsShimError, type OpenMode, type ShimFile } from "./fs_shim.ts";

/**
 * The {@link FsShim} for this runtime: `node_fs.ts` in Bun and Node; in Deno `deno_fs.ts` (least
 * privilege, flock), but for the `.part` file (opened `"readwrite"`, {@link openTwice}). Bun and
 * Node never load the Deno file.
 */
export async function defaultFs(): Promise<FsShim> {
  if (typeof globalThis.Deno?.open === "function") {
    const [{ denoFs }, { nodeFs }] = await Promise.all([
      import("./deno_fs.ts"),
      import("./node_fs.ts"),
    ]);
    // Copied as descriptors: a spread would call the getters (`processScope` reads /proc) now.
    const shim = Object.defineProperties({}, Object.getOwnPropertyDescriptors(denoFs)) as FsShim;
    return Object.assign(shim, {
      open: (path: string, mode: OpenMode): Promise<ShimFile> => {
        if (mode !== "readwrite") return denoFs.open(path, mode);
        // Windows has no inode numbers to check that the two opens found one file: one handle.
        return Deno.build.os === "windows"
          ? nodeFs.open(path, mode)
          : openTwice(path, nodeFs, denoFs);
      },
      copyFile: nodeFs.copyFile!,
      list: nodeFs.list!,
      processStart: nodeFs.processStart!,
    });
  }
  return (await import("./node_fs.ts")).nodeFs;
}

/**
 * Deno's `.part`, opened twice: writes through `Deno.FsFile` (Deno runs them on its blocking pool,
 * where `node:fs` writes run on the main thread), the rest through `node:fs` (positional reads, an
 * `fdatasync` beside the next write; `Deno.FsFile` has one cursor). docs/performance.md. Both must
 * be one file: the path may be replaced between the two opens (`ESTALE`). Exported for its test.
 */
export async function openTwice(path: string, nodeFs: FsShim, denoFs: FsShim): Promise<ShimFile> {
  const positional = await nodeFs.open(path, "readwrite");
  const writer = await denoFs.open(path, "readwrite").catch(async (error: unknown) => {
    await positional.close();
    throw error;
  });
  const close = () => writer.close().finally(positional.close);
  const file = { ...positional, write: writer.write, close };
  const same = await Promise.all([positional.identity!(), writer.identity!()])
    .then(([one, other]) => one === other, () => false);
  if (same) return file;
  await file.close().catch(() => {});
  throw new FsShimError("ESTALE", path, `open '${path}': replaced while it was opened`);
}
