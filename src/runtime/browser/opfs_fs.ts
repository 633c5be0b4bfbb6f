/**
 * The filesystem shim of the browser: the origin private file system (OPFS),
 * from a dedicated worker; paths are `/`-separated names under a root directory.
 * How it stands in for fsync, an atomic rename and flock(2) (one sync access
 * handle for `.part`, two checkpoint slots, Web Locks): `docs/browser.md`.
 *
 * @module
 */

import {
  type FsShim,
  FsShimError,
  type OpenMode,
  type ShimFile,
  shimIo,
  shimIoOrMissing,
  type ShimStat,
} from "../fs_shim.ts";
import { sha256Bytes } from "./hash.ts";

/** What the shim uses of a `FileSystemDirectoryHandle`. */
export interface OpfsDirectory {
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<OpfsDirectory>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<OpfsFile>;
  removeEntry(name: string): Promise<void>;
  keys(): AsyncIterable<string>;
}

/** What the shim uses of a `FileSystemFileHandle`. */
interface OpfsFile {
  getFile(): Promise<Blob & { readonly lastModified: number }>;
  createSyncAccessHandle(): Promise<SyncHandle>;
  move(parent: OpfsDirectory, name: string): Promise<void>;
}

/** `FileSystemSyncAccessHandle`. */
interface SyncHandle {
  read(buffer: Uint8Array, options: { at: number }): number;
  write(buffer: Uint8Array, options: { at: number }): number;
  flush(): void;
  getSize(): number;
  truncate(size: number): void;
  close(): void;
}

/** What the shim uses of `navigator.locks`: `task` gets `null` when `ifAvailable` and taken. */
export interface WebLocks {
  request<T>(
    name: string,
    options: { ifAvailable?: boolean; signal?: AbortSignal },
    task: (lock: unknown) => Promise<T> | T,
  ): Promise<T>;
}

/** The names along an OPFS path ("." dropped); a ".." is a `TypeError` ("Invalid": not retryable). */
export function parts(path: string): string[] {
  const names = path.split("/").filter((name) => name !== "" && name !== ".");
  if (names.includes("..")) throw new TypeError(`Invalid dest ${path}: OPFS paths have no ".."`);
  return names;
}

/**
 * Runs `task` again while another handle holds the file (a reloaded page's worker closing, a
 * heartbeat writing) or the file changed under a read of it, for up to 2 s.
 */
