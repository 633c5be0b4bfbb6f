/**
 * `runCli()`: the whole `haul` command line, runtime-neutral. `cli.ts` gives
 * it the arguments and a {@link CliIo}; it returns the exit status.
 *
 * @module
 */

import type { HaulAllReport } from "../batch/haul_all.ts";
import { haulAll } from "../calls.ts";
import { headDeadline } from "../engine/stall.ts";
import { parseIntegrity } from "../protocol/integrity.ts";
import { nameFromUrl } from "../protocol/safe_name.ts";
import { haulStream } from "../stream.ts";
import { type CliOptions, parseArgs, retryPolicy, UsageError } from "./args.ts";
import { describeError, errorDetail, retryLine, retryReason } from "./error_wording.ts";
import { formatBytes, formatDuration, formatRate } from "./format.ts";
import { HELP, VERSION } from "./help.ts";
import { type CliIo, type CliSignal, EXIT } from "./io.ts";
import { batchItem, type Job, requestHeaders } from "./jobs.ts";
import { RunOutput } from "./output.ts";
import { checkExisting, makeDirectories, prepareJobs } from "./prepare.ts";

/** Runs the command line (`argv` without the runtime and program names); returns an {@link EXIT} status. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let options: CliOptions;
  try {
    const parsed = parseArgs(argv);
    if (parsed.kind !== "run") {
      io.stdout(parsed.kind === "help" ? HELP : `haul ${VERSION}\n`);
      return EXIT.ok;
    }
    options = parsed.options;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`haul: ${error.message.replace(/\p{Cc}/gu, "?")}\n`); // no terminal escape, one line
    return EXIT.usage;
  }
  // One listener for the whole run: the first signal aborts what runs (`-J`'s questions too).
  const controller = new AbortController();
  const stop: Stop = { by: null, signal: controller.signal, say: () => {} };
  const stopListening = io.onSignal((signal) => {
    stop.say(signal, stop.by !== null);
    if (stop.by !== null) return io.exit(EXIT[signal]);
    stop.by = signal;
    controller.abort(new DOMException(`Interrupted by ${signal}`, "AbortError"));
  });
  return await run(options, io, stop).finally(stopListening);
}

/** The run's signals: the first, what it aborts, and what the running phase says of each. */
type Stop = { by: CliSignal | null; signal: AbortSignal; say(by: CliSignal, again: boolean): void };

async function run(options: CliOptions, io: CliIo, stop: Stop): Promise<number> {
  const prepared = await prepareJobs(options, io, stop.signal);
  if (stop.by !== null) {
    io.stderr(`haul: ${stop.by}: interrupted before any download: nothing was written\n`);
    return EXIT[stop.by];
  }
  if (!prepared.ok) {
    // A list's or checksums file's control characters (terminal escapes) are shown as "?".
    for (const line of prepared.problems) io.stderr(`haul: ${line.replace(/\p{Cc}/gu, "?")}\n`);
    io.stderr("haul: Nothing was downloaded: fix the problems above and run again\n");
    return prepared.failed ? EXIT.fail : EXIT.usage;
  }
  if (options.output === "-") return await streamToStdout(prepared.jobs[0]!, options, io, stop);
  if (options.shard !== null && prepared.jobs.length === 0 && !options.quiet) {
    io.stderr(
      `haul: No line of ${options.inputFile} falls in shard ` +
        `${options.shard.index}/${options.shard.count}: nothing to do\n`,
    );
  }
  const dirProblem = await makeDirectories(prepared.jobs, io);
  if (dirProblem !== null) {
    io.stderr(`haul: ${dirProblem}\n`);
    return EXIT.fail;
  }
  return await download(prepared.jobs, prepared.existing, options, io, stop);
}

