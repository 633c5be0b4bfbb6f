/**
 * Recognises Deno's "missing permission" error (`NotCapable`, raised when a
 * script runs without the `--allow-*` flag an operation needs) anywhere in an
 * error's `cause` chain, and names the flag to add. Plain TypeScript over
 * error objects: nothing here touches the `Deno` global, so it is harmless in
 * Bun and Node (where no error is ever `NotCapable`).
 *
 * What haul needs in Deno, feature by feature:
 *
 * - `haul()`, `haulWithRetry()`, `haulAll()`: `--allow-net=HOST`,
 *   `--allow-read=DIR` and `--allow-write=DIR` (DIR: the destination's
 *   directory). A lock left by a killed process is taken over once its lease
 *   runs out (5 s).
 * - A dead owner's lock taken over at once instead: `--allow-all` (the pid is
 *   only trusted with `run`, `sys=hostname` and a look at `/proc`, which Deno
 *   opens to `--allow-all` only).
 *
 * @module
 */

import { DestinationError, HaulError } from "../errors.ts";

/** A missing Deno permission: the kind (`read`, `write`, `net`, …), what was refused, and the flag. */
export interface MissingPermission {
  /** Deno's permission name: `read`, `write`, `net`, `env`, `sys`, `run`, `ffi`, `all`. */
  readonly kind: string;
  /** What was refused: a path, `host:port`, a variable name (may be empty). */
  readonly target: string;
  /** The flag that grants it, e.g. `--allow-net=example.com:443`. */
  readonly flag: string;
}

const MAX_CAUSES = 8;

/**
 * Finds Deno's `NotCapable` error in `error` or its causes and names the flag
 * (`read` and `write` on `dir`); `null` when `error` is something else.
 *
 * @example
 * ```ts
 * import { missingPermission } from "./deno_permission.ts";
 * const error = Object.assign(
 *   new Error('Requires net access to "127.0.0.1:8080", run again with the --allow-net flag'),
 *   { name: "NotCapable" },
 * );
 * console.log(missingPermission(error, "/data")?.flag); // --allow-net=127.0.0.1:8080
 * ```
 */
export function missingPermission(error: unknown, dir: string): MissingPermission | null {
  let current: unknown = error;
  for (
    let depth = 0;
    depth < MAX_CAUSES && typeof current === "object" && current !== null;
    depth++
  ) {
    const { name, message, cause } = current as {
      name?: unknown;
      message?: unknown;
      cause?: unknown;
    };
    if (name === "NotCapable" && typeof message === "string") return parse(message, dir);
    current = cause;
  }
  return null;
}

function parse(message: string, dir: string): MissingPermission {
  const match = /Requires (\w+) access(?: to "([^"]*)")?/.exec(message);
  const kind = match?.[1] ?? "all";
  const target = match?.[2] ?? "";
  let flag: string;
  if (kind === "read" || kind === "write") flag = `--allow-${kind}=${dir}`;
  else if (kind === "all") flag = "--allow-all";
  else flag = target === "" ? `--allow-${kind}` : `--allow-${kind}=${target}`;
  return { kind, target, flag };
}

/**
 * A failure caused by a missing Deno permission as a non-retryable error naming
 * the flag (on `dest`'s directory for read and write): a {@link DestinationError}
 * for the destination's files, a {@link HaulError} otherwise; anything else unchanged.
 *
 * @example
 * ```ts
 * import { explainMissingPermission } from "./deno_permission.ts";
 * const refused = Object.assign(
 *   new Error('Requires write access to "/data/x.part.lock", run again with the --allow-write flag'),
 *   { name: "NotCapable" },
 * );
 * const error = explainMissingPermission(refused, "/data/x") as Error;
 * console.log(error.message.includes("--allow-write=/data")); // true
 * ```
 */
export function explainMissingPermission(error: unknown, dest: string | URL): unknown {
  const path = dest instanceof URL ? decodeURIComponent(dest.pathname) : String(dest);
  const missing = missingPermission(error, directoryOf(path));
  if (missing === null) return error;
  const what = missing.target === "" ? missing.kind : `${missing.kind} access to ${missing.target}`;
  const message = `Missing Deno permission: haul needs ${what}; run Deno with ${missing.flag}`;
  if (missing.kind === "read" || missing.kind === "write") {
    return new DestinationError(message, path, { cause: error, retryable: false });
  }
  return new HaulError(message, { cause: error, retryable: false });
}

/** The directory part of a path (`.` when it has none). */
function directoryOf(path: string): string {
  const cut = path.replace(/\/+$/, "").lastIndexOf("/");
  return cut < 0 ? "." : cut === 0 ? "/" : path.slice(0, cut);
}
