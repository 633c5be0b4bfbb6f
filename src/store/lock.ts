/**
 * One call per destination at a time, across processes: a lock file
 * `<dest>.part.lock` created exclusively and held as a **lease**.
 *
 * Decision (issue 11): a lease its owner keeps fresh, not a pid check and not
 * an OS file lock.
 *
 * - The owner keeps the lock file open and rewrites its record every
 *   {@link LOCK_HEARTBEAT_MS} (1 s), which moves its mtime. A lock whose mtime
 *   is {@link LOCK_STALE_MS} (5 s) or more away from now (either way, so a
 *   clock stepped back cannot pin it) is stale: its owner died, hung or was
 *   stopped, and the lock is taken over. A killed process's lock is therefore
 *   taken over within about 5 s on every runtime and with no permission beyond
 *   reading and writing the destination's directory (Deno needs no `run`).
 * - A pid never blocks a destination: pids are only used to take a lock over
 *   *sooner*. When the record's owner is known to be dead (the record names
 *   the same {@link FsShim.processScope} as ours, host and pid namespace, and
 *   `kill(pid, 0)` says the pid is gone) the lock is taken over at once. A pid
 *   reused after a reboot, or in another container, can at worst delay the
 *   takeover until the lease runs out. A bare-pid record (the lock format of
 *   haul 0.1) is judged by its pid the same way.
 * - A record written by this very process (same random instance id) that no
 *   call in this process holds is a leftover and is taken over at once.
 * - Where the runtime has an OS file lock (Deno's `FsFile.tryLock()`), the
 *   owner also holds an exclusive flock(2) on its open lock file, and its
 *   record says so (`"flock":true`). The kernel drops that lock when the
 *   owner's process dies, however it dies, so a taker that can take the same
 *   flock knows the owner is gone and takes over at once: a killed Deno
 *   process's lock, even without `--allow-run` for the pid check. Like a pid,
 *   the flock only ever makes a takeover sooner; a record without it, or a
 *   taker without flock (Node, Bun), falls back to the lease. The owner
 *   removes its lock file before it closes it (so before its flock drops).
 * - Why not an OS lock: Deno has `FsFile.lock()`, but Node has no flock(2)
 *   in Node's fs module (refused upstream, nodejs/node#54446) and Bun neither; one
 *   destination may be shared by processes of different runtimes, so every
 *   runtime must honour the same lock. A lease is the one that all do.
 * - Taking over is serialised by a second exclusive file,
 *   `<dest>.part.takeover`, held for the few milliseconds it takes to check
 *   the lock again and remove it, so two processes that both found the same
 *   stale lock cannot remove each other's fresh one. A takeover file older
 *   than the stale time (its creator died within those milliseconds) is
 *   removed.
 * - An owner that was stopped (SIGSTOP, a suspended laptop) for longer than
 *   the stale time may lose its lock to another process. Its next heartbeat
 *   sees a record that is not its own and aborts {@link DestinationLock.signal}
 *   with a retryable {@link DestinationError}, and its `release()` leaves the
 *   new owner's lock alone.
 *
 * @module
 */

import { DestinationError } from "../errors.ts";
import { type FsShim, FsShimError, type ShimFile } from "../runtime/fs_shim.ts";

/** How often the owner refreshes its lock file (milliseconds). */
export const LOCK_HEARTBEAT_MS = 1000;
/** A lock not refreshed for this long (milliseconds) is stale and taken over. */
export const LOCK_STALE_MS = 5000;

/** The lease's timings (tests shorten them). */
export interface LockTiming {
  /** How often the owner refreshes the lock (ms). */
  readonly heartbeatMs: number;
  /** After how long without a refresh a lock is stale (ms). */
  readonly staleMs: number;
}

/** The default lease: refreshed every second, stale after five. */
export const DEFAULT_LOCK_TIMING: LockTiming = {
  heartbeatMs: LOCK_HEARTBEAT_MS,
  staleMs: LOCK_STALE_MS,
};

/** What a lock file says about its owner. */
export interface LockRecord {
  /** The owner's pid (`null` when the file is empty or unreadable). */
  readonly pid: number | null;
  /** The owner's {@link FsShim.processScope}; `null` when it had none. */
  readonly scope: string | null;
  /** The owning process's random id (`null` for a bare-pid record). */
  readonly instance: string | null;
  /** This lock's random id: the owner checks it is still its own. */
  readonly nonce: string | null;
  /** A bare-pid record (the lock format of haul 0.1). */
  readonly legacy: boolean;
  /** Whether the owner holds an exclusive flock(2) on the lock file for as long as it lives. */
  readonly flock: boolean;
}

