/**
 * An in-memory filesystem that models durability the way POSIX promises it,
 * for power-loss tests: {@link RecordingFs} records every operation and
 * snapshots the model after each mutating one ({@link RecordingFs.points});
 * {@link crashStates} turns one boundary into the disk states a power loss
 * there could leave; {@link materialise} writes one into a real directory.
 *
 * The durability model:
 *
 * - A file (inode) has durable bytes and a list of pending operations
 *   (writes and truncations) since its last `datasync`/`sync`. Syncing makes
 *   the pending operations of that file durable. Closing makes nothing durable.
 * - The directory has durable entries (name → inode) and a list of pending
 *   entry changes: a creation, a removal, or a rename (one atomic change that
 *   points `to` at the inode and removes `from`). `syncDir` makes the pending
 *   changes of that directory durable. Syncing a file does not make its name
 *   durable (POSIX does not promise it), and nothing orders pending directory
 *   changes: any subset may survive, later ones without earlier ones.
 * - After a power loss, each file holds its durable bytes plus some subset of
 *   its pending operations (in order; the last write possibly torn at a
 *   512-byte sector boundary, since a sector is written atomically), and the
 *   directory holds its durable entries plus some subset of its pending changes.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { utimes, writeFile } from "node:fs/promises";
import process from "node:process";
import {
  type FsShim,
  FsShimError,
  type OpenMode,
  type ShimFile,
  type ShimStat,
} from "../../src/runtime/fs_shim.ts";

/** A change to a file's bytes that is not durable until the file is synced. */
export type FileOp =
  | { readonly kind: "write"; readonly position: number; readonly data: Uint8Array }
  | { readonly kind: "truncate"; readonly length: number };

/** A change to the directory that is not durable until the directory is synced. */
export interface DirOp {
  /** What happened, for messages (e.g. `rename a -> b`). */
  readonly label: string;
  /** The directory the change is in. */
  readonly dir: string;
  /** Entries to set (to an inode) or remove (`null`), applied together. */
  readonly set: readonly (readonly [string, number | null])[];
}

/** One file's state at a crash point. */
export interface InodeState {
  /** Bytes that survive any power loss. */
  readonly durable: Uint8Array;
  /** Operations since the last sync, oldest first. */
  readonly pending: readonly FileOp[];
}

/** The model's state after some number of operations. */
export interface CrashPoint {
  /** Mutating operations completed before the power was cut. */
  readonly after: number;
  /** The last operation completed (`"start"` before any). */
  readonly label: string;
  /** Every inode reachable from the durable or pending directory state. */
  readonly inodes: ReadonlyMap<number, InodeState>;
  /** Durable directory entries: path → inode. */
  readonly dirDurable: ReadonlyMap<string, number>;
  /** Pending directory changes, oldest first. */
  readonly dirPending: readonly DirOp[];
}

/** One disk state a power loss could leave: file name (in the directory) → bytes. */
export interface CrashState {
  /** Which subsets were kept, e.g. `data:suffix dir:all-but-last`. */
  readonly variant: string;
  /** The files in the directory, by base name. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  /** A fingerprint of `files` (equal states have equal keys). */
  readonly key: string;
}

interface Inode {
  readonly id: number;
  live: Uint8Array;
  durable: Uint8Array;
  pending: FileOp[];
}

function fsError(code: string, path: string, what: string): FsShimError {
  return new FsShimError(code, path, `${what} '${path}' failed: ${code}`);
}

