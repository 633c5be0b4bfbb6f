/**
 * The version the command line reports (kept equal to `deno.json`'s and `package.json`'s by a test).
 *
 * @module
 */

/** The version of haul. */
export const VERSION = "0.1.0";
