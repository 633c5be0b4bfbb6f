/**
 * Parsing the command line's arguments into {@link CliOptions}.
 *
 * @module
 */

import { parseIntegrity } from "../protocol/integrity.ts";
import { MAX_CONNECTIONS } from "../engine/multi_range.ts";
import { DEFAULT_STALL_TIMEOUT } from "../engine/stall.ts";
import { DEFAULT_MAX_CONNECTIONS } from "../batch/haul_all.ts";
import { parseShard, type Shard } from "./shard.ts";

/** Default retries per download. */
export const DEFAULT_CLI_RETRIES = 20;
/** Default stall timeout in seconds: the library's `stallTimeout` default. */
export const DEFAULT_STALL_TIMEOUT_S = DEFAULT_STALL_TIMEOUT / 1000;
/** Default first retry delay ceiling in seconds. */
export const DEFAULT_RETRY_DELAY_S = 0.5;
/** Default parallel downloads with `-i`. */
export const DEFAULT_JOBS = 4;
/** The most parallel downloads `-j` accepts. */
export const MAX_JOBS = 64;

/** Everything the command line was asked to do. */
export interface CliOptions {
  /** URLs given as arguments. */
  urls: string[];
  /** `-o FILE`: the output path of the one URL. */
  output: string | null;
  /** `--dir DIR`: where outputs go. */
  dir: string | null;
  /** `-i LIST`: the list file. */
  inputFile: string | null;
  /** `-j N`: downloads at once. */
  jobs: number;
  /** `--retries N`: further attempts per download. */
  retries: number;
  /** `--retry-delay SECS`, in milliseconds: the first backoff ceiling. */
  retryDelayMs: number;
  /** `--stall-timeout SECS`, in milliseconds (0: none). */
  stallTimeoutMs: number;
  /** `-H`: extra request headers, in order. */
  headers: [string, string][];
  /** `-A AGENT`: the User-Agent, or `null` for haul's own. */
  userAgent: string | null;
  /** `--sha256` or `--integrity`, as an `integrity` value for `haul()`. */
  integrity: string | null;
  /** `--checksums FILE`: a `sha256sum`-format file. */
  checksums: string | null;
  /** `-q`. */
  quiet: boolean;
  /** `-v`. */
  verbose: boolean;
  /** `--json`. */
  json: boolean;
  /** `--overwrite`: download again even when the destination exists. */
  overwrite: boolean;
  /** `-x N`: connections per file. */
  connections: number;
  /** `--max-connections N`: connections over every file at once. */
  maxConnections: number;
  /** `--shard K/N`: this machine's share of `-i LIST`, or `null` for all of it. */
  shard: Shard | null;
}

/** What the arguments ask for. */
export type ParsedArgs =
  | { kind: "run"; options: CliOptions }
  | { kind: "help" }
  | { kind: "version" };

/**
 * The arguments are wrong: the CLI prints the message and exits with status 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "./args.ts";
 * console.log(new UsageError("Unknown option --x: see haul --help").name); // "UsageError"
 * ```
 */