/** What this process knows about itself when judging a lock. */
export interface LockJudge {
  /** This process's random instance id. */
  readonly instance: string;
  /** This process's pid scope, or `null` when unknown. */
  readonly scope: string | null;
  /** `false` only when the pid is known to be gone. */
  readonly isProcessAlive: (pid: number) => boolean;
}

/** Whether a lock found on disk may be taken over, and why. */
export type LockVerdict =
  | { readonly stale: false; readonly why: string }
  | { readonly stale: true; readonly why: string };

/** This process's random id, written into every lock it takes. */
const INSTANCE = randomHex(16);
/** Lock paths held by this process (a second call in one process is refused too). */
const heldHere = new Set<string>();
let lockCounter = 0;

/** A held lock. */
export interface DestinationLock {
  /**
   * Aborted (with a retryable {@link DestinationError}) if the lease is lost:
   * another process took the lock over after this one stopped refreshing it.
   */
  readonly signal: AbortSignal;
  /** Stops the heartbeat and removes the lock file if it is still ours. Safe to call more than once. */
  release(): Promise<void>;
}

/**
 * Encodes a lock record as the lock file's text.
 *
 * @param record who owns the lock.
 * @returns one line of JSON.
 *
 * @example
 * ```ts
 * import { encodeLockRecord } from "./lock.ts";
 * const text = encodeLockRecord({ pid: 42, scope: null, instance: "ab", nonce: "ab.1" });
 * console.log(text); // {"haul":"lock","pid":42,"scope":null,"instance":"ab","nonce":"ab.1"}\n
 * ```
 */
export function encodeLockRecord(
  record: Omit<LockRecord, "legacy" | "flock"> & { flock?: boolean },
): string {
  const { pid, scope, instance, nonce } = record;
  const flock = record.flock === true ? { flock: true } : {};
  return `${JSON.stringify({ haul: "lock", pid, scope, instance, nonce, ...flock })}\n`;
}

/**
 * Reads a lock file's text. Never throws: an empty or unreadable file gives a
 * record of `null`s (such a lock is judged by its age alone).
 *
 * @param text the lock file's contents.
 * @returns what it says.
 *
 * @example
 * ```ts
 * import { parseLockRecord } from "./lock.ts";
 * console.log(parseLockRecord("1234\n").legacy); // true
 * console.log(parseLockRecord("").pid); // null
 * ```
 */
export function parseLockRecord(text: string): LockRecord {
  const empty = {
    pid: null,
    scope: null,
    instance: null,
    nonce: null,
    legacy: false,
    flock: false,
  };
  const trimmed = text.trim();
  if (/^[0-9]+$/.test(trimmed)) {
    return { ...empty, pid: positivePid(Number(trimmed)), legacy: true };
  }
  try {
    const value = JSON.parse(trimmed) as Record<string, unknown>;
    if (typeof value !== "object" || value === null || value["haul"] !== "lock") return empty;
    const text = (key: string) => (typeof value[key] === "string" ? value[key] as string : null);
    return {
      pid: positivePid(value["pid"]),
      scope: text("scope"),
      instance: text("instance"),
      nonce: text("nonce"),
      legacy: false,
      flock: value["flock"] === true,
    };
  } catch {
    return empty;
  }
}

/**
 * Decides whether a lock found on disk may be taken over (see the module
 * notes). Pure: the caller supplies the lock's age and what it knows of itself.
 *
 * @param record what the lock file says.
 * @param ageMs now minus the lock file's mtime (`null` when unknown).
 * @param self this process.
 * @param timing the lease.
 * @param flockFree whether this process could take the flock the record says
 *   its owner holds (so the owner's process has ended).
 * @returns the verdict and a reason for messages.
 *
 * @example
 * ```ts
 * import { judgeLock, parseLockRecord } from "./lock.ts";
 * const self = { instance: "me", scope: null, isProcessAlive: () => true };
 * const record = parseLockRecord('{"haul":"lock","pid":7,"scope":null,"instance":"x","nonce":"x.1"}');
 * console.log(judgeLock(record, 200, self, { heartbeatMs: 1000, staleMs: 5000 }).stale); // false
 * console.log(judgeLock(record, 9000, self, { heartbeatMs: 1000, staleMs: 5000 }).stale); // true
 * ```
 */
