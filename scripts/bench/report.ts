/**
 * The benchmark's report: Markdown printed as it goes (and kept for the
 * report file), plus the list of targets, each with its figure, the
 * reference measured in the same run, the goal and a verdict, printed as
 * one table at the end.
 *
 * @module
 */

/** One target's outcome. */
export interface TargetRow {
  /** The target, as the issue names it. */
  readonly target: string;
  /** `deno`, `bun`, or `both`. */
  readonly runtime: string;
  /** haul's figure. */
  readonly figure: string;
  /** What it is compared with, measured in the same run. */
  readonly reference: string;
  /** The goal, e.g. `≤ 3.0 ms/MB`. */
  readonly goal: string;
  /** `met`, `**not met**`, or a qualified verdict. */
  readonly verdict: string;
}

/** The verdict for a target that holds when `ok`. */
export function verdict(ok: boolean): string {
  return ok ? "met" : "**not met**";
}

/** Collects the report's lines and targets. */
export class Report {
  readonly lines: string[] = [];
  readonly targets: TargetRow[] = [];

  /** Prints a line and keeps it. */
  out(text = ""): void {
    this.lines.push(text);
    console.log(text);
  }

  /** Prints a Markdown table followed by a blank line. */
  table(header: readonly string[], rows: readonly (readonly string[])[]): void {
    this.out(`| ${header.join(" | ")} |`);
    this.out(`|${header.map(() => "---").join("|")}|`);
    for (const row of rows) this.out(`| ${row.join(" | ")} |`);
    this.out();
  }

  /** Records a target's outcome for the summary. */
  target(row: TargetRow): void {
    this.targets.push(row);
  }

  /** The summary table's lines. */
  summary(): string[] {
    const header = ["target", "runtime", "haul", "reference (same run)", "goal", "verdict"];
    return [
      `| ${header.join(" | ")} |`,
      `|${header.map(() => "---").join("|")}|`,
      ...this.targets.map((row) =>
        `| ${
          [row.target, row.runtime, row.figure, row.reference, row.goal, row.verdict].join(" | ")
        } |`
      ),
    ];
  }
}
