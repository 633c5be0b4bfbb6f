/**
 * What the command line needs from its runtime: `cli.ts` builds it and `runCli()` uses it.
 *
 * @module
 */

const SIGNALS = { SIGHUP: 129, SIGINT: 130, SIGPIPE: 141, SIGTERM: 143 } as const;
/** Exit statuses (docs/cli.md, "Exit status"); a signal's is 128 + its number, as a shell's (`cat`'s). */
export const EXIT = { ok: 0, fail: 1, usage: 2, ...SIGNALS } as const;

/** The signals the CLI reacts to (SIGHUP: the terminal closed). */
export type CliSignal = "SIGINT" | "SIGTERM" | "SIGHUP";

/** What is at a path (symbolic links followed); `what` says it in a few words (`"a fifo"`). */
interface PathInfo {
  readonly type: "file" | "directory" | "other";
  readonly what: string;
  /** Size in bytes (regular files). */
  readonly size: number;
}

/** The runtime services of the command line. */
export interface CliIo {
  /** Writes text to standard output (synchronously, or queued in order). */
  stdout(text: string): void;
  /** Writes bytes to stdout (`-o -`), resolving once handed on (a slow reader slows the download); `false`: broken pipe. */
  writeOut(bytes: Uint8Array): Promise<boolean>;
  /** Writes text to standard error (synchronously, or queued in order). */
  stderr(text: string): void;
  /** Whether standard error is a terminal that can redraw (not `TERM=dumb`): bars only then. */
  readonly isTTY: boolean;
  /** The terminal's width in columns (called at each redraw; 80 when unknown). */
  columns(): number;
  /** Delivers each {@link CliSignal} to `handler` instead of exiting, until the returned function is called. */
  onSignal(handler: (signal: CliSignal) => void): () => void;
  /** Ends the process at once (a second interrupt). */
  exit(code: number): void;
  /** Reads a UTF-8 text file (a list or a checksums file); `-` is standard input. */
  readTextFile(path: string): Promise<string>;
  /** Creates a directory and its missing parents; succeeds when it exists. */
  makeDir(path: string): Promise<void>;
  /** What is at `path`, or `null` when nothing is (or a parent is not a directory). */
  statPath(path: string): Promise<PathInfo | null>;
}
