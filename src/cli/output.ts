/**
 * Where the command line's output goes while downloads run: bars on a terminal, one line (or
 * JSON object) per finished file otherwise, errors and retries on standard error, the summary.
 *
 * @module
 */

import type { HaulAllProgress, HaulAllReport, HaulAllSuccess } from "../batch/haul_all.ts";
import type { RetryInfo } from "../batch/retry.ts";
import { isRetryable } from "../errors.ts";
import { redactUrl } from "../redact.ts";
import type { CliOptions } from "./args.ts";
import type { CliIo } from "./io.ts";
import type { Job } from "./jobs.ts";
import { ProgressView } from "./progress_view.ts";
import { describeError, errorDetail, errorName, retryLine, retryReason } from "./error_wording.ts";
import { formatBytes, formatDuration, formatRate } from "./format.ts";

/** The output of one run. */
export class RunOutput {
  readonly #io: CliIo;
  readonly #options: Pick<CliOptions, "quiet" | "verbose" | "json">;
  readonly #view: ProgressView | null;
  /** Each job by its destination (unique in a run), which every report's item names. */
  readonly #jobs: ReadonlyMap<string, Job>;
  /** One per failed download (`dest (where): reason`), for the summary. */
  readonly #failures: { line: string; retryable: boolean }[] = [];
  /** The reason of each destination's last retry, shown in its bar while it waits. */
  readonly #reasons = new Map<string, string>();
  /** When set, failures are not printed (the run was interrupted). */
  muted = false;

  constructor(io: CliIo, jobs: readonly Job[], options: CliOptions) {
    this.#io = io;
    this.#options = options;
    this.#jobs = new Map(jobs.map((job) => [job.dest, job]));
    this.#view = io.isTTY && !options.quiet
      ? new ProgressView({
        write: (text) => io.stderr(text),
        columns: () => io.columns(),
        label: (_, item) => this.#jobs.get(String(item.dest))?.relative ?? "",
        reason: (_, item) => this.#reasons.get(String(item.dest)) ?? null,
        showTotal: jobs.length > 1,
        maxAttempts: options.retries + 1,
      })
      : null;
  }

  /** Redraws the bars on a terminal. */
  progress(progress: HaulAllProgress): void {
    this.#view?.update(progress);
  }

  /** A finished download: prints its line or JSON object. */
  done(report: HaulAllReport): void {
    const job = this.#jobs.get(String(report.item.dest))!;
    this.#reasons.delete(job.dest);
    if (report.status === "failed") {
      if (this.muted) return;
      const where = job.where === "argument" ? "" : ` (${job.where})`;
      const line = `${job.dest}${where}: ${describeError(report.error, job, report.attempts)}`;
      this.#failures.push({ line, retryable: isRetryable(report.error) });
      this.error(`Failed ${line}`, this.#options.verbose ? errorDetail(report.error) : "");
    }
    if (this.#options.json) this.#out(JSON.stringify(fileJson(report, job)));
    else if (report.status !== "failed" && !this.#options.quiet) this.#out(fileLine(report, job));
  }

  /** A retry of `dest` about to wait: its reason goes in the bar on a terminal, else (and with `-v`) in a line. */
  retry(dest: string, info: RetryInfo): void {
    const reason = retryReason(info.error);
    this.#reasons.set(dest, reason);
    if (this.muted || this.#options.quiet) return;
    if (this.#view !== null && !this.#options.verbose) return;
    this.error(retryLine(dest, info, reason));
  }

  /** Prints a line (and `detail`'s lines, each ending with a newline) on standard error, above the bars. */
  error(line: string, detail = ""): void {
    this.#view?.clear();
    this.#io.stderr(`${line}\n${detail}`);
  }

  stop(): void {
    this.#view?.stop();
  }

  /** The summary: counts, bytes, time, mean rate, a line per failure, "run again" only if it may help. */
  summary(reports: readonly HaulAllReport[], elapsedMs: number): string {
    const count = (status: string) => reports.filter((report) => report.status === status).length;
    const received = reports.reduce((sum, report) => sum + report.received, 0);
    const rate = elapsedMs > 0 ? received / (elapsedMs / 1000) : 0;
    let text = `Done ${count("done")}, skipped ${count("skipped")}, failed ${count("failed")}: ` +
      `${formatBytes(received)} downloaded in ${formatDuration(elapsedMs)} (${formatRate(rate)})\n`;
    if (this.#failures.length > 0) {
      text += "Failed:\n" + this.#failures.map((failure) => `  ${failure.line}\n`).join("");
      const later = this.#failures.filter((failure) => failure.retryable).length;
      if (later === this.#failures.length) {
        text += "Run the same command again to retry them; finished files are skipped.\n";
      } else if (later > 0) {
        text += `Run the same command again to retry the ${later} that may still succeed ` +
          "(the others need the fix their line gives); finished files are skipped.\n";
      }
    }
    return text;
  }

  #out(line: string): void {
    this.#view?.clear();
    this.#io.stdout(`${line}\n`);
  }
}

function fileLine(report: HaulAllSuccess, job: Job): string {
  const { result } = report;
  // No digest for a file that was already there and had none to match: it was not read. With a
  // SHA-512 (or SHA-384) to match, that digest is shown: it is the one checked.
  const shown = result.sha512 ? "sha512" : result.sha384 ? "sha384" : "sha256";
  const digest = result.sha256 === null
    ? ""
    : `, ${shown} ${result[shown]}${job.integrity !== null ? " (verified)" : ""}`;
  if (report.status === "skipped") {
    const why = result.status === 304 ? "unchanged on the server" : "already complete";
    return `Skipped ${job.dest}: ${why}, ${formatBytes(result.size)}${digest}`;
  }
  const rate = report.elapsedMs > 0 ? report.received / (report.elapsedMs / 1000) : 0;
  const notes: string[] = [];
  if (result.resumedFrom > 0) notes.push(`resumed at ${formatBytes(result.resumedFrom)}`);
  if (report.attempts > 1) notes.push(`${report.attempts} attempts`);
  return `Saved ${job.dest}: ${formatBytes(result.size)} in ${formatDuration(report.elapsedMs)} ` +
    `(${formatRate(rate)}${notes.length > 0 ? `; ${notes.join(", ")}` : ""})${digest}`;
}

/** The object printed per finished file with `--json` (its fields: docs/cli.md, "JSON"). */
function fileJson(report: HaulAllReport, job: Job): Record<string, unknown> {
  const base = {
    status: report.status,
    url: redactUrl(job.url),
    dest: job.dest,
    source: job.where,
    attempts: report.attempts,
    received: report.received,
    elapsedMs: Math.round(report.elapsedMs),
  };
  if (report.status === "failed") {
    const status = (report.error as { status?: unknown } | null)?.status;
    const error = {
      name: errorName(report.error),
      message: describeError(report.error, job, report.attempts),
      retryable: isRetryable(report.error),
      ...(typeof status === "number" ? { status } : {}),
    };
    return { ...base, error };
  }
  const { result } = report;
  return {
    ...base,
    size: result.size,
    sha256: result.sha256,
    sha384: result.sha384, // JSON.stringify leaves out the digests not computed (undefined)
    sha512: result.sha512,
    verified: job.integrity !== null,
    resumedFrom: result.resumedFrom,
    connections: result.connections,
  };
}
