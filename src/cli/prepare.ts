/**
 * Everything the command line checks before its first download: reading the
 * list and the checksums file, `-J`'s names, validating every download, what is
 * already at each destination, creating the directories.
 *
 * @module
 */

import { eachLimited } from "../batch/pool.ts";
import { retrying } from "../batch/retry.ts";
import { headDeadline } from "../engine/stall.ts";
import { contentDispositionName } from "../protocol/safe_name.ts";
import { dirname } from "../store/destination.ts";
import { type CliOptions, retryPolicy } from "./args.ts";
import { type ChecksumTable, parseChecksums } from "./checksums.ts";
import { probe, statusError } from "./existing.ts";
import type { CliIo, PathInfo } from "./io.ts";
import {
  batchItem,
  checkUrl,
  type Job,
  type JobSource,
  parseList,
  planJobs,
  requestHeaders,
} from "./jobs.ts";
import { inShard } from "./shard.ts";
import { describeError } from "./error_wording.ts";

/** The most problems listed before "… and N more". */
const MAX_PROBLEMS = 20;

/**
 * The downloads and the size of each destination that is already a file (by job index), or
 * the problems that refuse the command (status 2; 1 when `failed`: a `-J` request failed).
 */
type Prepared =
  | { ok: true; jobs: Job[]; existing: Map<number, number> }
  | { ok: false; problems: string[]; failed?: boolean };

/** Reads and validates everything, and looks at each destination; creates nothing, and makes no request but `-J`'s. */
export async function prepareJobs(options: CliOptions, io: CliIo): Promise<Prepared> {
  let sources: JobSource[];
  if (options.inputFile !== null) {
    const listName = options.inputFile;
    const text = await readText(io, listName, "list");
    if (typeof text !== "string") return text;
    sources = parseList(text).map(({ line, ...entry }) => ({
      ...entry,
      where: `${listName}:${line}`,
    }));
    if (sources.length === 0) {
      return refuse([`${listName}: The list has no URLs: write one URL per line`]);
    }
  } else {
    sources = options.urls.map((url, index) => ({
      where: options.urls.length === 1 ? "argument" : `argument ${index + 1}`,
      url,
      path: null,
    }));
  }
  if (options.remoteHeaderName) {
    const named = await withServerNames(sources, options);
    if (typeof named === "string") return { ok: false, problems: [named], failed: true };
    sources = named;
  }
  let checksums: { table: ChecksumTable; name: string } | null = null;
  if (options.checksums !== null) {
    const name = options.checksums;
    const text = await readText(io, name, "checksums file");
    if (typeof text !== "string") return text;
    const table = parseChecksums(text);
    if (table.problems.length > 0) {
      return refuse(table.problems.map((problem) => `${name}:${problem.line}: ${problem.message}`));
    }
    checksums = { table, name };
  }
  const { jobs, problems } = planJobs(sources, {
    dir: options.dir,
    output: options.output,
    integrity: options.integrity,
    checksums,
  });
  if (problems.length > 0) return refuse(problems);
  // Only once the whole list is valid, so every machine refuses the same list.
  const shard = options.shard;
  const mine = shard === null ? jobs : jobs.filter((job) => inShard(job.relative, shard));
  if (options.output === "-") return { ok: true, jobs: mine, existing: new Map() };
  const found = await findDestinations(mine, io, options.output !== null);
  if (found.problems.length > 0) return { ok: false, problems: found.problems };
  return { ok: true, jobs: mine, existing: found.existing };
}

/** Creates `--dir` and every destination's parent: `null`, or a message naming the one that failed. */
export async function makeDirectories(jobs: readonly Job[], io: CliIo): Promise<string | null> {
  const dirs = [...new Set(jobs.map((job) => dirname(job.dest)))].filter((dir) => dir !== ".");
  for (const dir of dirs.sort()) {
    try {
      await io.makeDir(dir);
    } catch (error) {
      return `Cannot create directory ${dir}: ${(error as Error).message}: ` +
        "check the path and permissions";
    }
  }
  return null;
}

