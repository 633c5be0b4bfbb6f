/**
 * One call per destination at a time, across processes: a lock file
 * `<dest>.part.lock` created exclusively and kept fresh by its owner (a
 * **lease**: the record rewritten every second), with a fence for the one
 * case where a lease must be broken (`docs/architecture.md`, "Ownership").
 *
 * - **A live owner is never taken over**, however old its lease (SIGSTOP, a
 *   suspended laptop). Evidence of life: the flock(2) its record names cannot
 *   be taken, or its pid is alive in the same {@link FsShim.processScope} and,
 *   where `/proc` tells, started when the record says (a reused pid is not it).
 * - A known-dead owner, or a record this process left that no call here
 *   holds, is taken over at once.
 * - Where liveness cannot be known (another host or pid namespace; Deno
 *   without `--allow-run`), a lock not refreshed for 5 s either way (a clock
 *   stepped back cannot pin it) is taken over **with a fence**:
 *   {@link DestinationLock.fenced} makes the engine continue in a new inode
 *   (`store/ownership.ts`), so a surviving old owner writes into an orphan.
 * - Takeovers are serialised by `<dest>.part.takeover`, held for the few ms
 *   of the check; one older than the stale time is removed.
 * - An owner whose lease was broken sees a record not its own:
 *   {@link DestinationLock.signal} aborts with a retryable
 *   {@link DestinationError}, and `release()` leaves the new lock alone.
 * - Not an OS lock alone: Node and Bun have no flock(2), and processes of
 *   different runtimes may share a destination.
 *
 * @module
 */

import { DestinationError } from "../errors.ts";
import { type FsShim, FsShimError, type ShimFile } from "../runtime/fs_shim.ts";
import {
  encodeLockRecord,
  type FlockProbe,
  judgeLock,
  type LockJudge,
  type LockVerdict,
  parseLockRecord,
  randomHex,
} from "./lock_record.ts";

/** The lease's timings (tests shorten them). */
export interface LockTiming {
  /** How often the owner refreshes the lock (ms). */
  readonly heartbeatMs: number;
  /** After how long without a refresh a lock is stale (ms). */
  readonly staleMs: number;
}

/** The default lease: refreshed every second, stale after five. */
export const DEFAULT_LOCK_TIMING: LockTiming = { heartbeatMs: 1000, staleMs: 5000 };

/** This process's random id, written into every lock it takes. */
const INSTANCE = randomHex(16);
/** The lock's record of what this process holds: a second call here for one of these paths is refused. */
const heldHere = new Set<string>();

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
 * Takes the lock for a destination or fails fast.
 *
 * @param fs the filesystem shim.
 * @param lockPath `<dest>.part.lock`.
 * @param dest the destination (for messages).
 * @param timing the lease (default: refreshed every 1 s, stale after 5 s).
 * @returns the held lock; its heartbeat runs until `release()`.
 * @throws {DestinationError} retryable when another live call holds it; not
 * retryable when the lock cannot be created (e.g. no permission).
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
      const nonce = randomHex(16);
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
