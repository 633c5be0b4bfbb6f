/**
 * Turns Deno's "missing permission" error (`NotCapable`: a script run without
 * the `--allow-*` flag an operation needs) into an error that names the flag.
 * Plain TypeScript over error objects, harmless in Bun and Node.
 *
 * @module
 */

import { DestinationError, HaulError } from "../errors.ts";

/**
 * Deno's `NotCapable` in `error` or its first causes: the permission's kind
 * (`read`, `net`…), what was refused, and the flag that grants it (`read` and
 * `write` on `dir`).
 */
function missingPermission(error: unknown, dir: string) {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    const { name, message, cause } = current as {
      name?: unknown;
      message?: unknown;
      cause?: unknown;
    };
    if (name === "NotCapable" && typeof message === "string") {
      const match = /Requires (\w+) access(?: to "([^"]*)")?/.exec(message);
      const kind = match?.[1] ?? "all";
      const target = match?.[2] ?? "";
      let flag: string;
      if (kind === "read" || kind === "write") flag = `--allow-${kind}=${dir}`;
      else if (kind === "all") flag = "--allow-all";
      else flag = target === "" ? `--allow-${kind}` : `--allow-${kind}=${target}`;
      return { kind, target, flag };
    }
    current = cause;
  }
  return null;
}

/**
 * A failure caused by a missing Deno permission as a non-retryable error naming
 * the flag (on `dest`'s directory for read and write): a {@link DestinationError}
 * for the destination's files, a {@link HaulError} otherwise; anything else unchanged.
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

/** The directory part of a path (`.` when it has none); `store/paths.ts` is a layer above. */
function directoryOf(path: string): string {
  const cut = path.replace(/\/+$/, "").lastIndexOf("/");
  return cut < 0 ? "." : cut === 0 ? "/" : path.slice(0, cut);
}
