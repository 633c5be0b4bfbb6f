/**
 * What a benchmark section is given: the context, the report to print into,
 * the two servers, and the served data files it asks for by size.
 *
 * @module
 */

import { join } from "node:path";
import { type Context, log } from "./context.ts";
import type { Report } from "./report.ts";
import { type BenchServer, ensureDataFile } from "./server.ts";

/** A section's inputs. */
export interface Bench {
  readonly context: Context;
  readonly report: Report;
  /** nginx (the built-in server when nginx is missing). */
  readonly nginx: BenchServer;
  /** The built-in server, for `/cut/<N>/`. */
  readonly builtin: BenchServer;
  /** Progress on stderr. */
  log(text: string): void;
}

/** A served file of pseudo-random bytes. */
export interface DataFile {
  /** Its name under `www` (and path part of its URL). */
  readonly name: string;
  /** Its path on disk. */
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/** Makes (or reuses) the served file of `size` bytes. */
export async function dataFile(bench: Bench, size: number): Promise<DataFile> {
  const name = `data-${size}.bin`;
  const path = join(bench.context.www, name);
  const sha256 = await ensureDataFile(path, size);
  return { name, path, size, sha256 };
}

/** A section's body. */
export type Section = (bench: Bench) => Promise<void>;

/** Builds the `log` of a bench started at `since`. */
export function logger(since: number): (text: string) => void {
  return (text) => log(since, text);
}
