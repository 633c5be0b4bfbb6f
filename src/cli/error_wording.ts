/**
 * How the command line words an error: one line saying why a download failed and what to do, a
 * retry's reason in a few words, the detail for `-v`; {@link scrub} keeps credentials out of all.
 *
 * @module
 */

import type { RetryInfo } from "../batch/retry.ts";
import { filesystemCode, HAUL_ERROR_NAMES } from "../errors.ts";
import { type FetchFailure, fetchFailure } from "../fetch_failure.ts";
import { redactUrl } from "../redact.ts";
import { dirname } from "../store/destination.ts";
import { formatBytes } from "./format.ts";
import type { Job } from "./jobs.ts";

/** Removes credentials from any text: `user:password@` in URLs, sensitive query values. */
export function scrub(text: string): string {
  return text.replace(/\bhttps?:\/\/[^\s"'<>()]+/gi, (match) => {
    const url = match.replace(/[.,;:!?]+$/, "");
    return redactUrl(url) + match.slice(url.length);
  })
    .replace(/\/\/[^/\s@]+:[^/\s@]*@/g, "//");
}

/**
 * One line saying why a download failed and what to do: the OS's reason for a network
 * failure (`ECONNREFUSED`…), and no "run the same command again" where that cannot help.
 */
export function describeError(
  error: unknown,
  job: Pick<Job, "url" | "dest">,
  attempts: number,
): string {
  return scrub(
    firstLine(failureLine(error, job)) + (attempts > 1 ? ` (${attempts} attempts)` : ""),
  );
}

function failureLine(error: unknown, job: Pick<Job, "url" | "dest">): string {
  const url = redactUrl(job.url);
  const name = errorName(error);
  const message = error instanceof Error ? error.message : String(error);
  // The causes of haul's own errors are not read as network failures.
  const ours = HAUL_ERROR_NAMES.test(name) || name === "ExistingFileError";
  const failure = ours ? null : fetchFailure(error);
  if (name === "AbortError") return `Interrupted: ${url}: run the same command again to resume`;
  if (name === "TimeoutError") {
    return `No data from ${url} within the stall timeout: ` +
      "run the same command again later to resume, or raise --stall-timeout";
  }
  if (failure !== null) {
    return networkLine(failure, url, firstLine(message), job.url.port || "(default)");
  }
  if (name === "TypeError") {
    return `Network error: ${url}: ${firstLine(message)}: check the URL and the network, ` +
      "then run the same command again";
  }
  if (name === "DestinationError") return destinationLine(error, job, message);
  if (name !== "PartialHaulError") return cliWording(message);
  const cause = causeOf(error);
  const why = fetchFailure(cause);
  if (errorName(cause) === "TimeoutError") {
    return `${cliWording(message)} (the connection stalled; see --stall-timeout)`;
  }
  return cliWording(message) + (why === null ? "" : ` (${why.code}: ${why.reason})`);
}

/**
 * A retry's reason in a few words (credentials removed), for the retry line and the bar:
 * `"HTTP 503"`, `"stalled"`, `"connection cut (ECONNRESET), 1.2 MiB saved"`.
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
  if (name === "UnexpectedStatusError") return `HTTP ${(error as { status?: unknown }).status}`;
  const failure = fetchFailure(error);
  if (failure !== null) return `${failure.code} (${failure.reason})`;
  if (name === "DestinationError" && /busy/i.test(String((error as Error).message))) {
    return "another haul is downloading to this destination";
  }
  if (name === "ControlFileError") return "checkpoint unreadable, discarded; starting over";
  const text = error instanceof Error ? error.message : String(error);
  const message = firstLine(cliWording(text.replace(/\bthe next call\b/g, "the next attempt")));
  return scrub(message.length > 100 ? `${message.slice(0, 99)}…` : message);
}

/** The line of a retry about to wait, off a terminal or with `-v`. */
export function retryLine(name: string, info: RetryInfo, reason: string): string {
  return `Retrying ${name} in ${(info.delayMs / 1000).toFixed(1)} s ` +
    `(attempt ${info.attempt + 1} of ${info.maxAttempts}): ${reason}`;
}

/** The library's advice in the command line's terms ("call again" → "run the same command again"…). */
function cliWording(message: string): string {
  return message
    .replace(/\bpass overwrite: true\b/g, "use --overwrite")
    .replace(/\bcall again\b/g, "run the same command again")
    .replace(/\bthe next call\b/g, "the next run")
    .replace(/\banother haul\(\) call\b/g, "another haul")
    .replace(/\bhaul\(\)/g, "haul");
}

function networkLine(failure: FetchFailure, url: string, message: string, port: string): string {
  switch (failure.code) {
    case "BAD_PORT":
      return `Cannot download ${url}: fetch refuses to use port ${port} ` +
        "(the Fetch standard blocks it for other protocols): serve the file on another port";
    case "BAD_SCHEME":
      return `Cannot download ${url}: fetch refuses this URL scheme: use http:// or https://`;
    case "INVALID_URL":
      return `Invalid URL ${url}: ${message}: check the URL`;
    case "TLS_HANDSHAKE":
      return `Cannot download ${url}: the TLS handshake failed: does port ${port} speak TLS?`;
    case "UNASKED_100":
      return `Cannot download ${url}: Node's fetch refuses ${failure.reason}: use Deno or Bun`;
    case "TOO_MANY_REDIRECTS":
      return `Cannot download ${url}: it redirects in a loop (or too many times): check the URL`;
    case "NOT_PERMITTED":
      return `Not permitted to connect to ${url}: ${message}: ` +
        "give the runtime network access (deno run --allow-net, or -A)";
  }
  if (!failure.retryable) {
    return `Certificate rejected: ${url}: ${failure.code}: the server's TLS certificate is not ` +
      "valid here (expired, another host's, or its CA not trusted): fix it, or trust its CA " +
      "(Deno: DENO_CERT=ca.pem; Bun, Node: NODE_EXTRA_CA_CERTS=ca.pem)";
  }
  return `Network error: ${failure.code} (${failure.reason}) for ${url}: ` +
    "check the URL and the network, then run the same command again";
}

function destinationLine(error: unknown, job: Pick<Job, "dest">, message: string): string {
  if (message.startsWith("Missing Deno permission")) return cliWording(message); // names its flag
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

/** `-v`'s detail of an error: stack, causes, response headers, as indented lines each ending with a newline. */
export function errorDetail(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const prefix = depth === 0 ? "" : "caused by: ";
    if (current instanceof Error) {
      lines.push(prefix + (current.stack ?? `${current.name}: ${current.message}`));
      const headers = (current as { headers?: unknown }).headers;
      if (headers instanceof Headers) headers.forEach((v, key) => lines.push(`  < ${key}: ${v}`));
    } else {
      lines.push(prefix + String(current));
    }
    current = causeOf(current);
  }
  return lines.join("\n").split("\n").map((line) => `    ${scrub(line)}\n`).join("");
}

/** The `name` of what was thrown, read across realms (`""` when it has none). */
export function errorName(error: unknown): string {
  if (typeof error !== "object" || error === null) return "";
  const { name } = error as { name?: unknown };
  return typeof name === "string" ? name : "";
}

function causeOf(error: unknown): unknown {
  return (error as { cause?: unknown } | null | undefined)?.cause;
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0]!;
}
