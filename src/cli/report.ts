/**
 * What the command line prints about finished downloads: one line per file,
 * one JSON object per file, and the final summary (an error's line is
 * `error_wording.ts`'s).
 *
 * @module
 */

import { redactUrl } from "../redact.ts";
import type { HaulAllReport } from "../batch/haul_all.ts";
import { describeError, errorName } from "./error_wording.ts";
import { formatBytes, formatDuration, formatRate } from "./format.ts";
import type { Job } from "./jobs.ts";

/** The human line (no newline) for a finished download; `null` for failures (see {@link describeError}). */
export function fileLine(report: HaulAllReport, job: Job): string | null {
  if (report.status === "failed") return null;
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

/** The JSON object printed per finished file with `--json`. */
interface FileJson {
  /** `"done"`, `"skipped"` or `"failed"`. */
  status: "done" | "skipped" | "failed";
  /** The URL, credentials removed. */
  url: string;
  /** The destination path. */
  dest: string;
  /** Where it was asked for: `"list.txt:3"` or `"argument 1"`. */
  source: string;
  /** Attempts made. */
  attempts: number;
  /** Body bytes received in this run. */
  received: number;
  /** Wall time in milliseconds, retries included. */
  elapsedMs: number;
  /** File size (done, skipped). */
  size?: number;
  /** Hex SHA-256 of the file (done, skipped); `null` for a file already there that had no digest to match (not read). */
  sha256?: string | null;
  /** Hex SHA-384 of the file, when the expected digest was a SHA-384 (done, skipped). */
  sha384?: string;
  /** Hex SHA-512 of the file, when the expected digest was a SHA-512 (done, skipped). */
  sha512?: string;
  /** Whether an expected digest was given and matched (done, skipped). */
  verified?: boolean;
  /** Bytes already on disk when the last attempt began (done). */
  resumedFrom?: number;
  /** Connections the last attempt used (done; 0 when no request was made). */
  connections?: number;
  /** Why it failed (failed). */
  error?: { name: string; message: string; status?: number; retryable: boolean };
}

/** The `--json` object for a finished download (`retryable`: failures only). */
export function fileJson(report: HaulAllReport, job: Job, retryable: boolean): FileJson {
  const base: FileJson = {
    status: report.status,
    url: redactUrl(job.url),
    dest: job.dest,
    source: job.where,
    attempts: report.attempts,
    received: report.received,
    elapsedMs: Math.round(report.elapsedMs),
  };
  if (report.status === "failed") {
    const error: NonNullable<FileJson["error"]> = {
      name: errorName(report.error),
      message: describeError(report.error, job, report.attempts),
      retryable,
    };
    const status = (report.error as { status?: unknown } | null)?.status;
    if (typeof status === "number") error.status = status;
    return { ...base, error };
  }
  const { result } = report;
  return {
    ...base,
    size: result.size,
    sha256: result.sha256,
    ...(result.sha384 === undefined ? {} : { sha384: result.sha384 }),
    ...(result.sha512 === undefined ? {} : { sha512: result.sha512 }),
    verified: job.integrity !== null,
    resumedFrom: result.resumedFrom,
    connections: result.connections,
  };
}

/** Totals of a run, for {@link summaryLines}. */
interface RunTotals {
  /** Downloaded. */
  done: number;
  /** Already complete. */
  skipped: number;
  /** Failed. */
  failed: number;
  /** Bytes received in this run. */
  received: number;
  /** Wall time of the run in milliseconds. */
  elapsedMs: number;
}

/** A failed download, for {@link summaryLines}. */
export interface FailureLine {
  /** `dest (where): reason`. */
  readonly line: string;
  /** Whether running the same command again may succeed. */
  readonly retryable: boolean;
}

/**
 * The summary after several downloads: counts, bytes, time, mean rate, a line per
 * failure, and the advice to run again only when some failure may pass.
 */
export function summaryLines(totals: RunTotals, failures: readonly FailureLine[]): string {
  const rate = totals.elapsedMs > 0 ? totals.received / (totals.elapsedMs / 1000) : 0;
  let text = `Done ${totals.done}, skipped ${totals.skipped}, failed ${totals.failed}: ` +
    `${formatBytes(totals.received)} downloaded in ${formatDuration(totals.elapsedMs)} ` +
    `(${formatRate(rate)})\n`;
  if (failures.length > 0) {
    text += "Failed:\n" + failures.map((failure) => `  ${failure.line}\n`).join("");
    const later = failures.filter((failure) => failure.retryable).length;
    if (later === failures.length) {
      text += "Run the same command again to retry them; finished files are skipped.\n";
    } else if (later > 0) {
      text += `Run the same command again to retry the ${later} that may still succeed ` +
        "(the others need the fix their line gives); finished files are skipped.\n";
    }
  }
  return text;
}
