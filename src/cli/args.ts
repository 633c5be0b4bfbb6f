/**
 * Parsing the command line's arguments into {@link CliOptions}.
 *
 * @module
 */

import { parseIntegrity } from "../protocol/integrity.ts";
import { MAX_CONNECTIONS } from "../engine/settings.ts";
import { DEFAULT_STALL_TIMEOUT } from "../engine/stall.ts";
import { DEFAULT_MAX_CONNECTIONS } from "../batch/haul_all.ts";
import { readPolicy, type RetryOptions } from "../batch/retry.ts";

/** Every option with its default (its flag beside it): {@link CliOptions} is its type, `--help` shows it. */
export function defaults() {
  return {
    urls: [] as string[],
    output: null as string | null, // -o FILE, or "-" for stdout
    dir: null as string | null, // --dir
    inputFile: null as string | null, // -i LIST
    jobs: 4, // -j: downloads at once
    retries: 20,
    retryDelayMs: 500, // the first backoff ceiling
    stallTimeoutMs: DEFAULT_STALL_TIMEOUT, // 0: none
    headers: [] as [string, string][], // -H, in order
    userAgent: null as string | null, // -A; null: haul's own
    integrity: null as string | null, // --sha256, --sha512 or --integrity, as `integrity`
    checksums: null as string | null, // --checksums FILE
    quiet: false,
    verbose: false,
    json: false,
    overwrite: false,
    connections: 1, // -x: per file
    maxConnections: DEFAULT_MAX_CONNECTIONS, // over every file at once
    shard: null as Shard | null, // this machine's share of -i LIST
    remoteHeaderName: false, // -J
    timestamps: null as "remote" | "revalidate" | null, // -R; -N: and ask about existing files
    limitRate: null as number | null, // bytes per second over the whole run
  };
}

/** Everything the command line was asked to do. */
export type CliOptions = ReturnType<typeof defaults>;

type ParsedArgs = { kind: "run"; options: CliOptions } | { kind: "help" } | { kind: "version" };

/** The retry policy of `--retries` and `--retry-delay` (backoff ceilings grow to 30 s, or the first). */
export function retryPolicy(options: CliOptions): Required<Omit<RetryOptions, "onRetry">> {
  return readPolicy({ retries: options.retries, minDelayMs: options.retryDelayMs });
}

/** The arguments are wrong: the CLI prints the message and exits with status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The options while the flags are applied, with what only the final checks read. */
type Draft = CliOptions & {
  /** `-O` was given (it conflicts with `-o`). */
  remoteName: boolean;
  /** `--sha256` or `--sha512`, as `sha256:<hex>` (it conflicts with `--integrity`). */
  digest: string | null;
};

/** One flag: its names (a letter is a one-character name); `apply`'s `name` is the form written. */
interface Flag {
  readonly names: readonly string[];
  readonly takesValue: boolean;
  readonly apply: (draft: Draft, value: string, name: string) => void;
}

function valued(names: string[], apply: Flag["apply"]): Flag {
  return { names, takesValue: true, apply };
}

function toggle(names: string[], apply: (draft: Draft) => void): Flag {
  return { names, takesValue: false, apply };
}

const HELP_FLAG = toggle(["help", "h"], () => {});
const VERSION_FLAG = toggle(["version", "V"], () => {});

const FLAGS: readonly Flag[] = [
  valued(["output", "o"], (d, v, n) => (d.output = path(n, v, "a file name, or - for stdout"))),
  valued(["dir", "d"], (d, v, n) => (d.dir = path(n, v, "a directory"))),
  valued(["input-file", "i"], (d, v, n) => (d.inputFile = path(n, v, "a list file"))),
  valued(["checksums"], (d, v, n) => (d.checksums = path(n, v, "a checksums file"))),
  valued(["jobs", "j"], (d, v, n) => (d.jobs = integer(n, v, 1, 64))),
  valued(["connections", "x"], (d, v, n) => (d.connections = integer(n, v, 1, MAX_CONNECTIONS))),
  valued(["max-connections"], (d, v, n) => (d.maxConnections = integer(n, v, 1, 1024))),
  valued(["shard"], (d, v) => (d.shard = usage(parseShard(v)))),
  valued(["limit-rate"], (d, v) => (d.limitRate = usage(parseRate(v)))),
  valued(["retries"], (d, v, n) => (d.retries = integer(n, v, 0, 1_000_000))),
  valued(["retry-delay"], (d, v, n) => (d.retryDelayMs = seconds(n, v, 3600) * 1000)),
  valued(["stall-timeout"], (d, v, n) => (d.stallTimeoutMs = seconds(n, v, 86_400) * 1000)),
  valued(["header", "H"], (d, v, n) => d.headers.push(header(n, v))),
  valued(["user-agent", "A"], (d, v, n) => (d.userAgent = sendable(n, v))),
  valued(["sha256"], (d, v, n) => (d.digest = hexDigest(n, v, "sha256", d.digest))),
  valued(["sha512"], (d, v, n) => (d.digest = hexDigest(n, v, "sha512", d.digest))),
  valued(["integrity"], (d, v, n) => (d.integrity = integrity(n, v))),
  valued(["continue-at", "C"], (_, v, n) => continueAt(n, v)),
  toggle(["remote-name", "O"], (d) => (d.remoteName = true)),
  toggle(["remote-header-name", "J"], (d) => (d.remoteHeaderName = true)),
  toggle(["quiet", "q", "silent", "s"], (d) => (d.quiet = true)),
  toggle(["verbose", "v"], (d) => (d.verbose = true)),
  toggle(["json"], (d) => (d.json = true)),
  toggle(["overwrite"], (d) => (d.overwrite = true)),
  toggle(["remote-time", "R"], (d) => (d.timestamps ??= "remote")),
  toggle(["timestamping", "N"], (d) => (d.timestamps = "revalidate")),
  // curl's -L, -f, -S and wget's -c: what haul always does.
  toggle(["location", "L", "continue", "c", "fail", "f", "show-error", "S"], () => {}),
  HELP_FLAG,
  VERSION_FLAG,
];