export class UsageError extends Error {
  /** @param message what is wrong and what to do. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

type Flag =
  | "output"
  | "remoteName"
  | "dir"
  | "inputFile"
  | "jobs"
  | "retries"
  | "retryDelay"
  | "stallTimeout"
  | "header"
  | "userAgent"
  | "sha256"
  | "integrity"
  | "checksums"
  | "quiet"
  | "verbose"
  | "json"
  | "overwrite"
  | "connections"
  | "maxConnections"
  | "shard"
  | "accepted"
  | "continueAt"
  | "help"
  | "version";

const LONG: Readonly<Record<string, Flag>> = {
  "output": "output",
  "remote-name": "remoteName",
  "dir": "dir",
  "input-file": "inputFile",
  "jobs": "jobs",
  "retries": "retries",
  "retry-delay": "retryDelay",
  "stall-timeout": "stallTimeout",
  "header": "header",
  "user-agent": "userAgent",
  "sha256": "sha256",
  "integrity": "integrity",
  "checksums": "checksums",
  "quiet": "quiet",
  "verbose": "verbose",
  "json": "json",
  "overwrite": "overwrite",
  "connections": "connections",
  "max-connections": "maxConnections",
  "shard": "shard",
  "silent": "quiet",
  "location": "accepted",
  "continue": "accepted",
  "fail": "accepted",
  "show-error": "accepted",
  "continue-at": "continueAt",
  "help": "help",
  "version": "version",
};

const SHORT: Readonly<Record<string, Flag>> = {
  o: "output",
  O: "remoteName",
  d: "dir",
  i: "inputFile",
  j: "jobs",
  x: "connections",
  H: "header",
  A: "userAgent",
  q: "quiet",
  v: "verbose",
  s: "quiet",
  L: "accepted",
  c: "accepted",
  f: "accepted",
  S: "accepted",
  C: "continueAt",
  h: "help",
  V: "version",
};

const BOOLEAN: ReadonlySet<Flag> = new Set([
  "remoteName",
  "quiet",
  "verbose",
  "json",
  "overwrite",
  "accepted",
  "help",
  "version",
]);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Parses the arguments (without the program name).
 *
 * Options take their value as the next argument or after `=` (long) or
 * attached (short: `-j4`); boolean short options may be bundled (`-qO`);
 * `--` ends the options.
 *
 * @param argv the arguments.
 * @returns what to do.
 * @throws {UsageError} for unknown options, missing or invalid values, conflicts.
 *
 * @example
 * ```ts
 * import { parseArgs } from "./args.ts";
 * const parsed = parseArgs(["https://example.com/a.iso", "-o", "a.iso", "--retries", "5"]);
 * if (parsed.kind === "run") console.log(parsed.options.output, parsed.options.retries); // a.iso 5
 * ```
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const options = argv.slice(0, argv.includes("--") ? argv.indexOf("--") : argv.length);
  if (options.includes("--help") || options.includes("-h")) return { kind: "help" };
  if (options.includes("--version") || options.includes("-V")) return { kind: "version" };
  const values: { flag: Flag; name: string; value: string }[] = [];
  const urls: string[] = [];
  let wantsHelp = false;
  let wantsVersion = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      urls.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const flag = LONG[name];
      if (flag === undefined) throw new UsageError(`Unknown option --${name}: see haul --help`);
      if (BOOLEAN.has(flag)) {
        if (eq >= 0) throw new UsageError(`Option --${name} takes no value: remove "=…"`);
        if (flag === "help") wantsHelp = true;
        else if (flag === "version") wantsVersion = true;
        else values.push({ flag, name: `--${name}`, value: "" });
        continue;
      }
      const value: string | undefined = eq < 0 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined) throw missing(`--${name}`);
      values.push({ flag, name: `--${name}`, value });
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      for (let k = 1; k < arg.length; k++) {
        const letter = arg[k]!;
        const flag = SHORT[letter];
        if (flag === undefined) throw new UsageError(`Unknown option -${letter}: see haul --help`);
        if (BOOLEAN.has(flag)) {
          if (flag === "help") wantsHelp = true;
          else if (flag === "version") wantsVersion = true;
          else values.push({ flag, name: `-${letter}`, value: "" });
          continue;
        }
        const attached = arg.slice(k + 1);
        const value = attached !== "" ? attached : argv[++i];
        if (value === undefined) throw missing(`-${letter}`);
        values.push({ flag, name: `-${letter}`, value });
        break;
      }
      continue;
    }
    urls.push(arg);
  }
  if (wantsHelp) return { kind: "help" };
  if (wantsVersion) return { kind: "version" };
  return { kind: "run", options: build(urls, values) };
}

function missing(name: string): UsageError {
  return new UsageError(`Missing value for ${name}: see haul --help`);
}

function build(urls: string[], values: { flag: Flag; name: string; value: string }[]): CliOptions {
  const options: CliOptions = {
    urls,
    output: null,
    dir: null,
    inputFile: null,
    jobs: DEFAULT_JOBS,
    retries: DEFAULT_CLI_RETRIES,
    retryDelayMs: DEFAULT_RETRY_DELAY_S * 1000,
    stallTimeoutMs: DEFAULT_STALL_TIMEOUT_S * 1000,
    headers: [],
    userAgent: null,
    integrity: null,
    checksums: null,
    quiet: false,
    verbose: false,
    json: false,
    overwrite: false,
    connections: 1,
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    shard: null,
  };
  let remoteName = false;
  let sha256: string | null = null;
  let integrity: string | null = null;
  for (const { flag, name, value } of values) {
    switch (flag) {
      case "output":
        if (value === "") throw new UsageError(`Invalid ${name} "": give a file name`);
        if (value === "-") {
          throw new UsageError(
            `Cannot write to standard output (${name} -): haul keeps the download in a file ` +
              "so that it can resume and verify it before it appears; give a file name " +
              "(e.g. -o file && cat file)",
          );
        }
        options.output = value;
        break;
      case "remoteName":
        remoteName = true;
        break;
      case "dir":
        if (value === "") throw new UsageError(`Invalid ${name} "": give a directory`);
        options.dir = value;
        break;
      case "inputFile":
        if (value === "") throw new UsageError(`Invalid ${name} "": give a list file`);
        options.inputFile = value;
        break;
      case "jobs":
        options.jobs = integer(name, value, 1, MAX_JOBS);
        break;
      case "connections":
        options.connections = integer(name, value, 1, MAX_CONNECTIONS);
        break;
      case "maxConnections":
        options.maxConnections = integer(name, value, 1, 1024);
        break;
      case "shard": {
        const shard = parseShard(value);
        if (typeof shard === "string") throw new UsageError(shard);
        options.shard = shard;
        break;
      }
      case "retries":
        options.retries = integer(name, value, 0, 1_000_000);
        break;
      case "retryDelay":
        options.retryDelayMs = seconds(name, value, 3600) * 1000;
        break;
      case "stallTimeout":
        options.stallTimeoutMs = seconds(name, value, 86_400) * 1000;
        break;
      case "header":
        options.headers.push(header(name, value));
        break;
      case "userAgent":
        if (/[\0\r\n]/.test(value)) {
          throw new UsageError(`Invalid ${name}: remove the control characters`);
        }
        options.userAgent = value;
        break;
      case "sha256":
        if (!/^[0-9a-fA-F]{64}$/.test(value)) {
          throw new UsageError(`Invalid ${name} "${value}": give 64 hexadecimal digits`);
        }
        sha256 = value.toLowerCase();
        break;
      case "integrity":
        try {
          parseIntegrity(value);
        } catch (error) {
          throw new UsageError(`Invalid ${name}: ${(error as Error).message}`);
        }
        integrity = value;
        break;
      case "checksums":
        if (value === "") throw new UsageError(`Invalid ${name} "": give a checksums file`);
        options.checksums = value;
        break;
      case "quiet":
        options.quiet = true;
        break;
      case "verbose":
        options.verbose = true;
        break;
      case "json":
        options.json = true;
        break;
      case "overwrite":
        options.overwrite = true;
        break;
      case "accepted":
        // curl's -L, -f, -S and wget's -c: what haul always does.
        break;
      case "continueAt":
        if (value !== "-") {
          throw new UsageError(
            `Invalid ${name} "${value}": haul resumes from its own checkpoint, not from an ` +
              `offset; use ${name} - (or leave it out: haul always resumes)`,
          );
        }
        break;
      case "help":
      case "version":
        break;
    }
  }
  if (sha256 !== null && integrity !== null) {
    throw new UsageError("Use either --sha256 or --integrity, not both");
  }
  options.integrity = sha256 !== null ? `sha256:${sha256}` : integrity;
  checkConflicts(options, remoteName);
  return options;
}

function checkConflicts(options: CliOptions, remoteName: boolean): void {
  if (options.quiet && options.verbose) {
    throw new UsageError("Use either -q (or -s) or -v, not both");
  }
  if (options.inputFile !== null && options.urls.length > 0) {
    throw new UsageError("Give URLs either as arguments or in -i LIST, not both");
  }
  if (options.inputFile === null && options.urls.length === 0) {
    throw new UsageError("Missing URL: give a URL, or -i LIST; see haul --help");
  }
  if (options.shard !== null && options.inputFile === null) {
    throw new UsageError("Use --shard with -i LIST: it picks this machine's share of the list");
  }
  const many = options.inputFile !== null || options.urls.length > 1;
  if (options.output !== null) {
    if (remoteName) throw new UsageError("Use either -o FILE or -O, not both");
    if (many) throw new UsageError("Use -o with a single URL; for several, use --dir or a list");
    if (options.dir !== null && isAbsolute(options.output)) {
      throw new UsageError("Use either --dir or an absolute -o path, not both");
    }
  }
  if (options.integrity !== null && many) {
    throw new UsageError(
      "Use --sha256 and --integrity with a single URL; for several, --checksums",
    );
  }
}

function integer(name: string, value: string, min: number, max: number): number {
  const number = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(number >= min && number <= max)) {
    throw new UsageError(`Invalid ${name} "${value}": give a whole number from ${min} to ${max}`);
  }
  return number;
}

function seconds(name: string, value: string, max: number): number {
  const number = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (!(number >= 0 && number <= max)) {
    throw new UsageError(`Invalid ${name} "${value}": give seconds from 0 to ${max}`);
  }
  return number;
}

function header(name: string, value: string): [string, string] {
  const colon = value.indexOf(":");
  const key = colon < 0 ? "" : value.slice(0, colon).trim();
  const content = colon < 0 ? "" : value.slice(colon + 1).trim();
  if (!HEADER_NAME.test(key)) {
    throw new UsageError(`Invalid ${name}: write it as 'Name: value'`);
  }
  if (/[\0\r\n]/.test(content)) {
    throw new UsageError(`Invalid ${name} ${key}: remove the line breaks from its value`);
  }
  return [key, content];
}

/**
 * Whether a path is absolute (POSIX `/…`, or a Windows drive or UNC path).
 *
 * @param path a path.
 * @returns true when absolute.
 *
 * @example
 * ```ts
 * import { isAbsolute } from "./args.ts";
 * console.log(isAbsolute("/tmp/a"), isAbsolute("C:\\a"), isAbsolute("a/b")); // true true false
 * ```
 */
export function isAbsolute(path: string): boolean {
  return path.startsWith("/") || path.startsWith("\\") || /^[A-Za-z]:/.test(path);
}
