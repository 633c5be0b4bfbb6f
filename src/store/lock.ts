/**
 * One call per destination at a time, across processes: a lock file
 * `<dest>.part.lock` created exclusively and kept fresh by its owner (a
 * **lease**), with a fence for the one case where a lease must be broken.
 *
 * - The owner keeps the lock file open and rewrites its record every
 *   {@link LOCK_HEARTBEAT_MS} (1 s), which moves its mtime.
 * - **A live owner is never taken over**, however old its lease (a process
 *   stopped with SIGSTOP, a frozen container, a suspended laptop is alive).
 *   Evidence of life: the kernel-held flock(2) the record says its owner holds
 *   (Deno's `FsFile.tryLock()`) cannot be taken, or the record's pid is alive
 *   in the same {@link FsShim.processScope} (host, pid namespace and boot)
 *   and, where `/proc` tells, started when the record says (a reused pid is
 *   not the owner).
 * - A known-dead owner (its flock free, its pid gone) is taken over at once,
 *   and so is a record this very process left (same random instance id) that
 *   no call here holds.
 * - Where liveness cannot be known (another host or pid namespace sharing the
 *   directory; a Deno taker without `--allow-run` facing a Node or Bun owner),
 *   a lock not refreshed for {@link LOCK_STALE_MS} (5 s, either way, so a
 *   clock stepped back cannot pin it) is taken over **with a fence**: the new
 *   owner's {@link DestinationLock.fenced} is `true`, and the engine then
 *   continues in a new inode (`store/ownership.ts`), so the old owner, if it
 *   lives on, writes only into an orphan; its checkpoints and its commit
 *   check the lock and the inode first and give up.
 * - Taking over is serialised by a second exclusive file,
 *   `<dest>.part.takeover`, held for the few milliseconds it takes to check
 *   the lock again and remove it. A takeover file older than the stale time
 *   (its creator died within those milliseconds) is removed.
 * - An owner whose lease was broken sees, at its next heartbeat or check, a
 *   record that is not its own: {@link DestinationLock.signal} is aborted with
 *   a retryable {@link DestinationError}, and `release()` leaves the new
 *   owner's lock alone.
 * - Why not an OS lock alone: Node and Bun have no flock(2), and one
 *   destination may be shared by processes of different runtimes.
 *
 * The argument, step by step: `docs/architecture.md`, "Ownership".
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
  /** When the owner's process started ({@link FsShim.processStart}); `null` when unknown. */
  readonly start: string | null;
}

/** What this process knows about itself when judging a lock. */
export interface LockJudge {
  /** This process's random instance id. */
  readonly instance: string;
  /** This process's pid scope, or `null` when unknown. */
  readonly scope: string | null;
  /** `true` or `false` when known, `null` when this process cannot tell. */
  readonly isProcessAlive: (pid: number) => boolean | null;
  /** When a process started, or `null` when unknown. */
  readonly processStart?: (pid: number) => string | null;
}

/** What a taker learns by trying the flock a record says its owner holds. */
export type FlockProbe = "free" | "held" | "unknown";

/**
 * Whether a lock found on disk may be taken over, and why. `fence` is set
 * when its owner may still be alive (see the module notes).
 */