/** Every flag by each of its names (a Map: `--constructor` is no flag). */
const BY_NAME: ReadonlyMap<string, Flag> = new Map(
  FLAGS.flatMap((flag) => flag.names.map((name) => [name, flag] as const)),
);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers `fetch` sets for its connection: Node's refuses them at each attempt, Deno's and Bun's not. */
const FETCH_OWN = /^(content-length|expect|keep-alive|transfer-encoding|upgrade)$/i;

/**
 * Parses the arguments (without the program name), or throws a {@link UsageError}. Values come
 * next, after `=` (long) or attached (`-j4`); boolean letters bundle (`-qO`); `--` ends the options.
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const options = argv.slice(0, argv.includes("--") ? argv.indexOf("--") : argv.length);
  if (options.includes("--help") || options.includes("-h")) return { kind: "help" };
  if (options.includes("--version") || options.includes("-V")) return { kind: "version" };
  const given: { flag: Flag; name: string; value: string }[] = [];
  const urls: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      urls.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const flag = name.length > 1 ? BY_NAME.get(name) : undefined;
      if (flag === undefined) throw new UsageError(`Unknown option --${name}: see haul --help`);
      if (!flag.takesValue && eq >= 0) {
        throw new UsageError(`Option --${name} takes no value: remove "=…"`);
      }
      const value = !flag.takesValue ? "" : eq < 0 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined) throw missing(`--${name}`);
      given.push({ flag, name: `--${name}`, value });
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      for (let k = 1; k < arg.length; k++) {
        const letter = arg[k]!;
        const flag = BY_NAME.get(letter);
        if (flag === undefined) throw new UsageError(`Unknown option -${letter}: see haul --help`);
        const value = !flag.takesValue ? "" : arg.slice(k + 1) || argv[++i];
        if (value === undefined) throw missing(`-${letter}`);
        given.push({ flag, name: `-${letter}`, value });
        if (flag.takesValue) break;
      }
      continue;
    }
    urls.push(arg);
  }
  if (given.some(({ flag }) => flag === HELP_FLAG)) return { kind: "help" };
  if (given.some(({ flag }) => flag === VERSION_FLAG)) return { kind: "version" };
  return { kind: "run", options: build(urls, given) };
}

const missing = (name: string) => new UsageError(`Missing value for ${name}: see haul --help`);

/** The options the flags give, refused when they do not go together. */
function build(urls: string[], given: { flag: Flag; name: string; value: string }[]): CliOptions {
  const draft: Draft = { ...defaults(), urls, remoteName: false, digest: null };
  for (const { flag, name, value } of given) flag.apply(draft, value, name);
  const { remoteName, digest, ...options } = draft;
  if (digest !== null && options.integrity !== null) {
    throw new UsageError(`Use either --${digest.slice(0, 6)} or --integrity, not both`);
  }
  if (digest !== null) options.integrity = digest;
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
  if (options.remoteHeaderName && options.shard !== null) {
    throw new UsageError("Use either -J or --shard: a shard is chosen by a name -J learns later");
  }
  if (options.output !== null) {
    if (remoteName || options.remoteHeaderName) {
      throw new UsageError(`Use either -o FILE or ${remoteName ? "-O" : "-J"}, not both`);
    }
    if (many) throw new UsageError("Use -o with a single URL; for several, use --dir or a list");
    if (/(^|\/)\.{0,2}$/.test(options.output)) { // "newdir/", ".", "..", "x/..": a directory
      const dir = options.output.replace(/\/+$/, "");
      const advice = `give a file name (-o ${dir}/NAME), or save into it with --dir ${dir || "/"}`;
      throw new UsageError(`Invalid -o "${options.output}": it names a directory: ${advice}`);
    }
    if (options.dir !== null && /^([/\\]|[A-Za-z]:)/.test(options.output)) {
      throw new UsageError("Use either --dir or an absolute -o path, not both");
    }
  }
  if (options.integrity !== null && many) {
    throw new UsageError(
      "Use --sha256, --sha512 and --integrity with a single URL; for several, --checksums",
    );
  }
  if (options.output === "-") checkStdout(options, given.map(({ name }) => name));
  return options;
}

