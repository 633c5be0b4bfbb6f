/**
 * One call per destination at a time, across processes: `<dest>.part.lock`, created exclusively and
 * rewritten every second by its owner (a lease; Node and Bun have no flock(2)). A taker's record is
 * `<dest>.part.takeover` (one at a time), renamed over the stale lock; who may be taken over:
 * `docs/architecture.md`, "Ownership". The record and the pure decision on a lock come last.
 *
 * @module
 */

import { DestinationError, hidden } from "../errors.ts";
import { type FsShim, FsShimError, type ShimFile } from "../runtime/fs_shim.ts";

/** The lease's timings in ms (tests shorten them): a refresh every `heartbeatMs`, stale after `staleMs`. */
export interface LockTiming {
  readonly heartbeatMs: number;
  readonly staleMs: number;
}

/** The default lease: refreshed every second, stale after five. */
export const DEFAULT_LOCK_TIMING: LockTiming = { heartbeatMs: 1000, staleMs: 5000 };

/** This process's random id, written into every lock it takes. */
const INSTANCE = randomHex(16);
/** The nonces of the locks this process holds, under whatever spelling of their path. */
const heldHere = new Set<string>();

/** A held lock. */
export interface DestinationLock {
  /** Aborted, with a retryable {@link DestinationError}, once another process took the lock over. */
  readonly signal: AbortSignal;
  /** Taken over from an owner that may still be alive: the caller must not write into its files. */
  readonly fenced: boolean;
  /** Taken over from another owner (dead or not): its leftovers need tidying. */
  readonly takenOver: boolean;
  /** Resolves while the lock file is this lock's; else aborts {@link signal} (not on a failed read). */
  check(): Promise<void>;
  /** Stops the heartbeat and removes the lock file if it is still ours; idempotent. */
  release(): Promise<void>;
}

/**
 * Takes the lock for a destination or fails fast: a retryable {@link DestinationError} when another
 * live call holds it, the {@link FsShimError} when the lock cannot be created (e.g. no permission).
 */
export async function acquireLock(
  fs: FsShim,
  lockPath: string,
  dest: string,
  timing: LockTiming = DEFAULT_LOCK_TIMING,
): Promise<DestinationLock> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const nonce = randomHex(16);
    const own = { pid: fs.pid, scope: fs.processScope ?? null, instance: INSTANCE, nonce };
    const start = fs.processStart?.(fs.pid) ?? null;
    const textFor = (flock: boolean) => encodeLockRecord({ ...own, start, flock });
    const created = await tryCreate(fs, lockPath, textFor);
    if (created !== null) return holdLock(fs, lockPath, dest, created, nonce, timing);
    const verdict = await inspect(fs, lockPath, timing);
    if (verdict === null) continue; // it vanished meanwhile: try again
    if (!verdict.stale) throw busy(dest, verdict.why, verdict.retryAfterMs);
    const taken = await takeOver(fs, lockPath, dest, timing, { nonce, textFor });
    return holdLock(fs, lockPath, dest, taken, nonce, timing, taken.fence);
  }
  throw busy(dest, "the lock changed hands while it was being taken over");
}

function busy(dest: string, why: string, retryAfterMs?: number): DestinationError {
  const error = new DestinationError(
    `Destination busy: ${why} to ${dest}; wait for it and try again ` +
      `(if no haul runs there, remove ${dest}.part.lock)`,
    dest,
    { retryable: true },
  );
  if (retryAfterMs !== undefined) hidden(error, "retryAfterMs", retryAfterMs); // the lease left
  return error;
}

/** Creates `path` exclusively, takes its flock where it can and writes `textFor(flocked)`; `null` if it exists. */
async function tryCreate(
  fs: FsShim,
  path: string,
  textFor: (flocked: boolean) => string,
): Promise<{ file: ShimFile; text: string } | null> {
  const file = await fs.open(path, "create-exclusive").catch((error: unknown) => {
    if (error instanceof FsShimError && error.code === "EEXIST") return null;
    throw error;
  });
  if (file === null) return null;
  try {
    // Before the record: a record that says "flock" is only ever written under the flock.
    const flocked = (await file.tryLock?.().catch(() => false)) ?? false;
    const text = textFor(flocked);
    await file.write(new TextEncoder().encode(text), 0);
    return { file, text };
  } catch (error) {
    await file.close().catch(() => {});
    await fs.remove(path).catch(() => {});
    throw error;
  }
}

