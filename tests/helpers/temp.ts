/**
 * Temporary directories and small file helpers for tests.
 *
 * @module
 */

import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Runs `fn` with a fresh temporary directory, removed afterwards.
 *
 * @param fn the test body.
 * @returns what `fn` returns.
 */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "haul-test-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * {@link withTempDir}, then `server` closed, whether `fn` passed or threw.
 *
 * @param server a test server (anything with `close()`).
 * @param fn the test body.
 */
export async function withServerDir(
  server: { close(): Promise<unknown> },
  fn: (dir: string) => Promise<unknown>,
): Promise<void> {
  try {
    await withTempDir(fn);
  } finally {
    await server.close();
  }
}

/**
 * Random bytes of a given size.
 *
 * @param size length in bytes.
 * @returns the bytes.
 */
export function randomBody(size: number): Uint8Array {
  return new Uint8Array(randomBytes(size));
}

/**
 * Hex SHA-256 by the runtime's native hasher (the reference in tests).
 *
 * @param data bytes.
 * @returns hex digest.
 */
export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Whether something exists at `path`.
 *
 * @param path a path.
 * @returns true if it exists.
 */
export function exists(path: string): boolean {
  return existsSync(path);
}

/**
 * A file's bytes.
 *
 * @param path a path.
 * @returns its content.
 */
export async function bytesOf(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(path));
}

/** Whether `a` holds exactly the bytes of `b` (`undefined`: no). */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && a.every((byte, i) => byte === b[i]);
}

export { join };
