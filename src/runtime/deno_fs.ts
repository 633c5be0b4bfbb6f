/**
 * The {@link FsShim} over Deno's own APIs (they honour `--allow-read` and `--allow-write` per path,
 * and `Deno.FsFile` has flock(2)). Calls that do not wait on the disk (metadata, flock, writes up to
 * 64 KiB into the page cache) are synchronous: a hop to Deno's blocking pool costs the main thread
 * more. Nothing touches `Deno` while the module is evaluated; permissions are only queried.
 *
 * @module
 */

import {
  type FsShim,
  FsShimError,
  linkTargetOf,
  type OpenMode,
  probeProcess,
  type ShimFile,
  shimIo,
  shimIoOrMissing,
  type ShimStat,
  toShimError,
} from "./fs_shim.ts";
import process from "node:process";

/** The `Deno.open` options for each {@link OpenMode}; created 0o666 less the umask, like curl's. */
const OPEN_OPTIONS: Readonly<Record<OpenMode, Deno.OpenOptions>> = {
  "read": { read: true },
  "readwrite": { read: true, write: true, create: true, mode: 0o666 },
  "create-exclusive": { write: true, createNew: true, mode: 0o666 },
  "create-truncate": { write: true, create: true, truncate: true, mode: 0o666 },
};

/**
 * A {@link ShimFile} over a `Deno.FsFile`, which has one cursor and no
 * positional I/O: it tracks the cursor, seeks only when needed, and runs its
 * operations one at a time (concurrent calls queue instead of racing on it).
 */
function denoFile(file: Deno.FsFile, path: string): ShimFile {
  /** Where the OS cursor is, or `undefined` when unknown (after a failure). */
  let cursor: number | undefined = 0;
  /** The tail of the operation queue; never rejects. */
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  const serial = <T>(operation: string, body: () => Promise<T> | T): Promise<T> => {
    const run = queue.then(body).catch((error: unknown) => {
      cursor = undefined;
      throw toShimError(error, operation, path);
    });
    queue = run.catch(() => undefined);
    return run;
  };
  const seekTo = (position: number): void => {
    if (cursor !== position) cursor = file.seekSync(position, Deno.SeekMode.Start);
  };
  return {
    write: (data, position) =>
      serial("write", async () => {
        for (let done = 0; done < data.length;) {
          seekTo(position + done);
          const rest = data.subarray(done);
          const written = rest.length <= 64 << 10 ? file.writeSync(rest) : await file.write(rest);
          if (written <= 0) throw new FsShimError("EIO", path, `write '${path}' wrote no bytes`);
          done += written;
          cursor = position + done;
        }
      }),
    read: (buffer, position) =>
      serial("read", async () => {
        let done = 0;
        while (done < buffer.length) {
          seekTo(position + done);
          const count = await file.read(buffer.subarray(done));
          if (count === null || count === 0) break;
          done += count;
          cursor = position + done;
        }
        return done;
      }),
    datasync: () => serial("datasync", () => file.syncData()),
    sync: () => serial("sync", () => file.sync()),
    truncate: (length) => serial("truncate", () => file.truncate(length)),
    size: () => serial("stat", () => file.statSync().size),
    identity: () =>
      serial("stat", () => {
        const info = file.statSync();
        return info.ino === null ? null : `${info.dev}:${info.ino}`; // no inode numbers on Windows
      }),
    tryLock: () =>
      serial("lock", () => {
        const lockable = file as Deno.FsFile & { tryLockSync?(exclusive?: boolean): boolean };
        // Deno before 2.7 has no tryLock: then nothing is known (a held lock would mean a live owner).
        if (typeof lockable.tryLockSync !== "function") throw new Error("no FsFile.tryLockSync");
        return lockable.tryLockSync(true);
      }),
    close: () =>
      serial("close", () => {
        if (!closed) file.close();
        closed = true;
      }),
  };
}

/** Whether Deno's permission state for `descriptor` is "granted", asking nobody. */
export function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