async function download(
  jobs: Job[],
  existing: ReadonlyMap<number, number>,
  options: CliOptions,
  io: CliIo,
  stop: Stop,
): Promise<number> {
  const output = new RunOutput(io, jobs, options);
  stop.say = (signal, again) => {
    output.muted = true;
    if (again) output.stop();
    output.error(
      again
        ? `haul: ${signal} again: quitting at once; run the same command to resume`
        : `haul: ${signal}: stopping and saving progress` +
          (signal === "SIGINT" ? " (press Ctrl-C again to quit at once)" : ""),
    );
  };
  const startedAt = performance.now();
  // The size checks of existing files read no body: only their wait for a head is limited.
  const fetch = headDeadline((request) => globalThis.fetch(request), options.stallTimeoutMs);
  const policy = retryPolicy(options);
  const reports: HaulAllReport[] = [];
  try {
    // Without a digest (haul checks it) or -N (the server's 304), the size is checked here.
    const toCheck = options.overwrite || options.timestamps === "revalidate"
      ? []
      : [...existing].filter(([index]) => jobs[index]!.integrity === null);
    const refused = await checkExisting(
      toCheck.map(([index, size]) => ({ index, size, item: batchItem(jobs[index]!) })),
      {
        ...policy,
        concurrency: options.jobs,
        fetch,
        headers: requestHeaders(options),
        signal: stop.signal,
        onRetry: (index, info) => output.retry(jobs[index]!.dest, info),
      },
    );
    reports.push(...refused);
    refused.forEach((report) => output.done(report));
    const refusedIndices = new Set(refused.map((report) => report.index));
    const batch = jobs.filter((_, index) => !refusedIndices.has(index));
    if (batch.length > 0 && !stop.signal.aborted) {
      const batchReports = await haulAll(batch.map(batchItem), {
        ...policy,
        concurrency: Math.min(options.jobs, batch.length),
        connections: options.connections,
        maxConnections: options.maxConnections,
        overwrite: options.overwrite,
        revalidate: options.timestamps === "revalidate",
        remoteTime: options.timestamps !== null,
        headers: requestHeaders(options),
        signal: stop.signal,
        stallTimeout: options.stallTimeoutMs,
        ...(options.limitRate === null ? {} : { maxBytesPerSecond: options.limitRate }),
        onProgress: (progress) => output.progress(progress),
        onItemDone: (report) => output.done(report),
        onRetry: (info) => output.retry(String(info.item.dest), info),
      });
      reports.push(...batchReports);
    }
  } finally {
    output.stop();
  }
  const failed = reports.filter((report) => report.status === "failed").length;
  if (stop.by !== null) {
    io.stderr(
      `haul: Interrupted: ${reports.length - failed} of ${jobs.length} ` +
        "finished; progress is saved: run the same command again to resume\n",
    );
    return EXIT[stop.by];
  }
  if (jobs.length > 1 && !options.quiet) {
    io.stderr(output.summary(reports, performance.now() - startedAt));
  }
  return failed > 0 ? EXIT.fail : EXIT.ok;
}

/**
 * `-o -`: the body to standard output through `haulStream()`, which continues it after a cut
 * without repeating a byte; messages, retries and progress go to standard error, as for a file.
 */
async function streamToStdout(job: Job, options: CliOptions, io: CliIo, stop: Stop) {
  const name = `${nameFromUrl(job.url)} (stdout)`;
  const output = new RunOutput(io, [{ ...job, relative: name }], options); // one bar, as a file's
  const startedAt = performance.now();
  let written = 0;
  let retries = 0;
  const item = batchItem(job); // credentials in the URL become a header (one URL: no mirrors)
  const stream = haulStream(item.url, {
    headers: requestHeaders(options, item),
    signal: stop.signal,
    ...retryPolicy(options),
    stallTimeout: options.stallTimeoutMs,
    ...(options.limitRate === null ? {} : { maxBytesPerSecond: options.limitRate }),
    ...(job.integrity === null ? {} : { integrity: job.integrity }),
    onRetry: (info) => {
      retries++;
      if (options.quiet) return;
      output.error(retryLine(name, info, retryReason(info.error).replace(/ saved$/, " written")));
    },
  });
  const reader = stream.getReader();
  // The progress of the one bar, but for its byte counts.
  const bar = { index: 0, item, phase: "running", attempt: 1, retryAt: null } as const;
  const counts = { pending: 0, active: 1, done: 0, skipped: 0, failed: 0 };
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      if (!(await io.writeOut(read.value))) return EXIT.SIGPIPE; // the reader left: quietly
      written += read.value.length;
      const items = [{ ...bar, validLength: written, totalLength: null, received: written }];
      output.progress({ items, ...counts, received: written });
    }
  } catch (error) {
    if (stop.by !== null) {
      output.error(
        `haul: ${stop.by}: stopped after ${formatBytes(written)} to standard output ` +
          "(a stream cannot resume: run the command again to start over)",
      );
      return EXIT[stop.by];
    }
    const reason = describeError(error, job, (error as { attempts?: number }).attempts ?? 1);
    output.error(`Failed ${name}: ${reason}`, options.verbose ? errorDetail(error) : "");
    return EXIT.fail;
  } finally {
    output.stop();
    await reader.cancel().catch(() => {});
  }
  if (!options.quiet) {
    const ms = performance.now() - startedAt;
    const notes = retries > 0 ? `; ${retries} retries` : "";
    output.error(
      `Streamed ${name}: ${formatBytes(written)} in ${formatDuration(ms)} ` +
        `(${formatRate(written / Math.max(ms / 1000, 1e-3))}${notes})` +
        (job.integrity === null ? "" : `, ${parseIntegrity(job.integrity).algorithm} verified`),
    );
  }
  return EXIT.ok;
}
