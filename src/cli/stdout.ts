/**
 * `haul URL -o -`: the body to standard output through `haulStream()`, which
 * continues it after a cut without repeating a byte. Messages, retries and
 * progress go to standard error, as for a file.
 *
 * @module
 */

import { haulStream } from "../stream.ts";
import { type CliOptions, retryPolicy } from "./args.ts";
import { describeError, errorDetail, retryLine, retryReason } from "./error_wording.ts";
import { formatBytes, formatDuration, formatRate } from "./format.ts";
import { type CliIo, type CliSignal, EXIT } from "./io.ts";
import { batchItem, type Job, requestHeaders } from "./jobs.ts";
import { ProgressView } from "./progress_view.ts";
import { nameFromUrl } from "../protocol/safe_name.ts";

/** Streams one download to stdout: an {@link EXIT} status. */
export async function streamToStdout(job: Job, options: CliOptions, io: CliIo): Promise<number> {
  const name = `${nameFromUrl(job.url)} (stdout)`;
  const controller = new AbortController();
  let interrupted: CliSignal | null = null;
  const stopListening = io.onSignal((signal) => {
    if (interrupted !== null) return io.exit(EXIT.interrupted);
    interrupted = signal;
    controller.abort(new DOMException(`Interrupted by ${signal}`, "AbortError"));
  });
  const view = io.isTTY && !options.quiet
    ? new ProgressView({
      write: (text) => io.stderr(text),
      columns: () => io.columns(),
      label: () => name,
      showTotal: false,
      maxAttempts: options.retries + 1,
    })
    : null;
  const say = (line: string): void => {
    view?.clear();
    io.stderr(`${line}\n`);
  };
  const startedAt = performance.now();
  let written = 0;
  let retries = 0;
  const item = batchItem(job); // credentials in the URL become a header (on the URL's `Request`)
  const first = item.urls?.[0];
  const stream = haulStream(first instanceof Request ? first : item.url, {
    headers: requestHeaders(options, item),
    signal: controller.signal,
    ...retryPolicy(options),
    stallTimeout: options.stallTimeoutMs,
    ...(options.limitRate === null ? {} : { maxBytesPerSecond: options.limitRate }),
    ...(job.integrity === null ? {} : { integrity: job.integrity }),
    onRetry: (info) => {
      retries++;
      if (options.quiet) return;
      say(retryLine(name, info, retryReason(info.error).replace(/ saved$/, " written")));
    },
  });
  const reader = stream.getReader();
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      if (!(await io.writeOut(read.value))) return EXIT.brokenPipe; // the reader left: quietly
      written += read.value.length;
      const progress = { index: 0, item, phase: "running", validLength: written } as const;
      view?.update({
        items: [{ ...progress, totalLength: null, received: written, attempt: 1, retryAt: null }],
        pending: 0,
        active: 1,
        done: 0,
        skipped: 0,
        failed: 0,
        received: written,
      });
    }
  } catch (error) {
    view?.stop();
    if (interrupted !== null) {
      io.stderr(
        `haul: ${interrupted}: stopped after ${formatBytes(written)} to standard output ` +
          "(a stream cannot resume: run the command again to start over)\n",
      );
      return EXIT.interrupted;
    }
    const attempts = (error as { attempts?: number }).attempts ?? 1;
    const reason = describeError(error, job, attempts);
    io.stderr(`Failed ${name}: ${reason}\n${options.verbose ? errorDetail(error) : ""}`);
    return EXIT.failed;
  } finally {
    stopListening();
    view?.stop();
    await reader.cancel().catch(() => {});
  }
  if (!options.quiet) {
    const ms = performance.now() - startedAt;
    const notes = retries > 0 ? `; ${retries} retries` : "";
    say(
      `Streamed ${name}: ${formatBytes(written)} in ${formatDuration(ms)} ` +
        `(${formatRate(written / Math.max(ms / 1000, 1e-3))}${notes})` +
        (job.integrity === null ? "" : ", sha256 verified"),
    );
  }
  return EXIT.ok;
}
