/**
 * Kept target: peak RSS of a `haul()` process below 128 MiB at 2 GiB, with
 * the same runtime's peak at 256 MiB beside it (growth with size).
 *
 * @module
 */

import { GiB, MiB, RUNTIMES, sizeLabel } from "../context.ts";
import { download, haulClient } from "../downloads.ts";
import { verdict } from "../report.ts";
import { type Bench, dataFile } from "../section.ts";

/** The goal, in MiB. */
const LIMIT = 128;

/** Runs the section. */
export async function peakRss(bench: Bench): Promise<void> {
  const { context, report } = bench;
  const small = await dataFile(bench, context.quick ? 128 * MiB : 256 * MiB);
  const big = await dataFile(bench, context.quick ? 512 * MiB : 2 * GiB);
  const rows: string[][] = [];
  for (const runtime of RUNTIMES) {
    const client = haulClient(context, runtime);
    const peaks: number[] = [];
    for (const file of [small, big]) {
      const sample = await download(bench, client, `${bench.nginx.url}/${file.name}`, file, 1);
      peaks.push(sample.maxRssKiB / 1024);
      bench.log(
        `peak RSS: ${runtime} ${sizeLabel(file.size)}: ${(sample.maxRssKiB / 1024).toFixed(0)} MiB`,
      );
    }
    const [atSmall, atBig] = [peaks[0]!, peaks[1]!];
    rows.push([runtime, atSmall.toFixed(0), atBig.toFixed(0)]);
    report.target({
      target: `Peak RSS at ${sizeLabel(big.size)} (MiB)`,
      runtime,
      figure: atBig.toFixed(0),
      reference: `at ${sizeLabel(small.size)}: ${atSmall.toFixed(0)}`,
      goal: `< ${LIMIT}`,
      verdict: verdict(atBig < LIMIT),
    });
  }
  report.out("## Peak RSS of a haul() process");
  report.out();
  report.out("VmHWM of the process tree (GNU time), one download each.");
  report.out();
  report.table(
    ["runtime", `${sizeLabel(small.size)} file: MiB`, `${sizeLabel(big.size)} file: MiB`],
    rows,
  );
}
