import type { FsShim, OpenMode, ShimFile } from "./fs_shim.ts";

/**
 * The {@link FsShim} for this runtime: `node_fs.ts` in Bun and Node; in Deno `deno_fs.ts` (least
 * privilege, flock), except that the `.part` file (opened `"readwrite"`) goes through `node_fs.ts`,
 * whose positional writes let a background `fdatasync` run while the next write proceeds
 * (`Deno.FsFile` has one cursor; docs/performance.md). Bun and Node never load the Deno file.
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
      open: (path: string, mode: OpenMode): Promise<ShimFile> =>
        mode === "readwrite" ? nodeFs.open(path, mode) : denoFs.open(path, mode),
      copyFile: nodeFs.copyFile!,
      list: nodeFs.list!,
      processStart: nodeFs.processStart!,
    });
  }
  return (await import("./node_fs.ts")).nodeFs;
}