async function patiently<T>(task: () => Promise<T>): Promise<T> {
  for (let waited = 0;; waited += 20) {
    try {
      return await task();
    } catch (error) {
      const busy = /^(NoModificationAllowed|NotReadable)Error$/.test((error as Error).name);
      if (!busy || waited >= 2000) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

const syncHandle = (file: OpfsFile) => patiently(() => file.createSyncAccessHandle());
/** The bytes of `file` from `start` to `end` (default: all), read again while it changes. */
const bytesIn = (file: OpfsFile, start?: number, end?: number) =>
  patiently(async () =>
    new Uint8Array(await (await file.getFile()).slice(start, end).arrayBuffer())
  );

/** Runs `task` on a new sync access handle of `file`, then flushes and closes it. */
async function withSyncHandle<T>(file: OpfsFile, task: (h: SyncHandle) => T): Promise<T> {
  const h = await syncHandle(file);
  try {
    const result = task(h);
    h.flush();
    return result;
  } finally {
    h.close();
  }
}

function writeAll(h: SyncHandle, data: Uint8Array, position: number): void {
  for (let done = 0; done < data.length;) {
    done += h.write(data.subarray(done), { at: position + done });
  }
}

/** The two checkpoint slots: each starts with a 44-byte header. */
const SLOT_SIZE = 32 * 1024;
const SLOT_HEADER = 44;
const SLOT_MAGIC = 0x484c5453;

/** The digest a slot holds: a SHA-256 of its sequence and length (header bytes 4–12) and record. */
function slotDigest(header: Uint8Array, record: Uint8Array): Uint8Array {
  return sha256Bytes(new Uint8Array([...header.subarray(4, 12), ...record]));
}

/** The valid slots of a checkpoint file: `[index, sequence, bytes]`, newest first. */
function readSlots(file: Uint8Array): [number, number, Uint8Array][] {
  const found: [number, number, Uint8Array][] = [];
  for (const index of [0, 1]) {
    const at = index * SLOT_SIZE;
    if (file.length < at + SLOT_HEADER) continue;
    const view = new DataView(file.buffer, file.byteOffset + at, SLOT_HEADER);
    const length = view.getUint32(8);
    if (view.getUint32(0) !== SLOT_MAGIC || length > SLOT_SIZE - SLOT_HEADER) continue;
    if (file.length < at + SLOT_HEADER + length) continue;
    const record = file.subarray(at + SLOT_HEADER, at + SLOT_HEADER + length);
    if (slotDigest(file.subarray(at), record).every((byte, i) => byte === file[at + 12 + i])) {
      found.push([index, view.getUint32(4), record]);
    }
  }
  return found.sort((a, b) => b[1] - a[1]);
}

/** The {@link FsShim} over `root` (`at`: its path in OPFS, to name Web Locks); in a worker. */
export function opfsFs(root: OpfsDirectory, locks: WebLocks, at: string[] = []): FsShim {
  const lockName = (kind: string, path: string) => `${kind}:${[...at, ...parts(path)].join("/")}`;
  type Unlock = () => Promise<void>; // resolves once the Web Lock is released
  const dirOf = async (names: string[], create = false): Promise<OpfsDirectory> => {
    let dir = root;
    for (const name of names) dir = await dir.getDirectoryHandle(name, { create });
    return dir;
  };
  const fileOf = async (path: string, create = false): Promise<OpfsFile> => {
    const names = parts(path);
    const name = names.pop();
    if (name === undefined) throw new FsShimError("EISDIR", path, `Not a file: ${path}`);
    return await (await dirOf(names)).getFileHandle(name, { create });
  };
  const bytesOf = (path: string): Promise<Uint8Array | null> =>
    shimIoOrMissing("read", path, null, async () => await bytesIn(await fileOf(path)));
  /** The small files open: a rename moves the Web Lock one holds with it. */
  const smallFiles = new Set<{ path: string; handle: OpfsFile; unlock: Unlock | null }>();
  /** Web Lock `name`'s release if it is free (`wait`: once a probe lets go, ≤2 s), else `null`. */
  const webLock = (name: string, wait = false): Promise<Unlock | null> =>
    new Promise((resolve, reject) => {
      const { promise: held, resolve: release } = Promise.withResolvers<void>();
      const options = wait ? { signal: AbortSignal.timeout(2000) } : { ifAvailable: true };
      const settled: Promise<void> = locks.request(name, options, (lock) => {
        resolve(lock === null ? null : () => (release(), settled));
        return lock === null ? undefined : held;
      }).catch((error: Error) => (error.name === "TimeoutError" ? resolve(null) : reject(error)));
    });
  const small = (path: string, handle: OpfsFile, created = false): ShimFile => {
    const file = { path, handle, unlock: null as Unlock | null };
    smallFiles.add(file);
    const withHandle = <T>(what: string, task: (h: SyncHandle) => T) =>
      shimIo(what, file.path, () => withSyncHandle(file.handle, task));
    return {
      write: (data, position) => withHandle("write", (h) => writeAll(h, data, position)),
      read: (buffer, position) =>
        shimIo("read", file.path, async () => {
          const bytes = await bytesIn(file.handle, position, position + buffer.length);
          buffer.set(bytes);
          return bytes.length;
        }),
      datasync: () => Promise.resolve(), // every write was flushed before its handle closed
      sync: () => Promise.resolve(),
      truncate: (length) => withHandle("truncate", (h) => h.truncate(length)),
      size: () => shimIo("stat", file.path, async () => (await file.handle.getFile()).size),
      close: async () => {
        smallFiles.delete(file);
        await file.unlock?.();
      },
      tryLock: async () =>
        (file.unlock ??= await webLock(lockName("haul", file.path), created)) !== null,
    };
  };
  const large = (path: string, h: SyncHandle): ShimFile => ({
    write: (data, position) => shimIo("write", path, () => writeAll(h, data, position)),
    read: (buffer, position) => shimIo("read", path, () => h.read(buffer, { at: position })),
    datasync: () => shimIo("flush", path, () => h.flush()),
    sync: () => shimIo("flush", path, () => h.flush()),
    truncate: (length) => shimIo("truncate", path, () => h.truncate(length)),
    size: () => shimIo("stat", path, () => h.getSize()),
    close: () => shimIo("close", path, () => h.close()),
  });
  const writeSlot = (path: string, record: Uint8Array) =>
    shimIo("write checkpoint", path, async () => {
      if (record.length > SLOT_SIZE - SLOT_HEADER) throw new Error("checkpoint too large");
      const [newest, sequence] = readSlots((await bytesOf(path)) ?? new Uint8Array(0))[0] ?? [1, 0];
      const out = new Uint8Array(SLOT_HEADER + record.length);
      const view = new DataView(out.buffer);
      view.setUint32(0, SLOT_MAGIC);
      view.setUint32(4, (sequence + 1) >>> 0);
      view.setUint32(8, record.length);
      out.set(record, SLOT_HEADER);
      out.set(slotDigest(out, record), 12);
      const at = (1 - newest) * SLOT_SIZE; // the slot not holding the newest record
      await withSyncHandle(await fileOf(path, true), (h) => writeAll(h, out, at));
    });
  const remove = (path: string): Promise<void> =>
    shimIoOrMissing("remove", path, undefined, async () => {
      const names = parts(path);
      await (await dirOf(names.slice(0, -1))).removeEntry(names.at(-1)!);
    });
  return {
    name: "opfs",
    pid: 1 + Math.floor(Math.random() * 0x7ffffffe),
    isProcessAlive: () => null,
    processScope: null,
    async open(path: string, mode: OpenMode): Promise<ShimFile> {
      const opened = async () => await syncHandle(await fileOf(path, true));
      if (mode === "readwrite") return large(path, await shimIo("open", path, opened));
      if (mode === "read") return small(path, await shimIo("open", path, () => fileOf(path)));
      const create = async () => {
        if (mode === "create-exclusive" && (await bytesOf(path)) !== null) {
          throw new FsShimError("EEXIST", path, `Cannot create ${path}: it exists`);
        }
        return small(path, await shimIo("create", path, () => fileOf(path, true)), true);
      };
      const file = await locks.request(lockName("haul-create", path), {}, create);
      if (mode === "create-truncate") await file.truncate(0);
      return file;
    },
    async rename(from: string, to: string): Promise<void> {
      if (to.endsWith(".ctrl")) {
        const record = await bytesOf(from);
        if (record === null) throw new FsShimError("ENOENT", from, `Cannot rename ${from}`);
        await writeSlot(to, record);
        return await remove(from);
      }
      const names = parts(to);
      const name = names.pop()!;
      // A file of this worker holding `from`'s Web Lock moves by its own handle, its lock with it:
      // `to`'s taken first (waiting out a probe's), `from`'s let go after; its name's is never free.
      const held = [...smallFiles].find((file) => file.unlock !== null && file.path === from);
      const move = async () => (held?.handle ?? await fileOf(from)).move(await dirOf(names), name);
      if (held === undefined) return await shimIo(`move to '${to}' from`, from, move);
      const unlock = await webLock(lockName("haul", to), true);
      if (unlock === null) throw new FsShimError("EBUSY", to, `${to}: its Web Lock is held`);
      await shimIo(`move to '${to}' from`, from, move).catch((error) =>
        unlock().then(() => Promise.reject(error))
      );
      await held.unlock!();
      Object.assign(held, { path: to, unlock });
    },
    remove,
    stat: (path: string): Promise<ShimStat | null> =>
      shimIoOrMissing("stat", path, null, async () => {
        const names = parts(path);
        const name = names.pop();
        const directory = { isFile: false, isDirectory: true, isSymlink: false, size: 0 };
        const dir = await dirOf(names);
        if (name === undefined) return directory;
        const file = await dir.getFileHandle(name).then((h) => h.getFile()).catch(async (e) => {
          if ((e as Error).name !== "TypeMismatchError") throw e;
          await dir.getDirectoryHandle(name);
          return null;
        });
        if (file === null) return directory;
        const { size, lastModified: mtimeMs } = file;
        return { isFile: true, isDirectory: false, isSymlink: false, size, mtimeMs };
      }),
    async readFile(path: string): Promise<Uint8Array | null> {
      const bytes = await bytesOf(path);
      if (bytes === null || !path.endsWith(".ctrl")) return bytes;
      return readSlots(bytes)[0]?.[2] ?? new Uint8Array(0); // no slot holds: unreadable
    },
    syncDir: () => Promise.resolve(), // OPFS has no directory to sync
    list: (dir: string) =>
      shimIo("list", dir, async () => {
        const names: string[] = [];
        for await (const name of (await dirOf(parts(dir))).keys()) names.push(name);
        return names;
      }),
  };
}
