/**
 * `runCli()`: the whole `haul` command line, runtime-neutral. `cli.ts` gives
 * it the arguments and a {@link CliIo}; it returns the exit status.
 *
 * @module
 */

import type { HaulAllReport } from "../batch/haul_all.ts";
import { haulAll } from "../calls.ts";
import { headDeadline } from "../engine/stall.ts";
import { type CliOptions, parseArgs, retryPolicy, UsageError } from "./args.ts";
import { checkExisting } from "./existing.ts";
import { HELP, VERSION } from "./help.ts";
import { type CliIo, type CliSignal, EXIT } from "./io.ts";
import { batchItem, type Job, requestHeaders } from "./jobs.ts";
import { RunOutput } from "./output.ts";
import { makeDirectories, prepareJobs } from "./prepare.ts";
import { streamToStdout } from "./stdout.ts";

/** Runs the command line (`argv` without the runtime and program names); returns an {@link EXIT} status. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let options: CliOptions;
  try {
    const parsed = parseArgs(argv);
    if (parsed.kind === "help") {
      io.stdout(HELP);
      return EXIT.ok;
    }
    if (parsed.kind === "version") {
      io.stdout(`haul ${VERSION}\n`);
      return EXIT.ok;
    }
    options = parsed.options;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`haul: ${error.message}\n`);
    return EXIT.usage;
  }
  const prepared = await prepareJobs(options, io);
  if (!prepared.ok) {
    for (const problem of prepared.problems) io.stderr(`haul: ${problem}\n`);
    io.stderr("haul: Nothing was downloaded: fix the problems above and run again\n");
    return prepared.failed ? EXIT.failed : EXIT.usage;
  }
  if (options.output === "-") return await streamToStdout(prepared.jobs[0]!, options, io);
  if (options.shard !== null && prepared.jobs.length === 0 && !options.quiet) {
    io.stderr(
      `haul: No line of ${options.inputFile} falls in shard ` +
        `${options.shard.index}/${options.shard.count}: nothing to do\n`,
    );
  }
  const dirProblem = await makeDirectories(prepared.jobs, io);
  if (dirProblem !== null) {
    io.stderr(`haul: ${dirProblem}\n`);
    return EXIT.failed;
  }
  return await download(prepared.jobs, prepared.existing, options, io);
}

async function download(
  jobs: Job[],
  existing: ReadonlyMap<number, number>,
  options: CliOptions,
  io: CliIo,
): Promise<number> {
  const output = new RunOutput(io, jobs, options);
  const controller = new AbortController();
  let interrupted: CliSignal | null = null;
  const stopListening = io.onSignal((signal) => {
    if (interrupted !== null) {
      output.stop();
      io.stderr(`haul: ${signal} again: quitting at once; run the same command to resume\n`);
      io.exit(EXIT.interrupted);
      return;
    }
    interrupted = signal;
    output.muted = true;
    output.error(
      `haul: ${signal}: stopping and saving progress (press Ctrl-C again to quit at once)`,
    );
    controller.abort(new DOMException(`Interrupted by ${signal}`, "AbortError"));
  });
  const startedAt = performance.now();
  // The size checks of existing files read no body: only their wait for a head is limited.
  const fetch = headDeadline((request) => globalThis.fetch(request), options.stallTimeoutMs);
  const policy = retryPolicy(options);
  const reports: HaulAllReport[] = [];
  try {
    // An existing file is complete only when nothing contradicts it: a digest
    // (checked by haul itself) or, without one, the server's size; with -N, the server's 304.
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
        signal: controller.signal,
        onRetry: (index, info) => output.jobRetry(index, info),
      },
    );
    for (const report of refused) {
      reports.push(report);
      output.jobDone(report);
    }
    const refusedIndices = new Set(refused.map((report) => report.index));
    const batch = jobs.map((_, index) => index).filter((index) => !refusedIndices.has(index));
    output.setBatch(batch);
    if (batch.length > 0 && !controller.signal.aborted) {
      const batchReports = await haulAll(
        batch.map((index) => batchItem(jobs[index]!)),
        {
          ...policy,
          concurrency: Math.min(options.jobs, batch.length),
          connections: options.connections,
          maxConnections: options.maxConnections,
          overwrite: options.overwrite,
          revalidate: options.timestamps === "revalidate",
          remoteTime: options.timestamps !== null,
          headers: requestHeaders(options),
          signal: controller.signal,
          stallTimeout: options.stallTimeoutMs,
          ...(options.limitRate === null ? {} : { maxBytesPerSecond: options.limitRate }),
          onProgress: (progress) => output.progress(progress),
          onItemDone: (report) => output.itemDone(report),
          onRetry: (info) => output.retry(info),
        },
      );
      reports.push(...batchReports);
    }
  } finally {
    stopListening();
    output.stop();
  }
  const count = (status: HaulAllReport["status"]): number =>
    reports.filter((report) => report.status === status).length;
  if (interrupted !== null) {
    io.stderr(
      `haul: Interrupted: ${count("done") + count("skipped")} of ${jobs.length} ` +
        "finished; progress is saved: run the same command again to resume\n",
    );
    return EXIT.interrupted;
  }
  if (jobs.length > 1 && !options.quiet) {
    io.stderr(output.summary(reports, performance.now() - startedAt));
  }
  return count("failed") > 0 ? EXIT.failed : EXIT.ok;
}
