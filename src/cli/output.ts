/**
 * Where the command line's output goes while downloads run: bars on a
 * terminal, one line (or JSON object) per finished file otherwise, errors and
 * retries on standard error.
 *
 * @module
 */

import type { HaulAllProgress, HaulAllReport, HaulAllRetryInfo } from "../batch/haul_all.ts";
import { isRetryable } from "../errors.ts";
import type { CliIo } from "./io.ts";
import type { Job } from "./jobs.ts";
import { ProgressView } from "./progress_view.ts";
import { describeError, errorDetail, retryLine, retryReason } from "./error_wording.ts";
import { type FailureLine, fileJson, fileLine } from "./report.ts";

/** How verbose the output is. */
interface OutputSettings {
  /** `-q`: errors only. */
  readonly quiet: boolean;
  /** `-v`: retries and error detail. */
  readonly verbose: boolean;
  /** `--json`: JSON objects on stdout instead of lines. */
  readonly json: boolean;
  /** The most attempts per download. */
  readonly maxAttempts: number;
}

/** The output of one run. */
export class RunOutput {
  readonly #io: CliIo;
  readonly #jobs: readonly Job[];
  readonly #settings: OutputSettings;
  readonly #view: ProgressView | null;
  /** One per failed download, for the summary. */
  readonly failures: FailureLine[] = [];
  /** The job index of each item of the running batch (the batch may hold only some jobs). */
  #batch: readonly number[];
  /** The reason of each job's last retry, shown in its bar while it waits. */
  readonly #reasons = new Map<number, string>();
  /** When set, failures are not printed (the run was interrupted). */
  muted = false;

  constructor(io: CliIo, jobs: readonly Job[], settings: OutputSettings) {
    this.#io = io;
    this.#jobs = jobs;
    this.#settings = settings;
    this.#batch = jobs.map((_, index) => index);
    this.#view = io.isTTY && !settings.quiet
      ? new ProgressView({
        write: (text) => io.stderr(text),
        columns: () => io.columns(),
        label: (index) => jobs[this.#jobIndex(index)]?.relative ?? "",
        reason: (index) => this.#reasons.get(this.#jobIndex(index)) ?? null,
        showTotal: jobs.length > 1,
        maxAttempts: settings.maxAttempts,
      })
      : null;
  }

  /** The job index of each item given to `haulAll`: its reports' and progress's indices are positions here. */
  setBatch(jobIndices: readonly number[]): void {
    this.#batch = jobIndices;
  }

  /** @param progress the batch's progress (redraws the bars on a terminal). */
  progress(progress: HaulAllProgress): void {
    this.#view?.update(progress);
  }

  /** @param report a finished item of the batch: prints its line or JSON object. */
  itemDone(report: HaulAllReport): void {
    this.jobDone({ ...report, index: this.#jobIndex(report.index) });
  }

  /** @param report a finished download, its `index` in `jobs`: prints its line or JSON object. */
  jobDone(report: HaulAllReport): void {
    const job = this.#jobs[report.index]!;
    this.#reasons.delete(report.index);
    if (report.status === "failed") {
      if (this.muted) return;
      const where = job.where === "argument" ? "" : ` (${job.where})`;
      const reason = describeError(report.error, job, report.attempts);
      const line = `${job.dest}${where}: ${reason}`;
      this.failures.push({ line, retryable: isRetryable(report.error) });
      this.error(`Failed ${line}`, this.#settings.verbose ? errorDetail(report.error) : "");
      if (this.#settings.json) {
        this.#out(JSON.stringify(fileJson(report, job, isRetryable(report.error))));
      }
      return;
    }
    if (this.#settings.json) {
      this.#out(JSON.stringify(fileJson(report, job, false)));
    } else if (!this.#settings.quiet) {
      this.#out(fileLine(report, job) ?? "");
    }
  }

  /** @param info a retry of a batch item about to wait. */
  retry(info: HaulAllRetryInfo): void {
    this.jobRetry(this.#jobIndex(info.index), info);
  }

  /** A retry of job `index` about to wait: its reason goes in the bar on a terminal, else (and with `-v`) in a line. */
  jobRetry(
    index: number,
    info: Pick<HaulAllRetryInfo, "attempt" | "maxAttempts" | "delayMs" | "error">,
  ): void {
    const reason = retryReason(info.error);
    this.#reasons.set(index, reason);
    if (this.muted || this.#settings.quiet) return;
    if (this.#view !== null && !this.#settings.verbose) return;
    this.error(retryLine(this.#jobs[index]!.dest, info, reason));
  }

  /** Prints a line (and `detail`'s lines, each ending with a newline) on standard error, above the bars. */
  error(line: string, detail = ""): void {
    this.#view?.clear();
    this.#io.stderr(`${line}\n${detail}`);
  }

  /** Prints a line on standard error unless `-q`. */
  info(line: string): void {
    if (!this.#settings.quiet) this.error(line);
  }

  /** Stops the bars and erases them. */
  stop(): void {
    this.#view?.stop();
  }

  #jobIndex(batchIndex: number): number {
    return this.#batch[batchIndex] ?? batchIndex;
  }

  #out(line: string): void {
    this.#view?.clear();
    this.#io.stdout(`${line}\n`);
  }
}
