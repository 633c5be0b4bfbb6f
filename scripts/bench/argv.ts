/**
 * The command-line reading the benchmark's child scripts share.
 *
 * @module
 */

import process from "node:process";

/**
 * The value after `name` on the command line (`--url URL`).
 *
 * @param name the flag.
 * @returns its value.
 * @throws {Error} when the flag or its value is missing.
 */
export function option(name: string): string {
  const index = process.argv.indexOf(name);
  const value = index >= 0 ? process.argv[index + 1] : undefined;
  if (value === undefined) throw new Error(`Pass ${name}`);
  return value;
}
