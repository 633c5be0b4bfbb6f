/**
 * What the command line does before its first download: reads the list and the checksums file,
 * asks `-J`'s names, validates every download, checks what is at each destination, makes folders.
 *
 * @module
 */

import { eachLimited, type HaulAllFailure, type HaulAllItem } from "../batch/haul_all.ts";
import { type RetryInfo, retrying, type RetryOptions } from "../batch/retry.ts";
import { headDeadline, untilAborted } from "../engine/stall.ts";
import { foreignBody, parseContentRange, parseUnsatisfiedRange } from "../protocol/headers.ts";
import { parseLength, statusError } from "../protocol/plan.ts";
import { contentDispositionName } from "../protocol/safe_name.ts";
import { dirname } from "../store/destination.ts";
import { redactUrl } from "../redact.ts";
import type { FetchLike } from "../types.ts";
import { type CliOptions, retryPolicy } from "./args.ts";
import { formatBytes } from "./format.ts";
import type { CliIo } from "./io.ts";
import {
  batchItem,
  type ChecksumTable,
  checkUrl,
  inShard,
  type Job,
  type JobSource,
  parseChecksums,
  parseList,
  planJobs,
  requestHeaders,
} from "./jobs.ts";
import { describeError, retryLine, retryReason } from "./error_wording.ts";

/** The most problems listed before "… and N more". */
const MAX_PROBLEMS = 20;

/** The downloads and each existing file's size by job index, or the problems (status 2; 1 when a `-J` request `failed`). */
type Prepared =
  | { ok: true; jobs: Job[]; existing: Map<number, number> }
  | { ok: false; problems: string[]; failed?: boolean };