/** The one SIGXFSZ listener (see `open`): added again, it is not added twice. */
const ignoreSignal = () => {};

/** The filesystem shim for Deno; needs `--allow-read` and `--allow-write` for the paths used. */
export const denoFs: FsShim = {
  name: "deno",

  async open(path: string, mode: OpenMode): Promise<ShimFile> {
    if (mode !== "read" && Deno.build.os !== "windows") {
      // As in Node and Bun, a write past `ulimit -f` fails (EFBIG, the checkpoint saved) instead
      // of the default, a death. The listener is unref'd: it keeps no process alive.
      Deno.addSignalListener("SIGXFSZ", ignoreSignal);
    }
    const options = OPEN_OPTIONS[mode];
    return denoFile(await shimIo(`open (${mode})`, path, () => Deno.openSync(path, options)), path);
  },

  rename(from: string, to: string): Promise<void> {
    return shimIo(`rename to '${to}' from`, from, () => Deno.renameSync(from, to));
  },

  utime(path: string, mtimeMs: number): Promise<void> {
    return shimIo("utime", path, () => Deno.utime(path, new Date(), new Date(mtimeMs)));
  },

  remove(path: string): Promise<void> {
    return shimIoOrMissing("remove", path, undefined, () => {
      if (Deno.lstatSync(path).isDirectory) throw new FsShimError("EISDIR", path, "is a directory");
      Deno.removeSync(path); // which alone removes an empty directory too
    });
  },

  stat(path: string): Promise<ShimStat | null> {
    return shimIoOrMissing("lstat", path, null, async () => {
      const info = Deno.lstatSync(path);
      const shown: ShimStat = {
        isFile: info.isFile,
        isDirectory: info.isDirectory,
        isSymlink: info.isSymlink,
        size: info.size,
        ...(info.mtime === null ? {} : { mtimeMs: info.mtime.getTime() }),
        ...(info.ino === null ? {} : { identity: `${info.dev}:${info.ino}` }),
        ...(info.nlink === null ? {} : { links: info.nlink }),
      };
      if (!shown.isSymlink) return shown;
      return { ...shown, linkTarget: linkTargetOf(await Deno.stat(path).catch(() => null)) };
    });
  },

  readFile(path: string): Promise<Uint8Array | null> {
    return shimIoOrMissing("readFile", path, null, () => {
      if (!Deno.statSync(path).isFile) {
        throw new FsShimError("EFTYPE", path, `read '${path}': not a regular file`);
      }
      return Deno.readFileSync(path);
    });
  },

  /** Opened `{ read: true }` (read-only on Unix, verified on Linux); on Windows, nothing. */
  async syncDir(path: string): Promise<void> {
    if (Deno.build.os === "windows") return;
    const dir = await shimIo("open directory", path, () => Deno.openSync(path, { read: true }));
    await shimIo("fsync directory", path, () => dir.sync()).finally(() => dir.close());
  },

  get pid(): number {
    return Deno.pid;
  },

  /** `null` (for a valid pid) without the `run` permission. */
  isProcessAlive(pid: number): boolean | null {
    if (Number.isSafeInteger(pid) && pid > 0 && !granted({ name: "run" })) return null;
    // node:process probes in every Deno (`Deno.kill` rejects signal 0 before denoland/deno#31153).
    return probeProcess(pid, () => process.kill(pid, 0));
  },

  /** `null` without `--allow-sys=hostname` and, on Linux, `--allow-all` (for `/proc`). */
  get processScope(): string | null {
    if (!granted({ name: "sys", kind: "hostname" })) return null;
    try {
      const host = `host=${Deno.hostname()}`;
      if (Deno.build.os !== "linux") return host;
      const nsPath = "/proc/self/ns/pid";
      if (!granted({ name: "read", path: nsPath })) return null;
      const boot = Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
      return `${host};${Deno.readLinkSync(nsPath)};boot=${boot}`;
    } catch {
      return null; // e.g. NotCapable under /proc without --allow-all
    }
  },
};
