/**
 * What is already at each destination, before any request: a directory, a
 * device or a fifo is refused; a regular file is noted for the size check.
 *
 * @module
 */

import type { CliIo, PathInfo } from "./io.ts";
import type { Job } from "./jobs.ts";

/** What the check found. */
interface DestinationsFound {
  /** One message per refused destination (exit status 2). */
  readonly problems: string[];
  /** The size of each destination that is already a regular file, by job index. */
  readonly existing: Map<number, number>;
}

/** Why a destination cannot be used, from what is at its path, or `null`. */
function destinationProblem(
  job: Job,
  info: PathInfo | null,
  fromOutput: boolean,
): string | null {
  if (info === null || info.type === "file") return null;
  const where = job.where === "argument" ? "" : `${job.where}: `;
  const named = fromOutput ? `-o ${job.dest}` : `Destination ${job.dest}`;
  if (info.type === "directory") {
    return fromOutput
      ? `${where}${named} is a directory: give a file name (-o ${job.dest}/NAME), ` +
        `or save into it with --dir ${job.dest}`
      : `${where}${named} is a directory: give the download another path`;
  }
  return `${where}${named} is ${info.what}, not a regular file: haul saves to files only ` +
    "(it writes <file>.part beside it, then renames it into place); give a file path";
}

/** Looks at every destination (`fromOutput`: the one destination was given with `-o`). */
export async function findDestinations(
  jobs: readonly Job[],
  io: CliIo,
  fromOutput: boolean,
): Promise<DestinationsFound> {
  const problems: string[] = [];
  const existing = new Map<number, number>();
  for (const [index, job] of jobs.entries()) {
    let info: PathInfo | null;
    try {
      info = await io.statPath(job.dest);
    } catch {
      continue; // e.g. no permission to look: haul() reports it with its own advice
    }
    const problem = destinationProblem(job, info, fromOutput);
    if (problem !== null) problems.push(problem);
    else if (info !== null) existing.set(index, info.size);
  }
  return { problems, existing };
}
