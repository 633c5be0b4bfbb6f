/**
 * What the command line prints about finished downloads: one line per file,
 * one JSON object per file, one line per error, and the final summary.
 *
 * @module
 */

import { redactUrl } from "../errors.ts";
import type { HaulAllReport } from "../batch/haul_all.ts";
import { formatBytes, formatDuration, formatRate } from "./format.ts";
import type { Job } from "./jobs.ts";

/**
 * Removes credentials from any text: `user:password@` in URLs and the values
 * of sensitive query parameters.
 *
 * @param text a message.
 * @returns the message, safe to print.
 *
 * @example
 * ```ts
 * import { scrub } from "./report.ts";
 * console.log(scrub("GET https://bob:pw@example.com/a?token=1 failed"));
 * // "GET https://example.com/a?token=%5Bredacted%5D failed"
 * ```
 */
export function scrub(text: string): string {
  return text.replace(/\bhttps?:\/\/[^\s"'<>()]+/gi, (match) => {
    const url = match.replace(/[.,;:!?]+$/, "");
    return redactUrl(url) + match.slice(url.length);
  })
    .replace(/\/\/[^/\s@]+:[^/\s@]*@/g, "//");
}

/**
 * One line saying why a download failed, and what to do.
 *
 * @param error what the download threw.
 * @param job the download.
 * @param attempts the attempts made.
 * @param when `"final"` (default) for a failure, `"retry"` for an attempt about to be retried.
 * @returns the line (no newline).
 *
 * @example
 * ```ts ignore
 * console.log(describeError(error, job, 3));
 * // "Download refused: HTTP 404 from https://example.com/a: check the URL and credentials"
 * ```
 */
export function describeError(
  error: unknown,
  job: Job,
  attempts: number,
  when: "final" | "retry" = "final",
): string {
  const url = redactUrl(job.url);
  const name = errorName(error);
  const message = error instanceof Error ? error.message : String(error);
  const after = attempts > 1 ? ` (${attempts} attempts)` : "";
  let line: string;
  switch (name) {
    case "AbortError":
      line = `Interrupted: ${url}: run the same command again to resume`;
      break;
    case "TimeoutError":
      line = `No response from ${url} within the stall timeout: ` +
        "try again later or raise --stall-timeout";
      break;
    case "TypeError":
      line = `Network error: ${url}: ${firstLine(message)}: check the URL and the network`;
      break;
    case "PartialHaulError":
      line = message.replace(
        "call again to resume",
        when === "retry" ? "retrying" : "run the same command again to resume",
      );
      if (errorName(causeOf(error)) === "TimeoutError") {
        line += " (the connection stalled; see --stall-timeout)";
      }
      break;
    case "IntegrityError":
      line = message.replace(
        "pass overwrite: true to download it again",
        "delete it to download it again",
      );
      break;
    default:
      line = message;
  }
  return scrub(firstLine(line) + after);
}

/**
 * The full detail of an error for `-v`: stack, causes, response headers.
 *
 * @param error what the download threw.
 * @returns indented lines (each ending with a newline), credentials removed.
 *
 * @example
 * ```ts
 * import { errorDetail } from "./report.ts";
 * console.log(errorDetail(new Error("boom")).includes("Error: boom")); // true
 * ```
 */
export function errorDetail(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const prefix = depth === 0 ? "" : "caused by: ";
    if (current instanceof Error) {
      lines.push(prefix + (current.stack ?? `${current.name}: ${current.message}`));
      const headers = (current as { headers?: unknown }).headers;
      if (headers instanceof Headers) {
        headers.forEach((value, key) => lines.push(`  < ${key}: ${value}`));
      }
    } else {
      lines.push(prefix + String(current));
    }
    current = causeOf(current);
  }
  return lines.join("\n").split("\n").map((line) => `    ${scrub(line)}\n`).join("");
}