/** Whether another process holds the lock file's flock, probed on a handle of its own. */
async function probeFlock(fs: FsShim, lockPath: string): Promise<FlockProbe> {
  const probe = await fs.open(lockPath, "read").catch(() => null);
  const taken = await probe?.tryLock?.().catch(() => null); // undefined, null: cannot tell
  await probe?.close().catch(() => {});
  return taken === true ? "free" : taken === false ? "held" : "unknown";
}

/** Reads and judges the lock at `lockPath`; `null` when nothing is there. */
async function inspect(
  fs: FsShim,
  lockPath: string,
  timing: LockTiming,
): Promise<LockVerdict | null> {
  const stat = await fs.stat(lockPath);
  if (stat === null) return null;
  const bytes = await fs.readFile(lockPath); // `null`: gone meanwhile, or a dangling link
  if (bytes === null && !stat.isSymlink) return null;
  const record = parseLockRecord(new TextDecoder().decode(bytes ?? undefined));
  if (record.instance === INSTANCE && heldHere.has(record.nonce ?? "")) {
    return { stale: false, why: "another haul() call in this process is downloading" };
  }
  const ageMs = stat.mtimeMs === undefined ? null : Date.now() - stat.mtimeMs;
  const self: LockJudge = {
    instance: INSTANCE,
    scope: fs.processScope ?? null,
    isProcessAlive: (pid) => fs.isProcessAlive(pid),
    processStart: (pid) => fs.processStart?.(pid) ?? null,
  };
  const flock = record.flock ? await probeFlock(fs, lockPath) : "unknown";
  return judgeLock(record, ageMs, self, timing, flock);
}

/**
 * Replaces a stale lock, judged again under the takeover guard (`<dest>.part.takeover`), with this
 * call's: the guard holds its record and is renamed over the lock, which never goes missing, so no
 * call creates one meanwhile. `fence`: its owner may still be alive. Busy when another process is
 * taking over, got it first, or the lock vanished meanwhile.
 */
async function takeOver(
  fs: FsShim,
  lockPath: string,
  dest: string,
  timing: LockTiming,
  own: { readonly nonce: string; readonly textFor: (flocked: boolean) => string },
): Promise<{ file: ShimFile; text: string; fence: boolean }> {
  const guardPath = `${lockPath.replace(/\.lock$/, "")}.takeover`;
  heldHere.add(own.nonce); // before its record exists: no call here takes it for a leftover
  let guard: Awaited<ReturnType<typeof tryCreate>> = null;
  try {
    guard = await tryCreate(fs, guardPath, own.textFor);
    if (guard === null) {
      // Judged as a lock is: a live taker (stopped, maybe) keeps it; a dead or silent one's goes.
      if ((await inspect(fs, guardPath, timing))?.stale) await fs.remove(guardPath);
      throw busy(dest, "another process is taking over a stale lock");
    }
    const verdict = await inspect(fs, lockPath, timing);
    if (!verdict?.stale) throw busy(dest, verdict?.why ?? "the lock changed hands meanwhile");
    await fs.rename(guardPath, lockPath).catch(({ code, message }: FsShimError) => {
      throw new FsShimError(code, lockPath, message); // the lock cannot go (EPERM…): name it
    });
    return { ...guard, fence: verdict.fence };
  } catch (error) {
    await guard?.file.close().catch(() => {});
    if (guard !== null) await fs.remove(guardPath).catch(() => {});
    heldHere.delete(own.nonce);
    throw error;
  }
}

/** Starts the heartbeat of a lock this call created (`fence`: or took over) and returns its handle. */
function holdLock(
  fs: FsShim,
  lockPath: string,
  dest: string,
  { file, text }: { readonly file: ShimFile; readonly text: string },
  nonce: string,
  timing: LockTiming,
  fence?: boolean,
): DestinationLock {
  const bytes = new TextEncoder().encode(text);
  heldHere.add(nonce);
  const controller = new AbortController();
  let beating: Promise<void> | null = null;
  let released = false;
  const isOurs = async (path = lockPath): Promise<boolean> => {
    const found = await fs.readFile(path);
    return found !== null && parseLockRecord(new TextDecoder().decode(found)).nonce === nonce;
  };
  // A record that cannot be read (EMFILE…) is ours while the lock file is still our inode.
  const isOurInode = async (path = lockPath) =>
    (await fs.stat(path).catch(() => null))?.identity === ((await file.identity?.()) ?? 0);
  const lose = (): void => {
    clearInterval(timer);
    controller.abort(
      new DestinationError(
        `Destination lock lost: ${lockPath} is not this call's any more (taken over after this ` +
          `one stopped refreshing it for ${Math.round(timing.staleMs / 1000)} s, or removed, or ` +
          "its directory moved); nothing more was saved; call again",
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
    fenced: fence === true,
    takenOver: fence !== undefined,
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
        if (controller.signal.aborted || !(await isOurs().catch(() => isOurInode()))) return;
        // Moved aside (a crash's goes with the next release), judged there: a taker's goes back
        // unless the name is taken again. Removed before closed: a released flock lets a taker in.
        const aside = `${lockPath.replace(/\.lock$/, "")}.unlock`;
        await fs.rename(lockPath, aside);
        const ours = await isOurs(aside).catch(() => isOurInode(aside));
        if (!ours && (await fs.stat(lockPath)) === null) await fs.rename(aside, lockPath);
        else await fs.remove(aside);
      } finally {
        heldHere.delete(nonce);
        await file.close().catch(() => {});
      }
    },
  };
}

