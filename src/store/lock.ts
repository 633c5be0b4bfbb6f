/**
 * One call per destination at a time, across processes: an exclusive-create
 * lock file `<dest>.part.lock` holding the owner's pid. A lock whose owner is
 * dead (a crashed or killed process) is taken over.
 *
 * @module
 */

import { DestinationError } from "../errors.ts";
import { type FsShim, FsShimError } from "../runtime/fs_shim.ts";

/** Lock paths held by this process (two calls in one process are refused too). */
const heldHere = new Set<string>();

/** A held lock; `release()` removes it. */
export interface DestinationLock {
  /** Removes the lock file. Safe to call more than once. */
  release(): Promise<void>;
}

/**
 * Takes the lock for a destination or fails fast.
 *
 * @param fs the filesystem shim.
 * @param lockPath `<dest>.part.lock`.
 * @param dest the destination (for messages).
 * @returns the held lock.
 * @throws {DestinationError} when another live call holds it (retryable), or the lock cannot be created.
 */
export async function acquireLock(
  fs: FsShim,
  lockPath: string,
  dest: string,
): Promise<DestinationLock> {
  if (heldHere.has(lockPath)) throw busy(dest);
  heldHere.add(lockPath);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await tryCreate(fs, lockPath)) return makeLock(fs, lockPath);
      const owner = await readOwner(fs, lockPath);
      if (owner !== null && owner !== fs.pid && fs.isProcessAlive(owner)) throw busy(dest);
      await fs.remove(lockPath); // stale: its owner is gone
    }
    throw busy(dest);
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

function busy(dest: string): DestinationError {
  return new DestinationError(
    `Destination busy: another haul() call is downloading to ${dest}; wait for it and try again`,
    dest,
    { retryable: true },
  );
}

async function tryCreate(fs: FsShim, lockPath: string): Promise<boolean> {
  let file;
  try {
    file = await fs.open(lockPath, "create-exclusive");
  } catch (error) {
    if (error instanceof FsShimError && error.code === "EEXIST") return false;
    throw error;
  }
  try {
    await file.write(new TextEncoder().encode(`${fs.pid}\n`), 0);
  } finally {
    await file.close();
  }
  return true;
}

async function readOwner(fs: FsShim, lockPath: string): Promise<number | null> {
  const bytes = await fs.readFile(lockPath);
  if (bytes === null) return null;
  const pid = Number.parseInt(new TextDecoder().decode(bytes).trim(), 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

function makeLock(fs: FsShim, lockPath: string): DestinationLock {
  let released = false;
  return {
    async release(): Promise<void> {
      if (released) return;
      released = true;
      try {
        await fs.remove(lockPath);
      } finally {
        heldHere.delete(lockPath);
      }
    },
  };
}
