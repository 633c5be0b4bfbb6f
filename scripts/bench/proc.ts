/**
 * Running measured child processes for the benchmark: wall time (from spawn
 * to exit, measured here), CPU time (user + system) and peak RSS, from GNU
 * `/usr/bin/time` when the machine has it, else by polling
 * `/proc/<pid>/status` (`VmHWM`) and `/proc/<pid>/stat` of the child and its
 * descendants. Also the small statistics and machine description the report
 * needs.
 *
 * @module
 */

import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import process from "node:process";

/** One measured run of a child process. */
export interface Measurement {
  /** Milliseconds from spawn to exit. */
  readonly wallMs: number;
  /** CPU seconds in user mode (the child and its waited-for descendants). */
  readonly userS: number;
  /** CPU seconds in the kernel. */
  readonly sysS: number;
  /** Peak resident set size in KiB (the largest of the process tree). */
  readonly maxRssKiB: number;
  /** Exit code (`null` when killed by a signal). */
  readonly exitCode: number | null;
  /** Everything the child printed on stdout. */
  readonly stdout: string;
  /** Everything the child printed on stderr (last 4 KiB). */
  readonly stderr: string;
}

const GNU_TIME = "/usr/bin/time";
let timeWorks: boolean | null = null;

/** Whether GNU time is installed and understands `-f` (busybox's may not). */
function haveGnuTime(): boolean {
  if (timeWorks !== null) return timeWorks;
  timeWorks = false;
  if (existsSync(GNU_TIME)) {
    try {
      execFileSync(GNU_TIME, ["-f", "%M", "true"], { stdio: "ignore" });
      timeWorks = true;
    } catch {
      timeWorks = false;
    }
  }
  return timeWorks;
}

/** How peak RSS and CPU time are taken on this machine, for the report. */
export function measurementMethod(): string {
  return haveGnuTime()
    ? "GNU /usr/bin/time (wait4 rusage: peak RSS and user+sys CPU of the process tree)"
    : "polling /proc/<pid>/status VmHWM and /proc/<pid>/stat every 20 ms";
}

const CLOCK_TICKS = 100;

/** [user s, sys s, VmHWM KiB] of `pid` and its descendants right now (best effort). */
function sampleTree(pid: number): [number, number, number] {
  let user = 0;
  let sys = 0;
  let hwm = 0;
  const visit = (id: number): void => {
    try {
      const stat = readFileSync(`/proc/${id}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      user += Number(fields[11]) / CLOCK_TICKS;
      sys += Number(fields[12]) / CLOCK_TICKS;
      const status = readFileSync(`/proc/${id}/status`, "utf8");
      const match = /VmHWM:\s+(\d+)/.exec(status);
      if (match !== null) hwm = Math.max(hwm, Number(match[1]));
      const children = readFileSync(`/proc/${id}/task/${id}/children`, "utf8").trim();
      for (const child of children === "" ? [] : children.split(" ")) visit(Number(child));
    } catch {
      // The process ended between two reads.
    }
  };
  visit(pid);
  return [user, sys, hwm];
}

/**
 * Runs `command` and measures it.
 *
 * @param command program and arguments.
 * @param options working directory, scratch directory and extra environment.
 * @returns the measurement.
 */
export async function measure(
  command: readonly string[],
  options: { scratch: string; env?: Record<string, string> },
): Promise<Measurement> {
  const gnu = haveGnuTime();
  const timeFile = join(options.scratch, `time-${process.pid}-${Math.random()}.txt`);
  const argv = gnu ? [GNU_TIME, "-f", "%U %S %M", "-o", timeFile, ...command] : [...command];
  const [program, ...args] = argv;
  if (program === undefined) throw new Error("empty command");
  const started = performance.now();
  const child = spawn(program, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (text: string) => {
    stdout += text;
  });
  child.stderr?.setEncoding("utf8").on("data", (text: string) => {
    stderr = (stderr + text).slice(-4096);
  });
  let polled: [number, number, number] = [0, 0, 0];
  const poller = gnu ? null : setInterval(() => {
    if (child.pid !== undefined) {
      const sample = sampleTree(child.pid);
      polled = [
        Math.max(polled[0], sample[0]),
        Math.max(polled[1], sample[1]),
        Math.max(polled[2], sample[2]),
      ];
    }
  }, 20);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve(code));
  });
  const wallMs = performance.now() - started;
  if (poller !== null) clearInterval(poller);
  let [userS, sysS, maxRssKiB] = polled;
  if (gnu) {
    const text = await readFile(timeFile, "utf8").catch(() => "");
    await rm(timeFile, { force: true });
    const last = text.trim().split("\n").pop() ?? "";
    const [u, s, m] = last.split(" ").map(Number);
    userS = u ?? NaN;
    sysS = s ?? NaN;
    maxRssKiB = m ?? NaN;
  }
  return { wallMs, userS, sysS, maxRssKiB, exitCode, stdout, stderr };
}

/**
 * Runs `command` to completion, throwing with its output when it fails.
 *
 * @param command program and arguments.
 * @returns its stdout.
 */
export function run(command: readonly string[]): string {
  const [program, ...args] = command;
  if (program === undefined) throw new Error("empty command");
  return execFileSync(program, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Median of `values` (NaN for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** `median (min–max)` of `values`, each formatted with `digits` decimals. */
export function spread(values: readonly number[], digits = 0): string {
  if (values.length === 0) return "n/a";
  const fmt = (value: number): string => value.toFixed(digits);
  return `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
}

/** A description of the machine for the report. */
export function machine(dir: string): Record<string, string> {
  const cpus = os.cpus();
  const info: Record<string, string> = {
    cpu: `${cpus[0]?.model ?? "unknown"} × ${cpus.length}`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    "load average at start": os.loadavg().map((value) => value.toFixed(2)).join(" "),
  };
  try {
    info["filesystem"] = run(["findmnt", "-n", "-o", "SOURCE,FSTYPE,OPTIONS", "-T", dir]).trim();
  } catch {
    info["filesystem"] = "unknown";
  }
  const flags = readFileSync("/proc/cpuinfo", "utf8");
  info["sha extensions"] = / sha_ni /.test(flags) ? "SHA-NI present" : "no SHA-NI";
  return info;
}
