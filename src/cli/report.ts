/**
 * What the command line prints about finished downloads: one line per file,
 * one JSON object per file, one line per error, and the final summary.
 *
 * @module
 */

import { filesystemCode } from "../errors.ts";
import { type FetchFailure, fetchFailure } from "../fetch_failure.ts";
import { redactUrl } from "../redact.ts";
import { dirname } from "../store/paths.ts";
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

/** Names of haul's own errors (their causes are not read as network failures). */
const HAUL_ERROR =
  /Haul|Status|Misconfigured|ContentRange|ControlFile|Destination|Integrity|Existing/;

/**
 * One line saying why a download failed, and what to do, in the command
 * line's terms: the operating system's reason for a network failure
 * (`ECONNREFUSED`, `ENOTFOUND`…), and advice that fits (no "run the same
 * command again" where that cannot help).
 *
 * @param error what the download threw.
 * @param job the download.
 * @param attempts the attempts made.
 * @returns the line (no newline), credentials removed.
 *
 * @example
 * ```ts ignore
 * // Not run by `deno test --doc`: it downloads from the network.
 * console.log(describeError(error, job, 3));
 * // "Download refused: HTTP 404 from https://example.com/a: check the URL and credentials"
 * ```
 */
export function describeError(error: unknown, job: Job, attempts: number): string {
  const url = redactUrl(job.url);
  const name = errorName(error);
  const message = error instanceof Error ? error.message : String(error);
  const after = attempts > 1 ? ` (${attempts} attempts)` : "";
  let line: string;
  const failure = name === "PartialHaulError" ? null : fetchFailure(error);
  if (name === "AbortError") {
    line = `Interrupted: ${url}: run the same command again to resume`;
  } else if (name === "TimeoutError") {
    line = `No data from ${url} within the stall timeout: ` +
      "run the same command again later to resume, or raise --stall-timeout";
  } else if (failure !== null && !HAUL_ERROR.test(name)) {
    line = networkLine(failure, url, firstLine(message));
  } else if (name === "TypeError") {
    line = `Network error: ${url}: ${firstLine(message)}: check the URL and the network, ` +
      "then run the same command again";
  } else if (name === "PartialHaulError") {
    line = cliWording(message);
    const cause = causeOf(error);
    const why = fetchFailure(cause);
    if (errorName(cause) === "TimeoutError") {
      line += " (the connection stalled; see --stall-timeout)";
    } else if (why !== null) line += ` (${why.code}: ${why.reason})`;
  } else if (name === "DestinationError") {
    line = destinationLine(error, job, message);
  } else {
    line = cliWording(message);
  }
  return scrub(firstLine(line) + after);
}

/**
 * The reason of a retry in a few words, for the line printed off a terminal
 * and for the progress bar: `"ECONNREFUSED (connection refused)"`,
 * `"HTTP 503"`, `"stalled"`, `"connection cut (ECONNRESET), 1.2 MiB saved"`.
 *
 * @param error what the attempt threw.
 * @returns the reason (no newline), credentials removed.
 *
 * @example
 * ```ts
 * import { retryReason } from "./report.ts";
 * const error = new TypeError("fetch failed", {
 *   cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8080"), { code: "ECONNREFUSED" }),
 * });
 * console.log(retryReason(error)); // "ECONNREFUSED (connection refused)"
 * ```
 */
export function retryReason(error: unknown): string {
  const name = errorName(error);
  if (name === "PartialHaulError") {
    const cause = causeOf(error);
    const saved = (error as { validLength?: unknown }).validLength;
    const kept = typeof saved === "number" ? `, ${formatBytes(saved)} saved` : "";
    if (errorName(cause) === "TimeoutError") return `stalled${kept}`;
    const why = fetchFailure(cause);
    return `connection cut${why === null ? "" : ` (${why.code})`}${kept}`;
  }
  if (name === "TimeoutError") return "stalled: no data within the stall timeout";
  if (name === "UnexpectedStatusError") {
    return `HTTP ${(error as { status?: unknown }).status}`;
  }
  const failure = fetchFailure(error);
  if (failure !== null) return `${failure.code} (${failure.reason})`;
  if (name === "DestinationError" && /busy/i.test(String((error as Error).message))) {
    return "another haul is downloading to this destination";
  }
  if (name === "ControlFileError") return "checkpoint unreadable, discarded; starting over";
  const message = firstLine(cliWording(error instanceof Error ? error.message : String(error)));
  return scrub(message.length > 100 ? `${message.slice(0, 99)}…` : message);
}

/**
 * Rewords the library's advice for the command line: "call again" becomes
 * "run the same command again", `overwrite: true` becomes `--overwrite`,
 * "another haul() call" becomes "another haul".
 *
 * @param message a library message.
 * @returns the message in CLI terms.
 *
 * @example
 * ```ts
 * import { cliWording } from "./report.ts";
 * console.log(cliWording("progress saved; call again to resume")); // "progress saved; run the same command again to resume"
 * ```
 */