export function judgeLock(
  record: LockRecord,
  ageMs: number | null,
  self: LockJudge,
  timing: LockTiming,
  flockFree = false,
): LockVerdict {
  if (record.flock && flockFree) {
    return { stale: true, why: "its owner's file lock was released (its process ended)" };
  }
  if (ageMs !== null && Math.abs(ageMs) >= timing.staleMs) {
    return { stale: true, why: `not refreshed for ${Math.round(Math.abs(ageMs) / 1000)} s` };
  }
  if (record.instance !== null && record.instance === self.instance) {
    return { stale: true, why: "left by this process" };
  }
  const comparable = record.legacy || (self.scope !== null && record.scope === self.scope);
  if (record.pid !== null && comparable && !self.isProcessAlive(record.pid)) {
    return { stale: true, why: `its owner (pid ${record.pid}) is gone` };
  }
  const owner = record.pid === null ? "" : ` (pid ${record.pid})`;
  return { stale: false, why: `another haul() call${owner} is downloading` };
}

/**
 * Takes the lock for a destination or fails fast.
 *
 * @param fs the filesystem shim.
 * @param lockPath `<dest>.part.lock`.
 * @param dest the destination (for messages).
 * @param timing the lease (default: refreshed every 1 s, stale after 5 s).
 * @returns the held lock; its heartbeat runs until `release()`.
 * @throws {DestinationError} retryable when another live call holds it; not
 * retryable when the lock cannot be created (e.g. no permission).
 *
 * @example
 * ```ts ignore
 * // Needs a real directory; see tests/store/lock_test.ts.
 * const lock = await acquireLock(fs, "/data/x.part.lock", "/data/x");
 * try { ... } finally { await lock.release(); }
 * ```
 */
export async function acquireLock(
  fs: FsShim,
  lockPath: string,
  dest: string,
  timing: LockTiming = DEFAULT_LOCK_TIMING,
): Promise<DestinationLock> {
  if (heldHere.has(lockPath)) {
    throw busy(dest, "another haul() call in this process is downloading");
  }
  heldHere.add(lockPath);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      const nonce = `${INSTANCE}.${++lockCounter}`;
      const record = { pid: fs.pid, scope: scopeOf(fs), instance: INSTANCE, nonce };
      const created = await tryCreate(
        fs,
        lockPath,
        (flock) => encodeLockRecord({ ...record, flock }),
      );
      if (created !== null) {
        const { file, text } = created;
        return holdLock(fs, lockPath, dest, file, text, nonce, timing);
      }
      const verdict = await inspect(fs, lockPath, timing);
      if (verdict === null) continue; // it vanished meanwhile: try again
      if (!verdict.stale) throw busy(dest, verdict.why);
      await takeOver(fs, lockPath, dest, timing);
    }
    throw busy(dest, "the lock changed hands while it was being taken over");
  } catch (error) {
    heldHere.delete(lockPath);
    if (error instanceof DestinationError) throw error;
    throw new DestinationError(
      `Cannot lock destination: ${dest}: ${(error as Error).message}`,
      dest,
      { cause: error },
    );
  }
}

function busy(dest: string, why: string): DestinationError {
  return new DestinationError(
    `Destination busy: ${why} to ${dest}; wait for it and try again`,
    dest,
    { retryable: true },
  );
}

function scopeOf(fs: FsShim): string | null {
  return fs.processScope ?? null;
}

function positivePid(value: unknown): number | null {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : null;
}