/** `-o -` streams one body: refuses the flags that make no sense with it. */
function checkStdout(options: CliOptions, names: readonly string[]): void {
  const alone = /^(-[jdNR]|--(jobs|dir|checksums|json|timestamping|remote-time))$/;
  const refused = names.find((name) => alone.test(name));
  if (refused !== undefined) {
    throw new UsageError(`Use either -o - (standard output) or ${refused}, not both`);
  }
  if (options.connections > 1) {
    throw new UsageError("Use -o - (standard output) with one connection");
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

function path(name: string, value: string, what: string): string {
  if (value === "") throw new UsageError(`Invalid ${name} "": give ${what}`);
  if (/\p{Cc}/u.test(value)) throw new UsageError(`Invalid ${name}: remove its control characters`);
  return value;
}

/** A parser's value, or its message as a usage error. */
function usage<T extends number | Shard>(parsed: T | string): T {
  if (typeof parsed === "string") throw new UsageError(parsed);
  return parsed;
}

/** A header value `fetch` can send: no NUL or line break, nothing past U+00FF (it sends bytes). */
function sendable(name: string, value: string): string {
  if (/[\0\r\n\u0100-\uffff]/.test(value)) {
    throw new UsageError(`Invalid ${name}: remove its line breaks and characters past U+00FF (ÿ)`);
  }
  return value;
}

/** `--sha256`/`--sha512` as an `integrity` value; the other given before is a usage error. */
function hexDigest(
  name: string,
  value: string,
  algorithm: "sha256" | "sha512",
  before: string | null,
): string {
  const digits = algorithm === "sha256" ? 64 : 128;
  if (value.length !== digits || !/^[0-9a-fA-F]+$/.test(value)) {
    throw new UsageError(`Invalid ${name} "${value}": give ${digits} hexadecimal digits`);
  }
  if (before !== null && !before.startsWith(`${algorithm}:`)) {
    throw new UsageError("Use either --sha256 or --sha512, not both");
  }
  return `${algorithm}:${value.toLowerCase()}`;
}

function integrity(name: string, value: string): string {
  try {
    parseIntegrity(value);
  } catch (error) {
    throw new UsageError(`Invalid ${name}: ${(error as Error).message}`);
  }
  return value;
}

function continueAt(name: string, value: string): void {
  if (value !== "-") {
    throw new UsageError(
      `Invalid ${name} "${value}": haul resumes from its own checkpoint, not from an ` +
        `offset; use ${name} - (or leave it out: haul always resumes)`,
    );
  }
}

function header(name: string, value: string): [string, string] {
  const colon = value.indexOf(":");
  const key = colon < 0 ? "" : value.slice(0, colon).trim();
  const content = colon < 0 ? "" : value.slice(colon + 1).trim();
  if (!HEADER_NAME.test(key)) throw new UsageError(`Invalid ${name}: write it as 'Name: value'`);
  if (FETCH_OWN.test(key)) throw new UsageError(`Invalid ${name} ${key}: fetch sets it; drop it`);
  return [key, sendable(`${name} ${key}`, content)];
}

/** `--limit-rate`'s suffixes: 1024-based, as curl's. */
const RATE_UNITS: Readonly<Record<string, number>> = { "": 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 };

/** `--limit-rate` as curl reads it: bytes per second of 1 or more, `K`, `M`, `G` (1024s), decimals. */
function parseRate(text: string): number | string {
  const match = /^(\d{1,12}(?:\.\d{1,12})?)([kmg]?)$/i.exec(text);
  const rate = match === null ? NaN : Number(match[1]) * RATE_UNITS[match[2]!.toLowerCase()]!;
  if (rate >= 1) return rate;
  return `Invalid --limit-rate "${text.slice(0, 40)}": give bytes per second of 1 or more, ` +
    "e.g. 500K, 10M or 1G (K = 1024 bytes)";
}

/** One machine's share of `-i LIST` (`--shard K/N`): shard `index` (1 to `count`) of `count`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** The most shards accepted: far beyond any fleet, small enough to stay exact. */
const MAX_SHARDS = 1_000_000;

/** Reads `K/N` (`"3/8"`; K counts from 1, as in Jest, Vitest and Playwright): the shard, or a message saying what is wrong. */
export function parseShard(text: string): Shard | string {
  const match = /^\s*(\d{1,7})\s*\/\s*(\d{1,7})\s*$/.exec(text);
  if (match === null) return `--shard needs K/N, e.g. --shard 1/4 (got "${text.slice(0, 40)}")`;
  const index = Number(match[1]);
  const count = Number(match[2]);
  if (count < 1 || count > MAX_SHARDS) return `--shard ${text}: N must be from 1 to ${MAX_SHARDS}`;
  if (index < 1 || index > count) {
    return `--shard ${text}: K counts from 1, so it must be from 1 to N (1 to ${count})`;
  }
  return { index, count };
}