export type LockVerdict =
  | { readonly stale: false; readonly why: string }
  | { readonly stale: true; readonly why: string; readonly fence: boolean };

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
  /**
   * Whether this lock was taken over from an owner that may still be alive
   * (its lease ran out where its liveness could not be checked): the caller
   * must not write into the files that owner had open.
   */
  readonly fenced: boolean;
  /** Whether this lock was taken over from another owner (dead or not): its leftovers need tidying. */
  readonly takenOver: boolean;
  /**
   * Resolves while the lock file is still this lock's; otherwise aborts
   * {@link signal} and rejects with its retryable {@link DestinationError}.
   */
  check(): Promise<void>;
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
  record: Omit<LockRecord, "legacy" | "flock" | "start"> & {
    flock?: boolean;
    start?: string | null;
  },
): string {
  const { pid, scope, instance, nonce } = record;
  const flock = record.flock === true ? { flock: true } : {};
  const start = typeof record.start === "string" ? { start: record.start } : {};
  return `${JSON.stringify({ haul: "lock", pid, scope, instance, nonce, ...flock, ...start })}\n`;
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
    start: null,
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
      start: text("start"),
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
 * @param flock what trying the flock the record names told (`"unknown"` when
 *   the record names none or this runtime has none).
 * @returns the verdict and a reason for messages.
 *
 * @example
 * ```ts
 * import { judgeLock, parseLockRecord } from "./lock.ts";
 * const timing = { heartbeatMs: 1000, staleMs: 5000 };
 * const record = parseLockRecord('{"haul":"lock","pid":7,"scope":"s","instance":"x","nonce":"x.1"}');
 * const cannotTell = { instance: "me", scope: null, isProcessAlive: () => null };
 * console.log(judgeLock(record, 200, cannotTell, timing).stale); // false
 * console.log(judgeLock(record, 9000, cannotTell, timing)); // { stale: true, why: "not refreshed for 9 s", fence: true }
 * const alive = { instance: "me", scope: "s", isProcessAlive: () => true };
 * console.log(judgeLock(record, 60000, alive, timing).stale); // false: a stopped owner is alive
 * ```
 */
export function judgeLock(
  record: LockRecord,
  ageMs: number | null,
  self: LockJudge,
  timing: LockTiming,
  flock: FlockProbe = "unknown",
): LockVerdict {
  if (record.flock && flock === "free") {
    return { stale: true, why: "its owner's file lock was released", fence: false };
  }
  if (record.instance !== null && record.instance === self.instance) {
    return { stale: true, why: "left by this process", fence: false };
  }
  const alive = record.flock && flock === "held" ? true : pidAlive(record, self);
  const owner = record.pid === null ? "" : ` (pid ${record.pid})`;
  if (alive === false) return { stale: true, why: `its owner${owner} is gone`, fence: false };
  const age = ageMs === null ? null : Math.abs(ageMs);
  if (alive === null && age !== null && age >= timing.staleMs) {
    return { stale: true, why: `not refreshed for ${Math.round(age / 1000)} s`, fence: true };
  }
  const paused = age !== null && age >= timing.staleMs
    ? ` (its lease is ${Math.round(age / 1000)} s old: the process may be stopped)`
    : "";
  return { stale: false, why: `another haul() call${owner}${paused} is downloading` };
}

/** The record's pid in this process's terms: alive, gone, or `null` when it cannot tell. */
function pidAlive(record: LockRecord, self: LockJudge): boolean | null {
  const comparable = record.legacy || (self.scope !== null && record.scope === self.scope);
  if (record.pid === null || !comparable) return null;
  const alive = self.isProcessAlive(record.pid);
  if (alive !== true || record.start === null) return alive;
  const start = self.processStart?.(record.pid) ?? null;
  return start === null || start === record.start; // another start time: the pid was reused
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
    let fenced = false;
    let takenOver = false;
    for (let attempt = 0; attempt < 3; attempt++) {
      const nonce = `${INSTANCE}.${++lockCounter}`;
      const start = fs.processStart?.(fs.pid) ?? null;
      const record = { pid: fs.pid, scope: scopeOf(fs), instance: INSTANCE, nonce, start };
      const created = await tryCreate(
        fs,
        lockPath,
        (flock) => encodeLockRecord({ ...record, flock }),
      );
      if (created !== null) {
        const { file, text } = created;
        return holdLock(fs, lockPath, dest, file, text, nonce, timing, { fenced, takenOver });
      }
      const verdict = await inspect(fs, lockPath, timing);
      if (verdict === null) continue; // it vanished meanwhile: try again
      if (!verdict.stale) throw busy(dest, verdict.why);
      fenced = (await takeOver(fs, lockPath, dest, timing)) || fenced;
      takenOver = true;
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
    `Destination busy: ${why} to ${dest}; wait for it and try again ` +
      `(if no haul runs there, remove ${dest}.part.lock)`,
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
    const flocked = await (file.tryLock?.() ?? Promise.resolve(false)).catch(() => false);
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
 * Whether another process holds the flock on the lock file: probed on a
 * handle of its own, closed at once. `"unknown"` when the shim has no flock
 * or the file cannot be opened.
 */
async function probeFlock(fs: FsShim, lockPath: string): Promise<FlockProbe> {
  let probe: ShimFile;
  try {
    probe = await fs.open(lockPath, "read");
  } catch {
    return "unknown";
  }
  try {
    if (probe.tryLock === undefined) return "unknown";
    return (await probe.tryLock()) ? "free" : "held";
  } catch {
    return "unknown";
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
    processStart: (pid) => fs.processStart?.(pid) ?? null,
  };
  const flock = record.flock ? await probeFlock(fs, lockPath) : "unknown";
  return judgeLock(record, ageMs, self, timing, flock);
}

/**
 * Removes a stale lock under the takeover guard, after judging it again there.
 * Throws a busy error when another process is taking over or got it first.
 * Resolves to whether the removed lock's owner may still be alive (a fence is needed).
 */
async function takeOver(
  fs: FsShim,
  lockPath: string,
  dest: string,
  timing: LockTiming,
): Promise<boolean> {
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
    if (verdict === null) return false;
    if (!verdict.stale) throw busy(dest, verdict.why);
    await fs.remove(lockPath);
    return verdict.fence;
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
  how: { readonly fenced: boolean; readonly takenOver: boolean },
): DestinationLock {
  const bytes = new TextEncoder().encode(text);
  const controller = new AbortController();
  let beating: Promise<void> | null = null;
  let released = false;
  const isOurs = async (): Promise<boolean> => {
    const found = await fs.readFile(lockPath).catch(() => null);
    return found !== null && parseLockRecord(new TextDecoder().decode(found)).nonce === nonce;
  };
  const lose = (): void => {
    clearInterval(timer);
    controller.abort(
      new DestinationError(
        `Destination lock lost: another process took over ${lockPath} after this one ` +
          `stopped refreshing it for ${Math.round(timing.staleMs / 1000)} s; ` +
          "nothing more was saved; call again",
        dest,
        { retryable: true },
      ),
    );
  };
  const beat = async (): Promise<void> => {
    try {
      await file.write(bytes, 0); // moves the mtime: the lease is renewed
      if (released || (await isOurs())) return;
    } catch {
      return; // a failed refresh is retried at the next beat; the lease just ages
    }
    if (!released) lose();
  };
  const timer = setInterval(() => {
    beating ??= beat().finally(() => (beating = null)); // one beat at a time
  }, timing.heartbeatMs);
  return {
    signal: controller.signal,
    ...how,
    async check(): Promise<void> {
      if (!controller.signal.aborted && !(await isOurs())) lose();
      controller.signal.throwIfAborted();
    },
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
