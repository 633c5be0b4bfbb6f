import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import process from "node:process";
import { childEnv, cliCommand, REPO_ROOT, waitFor } from "../fixtures/cli_run.ts";
import { startResourceServer, startThrottledServer } from "../helpers/script_server.ts";
import { exists, join, randomBody, withTempDir } from "../helpers/temp.ts";

/** Whether util-linux `script` (Debian: bsdutils) is installed. */
const hasScript = spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;

function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Runs the CLI in a pseudo-terminal of 100 columns (`TERM` = `term`); resolves to its raw output. */
function runInPty(
  args: string[],
  term = "xterm",
  onStart: (scriptPid: number) => void = () => {},
): Promise<{ code: number | null; output: string; ms: number }> {
  const { command, args: full } = cliCommand(args);
  const line = `stty cols 100 rows 30; exec ${[command, ...full].map(shellQuote).join(" ")}`;
  const started = performance.now();
  const child = spawn("script", ["-qfec", line, "/dev/null"], {
    cwd: REPO_ROOT,
    env: childEnv({ SHELL: "/bin/sh", TERM: term }),
    stdio: ["pipe", "pipe", "pipe"],
  });
  onStart(child.pid!);
  let output = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => (output += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: performance.now() - started });
    });
  });
}

/** Terminal escape sequences (cursor moves, line clears). */
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
/** The cursor-up sequence that starts each redraw. */
// deno-lint-ignore no-control-regex
const CURSOR_UP = /\r?\x1b\[\d+A/;

/** The frames of a redrawing display: the text between cursor-up sequences, escapes removed. */
function frames(output: string): string[][] {
  return output.split(CURSOR_UP).map((frame) => frame.replace(ANSI, ""))
    .map((frame) => frame.split(/\r?\n/).map((line) => line.replace(/\r/g, "")));
}

describe("haul CLI on a terminal", () => {
  it("has script(1) to make a pseudo-terminal (scripts/setup.sh installs it)", () => {
    assert.ok(hasScript, "script(1) is missing: run bash scripts/setup.sh (installs bsdutils)");
  });

  it("draws a bar per download and a total line that never move backwards, at most 10 times a second", async () => {
    const body = randomBody(3 * 1024 * 1024);
    const cut = new Set<string>();
    const server = await startResourceServer({ body }, (req, honest) => {
      const slow = { ...honest, bytesPerSecond: 2 * 1024 * 1024, chunkSize: 64 * 1024 };
      if (req.path !== "/alpha.bin") return slow;
      if (cut.has(req.path)) return { ...slow, delayMs: 400 };
      cut.add(req.path);
      return { ...slow, cutAfter: 1024 * 1024 };
    });
    try {
      await withTempDir(async (dir) => {
        const list = join(dir, "list.txt");
        await writeFile(list, `${server.url}/alpha.bin\n${server.url}/beta.bin\n`);
        const run = await runInPty([
          "-i",
          list,
          "--dir",
          join(dir, "out"),
          "--retry-delay",
          "0.05",
        ]);
        assert.equal(run.code, 0, run.output);
        const all = frames(run.output);
        const drawn = all.filter((frame) => frame.some((line) => line.startsWith("Total ")));
        assert.ok(drawn.length >= 5, `frames: ${drawn.length}`);
        assert.ok(
          drawn.length <= (run.ms / 1000) * 10 + 2,
          `${drawn.length} frames in ${run.ms} ms`,
        );
        const last = new Map<string, number>();
        for (const frame of drawn) {
          for (const line of frame) {
            const match = /^(\S+)(?: \d+\/\d+)?\s+\[[= >]+\]\s+([\d.]+)%/.exec(line);
            if (match === null) continue;
            const key = match[1]!;
            const percent = Number(match[2]);
            assert.ok(percent >= (last.get(key) ?? 0), `${key} went back to ${percent}%`);
            last.set(key, percent);
          }
        }
        assert.deepEqual([...last.keys()].sort(), ["Total", "alpha.bin", "beta.bin"]);
        const text = run.output.replace(ANSI, "");
        assert.match(text, /MiB\/s\s+ETA \d+:\d\d/);
        assert.match(text, /alpha\.bin +\[=*> *\] +[\d.]+% .*(retry|resuming, attempt) 2\/21/);
        assert.match(text, /Saved .*alpha\.bin: 3\.0 MiB .*2 attempts/);
        assert.match(text, /Done 2, skipped 0, failed 0/);
        if (process.env["HAUL_SHOW_CAPTURE"] === "1") {
          const retrying = drawn.find((frame) => frame.some((line) => line.includes("resuming")));
          const middle = drawn[Math.floor(drawn.length / 2)];
          for (const frame of [retrying, middle]) {
            console.log(["", ...(frame ?? []).filter((line) => line !== "")].join("\n"));
          }
        }
      });
    } finally {
      await server.close();
    }
  });

  it("shows the reason of a retry in the bar, and prints no retry line on a terminal", async () => {
    const server = await startResourceServer({ body: randomBody(1000) }, (req, honest) => {
      return req.index < 2
        ? { status: 503, headers: { "Retry-After": "1" }, body: "busy" }
        : honest;
    });
    try {
      await withTempDir(async (dir) => {
        const run = await runInPty([`${server.url}/gamma.bin`, "--dir", dir]);
        assert.equal(run.code, 0, run.output);
        const text = run.output.replace(ANSI, "");
        assert.match(text, /gamma\.bin .*retry 2\/21 in \d\.\d s: HTTP 503/);
        assert.doesNotMatch(text, /^Retrying /m);
        assert.match(text, /Saved .*gamma\.bin: 1000 B .*3 attempts/);
      });
    } finally {
      await server.close();
    }
  });

  it("stops like SIGTERM on SIGHUP (its terminal closed): progress saved, lock released, status 129", async () => {
    const server = await startThrottledServer(randomBody(3 * 1024 * 1024), 1024 * 1024);
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "hup.bin");
        let scriptPid = 0;
        const run = runInPty([`${server.url}/hup.bin`, "--dir", dir], "xterm", (pid) => {
          scriptPid = pid;
        });
        await waitFor(() => exists(`${dest}.part.ctrl`), 10_000, "a checkpoint");
        // script(1)'s child is the CLI (`exec`), the session leader of the pseudo-terminal.
        const children = `/proc/${scriptPid}/task/${scriptPid}/children`;
        process.kill(Number(readFileSync(children, "utf8").trim().split(" ")[0]), "SIGHUP");
        const result = await run;
        const text = result.output.replace(ANSI, "");
        assert.equal(result.code, 129, text);
        assert.match(text, /SIGHUP: stopping and saving progress/);
        assert.doesNotMatch(text, /Ctrl-C/);
        assert.equal(exists(dest), false);
        assert.equal(exists(`${dest}.part`), true);
        assert.equal(exists(`${dest}.part.lock`), false, "the lock is released");
      });
    } finally {
      await server.close();
    }
  });

  it("draws no bars with TERM=dumb, which cannot move the cursor: it prints the lines instead", async () => {
    const server = await startThrottledServer(randomBody(300_000), 600_000);
    try {
      await withTempDir(async (dir) => {
        const run = await runInPty([`${server.url}/dumb.bin`, "--dir", dir], "dumb");
        assert.equal(run.code, 0, run.output);
        // (Deno itself clears a line at its start: only haul's redraws are looked for.)
        assert.doesNotMatch(run.output, CURSOR_UP, "no redraw");
        assert.doesNotMatch(run.output.replace(ANSI, ""), /\[[= >]+\]|%/, "no bar");
        assert.match(run.output.replace(ANSI, ""), /^Saved .*dumb\.bin: 293\.0 KiB in /m);
      });
    } finally {
      await server.close();
    }
  });
});