/**
 * The human line for a finished download (`null` for failures: see {@link describeError}).
 *
 * @param report the item's report.
 * @param job the download.
 * @returns the line (no newline), or `null`.
 *
 * @example
 * ```ts ignore
 * console.log(fileLine(report, job));
 * // "Saved big.iso: 300.0 MiB in 3.2 s (93.8 MiB/s), sha256 9f86d08… verified"
 * ```
 */
export function fileLine(report: HaulAllReport, job: Job): string | null {
  if (report.status === "failed") return null;
  const { result } = report;
  const digest = `sha256 ${result.sha256}${job.integrity !== null ? " (verified)" : ""}`;
  if (report.status === "skipped") {
    return `Skipped ${job.dest}: already complete, ${formatBytes(result.size)}, ${digest}`;
  }
  const rate = report.elapsedMs > 0 ? report.received / (report.elapsedMs / 1000) : 0;
  const notes: string[] = [];
  if (result.resumedFrom > 0) notes.push(`resumed at ${formatBytes(result.resumedFrom)}`);
  if (report.attempts > 1) notes.push(`${report.attempts} attempts`);
  return `Saved ${job.dest}: ${formatBytes(result.size)} in ${formatDuration(report.elapsedMs)} ` +
    `(${formatRate(rate)}${notes.length > 0 ? `; ${notes.join(", ")}` : ""}), ${digest}`;
}

/** The JSON object printed per finished file with `--json`. */
export interface FileJson {
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
  /** Hex SHA-256 of the file (done, skipped). */
  sha256?: string;
  /** Whether an expected digest was given and matched (done, skipped). */
  verified?: boolean;
  /** Bytes already on disk when the last attempt began (done). */
  resumedFrom?: number;
  /** Why it failed (failed). */
  error?: { name: string; message: string; status?: number; retryable: boolean };
}

/**
 * The `--json` object for a finished download.
 *
 * @param report the item's report.
 * @param job the download.
 * @param retryable whether the error was retryable (failures only).
 * @returns the object to print with `JSON.stringify`.
 *
 * @example
 * ```ts ignore
 * console.log(JSON.stringify(fileJson(report, job, false)));
 * ```
 */
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
    verified: job.integrity !== null,
    resumedFrom: result.resumedFrom,
  };
}

/** Totals of a run, for {@link summaryLines}. */
export interface RunTotals {
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

/**
 * The summary printed after several downloads: counts, bytes, time, mean
 * rate, then one line per failure.
 *
 * @param totals the counts.
 * @param failures one line per failed download (already formatted).
 * @returns the text, each line ending with a newline.
 *
 * @example
 * ```ts
 * import { summaryLines } from "./report.ts";
 * const text = summaryLines(
 *   { done: 2, skipped: 1, failed: 0, received: 3 * 1048576, elapsedMs: 1500 },
 *   [],
 * );
 * console.log(text); // "Done 2, skipped 1, failed 0: 3.0 MiB downloaded in 1.5 s (2.0 MiB/s)\n"
 * ```
 */
export function summaryLines(totals: RunTotals, failures: readonly string[]): string {
  const rate = totals.elapsedMs > 0 ? totals.received / (totals.elapsedMs / 1000) : 0;
  let text = `Done ${totals.done}, skipped ${totals.skipped}, failed ${totals.failed}: ` +
    `${formatBytes(totals.received)} downloaded in ${formatDuration(totals.elapsedMs)} ` +
    `(${formatRate(rate)})\n`;
  if (failures.length > 0) {
    text += "Failed:\n" + failures.map((line) => `  ${line}\n`).join("");
    text += "Run the same command again to retry them; finished files are skipped.\n";
  }
  return text;
}

function errorName(error: unknown): string {
  if (typeof error !== "object" || error === null) return "";
  const { name } = error as { name?: unknown };
  return typeof name === "string" ? name : "";
}

function causeOf(error: unknown): unknown {
  if (typeof error !== "object" || error === null) return undefined;
  return (error as { cause?: unknown }).cause;
}

function firstLine(text: string): string {
  const cut = text.indexOf("\n");
  return cut < 0 ? text : text.slice(0, cut);
}