async function readText(io: CliIo, path: string, what: string): Promise<string | Prepared> {
  try {
    return await io.readTextFile(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const reason = code === "ENOENT" ? "no such file" : (error as Error).message;
    return refuse([`Cannot read ${what} ${path}: ${reason}: check the path`]);
  }
}

function refuse(problems: string[]): Prepared {
  if (problems.length <= MAX_PROBLEMS) return { ok: false, problems };
  const more = `… and ${problems.length - MAX_PROBLEMS} more problems`;
  return { ok: false, problems: [...problems.slice(0, MAX_PROBLEMS), more] };
}

/**
 * `-J`: names after their server, a few at a time, the sources whose name would come from
 * the URL (no path, or one ending in `/`); a name not given stays the URL's, an invalid URL
 * is left for `planJobs()`. On a failure, its message is returned and no further request starts.
 *
 * haul needs the destination before the download starts (its lock, `.part` and checkpoint),
 * so each name is asked with one `GET` of the first byte (not a `HEAD`: a presigned link is
 * signed for `GET` only), with the run's headers, credentials and retries; its body is
 * cancelled, its `Content-Disposition` gives a safe name.
 */
async function withServerNames(
  sources: readonly JobSource[],
  options: CliOptions,
): Promise<JobSource[] | string> {
  const fetch = headDeadline((request) => globalThis.fetch(request), options.stallTimeoutMs);
  const nameOf = (url: URL): Promise<string | null> => {
    const item = batchItem({ url, dest: "", integrity: null });
    const headers = requestHeaders(options, item);
    const target = new URL(item.url);
    return retrying(async () => {
      const { ok, status, headers: got } = await probe(target, fetch, headers, "GET");
      if (!ok && status !== 416) throw statusError(target, status, got);
      return contentDispositionName(got.get("content-disposition"));
    }, retryPolicy(options));
  };
  const named = [...sources];
  let failure: string | null = null;
  await eachLimited(sources.length, options.jobs, async (index) => {
    const source = sources[index]!;
    const url = checkUrl(source.url);
    const fromUrl = source.path === null || source.path.endsWith("/");
    if (failure !== null || typeof url === "string" || !fromUrl) return;
    const name = await nameOf(url).catch((error: unknown) => {
      const attempts = (error as { attempts?: number }).attempts ?? 1;
      failure ??= `${source.where}: ${describeError(error, { url, dest: "" }, attempts)}`;
      return null;
    });
    if (name !== null) named[index] = { ...source, path: (source.path ?? "") + name };
  });
  return failure ?? named;
}

/**
 * What is already at each destination, before any request (`fromOutput`: the one destination
 * was given with `-o`): a directory, a device or a fifo is refused (one message each, exit
 * status 2); the size of each regular file, by job index, is kept for the size check.
 */
async function findDestinations(
  jobs: readonly Job[],
  io: CliIo,
  fromOutput: boolean,
): Promise<{ problems: string[]; existing: Map<number, number> }> {
  const problems: string[] = [];
  const existing = new Map<number, number>();
  for (const [index, job] of jobs.entries()) {
    let info: PathInfo | null;
    try {
      info = await io.statPath(job.dest);
    } catch {
      continue; // e.g. no permission to look: haul() reports it with its own advice
    }
    if (info?.type === "file") existing.set(index, info.size);
    if (info === null || info.type === "file") continue;
    const where = job.where === "argument" ? "" : `${job.where}: `;
    const named = fromOutput ? `-o ${job.dest}` : `Destination ${job.dest}`;
    if (info.type === "directory") {
      problems.push(
        fromOutput
          ? `${where}${named} is a directory: give a file name (-o ${job.dest}/NAME), ` +
            `or save into it with --dir ${job.dest}`
          : `${where}${named} is a directory: give the download another path`,
      );
    } else {
      problems.push(
        `${where}${named} is ${info.what}, not a regular file: haul saves to files only ` +
          "(it writes <file>.part beside it, then renames it into place); give a file path",
      );
    }
  }
  return { problems, existing };
}
