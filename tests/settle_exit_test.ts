/**
 * Once a call of haul's settles, nothing of it keeps the process alive: after `haul()`,
 * `haulWithRetry()`, `haulAll()` and a `haulStream()` read to its end or cancelled, whether it
 * succeeded, stalled (before the head or in the body), was cut or aborted by its caller, the child
 * that made it (`tests/fixtures/settle_child.ts`, a garbage collection every 100 ms) exits by itself
 * soon after its outcome. A download library that keeps a script from exiting is a bug.
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runtimeChild } from "./helpers/runtime.ts";
import { type RecordedRequest, type Reply, startResourceServer } from "./helpers/script_server.ts";
import { join, randomBody, withTempDir } from "./helpers/temp.ts";

const CHILD = fileURLToPath(new URL("./fixtures/settle_child.ts", import.meta.url));
/** The most a child may take to exit once it printed its outcome (a few ms when nothing is left). */
const EXIT_BOUND_MS = 5_000;
const CUT = 256 * 1024;
const STALL = { stallTimeout: 2000 }; // a head may be slow on a loaded machine
const QUICK_RETRY = { minDelayMs: 5, maxDelayMs: 20 };

/**
 * `[call, mode, options, outcome]`: the mode misbehaves at the first request of its path, then
 * answers honestly (so a retry, a resume or a reconnection succeeds); `busy` answers each with a
 * 503. The outcome: `"ok"`, the error's name, or (`all`) each item's.
 */
const CASES: [string, string, object, string | (string | null)[]][] = [
  ["haul", "whole", {}, "ok"],
  ["haul", "nohead", STALL, "TimeoutError"],
  ["haul", "stall", STALL, "PartialHaulError"],
  ["haul", "cut", {}, "PartialHaulError"],
  ["haul", "nohead", { stallTimeout: 0, abortAfterMs: 300 }, "AbortError"],
  ["haul", "stall", { stallTimeout: 0, abortAfterMs: 300 }, "AbortError"],
  ["haul", "stall", { ...STALL, connections: 4 }, "PartialHaulError"],
  ["retry", "nohead", { ...STALL, ...QUICK_RETRY }, "ok"],
  ["retry", "stall", { ...STALL, ...QUICK_RETRY }, "ok"],
  ["retry", "nohead", { stallTimeout: 0, abortAfterMs: 300 }, "AbortError"],
  ["all", "nohead", { ...STALL, retries: 0 }, ["TimeoutError", "TimeoutError"]],
  ["all", "stall", { ...STALL, ...QUICK_RETRY }, [null, null]],
  ["stream", "whole", {}, "ok"],
  ["stream", "nohead", { ...STALL, ...QUICK_RETRY }, "ok"],
  ["stream", "stall", { ...STALL, ...QUICK_RETRY }, "ok"],
  ["stream", "cut", QUICK_RETRY, "ok"],
  ["stream", "nohead", { stallTimeout: 0, abortAfterMs: 300 }, "AbortError"],
  ["stream", "stall", { stallTimeout: 0, abortAfterMs: 300 }, "AbortError"],
  ["cancel", "stall", { stallTimeout: 0 }, "ok"],
  // A caller's abort during a wait that is no request: a retry's backoff (a 503 asking for 60 s),
  // a rate limit's pause (1 MiB at 256 KiB/s).
  ["retry", "busy", { abortAfterMs: 500 }, "AbortError"],
  ["all", "busy", { abortAfterMs: 500 }, ["AbortError", "AbortError"]],
  ["stream", "busy", { abortAfterMs: 500 }, "AbortError"],
  ["haul", "whole", { maxBytesPerSecond: CUT, abortAfterMs: 1000 }, "AbortError"],
  ["stream", "whole", { maxBytesPerSecond: CUT, abortAfterMs: 1000 }, "AbortError"],
];

/** The twist of a mode's first request: no head ever, a body that stalls, or one cut (`busy`: each). */
function misbehave(mode: string, seen: Set<string>, req: RecordedRequest): Partial<Reply> {
  const first = !seen.has(req.path);
  seen.add(req.path);
  if (mode === "busy") return { status: 503, headers: [["Retry-After", "60"]], body: "" };
  if (!first || mode === "whole") return {};
  if (mode === "nohead") return { delayMs: 600_000 }; // until the server closes
  return mode === "stall" ? { stallAfter: CUT } : { cutAfter: CUT };
}

describe("after a call settles, the process exits by itself", () => {
  it("haul(), haulWithRetry(), haulAll(), haulStream(): success, stall, cut, caller's abort", {
    timeout: 240_000,
  }, async () => {
    const body = randomBody(4 * CUT);
    const seen = new Set<string>();
    const server = await startResourceServer({ body }, (req, honest) => ({
      ...honest,
      ...misbehave(req.path.split("/")[1]!, seen, req),
    }));
    try {
      await withTempDir(async (dir) => {
        const problems: string[] = [];
        const settle = async (i: number): Promise<void> => {
          const [call, mode, options, expected] = CASES[i]!;
          const what = `${call} over ${mode} ${JSON.stringify(options)}`;
          const url = `${server.url}/${mode}/${i}.bin`;
          const args = [call, url, join(dir, `${i}.bin`), JSON.stringify(options)];
          const child = runtimeChild(CHILD, args, { allowAll: true });
          try {
            const line = JSON.parse(await child.firstLine());
            const outcome = "names" in line ? line.names : line.ok ? "ok" : line.name;
            if (JSON.stringify(outcome) !== JSON.stringify(expected)) {
              problems.push(`${what}: ${JSON.stringify(line)}`);
            }
            let timer: ReturnType<typeof setTimeout> | undefined;
            const exited = await Promise.race([
              child.exited.then(() => true),
              new Promise((resolve) => timer = setTimeout(resolve, EXIT_BOUND_MS, false)),
            ]);
            clearTimeout(timer);
            if (!exited) {
              problems.push(`${what}: running ${EXIT_BOUND_MS} ms after: ${child.output()}`);
            }
          } finally {
            await child.kill();
          }
        };
        // Two at a time: each child mostly waits (a stall, a head that never comes).
        let next = 0;
        const worker = async () => {
          while (next < CASES.length) await settle(next++);
        };
        await Promise.all([worker(), worker()]);
        assert.deepEqual(problems, []);
      });
    } finally {
      await server.close();
    }
  });
});
