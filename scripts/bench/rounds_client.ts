/**
 * A long-lived process, as a server that downloads now and then is: rounds
 * of (a fresh download to one dest; another dest cut at a byte count by an
 * `AbortSignal`; its resume), all in this one process, through `haul()`.
 * The abort comes from the body itself, as soon as the byte count has
 * arrived (`onProgress` is called every 100 ms: at full speed it would cut
 * tens of MiB later, a different amount in every round).
 * Prints one JSON line with each step's wall and CPU milliseconds.
 *
 * ```sh
 * deno run -A scripts/bench/rounds_client.ts --url URL --dir DIR --rounds 6 --cut-at BYTES
 * ```
 *
 * @module
 */

import { rm } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { haul, HaulState } from "../../mod.ts";
import type { FetchLike } from "../../mod.ts";
import { option } from "./argv.ts";

/** Wall and CPU time of one step. */
export interface Step {
  readonly ms: number;
  readonly cpuMs: number;
}

/** One round's three steps. */
export interface Round {
  readonly fresh: Step;
  readonly cut: Step;
  readonly resume: Step;
  /** Bytes `.part` held when the cut call ended. */
  readonly cutAt: number;
}

function cpuMsNow(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

async function timed(step: () => Promise<unknown>): Promise<Step> {
  const started = performance.now();
  const cpu = cpuMsNow();
  await step();
  return { ms: performance.now() - started, cpuMs: cpuMsNow() - cpu };
}

/** The global fetch, whose body aborts `controller` once `cutAt` bytes of it have passed. */
function abortingFetch(controller: AbortController, cutAt: number): FetchLike {
  return async (request, init) => {
    const response = await globalThis.fetch(request, init);
    if (response.body === null) return response;
    let seen = 0;
    const body = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, sink): void {
          sink.enqueue(chunk);
          seen += chunk.length;
          if (seen >= cutAt) controller.abort(new Error("bench: cut"));
        },
      }),
    );
    return new Response(body, { status: response.status, headers: response.headers });
  };
}

async function removeAll(dest: string): Promise<void> {
  for (const suffix of ["", ".part", ".part.ctrl"]) await rm(`${dest}${suffix}`, { force: true });
}

const url = option("--url");
const dir = option("--dir");
const rounds = Number(option("--rounds"));
const cutAt = Number(option("--cut-at"));
const fresh = join(dir, "rounds-fresh.bin");
const cut = join(dir, "rounds-cut.bin");
const results: Round[] = [];
for (let round = 0; round < rounds; round++) {
  await removeAll(fresh);
  await removeAll(cut);
  const freshStep = await timed(() => haul(url, { dest: fresh }));
  const state = new HaulState();
  const controller = new AbortController();
  const cutStep = await timed(() =>
    haul(url, {
      dest: cut,
      state,
      signal: controller.signal,
      fetch: abortingFetch(controller, cutAt),
    }).then(
      () => {
        throw new Error("The cut download finished: raise --cut-at or use a bigger file");
      },
      (error) => {
        if (!controller.signal.aborted) throw error;
      },
    )
  );
  const cutLength = state.validLength;
  const resumeStep = await timed(async () => {
    const result = await haul(url, { dest: cut });
    if (result.resumedFrom === 0) throw new Error("The resume started from byte 0");
  });
  results.push({ fresh: freshStep, cut: cutStep, resume: resumeStep, cutAt: cutLength });
}
await removeAll(fresh);
await removeAll(cut);
process.stdout.write(`${JSON.stringify({ ok: true, rounds: results })}\n`);