/** What a lock file says about its owner (all `null` when the file is empty or unreadable). */
interface LockRecord {
  readonly pid: number | null;
  /** The owner's `FsShim.processScope`. */
  readonly scope: string | null;
  /** The owning process's random id. */
  readonly instance: string | null;
  /** This lock's random id: the owner checks it is still its own. */
  readonly nonce: string | null;
  /** Whether the owner holds an exclusive flock(2) on the lock file for as long as it lives. */
  readonly flock: boolean;
  /** When the owner's process started (`FsShim.processStart`). */
  readonly start: string | null;
}

/** What this process knows about itself when judging a lock (`null`: cannot tell). */
export interface LockJudge extends Pick<FsShim, "isProcessAlive" | "processStart"> {
  readonly instance: string;
  readonly scope: string | null;
}

/** What a taker learns by trying the flock a record says its owner holds. */
type FlockProbe = "free" | "held" | "unknown";

/** Whether a lock found on disk may be taken over, and why; `fence`: its owner may still be alive. */
type LockVerdict =
  | { readonly stale: false; readonly why: string; readonly retryAfterMs?: number }
  | { readonly stale: true; readonly why: string; readonly fence: boolean };

/** A lock record as the lock file's text: one line of JSON (`flock` and `start` only when set). */
export function encodeLockRecord(
  record: Omit<LockRecord, "flock" | "start"> & Partial<Pick<LockRecord, "flock" | "start">>,
): string {
  const { pid, scope, instance, nonce } = record;
  const extra = { flock: record.flock || undefined, start: record.start ?? undefined };
  return `${JSON.stringify({ haul: "lock", pid, scope, instance, nonce, ...extra })}\n`;
}

/** Reads a lock file's text; never throws: an unreadable one gives `null`s (judged by its age alone). */
export function parseLockRecord(text: string): LockRecord {
  const empty = { pid: null, scope: null, instance: null, nonce: null, flock: false, start: null };
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    if (typeof value !== "object" || value === null || value["haul"] !== "lock") return empty;
    const field = (key: string) => (typeof value[key] === "string" ? value[key] as string : null);
    const pid = value["pid"];
    return {
      pid: typeof pid === "number" && Number.isSafeInteger(pid) && pid > 0 ? pid : null,
      scope: field("scope"),
      instance: field("instance"),
      nonce: field("nonce"),
      flock: value["flock"] === true,
      start: field("start"),
    };
  } catch {
    return empty;
  }
}

/**
 * Decides whether a lock found on disk may be taken over (the rules:
 * `docs/architecture.md`, "Ownership"). Pure: `ageMs` is now minus the lock
 * file's mtime, `flock` what trying the flock the record names told.
 */
export function judgeLock(
  record: LockRecord,
  ageMs: number | null,
  self: LockJudge,
  timing: { readonly staleMs: number },
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
  const wait = alive === null && age !== null ? { retryAfterMs: timing.staleMs - age } : {};
  return { stale: false, why: `another haul() call${owner}${paused} is downloading`, ...wait };
}

/** The record's pid in this process's terms: alive, gone, or `null` when it cannot tell. */
function pidAlive(record: LockRecord, self: LockJudge): boolean | null {
  if (record.pid === null || self.scope === null || record.scope !== self.scope) return null;
  const alive = self.isProcessAlive(record.pid);
  if (alive !== true || record.start === null) return alive;
  const start = self.processStart?.(record.pid) ?? null;
  return start === null || start === record.start; // another start time: the pid was reused
}

/** `bytes` random bytes as lower-case hex: the ids in lock records and a commit's private names. */
export function randomHex(bytes: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buffer, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