export function cliWording(message: string): string {
  return message
    .replace(/\bpass overwrite: true\b/g, "use --overwrite")
    .replace(/\bcall again\b/g, "run the same command again")
    .replace(/\bthe next call\b/g, "the next run")
    .replace(/\banother haul\(\) call\b/g, "another haul")
    .replace(/\bhaul\(\)/g, "haul");
}

function networkLine(failure: FetchFailure, url: string, message: string): string {
  switch (failure.code) {
    case "BAD_PORT":
      return `Cannot download ${url}: fetch refuses to use port ${portOf(url)} ` +
        "(the Fetch standard blocks it for other protocols): serve the file on another port";
    case "BAD_SCHEME":
      return `Cannot download ${url}: fetch refuses this URL scheme: use http:// or https://`;
    case "INVALID_URL":
      return `Invalid URL ${url}: ${message}: check the URL`;
    case "NOT_PERMITTED":
      return `Not permitted to connect to ${url}: ${message}: ` +
        "give the runtime network access (deno run --allow-net, or -A)";
  }
  if (!failure.retryable) {
    return `Certificate rejected: ${url}: ${failure.code}: the server's TLS certificate is ` +
      "not trusted; fix it, or trust its CA (Deno: DENO_CERT=ca.pem; Bun, Node: " +
      "NODE_EXTRA_CA_CERTS=ca.pem)";
  }
  return `Network error: ${failure.code} (${failure.reason}) for ${url}: ` +
    "check the URL and the network, then run the same command again";
}

function destinationLine(error: unknown, job: Job, message: string): string {
  const code = filesystemCode(error);
  const dir = dirname(job.dest);
  const where = dir === "." ? "the current directory" : dir;
  if (code === "EROFS") {
    return `Cannot write to ${where}: the filesystem is read-only: ` +
      "choose another place with --dir or -o";
  }
  if (code === "EACCES" || code === "EPERM") {
    return `Cannot write to ${where}: permission denied: choose a directory you can write ` +
      "to (--dir or -o), or change its permissions";
  }
  if (code === "ENOSPC" || code === "EDQUOT") {
    return cliWording(message).replace(/free space and /, "free space, then ");
  }
  return cliWording(message);
}

function portOf(url: string): string {
  try {
    return new URL(url).port || "(default)";
  } catch {
    return "?";
  }
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
 * // Not run by `deno test --doc`: it needs the command line's parsed options and I/O.
 * console.log(fileLine(report, job));
 * // "Saved big.iso: 300.0 MiB in 3.2 s (93.8 MiB/s), sha256 9f86d08… verified"
 * ```
 */
export function fileLine(report: HaulAllReport, job: Job): string | null {
  if (report.status === "failed") return null;
  const { result } = report;
  // No digest for a file that was already there and had none to match: it was not read.
  const digest = result.sha256 === null
    ? ""
    : `, sha256 ${result.sha256}${job.integrity !== null ? " (verified)" : ""}`;
  if (report.status === "skipped") {
    return `Skipped ${job.dest}: already complete, ${formatBytes(result.size)}${digest}`;
  }
  const rate = report.elapsedMs > 0 ? report.received / (report.elapsedMs / 1000) : 0;
  const notes: string[] = [];
  if (result.resumedFrom > 0) notes.push(`resumed at ${formatBytes(result.resumedFrom)}`);
  if (report.attempts > 1) notes.push(`${report.attempts} attempts`);
  return `Saved ${job.dest}: ${formatBytes(result.size)} in ${formatDuration(report.elapsedMs)} ` +
    `(${formatRate(rate)}${notes.length > 0 ? `; ${notes.join(", ")}` : ""})${digest}`;
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
  /** Hex SHA-256 of the file (done, skipped); `null` for a file already there that had no digest to match (not read). */
  sha256?: string | null;
  /** Whether an expected digest was given and matched (done, skipped). */
  verified?: boolean;
  /** Bytes already on disk when the last attempt began (done). */
  resumedFrom?: number;
  /** Connections the last attempt used (done; 0 when no request was made). */
  connections?: number;
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
 * // Not run by `deno test --doc`: it needs the command line's parsed options and I/O.
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
    connections: result.connections,
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

/** A failed download, for {@link summaryLines}. */
export interface FailureLine {
  /** `dest (where): reason`. */
  readonly line: string;
  /** Whether running the same command again may succeed. */
  readonly retryable: boolean;
}

/**
 * The summary printed after several downloads: counts, bytes, time, mean
 * rate, then one line per failure, and the advice to run again only when
 * some failure may pass.
 *
 * @param totals the counts.
 * @param failures one per failed download.
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
