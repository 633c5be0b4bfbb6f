/**
 * Kept target: the time from the call to the first body byte when resuming
 * a 4 GiB `.part` against a 64 MiB one (goal ≤ 1.5 ×). Both `.part` files
 * are made by cutting a real download (an abort at the byte count), then
 * probed in turn by processes that abort at the first body byte.
 *
 * @module
 */

import { join } from "node:path";
import {
  clean,
  GiB,
  MiB,
  runClient,
  runtimeCommand,
  RUNTIMES,
  settle,
  sizeLabel,
} from "../context.ts";
import { median, spread } from "../proc.ts";
import { verdict } from "../report.ts";
import { type Bench, dataFile } from "../section.ts";

/** Runs the section. */
export async function firstByte(bench: Bench): Promise<void> {
  const { context, report } = bench;
  const small = 64 * MiB;
  const big = context.quick ? GiB : 4 * GiB;
  const file = await dataFile(bench, big + 64 * MiB);
  const url = `${bench.nginx.url}/${file.name}`;
  const probes = context.quick ? 3 : 5;
  const parts = new Map<number, string>();
  for (const size of [small, big]) {
    const dest = join(context.downloads, `first-byte-${size}.bin`);
    await clean(dest);
    bench.log(`first byte: making a ${sizeLabel(size)} .part`);
    const { report: made } = await runClient(
      context,
      runtimeCommand(context, "deno", "haul_client.ts", [
        "--url",
        url,
        "--dest",
        dest,
        "--abort-at",
        String(size),
      ]),
    );
    if (Number(made["validLength"]) < size) {
      throw new Error(`first byte: .part has ${String(made["validLength"])} bytes`);
    }
    parts.set(size, dest);
  }
  settle();
  const times = new Map<string, number[]>();
  for (let round = 0; round <= probes; round++) {
    for (const runtime of RUNTIMES) {
      for (const [size, dest] of parts) {
        const { report: probe } = await runClient(
          context,
          runtimeCommand(context, runtime, "haul_client.ts", [
            "--url",
            url,
            "--dest",
            dest,
            "--first-byte",
          ]),
        );
        const ms = Number(probe["firstByteMs"] ?? NaN);
        if (Number.isNaN(ms)) {
          throw new Error(`first byte: probe failed: ${String(probe["error"])}`);
        }
        const key = `${runtime} ${size}`;
        if (round > 0) times.set(key, [...(times.get(key) ?? []), ms]);
      }
    }
  }
  for (const dest of parts.values()) await clean(dest);
  report.out("## Time to the first body byte of a resume");
  report.out();
  report.out(
    `From the call to the first body byte, resuming a \`.part\` of ${sizeLabel(small)} and of ` +
      `${sizeLabel(big)} (${probes} probes each after a warm-up, ms).`,
  );
  report.out();
  const rows: string[][] = [];
  for (const runtime of RUNTIMES) {
    const a = times.get(`${runtime} ${small}`)!;
    const b = times.get(`${runtime} ${big}`)!;
    const ratio = median(b) / median(a);
    rows.push([runtime, spread(a, 1), spread(b, 1), ratio.toFixed(2)]);
    report.target({
      target: `First byte resuming ${sizeLabel(big)} × ${sizeLabel(small)} .part`,
      runtime,
      figure: `${ratio.toFixed(2)} (${median(b).toFixed(0)} ms)`,
      reference: `${sizeLabel(small)}: ${median(a).toFixed(0)} ms`,
      goal: "≤ 1.5",
      verdict: verdict(ratio <= 1.5),
    });
  }
  report.table(
    ["runtime", `${sizeLabel(small)} .part ms`, `${sizeLabel(big)} .part ms`, "ratio"],
    rows,
  );
}