function randomHex(bytes: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buffer, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The takeover guard beside a lock: `<dest>.part.takeover` for `<dest>.part.lock`. */
function guardPathOf(lockPath: string): string {
  return lockPath.endsWith(".lock") ? `${lockPath.slice(0, -5)}.takeover` : `${lockPath}.takeover`;
}

/**
 * Creates `path` exclusively, takes its flock where the shim has one, and
 * writes the text `textFor(flocked)`; the open handle and the text, or `null`
 * when the path exists.
 */
async function tryCreate(
  fs: FsShim,
  path: string,
  textFor: (flocked: boolean) => string,
): Promise<{ file: ShimFile; text: string } | null> {
  let file: ShimFile;
  try {
    file = await fs.open(path, "create-exclusive");
  } catch (error) {
    if (error instanceof FsShimError && error.code === "EEXIST") return null;
    throw error;
  }
  try {
    // Before the record: a record that says "flock" is only ever written under the flock.
    const flocked = file.tryLock === undefined ? false : await file.tryLock();
    const text = textFor(flocked);
    await file.write(new TextEncoder().encode(text), 0);
    return { file, text };
  } catch (error) {
    await file.close().catch(() => {});
    await fs.remove(path).catch(() => {});
    throw error;
  }
}

/**
 * Whether this process can take the flock on the lock file (so no process
 * holds it): probed on a handle of its own, closed at once. `false` when the
 * shim has no flock or the file cannot be opened.
 */
async function flockIsFree(fs: FsShim, lockPath: string): Promise<boolean> {
  let probe: ShimFile;
  try {
    probe = await fs.open(lockPath, "read");
  } catch {
    return false;
  }
  try {
    return probe.tryLock === undefined ? false : await probe.tryLock();
  } catch {
    return false;
  } finally {
    await probe.close().catch(() => {});
  }
}

/** Reads and judges the lock at `lockPath`; `null` when nothing is there. */
async function inspect(
  fs: FsShim,
  lockPath: string,
  timing: LockTiming,
): Promise<LockVerdict | null> {
  const stat = await fs.stat(lockPath);
  if (stat === null) return null;
  const bytes = await fs.readFile(lockPath);
  if (bytes === null) return null;
  const record = parseLockRecord(new TextDecoder().decode(bytes));
  const ageMs = stat.mtimeMs === undefined ? null : Date.now() - stat.mtimeMs;
  const self: LockJudge = {
    instance: INSTANCE,
    scope: scopeOf(fs),
    isProcessAlive: (pid) => fs.isProcessAlive(pid),
  };
  const flockFree = record.flock && await flockIsFree(fs, lockPath);
  return judgeLock(record, ageMs, self, timing, flockFree);
}

/**
 * Removes a stale lock under the takeover guard, after judging it again there.
 * Throws a busy error when another process is taking over or got it first.
 */
async function takeOver(
  fs: FsShim,
  lockPath: string,
  dest: string,
  timing: LockTiming,
): Promise<void> {
  const guardPath = guardPathOf(lockPath);
  const text = encodeLockRecord({
    pid: fs.pid,
    scope: scopeOf(fs),
    instance: INSTANCE,
    nonce: null,
  });
  const created = await tryCreate(fs, guardPath, () => text);
  const guard = created?.file ?? null;
  if (guard === null) {
    const stat = await fs.stat(guardPath);
    const age = stat?.mtimeMs === undefined ? 0 : Math.abs(Date.now() - stat.mtimeMs);
    if (stat !== null && age >= timing.staleMs) await fs.remove(guardPath); // its taker died
    throw busy(dest, "another process is taking over a stale lock");
  }
  try {
    const verdict = await inspect(fs, lockPath, timing);
    if (verdict !== null && !verdict.stale) throw busy(dest, verdict.why);
    await fs.remove(lockPath);
  } finally {
    await guard.close().catch(() => {});
    await fs.remove(guardPath).catch(() => {});
  }
}

/** Starts the heartbeat of a freshly created lock and returns its handle. */
function holdLock(
  fs: FsShim,
  lockPath: string,
  dest: string,
  file: ShimFile,
  text: string,
  nonce: string,
  timing: LockTiming,
): DestinationLock {
  const bytes = new TextEncoder().encode(text);
  const controller = new AbortController();
  let beating: Promise<void> | null = null;
  let released = false;
  const isOurs = async (): Promise<boolean> => {
    const found = await fs.readFile(lockPath).catch(() => null);
    return found !== null && parseLockRecord(new TextDecoder().decode(found)).nonce === nonce;
  };
  const beat = async (): Promise<void> => {
    try {
      await file.write(bytes, 0); // moves the mtime: the lease is renewed
      if (released || (await isOurs())) return;
    } catch {
      return; // a failed refresh is retried at the next beat; the lease just ages
    }
    if (released) return;
    clearInterval(timer);
    controller.abort(
      new DestinationError(
        `Destination lock lost: another process took over ${lockPath} after this one ` +
          `stopped refreshing it for ${Math.round(timing.staleMs / 1000)} s; call again`,
        dest,
        { retryable: true },
      ),
    );
  };
  const timer = setInterval(() => {
    beating ??= beat().finally(() => (beating = null)); // one beat at a time
  }, timing.heartbeatMs);
  return {
    signal: controller.signal,
    async release(): Promise<void> {
      if (released) return;
      released = true;
      clearInterval(timer);
      try {
        await beating;
        const ours = !controller.signal.aborted && (await isOurs());
        // Removed before closed: its flock (if any) must outlive the file, or a taker
        // could judge the owner dead and take the lock between the two.
        try {
          if (ours) await fs.remove(lockPath);
        } finally {
          await file.close().catch(() => {});
        }
      } finally {
        heldHere.delete(lockPath);
      }
    },
  };
}