function parentOf(path: string): string {
  const cut = path.lastIndexOf("/");
  return cut <= 0 ? "/" : path.slice(0, cut);
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** The bytes of `base` after `ops`, as a new array (`base` is not modified). */
export function applyOps(base: Uint8Array, ops: readonly FileOp[]): Uint8Array {
  let out = base.slice();
  for (const op of ops) {
    if (op.kind === "truncate") {
      if (op.length !== out.length) {
        const next = new Uint8Array(op.length);
        next.set(out.subarray(0, Math.min(op.length, out.length)));
        out = next;
      }
    } else {
      const end = op.position + op.data.length;
      if (end > out.length) {
        const next = new Uint8Array(end);
        next.set(out);
        out = next;
      }
      out.set(op.data, op.position);
    }
  }
  return out;
}

/**
 * An in-memory filesystem with one or more directories that records every
 * operation and snapshots its durability model after each mutating one.
 */
export class RecordingFs implements FsShim {
  readonly name = "recording";
  /** Every call, in order, e.g. `write file.bin.part @0 +16384`. */
  readonly trace: string[] = [];
  /** The model after 0, 1, 2, … mutating operations. */
  readonly points: CrashPoint[] = [];
  readonly #dirs = new Set<string>();
  readonly #inodes = new Map<number, Inode>();
  readonly #live = new Map<string, number>();
  #dirDurable = new Map<string, number>();
  #dirPending: DirOp[] = [];
  #nextInode = 1;
  #mutations = 0;

  /**
   * @param dirs the directories that exist (absolute, no trailing slash).
   */
  constructor(dirs: readonly string[]) {
    for (const dir of dirs) this.#dirs.add(dir);
    this.#snapshot("start");
  }

  get pid(): number {
    return process.pid;
  }

  isProcessAlive(pid: number): boolean | null {
    return pid === process.pid;
  }

  /** The live (not necessarily durable) bytes at `path`, or `null`. */
  liveBytes(path: string): Uint8Array | null {
    const id = this.#live.get(path);
    return id === undefined ? null : this.#inode(id).live.slice();
  }

  #inode(id: number): Inode {
    const inode = this.#inodes.get(id);
    if (inode === undefined) throw new Error(`RecordingFs: no inode ${id}`);
    return inode;
  }

  #snapshot(label: string): void {
    const reachable = new Set<number>([
      ...this.#dirDurable.values(),
      ...this.#dirPending.flatMap((op) => op.set.map(([, id]) => id)).filter((id) => id !== null),
    ] as number[]);
    const inodes = new Map<number, InodeState>();
    for (const id of reachable) {
      const inode = this.#inode(id);
      inodes.set(id, { durable: inode.durable, pending: inode.pending.slice() });
    }
    this.points.push({
      after: this.#mutations,
      label,
      inodes,
      dirDurable: new Map(this.#dirDurable),
      dirPending: this.#dirPending.slice(),
    });
  }

  #mutated(label: string): void {
    this.#mutations++;
    this.trace.push(label);
    this.#snapshot(label);
  }

  #fileOp(inode: Inode, op: FileOp): void {
    inode.pending.push(op);
    inode.live = applyOps(inode.live, [op]);
  }

  #sync(inode: Inode): void {
    if (inode.pending.length > 0) {
      inode.durable = applyOps(inode.durable, inode.pending);
      inode.pending = [];
    }
  }

  #dirOp(label: string, dir: string, set: [string, number | null][]): void {
    for (const [path, id] of set) {
      if (id === null) this.#live.delete(path);
      else this.#live.set(path, id);
    }
    this.#dirPending.push({ label, dir, set });
  }

  #checkParent(path: string, what: string): void {
    if (!this.#dirs.has(parentOf(path))) throw fsError("ENOENT", path, what);
  }

  open(path: string, mode: OpenMode): Promise<ShimFile> {
    const name = baseOf(path);
    if (this.#dirs.has(path)) return Promise.reject(fsError("EISDIR", path, "open"));
    try {
      this.#checkParent(path, "open");
    } catch (error) {
      return Promise.reject(error);
    }
    let id = this.#live.get(path);
    if (id !== undefined && mode === "create-exclusive") {
      return Promise.reject(fsError("EEXIST", path, "open"));
    }
    if (id === undefined) {
      if (mode === "read") return Promise.reject(fsError("ENOENT", path, "open"));
      id = this.#nextInode++;
      const empty = new Uint8Array(0);
      this.#inodes.set(id, { id, live: empty, durable: empty, pending: [] });
      this.#dirOp(`create ${name}`, parentOf(path), [[path, id]]);
      this.#mutated(`create ${name} (${mode})`);
    } else if (mode === "create-truncate") {
      this.#fileOp(this.#inode(id), { kind: "truncate", length: 0 });
      this.#mutated(`open ${name} with O_TRUNC`);
    } else {
      this.trace.push(`open ${name} (${mode})`);
    }
    return Promise.resolve(new RecordingFile(this, this.#inode(id), name));
  }

  /** @internal used by {@link RecordingFile}. */
  fileWrite(inode: Inode, name: string, data: Uint8Array, position: number): void {
    this.#fileOp(inode, { kind: "write", position, data: data.slice() });
    this.#mutated(`write ${name} @${position} +${data.length}`);
  }

  /** @internal */
  fileTruncate(inode: Inode, name: string, length: number): void {
    this.#fileOp(inode, { kind: "truncate", length });
    this.#mutated(`truncate ${name} to ${length}`);
  }

  /** @internal */
  fileSync(inode: Inode, name: string, kind: "datasync" | "sync"): void {
    this.#sync(inode);
    this.#mutated(`${kind} ${name}`);
  }

  /** @internal */
  note(label: string): void {
    this.trace.push(label);
  }

  rename(from: string, to: string): Promise<void> {
    const id = this.#live.get(from);
    if (id === undefined) return Promise.reject(fsError("ENOENT", from, "rename"));
    if (this.#dirs.has(to)) return Promise.reject(fsError("EISDIR", to, "rename"));
    const label = `rename ${baseOf(from)} -> ${baseOf(to)}`;
    this.#dirOp(label, parentOf(to), [[to, id], [from, null]]);
    this.#mutated(label);
    return Promise.resolve();
  }

  remove(path: string): Promise<void> {
    if (this.#dirs.has(path)) return Promise.reject(fsError("EISDIR", path, "remove"));
    if (!this.#live.has(path)) {
      this.trace.push(`remove ${baseOf(path)} (absent)`);
      return Promise.resolve();
    }
    const label = `remove ${baseOf(path)}`;
    this.#dirOp(label, parentOf(path), [[path, null]]);
    this.#mutated(label);
    return Promise.resolve();
  }

  stat(path: string): Promise<ShimStat | null> {
    if (this.#dirs.has(path)) {
      return Promise.resolve({ isFile: false, isDirectory: true, isSymlink: false, size: 0 });
    }
    const id = this.#live.get(path);
    if (id === undefined) return Promise.resolve(null);
    const size = this.#inode(id).live.length;
    return Promise.resolve({ isFile: true, isDirectory: false, isSymlink: false, size });
  }

  readFile(path: string): Promise<Uint8Array | null> {
    if (this.#dirs.has(path)) return Promise.reject(fsError("EISDIR", path, "readFile"));
    this.trace.push(`readFile ${baseOf(path)}`);
    return Promise.resolve(this.liveBytes(path));
  }

  syncDir(path: string): Promise<void> {
    if (!this.#dirs.has(path)) return Promise.reject(fsError("ENOENT", path, "syncDir"));
    const durable = new Map(this.#dirDurable);
    const rest: DirOp[] = [];
    for (const op of this.#dirPending) {
      if (op.dir !== path) {
        rest.push(op);
        continue;
      }
      for (const [name, id] of op.set) {
        if (id === null) durable.delete(name);
        else durable.set(name, id);
      }
    }
    this.#dirDurable = durable;
    this.#dirPending = rest;
    this.#mutated(`syncDir ${baseOf(path) || path}`);
    return Promise.resolve();
  }
}

class RecordingFile implements ShimFile {
  readonly #fs: RecordingFs;
  readonly #inode: Inode;
  readonly #name: string;
  #closed = false;

  constructor(fs: RecordingFs, inode: Inode, name: string) {
    this.#fs = fs;
    this.#inode = inode;
    this.#name = name;
  }

  #check(what: string): void {
    if (this.#closed) throw fsError("EBADF", this.#name, what);
  }

  write(data: Uint8Array, position: number): Promise<void> {
    try {
      this.#check("write");
    } catch (error) {
      return Promise.reject(error);
    }
    this.#fs.fileWrite(this.#inode, this.#name, data, position);
    return Promise.resolve();
  }

  read(buffer: Uint8Array, position: number): Promise<number> {
    try {
      this.#check("read");
    } catch (error) {
      return Promise.reject(error);
    }
    const live = this.#inode.live;
    const count = Math.max(0, Math.min(buffer.length, live.length - position));
    buffer.set(live.subarray(position, position + count));
    return Promise.resolve(count);
  }

  datasync(): Promise<void> {
    this.#fs.fileSync(this.#inode, this.#name, "datasync");
    return Promise.resolve();
  }

  sync(): Promise<void> {
    this.#fs.fileSync(this.#inode, this.#name, "sync");
    return Promise.resolve();
  }

  truncate(length: number): Promise<void> {
    this.#fs.fileTruncate(this.#inode, this.#name, length);
    return Promise.resolve();
  }

  size(): Promise<number> {
    return Promise.resolve(this.#inode.live.length);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#fs.note(`close ${this.#name}`);
    }
    return Promise.resolve();
  }
}

/** The unit a power loss cannot tear: writes are cut only at multiples of it. */
export const SECTOR = 512;

/** How much of each file's pending operations a crash state keeps. */
export const DATA_VARIANTS = [
  "none",
  "all",
  "prefix",
  "suffix",
  "drop-first",
  "drop-last",
  "only-last",
  "torn-last",
] as const;

/** How much of the pending directory changes a crash state keeps. */
export const DIR_VARIANTS = [
  "none",
  "all",
  "all-but-last",
  "only-last",
  "drop-first",
  "prefix",
  "suffix",
] as const;

function keepData(pending: readonly FileOp[], variant: (typeof DATA_VARIANTS)[number]): FileOp[] {
  const n = pending.length;
  switch (variant) {
    case "none":
      return [];
    case "all":
      return pending.slice();
    case "prefix":
      return pending.slice(0, Math.ceil(n / 2));
    case "suffix":
      return pending.slice(Math.ceil(n / 2));
    case "drop-first":
      return pending.slice(1);
    case "drop-last":
      return pending.slice(0, -1);
    case "only-last":
      return pending.slice(-1);
    case "torn-last": {
      // The newest write that spans a sector boundary, cut at the boundary
      // nearest its middle (sectors themselves are written atomically).
      const kept = pending.slice();
      for (let i = kept.length - 1; i >= 0; i--) {
        const op = kept[i]!;
        if (op.kind !== "write") continue;
        const middle = op.position + (op.data.length >> 1);
        const keep = Math.floor(middle / SECTOR) * SECTOR - op.position;
        if (keep <= 0 || keep >= op.data.length) continue;
        kept[i] = { ...op, data: op.data.subarray(0, keep) };
        break;
      }
      return kept;
    }
  }
}

function keepDir(pending: readonly DirOp[], variant: (typeof DIR_VARIANTS)[number]): DirOp[] {
  const n = pending.length;
  switch (variant) {
    case "none":
      return [];
    case "all":
      return pending.slice();
    case "all-but-last":
      return pending.slice(0, -1);
    case "only-last":
      return pending.slice(-1);
    case "drop-first":
      return pending.slice(1);
    case "prefix":
      return pending.slice(0, Math.ceil(n / 2));
    case "suffix":
      return pending.slice(Math.ceil(n / 2));
  }
}

/**
 * Every crash state of every point in `dir`, each distinct disk state once, made lazily (they are
 * big), with where it comes from.
 */
export function* distinctCrashStates(
  points: readonly CrashPoint[],
  dir: string,
): Generator<{ state: CrashState; where: string }> {
  const seen = new Set<string>();
  for (const point of points) {
    for (const state of crashStates(point, dir)) {
      if (seen.has(state.key)) continue;
      seen.add(state.key);
      yield { state, where: `after op ${point.after} (${point.label}), ${state.variant}` };
    }
  }
}

/**
 * The disk states a power loss at `point` could leave in `dir`: every
 * combination of {@link DATA_VARIANTS} (applied to every file) and
 * {@link DIR_VARIANTS}, without duplicates.
 *
 * @param point the model's state.
 * @param dir the directory whose files make the state.
 * @returns distinct states, each with the variant that produced it first.
 */
export function crashStates(point: CrashPoint, dir: string): CrashState[] {
  // Each file's content under each data variant, computed once, with its hash.
  const memo = new Map<string, { bytes: Uint8Array; hash: string }>();
  const content = (id: number, variant: (typeof DATA_VARIANTS)[number]) => {
    const key = `${id}:${variant}`;
    let found = memo.get(key);
    if (found === undefined) {
      const inode = point.inodes.get(id);
      if (inode === undefined) throw new Error(`crashStates: inode ${id} missing`);
      const bytes = applyOps(inode.durable, keepData(inode.pending, variant));
      found = { bytes, hash: createHash("sha256").update(bytes).digest("hex") };
      memo.set(key, found);
    }
    return found;
  };
  const seen = new Set<string>();
  const states: CrashState[] = [];
  for (const dirVariant of DIR_VARIANTS) {
    const entries = new Map(point.dirDurable);
    for (const op of keepDir(point.dirPending, dirVariant)) {
      for (const [name, id] of op.set) {
        if (id === null) entries.delete(name);
        else entries.set(name, id);
      }
    }
    const names = [...entries.keys()].filter((path) => parentOf(path) === dir).sort();
    for (const dataVariant of DATA_VARIANTS) {
      const files = new Map<string, Uint8Array>();
      const parts: string[] = [];
      for (const path of names) {
        const { bytes, hash } = content(entries.get(path)!, dataVariant);
        files.set(baseOf(path), bytes);
        parts.push(`${baseOf(path)}=${hash}`);
      }
      const key = parts.join("/");
      if (seen.has(key)) continue;
      seen.add(key);
      states.push({ variant: `data:${dataVariant} dir:${dirVariant}`, files, key });
    }
  }
  return states;
}

/**
 * Writes a crash state's files into a real (empty) directory, as a rebooted machine finds them: a
 * lock file left by the power loss is a minute old, past its lease (a torn, empty one says nothing
 * else about its owner).
 *
 * @param files base name → bytes.
 * @param dir an existing directory.
 */
export async function materialise(
  files: ReadonlyMap<string, Uint8Array>,
  dir: string,
): Promise<void> {
  const past = new Date(Date.now() - 60_000);
  for (const [name, bytes] of files) {
    await writeFile(`${dir}/${name}`, bytes);
    if (name.endsWith(".part.lock")) await utimes(`${dir}/${name}`, past, past);
  }
}
