/**
 * Target: CPU on a slow link. 256 MiB from nginx with `limit_rate 50m` (per
 * connection): haul's CPU milliseconds per MB (user + system of the process
 * tree) on Deno and on Bun, beside curl's and beside the floor of each
 * runtime (`floor_client.ts`: fetch, native SHA-256 and durable writes, with
 * none of haul's guarantees), interleaved. A variant of haul checks the file
 * against a SHA-512 (`integrity: "sha512:…"`, as npm's `sha512-…`), which it
 * computes beside the SHA-256; another takes its URL from a function called
 * for every request; another from two mirrors (with the SHA-512, so their
 * validators give way to the digest): their rows and extra CPU per MB are
 * reported (no goal of their own).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { MiB, RUNTIMES, sizeLabel } from "../context.ts";
import { curl, floorClient, haulClient, interleave, mbps, type Sample } from "../downloads.ts";
import { median, spread } from "../proc.ts";
import { verdict } from "../report.ts";
import { type Bench, dataFile } from "../section.ts";

/** The goal: CPU ms per MB (10^6 bytes). */
const GOAL = 3.0;

function msPerMB(sample: Sample): number {
  return (sample.cpuS * 1000) / (sample.bytes / 1e6);
}

/** The hex SHA-512 of the file at `path`. */
async function sha512Of(path: string): Promise<string> {
  const hash = createHash("sha512");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Uint8Array);
  return hash.digest("hex");
}

/** Runs the section. */
export async function slowLink(bench: Bench): Promise<void> {
  const { context, report } = bench;
  const file = await dataFile(bench, context.quick ? 128 * MiB : 256 * MiB);
  const sha512 = `sha512:${await sha512Of(file.path)}`;
  const variants = [
    { args: ["--integrity", sha512], label: "sha512" },
    { args: ["--sources", "function"], label: "function source" },
    { args: ["--sources", "mirrors", "--integrity", sha512], label: "2 mirrors, sha512" },
  ];
  const clients = [
    ...RUNTIMES.map((runtime) => haulClient(context, runtime)),
    ...variants.flatMap((variant) =>
      RUNTIMES.map((runtime) => haulClient(context, runtime, variant))
    ),
    ...RUNTIMES.map((runtime) => floorClient(context, runtime)),
    curl,
  ];
  const rounds = context.quick ? 1 : 2;
  const url = `${bench.nginx.url}/slow/${file.name}`;
  const samples = await interleave(bench, "slow link", clients, url, file, rounds, false);
  report.out(
    `## CPU on a slow link: ${sizeLabel(file.size)} at 50 MiB/s (nginx \`limit_rate 50m\`)`,
  );
  report.out();
  report.out(
    `${rounds} interleaved round(s); median (min–max); CPU = user + system of the process tree.`,
  );
  report.out();
  report.table(
    ["client", "MB/s", "CPU s", "CPU ms per MB"],
    clients.map((client) => {
      const list = samples.get(client.name)!;
      return [
        client.name,
        spread(list.map(mbps)),
        spread(list.map((s) => s.cpuS), 2),
        spread(list.map(msPerMB), 2),
      ];
    }),
  );
  const reference = median(samples.get(curl.name)!.map(msPerMB));
  for (const runtime of RUNTIMES) {
    const figure = median(samples.get(`haul (${runtime})`)!.map(msPerMB));
    const floor = median(samples.get(`floor loop (${runtime})`)!.map(msPerMB));
    report.target({
      target: "CPU on a slow link (ms per MB)",
      runtime,
      figure: figure.toFixed(2),
      reference: `curl ${reference.toFixed(2)}; ${runtime} floor loop ${floor.toFixed(2)}`,
      goal: `≤ ${GOAL.toFixed(1)}`,
      verdict: verdict(figure <= GOAL),
    });
  }
  report.out();
  for (const runtime of RUNTIMES) {
    const plain = median(samples.get(`haul (${runtime})`)!.map(msPerMB));
    for (const { label } of variants) {
      const other = median(samples.get(`haul (${runtime}, ${label})`)!.map(msPerMB));
      report.out(
        `- ${runtime}, ${label}: ${(other - plain).toFixed(2)} CPU ms per MB more than haul ` +
          `without it (${other.toFixed(2)} against ${plain.toFixed(2)}).`,
      );
    }
  }
  report.out();
}