/** Reads and validates everything, and looks at each destination; creates nothing, and makes no request but `-J`'s (`signal` ends them). */
export async function prepareJobs(
  options: CliOptions,
  io: CliIo,
  signal: AbortSignal,
): Promise<Prepared> {
  let sources: JobSource[];
  if (options.inputFile !== null) {
    const listName = options.inputFile === "-" ? "stdin" : options.inputFile;
    const text = await readText(io, options.inputFile, "list", signal);
    if (typeof text !== "string") return text;
    sources = parseList(text, listName);
    if (sources.length === 0) {
      return refuse([`${listName}: The list has no URLs: write one URL per line`]);
    }
  } else {
    const where = (i: number) => options.urls.length === 1 ? "argument" : `argument ${i + 1}`;
    sources = options.urls.map((url, i) => ({ where: where(i), url, path: null }));
  }
  if (options.remoteHeaderName) {
    const named = await withServerNames(sources, options, io, signal);
    if (typeof named === "string") return { ok: false, problems: [named], failed: true };
    sources = named;
  }
  let checksums: { table: ChecksumTable; name: string } | null = null;
  if (options.checksums !== null) {
    const name = options.checksums;
    const text = await readText(io, name, "checksums file", signal);
    if (typeof text !== "string") return text;
    const table = parseChecksums(text);
    if (table.problems.length > 0) {
      return refuse(table.problems.map((problem) => `${name}:${problem.line}: ${problem.message}`));
    }
    checksums = { table, name };
  }
  const { jobs, problems } = planJobs(sources, { ...options, checksums });
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

/** The text of a file (`-`: standard input, which a signal stops waiting for), or the refusal. */
async function readText(io: CliIo, path: string, what: string, signal: AbortSignal) {
  try {
    return await untilAborted(io.readTextFile(path), signal);
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

/** `-J`: the sources the URL would name, named by their server instead (docs/cli.md), or a failure's message. */
async function withServerNames(
  sources: readonly JobSource[],
  options: CliOptions,
  io: CliIo,
  signal: AbortSignal,
): Promise<JobSource[] | string> {
  const fetch = headDeadline((request) => globalThis.fetch(request), options.stallTimeoutMs);
  const nameOf = (url: URL): Promise<string | null> => {
    const item = batchItem({ url, dest: "", integrity: null });
    const headers = requestHeaders(options, item);
    const target = new URL(item.url);
    const onRetry = (info: RetryInfo): void => {
      const line = retryLine(redactUrl(target), info, retryReason(info.error));
      if (!options.quiet) io.stderr(`${line}\n`);
    };
    const ask = async (): Promise<string | null> => {
      const response = await probe(target, "GET", { fetch, headers, signal });
      if (!response.ok && response.status !== 416) throw statusError(target, response);
      return contentDispositionName(response.headers.get("content-disposition"));
    };
    return retrying(ask, retryPolicy(options), { onRetry, signal });
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

/** What is at each destination: the problems (not a regular file), and each file's size by job index. */
async function findDestinations(
  jobs: readonly Job[],
  io: CliIo,
  fromOutput: boolean,
): Promise<{ problems: string[]; existing: Map<number, number> }> {
  const problems: string[] = [];
  const existing = new Map<number, number>();
  for (const [index, job] of jobs.entries()) {
    // A failure (e.g. no permission to look) is left to haul(), which reports it with its own advice.
    const info = await io.statPath(job.dest).catch(() => null);
    if (info?.type === "file") existing.set(index, info.size);
    if (info === null || info.type === "file") continue;
    const where = job.where === "argument" ? "" : `${job.where}: `;
    const named = fromOutput ? `-o ${job.dest}` : `Destination ${job.dest}`;
    const why = info.type !== "directory"
      ? `is ${info.what}, not a regular file: haul saves to files only (it writes ` +
        "<file>.part beside it, then renames it into place); give a file path"
      : fromOutput
      ? `is a directory: give a file name (-o ${job.dest}/NAME), or save into it with --dir ${job.dest}`
      : "is a directory: give the download another path";
    problems.push(`${where}${named} ${why}`);
  }
  return { problems, existing };
}

/** The file at the destination is not the server's: its size differs; nothing was changed (final). */
export class ExistingFileError extends Error {
  constructor(path: string, size: number, serverSize: number) {
    const alike = formatBytes(size) === formatBytes(serverSize); // then in bytes, which differ
    const [mine, theirs] = [size, serverSize].map((n) => alike ? `${n} bytes` : formatBytes(n));
    super(
      `Existing ${path} is ${mine} but the server's file is ${theirs}: it is another file, or ` +
        "was cut short; use --overwrite to download it again",
    );
    this.name = "ExistingFileError";
  }
}

/** The server's size of the file, or `null` when it does not say (docs/cli.md, "An existing destination"). */
async function serverSize(url: URL, asking: Asking): Promise<number | null> {
  const head = await probe(url, "HEAD", asking);
  const size = head.status === 200 ? identityLength(head.headers) : null;
  if (size !== null) return size;
  const got = await probe(url, "GET", asking);
  const range = got.headers.get("content-range");
  if (got.status === 200) return identityLength(got.headers);
  if (got.status === 416) return parseUnsatisfiedRange(range);
  if (got.status === 206) return parseContentRange(range)?.complete ?? null;
  if (got.ok) return null;
  throw statusError(url, got);
}

/** A 200's `Content-Length`, when it is the file's size (no `Content-Encoding`: no `foreignBody()`). */
function identityLength(headers: Headers): number | null {
  const length = parseLength(headers.get("content-length"));
  return typeof length === "number" && foreignBody(headers) === null ? length : null;
}

/** How a probe asks: with which `fetch`, headers and signal. */
type Asking = { fetch: FetchLike; headers: Headers; signal: AbortSignal };

/** A request for the headers only (`GET`: of the first byte), identity-encoded, its body cancelled unread. */
async function probe(url: URL, method: "HEAD" | "GET", asking: Asking): Promise<Response> {
  const { fetch: fetchFn, headers, signal } = asking;
  const sent = new Headers(headers);
  sent.set("accept-encoding", "identity");
  if (method === "GET") sent.set("range", "bytes=0-0");
  const init = { method, headers: sent, redirect: "follow", signal } as const;
  const response = await fetchFn(new Request(url, init));
  await response.body?.cancel().catch(() => {});
  return response;
}

/** How the checks are made: the run's retry policy, `fetch` and headers (each item's over them). */
export interface CheckExistingOptions extends Required<Omit<RetryOptions, "onRetry">> {
  readonly concurrency: number;
  readonly fetch: FetchLike;
  readonly headers: Headers;
  readonly signal: AbortSignal;
  readonly onRetry: (index: number, info: RetryInfo) => void;
}

/** Checks each existing file against the server's size: a failure for each not shown to be the download (no size: a match). */
export async function checkExisting(
  candidates: readonly { index: number; size: number; item: HaulAllItem }[],
  options: CheckExistingOptions,
): Promise<HaulAllFailure[]> {
  const failures: HaulAllFailure[] = [];
  await eachLimited(candidates.length, options.concurrency, async (next) => {
    const startedAt = performance.now();
    const { index, size, item } = candidates[next]!;
    const headers = new Headers(options.headers);
    const first = item.urls?.[0]; // the URL's own headers (its credentials), when it has mirrors
    if (first instanceof Request) first.headers.forEach((value, name) => headers.set(name, value));
    new Headers(item.headers).forEach((value, name) => headers.set(name, value));
    const url = new URL(item.url);
    let attempts = 0;
    const attempt = (): Promise<number | null> => {
      attempts++;
      return serverSize(url, { fetch: options.fetch, headers, signal: options.signal });
    };
    const onRetry = (info: RetryInfo): void => options.onRetry(index, info);
    const fail = (error: unknown): void => {
      const elapsedMs = performance.now() - startedAt;
      failures.push({ status: "failed", index, item, error, attempts, received: 0, elapsedMs });
    };
    try {
      const remote = await retrying(attempt, options, { signal: options.signal, onRetry });
      if (remote !== null && remote !== size) {
        fail(new ExistingFileError(String(item.dest), size, remote));
      }
    } catch (error) {
      fail(error); // the signal's reason when the run was stopped
    }
  });
  return failures.sort((a, b) => a.index - b.index);
}
