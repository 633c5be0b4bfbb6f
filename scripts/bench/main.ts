/**
 * haul's benchmark driver (`bash scripts/bench.sh`, or `deno run -A
 * scripts/bench/main.ts`): measures Engine v2's targets on Deno and on Bun,
 * each beside its reference measured in the same run, and prints every
 * target with a verdict. Files are served by nginx on 127.0.0.1 (or the
 * built-in server without nginx) and by the built-in server for the cuts;
 * every measured client is its own process (see `sections/`).
 *
 * Options: `--quick` (smaller sizes and fewer rounds, under 5 minutes),
 * `--only slow,full,...`, `--server auto|nginx|builtin`, `--keep` (keep the
 * generated files under `.bench/www/` for the next run), `--no-hold` (leave
 * the VM's free page reporting as it is: see `page_reporting.ts`).
 *
 * @module
 */

import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { type Context, makeContext, MiB } from "./context.ts";
import { machine, measurementMethod, run } from "./proc.ts";
import { holdPageReporting, type PageReportingHold } from "./page_reporting.ts";
import { Report } from "./report.ts";
import { type Bench, logger, type Section } from "./section.ts";
import { type BenchServer, startBuiltin, startServer } from "./server.ts";
import { connections } from "./sections/connections.ts";
import { cuts } from "./sections/cuts.ts";
import { firstByte } from "./sections/first_byte.ts";
import { fullSpeed } from "./sections/full_speed.ts";
import { longLived } from "./sections/long_lived.ts";
import { peakRss } from "./sections/peak_rss.ts";
import { rateLimit } from "./sections/rate_limit.ts";
import { responsive } from "./sections/responsive.ts";
import { resumeFresh } from "./sections/resume_fresh.ts";
import { slowLink } from "./sections/slow_link.ts";
import { smallFiles } from "./sections/small_files.ts";

const SECTIONS: Readonly<Record<string, Section>> = {
  slow: slowLink,
  full: fullSpeed,
  resume: resumeFresh,
  rounds: longLived,
  cuts,
  "first-byte": firstByte,
  rss: peakRss,
  serve: responsive,
  connections,
  limit: rateLimit,
  small: smallFiles,
};

interface Settings {
  quick: boolean;
  only: string[];
  server: "auto" | "nginx" | "builtin";
  keep: boolean;
  hold: boolean;
}

function parseSettings(argv: readonly string[]): Settings {
  const settings: Settings = {
    quick: false,
    only: Object.keys(SECTIONS),
    server: "auto",
    keep: false,
    hold: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--quick") settings.quick = true;
    else if (flag === "--keep") settings.keep = true;
    else if (flag === "--no-hold") settings.hold = false;
    else if (flag === "--only") {
      settings.only = (argv[++i] ?? "").split(",").map((name) => name.trim());
      const unknown = settings.only.filter((name) => !(name in SECTIONS));
      if (unknown.length > 0) {
        throw new Error(
          `Unknown section: ${unknown.join(",")}: use ${Object.keys(SECTIONS).join(",")}`,
        );
      }
    } else if (flag === "--server") {
      const kind = argv[++i];
      if (kind !== "auto" && kind !== "nginx" && kind !== "builtin") {
        throw new Error(`Unknown server: ${kind}`);
      }
      settings.server = kind;
    } else if (flag === "--help" || flag === "-h") {
      console.log(
        `Usage: bash scripts/bench.sh [--quick] [--only ${Object.keys(SECTIONS).join(",")}] ` +
          "[--server auto|nginx|builtin] [--keep] [--no-hold]",
      );
      process.exit(0);
    } else throw new Error(`Unknown option: ${flag}`);
  }
  return settings;
}

function commitOf(root: string): string {
  try {
    return run(["git", "-C", root, "log", "-1", "--format=%h %s"]).trim().slice(0, 100);
  } catch {
    return "unknown (not a git checkout)";
  }
}

function describe(
  context: Context,
  servers: BenchServer[],
  hold: PageReportingHold,
  report: Report,
  argv: string[],
): void {
  report.out(`# haul benchmark, ${new Date().toISOString()}`);
  report.out();
  report.out(`Command: \`${["bash scripts/bench.sh", ...argv].join(" ")}\``);
  report.out();
  const facts: Record<string, string> = {
    ...machine(context.work),
    commit: commitOf(context.root),
    deno: run([context.bin.deno, "--version"]).split("\n")[0] ?? "",
    bun: `bun ${run([context.bin.bun, "--version"]).trim()}`,
    curl: run(["curl", "--version"]).split("\n")[0] ?? "",
    servers: servers.map((server) => server.name).join("; "),
    "CPU time and peak RSS": measurementMethod(),
    "free page reporting": hold.description,
  };
  for (const [key, value] of Object.entries(facts)) report.out(`- ${key}: ${value}`);
  report.out();
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const settings = parseSettings(argv);
  const context = makeContext(settings.quick);
  const started = performance.now();
  for (const dir of [context.www, context.downloads, context.scratch]) {
    await mkdir(dir, { recursive: true });
  }
  const serverOptions = {
    www: context.www,
    work: context.work,
    slowRate: 50 * MiB,
    linkRate: 100 * MiB,
    kind: settings.server,
    runtime: [context.bin.deno, "run", "-A", "--quiet"],
  };
  const nginx = await startServer(serverOptions);
  const builtin = await startBuiltin(serverOptions);
  const report = new Report();
  const bench: Bench = { context, report, nginx, builtin, log: logger(started) };
  const hold = holdPageReporting(settings.hold);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      hold.restore();
      void Promise.allSettled([nginx.stop(), builtin.stop()]).then(() => process.exit(130));
    });
  }
  describe(context, [nginx, builtin], hold, report, argv);
  try {
    for (const name of Object.keys(SECTIONS)) {
      if (settings.only.includes(name)) await SECTIONS[name]!(bench);
    }
  } finally {
    hold.restore();
    await nginx.stop();
    await builtin.stop();
    if (!settings.keep) await rm(context.www, { recursive: true, force: true });
    await rm(context.downloads, { recursive: true, force: true });
  }
  report.out("## Targets");
  report.out();
  for (const line of report.summary()) report.out(line);
  report.out();
  report.out(`Finished in ${((performance.now() - started) / 1000).toFixed(0)} s.`);
  const stamp = new Date().toISOString().replaceAll(":", "-");
  const file = join(context.work, `report-${stamp}.md`);
  await writeFile(file, `${report.lines.join("\n")}\n`);
  bench.log(`report: ${file}`);
}

await main();
