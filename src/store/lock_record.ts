/**
 * What a lock file says (one line of JSON), and the pure decision whether a
 * lock found on disk may be taken over.
 *
 * @module
 */

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
export interface LockJudge {
  readonly instance: string;
  readonly scope: string | null;
  readonly isProcessAlive: (pid: number) => boolean | null;
  readonly processStart?: (pid: number) => string | null;
}

/** What a taker learns by trying the flock a record says its owner holds. */
export type FlockProbe = "free" | "held" | "unknown";

/** Whether a lock found on disk may be taken over, and why; `fence`: its owner may still be alive. */
export type LockVerdict =
  | { readonly stale: false; readonly why: string }
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
    return {
      pid: positivePid(value["pid"]),
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
  return { stale: false, why: `another haul() call${owner}${paused} is downloading` };
}

/** The record's pid in this process's terms: alive, gone, or `null` when it cannot tell. */
function pidAlive(record: LockRecord, self: LockJudge): boolean | null {
  if (record.pid === null || self.scope === null || record.scope !== self.scope) return null;
  const alive = self.isProcessAlive(record.pid);
  if (alive !== true || record.start === null) return alive;
  const start = self.processStart?.(record.pid) ?? null;
  return start === null || start === record.start; // another start time: the pid was reused
}

function positivePid(value: unknown): number | null {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : null;
}

/** `bytes` random bytes as lower-case hex: the ids in lock records and a commit's private names. */
export function randomHex(bytes: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buffer, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
