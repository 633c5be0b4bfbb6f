import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { jsonLines, runCli, startCli, waitFor } from "../fixtures/cli_run.ts";
import { startResourceServer, startThrottledServer } from "../helpers/script_server.ts";
import { bytesOf, exists, join, randomBody, withTempDir } from "../helpers/temp.ts";

describe("haul CLI signals", () => {
  it("saves progress on SIGINT, exits 130 saying how to resume, and the next run resumes", async () => {
    const body = randomBody(3 * 1024 * 1024);
    let slow = true;
    const server = await startResourceServer({ body }, (_req, honest) => {
      return slow ? { ...honest, bytesPerSecond: 1024 * 1024 } : honest;
    });
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "big.bin");
        const args = [`${server.url}/big.bin`, "--dir", dir, "--json"];
        const running = startCli(args);
        try {
          await waitFor(() => exists(`${dest}.part.ctrl`), 10_000, "a checkpoint");
          running.signal("SIGINT");
          const interrupted = await running.done;
          assert.equal(interrupted.code, 130, interrupted.stderr);
          assert.match(interrupted.stderr, /run the same command again to resume/);
          assert.equal(interrupted.stdout, "", "no JSON for an unfinished file");
          assert.ok(interrupted.ms < 8000);
        } finally {
          running.kill();
        }
        assert.equal(exists(dest), false);
        assert.equal(exists(`${dest}.part`), true);
        assert.equal(exists(`${dest}.part.lock`), false, "the lock is released");
        slow = false;
        const resumed = await runCli(args);
        assert.equal(resumed.code, 0, resumed.stderr);
        const [result] = jsonLines(resumed.stdout);
        assert.ok(Number(result?.resumedFrom) > 0, JSON.stringify(result));
        assert.ok(Number(result?.received) < body.length);
        assert.match(server.requests.at(-1)!.headers["range"] ?? "", /^bytes=[1-9]\d*-$/);
        assert.deepEqual(await bytesOf(dest), body);
      });
    } finally {
      await server.close();
    }
  });

  it("saves progress on SIGTERM, releases the lock, exits 143, and never says to press Ctrl-C", async () => {
    const body = randomBody(3 * 1024 * 1024);
    const server = await startThrottledServer(body, 1024 * 1024);
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "term.bin");
        const running = startCli([`${server.url}/term.bin`, "--dir", dir]);
        try {
          await waitFor(() => exists(`${dest}.part.ctrl`), 10_000, "a checkpoint");
          running.signal("SIGTERM");
          const result = await running.done;
          assert.equal(result.code, 143, `${result.signal} ${result.stderr}`);
          assert.match(result.stderr, /SIGTERM: stopping and saving progress/);
          assert.doesNotMatch(result.stderr, /Ctrl-C/);
          assert.match(result.stderr, /run the same command again to resume/);
        } finally {
          running.kill();
        }
        assert.equal(exists(dest), false);
        assert.equal(exists(`${dest}.part`), true);
        assert.equal(exists(`${dest}.part.lock`), false, "the lock is released");
      });
    } finally {
      await server.close();
    }
  });

  it("stops a whole list on SIGTERM with status 143 (128 + 15), and on a second signal at once", async () => {
    const body = randomBody(2 * 1024 * 1024);
    const server = await startThrottledServer(body, 512 * 1024);
    try {
      await withTempDir(async (dir) => {
        const list = join(dir, "list.txt");
        await writeFile(list, `${server.url}/a.bin\n${server.url}/b.bin\n${server.url}/c.bin\n`);
        for (const signals of [["SIGTERM"], ["SIGINT", "SIGINT"]] as const) {
          const out = join(dir, signals.join("-"));
          const running = startCli(["-i", list, "--dir", out, "-j", "2"]);
          try {
            await waitFor(
              () => exists(join(out, "a.bin.part.ctrl")),
              10_000,
              "a checkpoint",
            );
            for (const signal of signals) running.signal(signal);
            const result = await running.done;
            const status = signals[0] === "SIGTERM" ? 143 : 130; // 128 + the signal's number
            assert.equal(result.code, status, `${signals}: ${result.signal} ${result.stderr}`);
            assert.match(result.stderr, /SIGTERM|SIGINT/);
            assert.ok(result.ms < 8000);
            assert.equal(exists(join(out, "c.bin.part")), false, "c never started");
          } finally {
            running.kill();
          }
        }
      });
    } finally {
      await server.close();
    }
  });

  it("exits 130 on SIGINT while -J asks the server for a name, having written nothing", async () => {
    const server = await startResourceServer({ body: randomBody(1000) }, (_req, honest) => ({
      ...honest,
      delayMs: 20_000, // the answer to the name's request never comes in time
    }));
    try {
      await withTempDir(async (dir) => {
        const running = startCli([`${server.url}/named.bin`, "-J", "--dir", join(dir, "out")]);
        try {
          await waitFor(() => server.requests.length > 0, 10_000, "the name's request");
          running.signal("SIGINT");
          const result = await running.done;
          assert.equal(result.code, 130, `${result.signal} ${result.stderr}`);
          assert.match(result.stderr, /^haul: SIGINT: interrupted before any download/m);
          assert.ok(result.ms < 8000);
          assert.deepEqual(await readdir(dir), [], "nothing created");
        } finally {
          running.kill();
        }
      });
    } finally {
      await server.close();
    }
  });

  it("exits 130 at the first SIGINT while -i - waits for standard input", async () => {
    await withTempDir(async (dir) => {
      const running = startCli(["-i", "-", "--dir", dir], { input: null, timeoutMs: 10_000 });
      try {
        await waitForSigintHandler(running.child.pid!);
        await waitUntilIdle(running.child.pid!); // started up, now waiting for its list
        running.signal("SIGINT");
        const result = await running.done;
        assert.equal(result.code, 130, `${result.signal} ${result.stderr}`);
        assert.match(result.stderr, /^haul: SIGINT: interrupted before any download/m);
        assert.deepEqual(await readdir(dir), [], "nothing created");
      } finally {
        running.kill();
      }
    });
  });
});

/** Waits until process `pid` catches SIGINT (Linux's /proc/PID/status `SigCgt`), then a little more. */
async function waitForSigintHandler(pid: number): Promise<void> {
  const catches = async () => {
    const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    return mask !== undefined && (BigInt(`0x${mask}`) & 2n) !== 0n; // bit 1: SIGINT (2)
  };
  const deadline = performance.now() + 10_000;
  while (!(await catches()) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
}

/**
 * Waits until process `pid` has used no CPU for 200 ms (Linux's /proc/PID/stat `utime` + `stime`):
 * its start-up is over (Node catches SIGINT before its code installs a listener). Bounded: 10 s.
 */
async function waitUntilIdle(pid: number): Promise<void> {
  const cpu = async () => {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return `${fields[11]} ${fields[12]}`; // fields 14 and 15 of the line
  };
  const deadline = performance.now() + 10_000;
  for (let last = await cpu(); performance.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const now = await cpu();
    if (now === last) return;
    last = now;
  }
}
