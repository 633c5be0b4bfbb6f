/**
 * The version the command line reports (kept equal to `jsr.json` by a test).
 *
 * @module
 */

/** The version of haul. */
export const VERSION = "0.1.0";
