/**
 * Lock files as another haul process would leave them, for tests that plant
 * a live or a dead owner.
 *
 * @module
 */

import { defaultFs } from "../../src/runtime/default_fs.ts";
import { encodeLockRecord } from "../../src/store/lock.ts";

/**
 * The text of a lock file owned by `pid` in this process's pid scope (the
 * same host and pid namespace), so that the lock is judged by whether `pid`
 * is alive.
 *
 * @param pid the owner's process id.
 * @returns the lock file's text.
 */
export async function lockFileOf(pid: number): Promise<string> {
  const scope = (await defaultFs()).processScope ?? null;
  return encodeLockRecord({ pid, scope, instance: "other", nonce: "other.1" });
}
