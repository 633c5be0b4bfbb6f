/**
 * Target: no slowdown in a long-lived process. In one process per runtime,
 * 6 rounds of (a fresh 256 MiB download; another dest cut at ~80 MiB by an
 * `AbortSignal`; its resume): the last resume's time against the first's
 * (the same sizes in quick mode: it takes seconds), and, steadier on a busy
 * machine, the median of rounds 4–6 against that of rounds 1–3.
 *
 * @module
 */

import { MiB, runClient, runtimeCommand, RUNTIMES, sizeLabel } from "../context.ts";
import { median } from "../proc.ts";
import { verdict } from "../report.ts";
import { type Bench, dataFile } from "../section.ts";
import type { Round } from "../rounds_client.ts";

/** The goal: last resume ≤ this × the first. */
const GOAL = 1.25;
const ROUNDS = 6;

/** Runs the section. */
export async function longLived(bench: Bench): Promise<void> {
  const { context, report } = bench;
  const file = await dataFile(bench, 256 * MiB);
  const cutAt = 80 * MiB;
  const url = `${bench.nginx.url}/${file.name}`;
  report.out(`## No slowdown in a long-lived process: ${ROUNDS} rounds of ${sizeLabel(file.size)}`);
  report.out();
  report.out(
    `Each round, in one process: a fresh download; another dest cut at ${
      sizeLabel(cutAt)
    }; its resume. ` +
      "Seconds of wall time (CPU seconds of the process in brackets).",
  );
  report.out();
  const rows: string[][] = [];
  for (const runtime of RUNTIMES) {
    bench.log(`long-lived: ${runtime}, ${ROUNDS} rounds in one process`);
    const { report: result } = await runClient(
      context,
      runtimeCommand(context, runtime, "rounds_client.ts", [
        "--url",
        url,
        "--dir",
        context.downloads,
        "--rounds",
        String(ROUNDS),
        "--cut-at",
        String(cutAt),
      ]),
    );
    const rounds = result["rounds"] as Round[];
    const cell = (step: { ms: number; cpuMs: number }): string =>
      `${(step.ms / 1000).toFixed(2)} (${(step.cpuMs / 1000).toFixed(2)})`;
    rounds.forEach((round, i) => {
      rows.push([runtime, String(i + 1), cell(round.fresh), cell(round.cut), cell(round.resume)]);
    });
    const first = rounds[0]!.resume;
    const last = rounds[rounds.length - 1]!.resume;
    const ratio = last.ms / first.ms;
    const halves = median(rounds.slice(3).map((r) => r.resume.ms)) /
      median(rounds.slice(0, 3).map((r) => r.resume.ms));
    bench.log(
      `long-lived: ${runtime}: resumes ${
        rounds.map((r) => (r.resume.ms / 1000).toFixed(2)).join(", ")
      } s`,
    );
    report.target({
      target: "Long-lived process: last resume × first",
      runtime,
      figure: `${ratio.toFixed(2)} (${(last.ms / 1000).toFixed(2)} s; CPU × ${
        (last.cpuMs / first.cpuMs).toFixed(2)
      }; rounds 4–6 × 1–3: ${halves.toFixed(2)})`,
      reference: `first resume ${(first.ms / 1000).toFixed(2)} s`,
      goal: `≤ ${GOAL}`,
      verdict: verdict(ratio <= GOAL),
    });
  }
  report.table(["runtime", "round", "fresh s (CPU)", "cut s (CPU)", "resume s (CPU)"], rows);
}
