/**
 * The terminal progress display: one bar per active download plus a total line, redrawn in
 * place at most 10 times a second.
 *
 * @module
 */

import type { HaulAllItem, HaulAllItemProgress, HaulAllProgress } from "../batch/haul_all.ts";
import { displayWidth, fitWidth, formatBytes, formatEta, formatRate, RateMeter } from "./format.ts";

const REDRAW_INTERVAL_MS = 100;
/** Redraw this often even without news, so that rates and countdowns move. */
const IDLE_REDRAW_MS = 500;
/** At most this many bars; the rest are counted on one line. */
const MAX_BARS = 8;

/** The view's monotonic clock and timers (replaced in tests). */
export interface ViewClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

interface ProgressViewOptions {
  /** Writes to the terminal (standard error). */
  write(text: string): void;
  columns(): number;
  label(index: number, item: HaulAllItem): string;
  /** Why an item is waiting to retry, in a few words. */
  reason?(index: number, item: HaulAllItem): string | null;
  /** Whether to draw the total line (for more than one download). */
  showTotal: boolean;
  /** The most attempts per download, for "attempt 2/21". */
  maxAttempts: number;
  clock?: ViewClock;
}

const realClock: ViewClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

/** Draws a batch's progress on a terminal; `clear()` it before printing other lines. */
export class ProgressView {
  readonly #options: ProgressViewOptions;
  readonly #clock: ViewClock;
  readonly #meters = new Map<number, RateMeter>();
  readonly #total = new RateMeter(5000);
  #progress: HaulAllProgress | null = null;
  #drawn = 0;
  #lastDraw = -Infinity;
  #timer: unknown = null;
  #dueAt = Infinity;
  #stopped = false;
  /** The widest right-hand text so far: bars keep their width as numbers change. */
  #reserve = 0;
  /** How many frames were drawn (for tests and the redraw-rate guarantee). */
  frames = 0;

  constructor(options: ProgressViewOptions) {
    this.#options = options;
    this.#clock = options.clock ?? realClock;
  }

  /** Takes the latest progress and schedules a redraw (at most one per {@link REDRAW_INTERVAL_MS}). */
  update(progress: HaulAllProgress): void {
    if (this.#stopped) return;
    this.#progress = progress;
    this.#schedule(Math.max(0, this.#lastDraw + REDRAW_INTERVAL_MS - this.#clock.now()));
  }

  /** Erases the bars (they come back at the next redraw). */
  clear(): void {
    if (this.#drawn === 0) return;
    this.#options.write(`\r\x1b[${this.#drawn}A\x1b[J`);
    this.#drawn = 0;
  }

  /** Stops redrawing and erases the bars. */
  stop(): void {
    this.#stopped = true;
    this.#cancel();
    this.clear();
  }

  #schedule(delay: number): void {
    const dueAt = this.#clock.now() + delay;
    if (this.#timer !== null && this.#dueAt <= dueAt) return;
    this.#cancel();
    this.#dueAt = dueAt;
    this.#timer = this.#clock.setTimeout(() => this.#draw(), delay);
  }

  #cancel(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#dueAt = Infinity;
  }

  #draw(): void {
    this.#cancel();
    if (this.#stopped || this.#progress === null) return;
    const now = this.#clock.now();
    this.#lastDraw = now;
    this.frames++;
    const lines = this.render(this.#progress, now);
    let text = this.#drawn > 0 ? `\r\x1b[${this.#drawn}A` : "\r";
    for (const line of lines) text += `\x1b[2K${line}\n`;
    text += "\x1b[J";
    this.#options.write(text);
    this.#drawn = lines.length;
    this.#schedule(IDLE_REDRAW_MS);
  }

  /** The lines of one frame, without escape sequences, each narrower than the terminal. */
  render(progress: HaulAllProgress, now: number): string[] {
    const width = Math.max(1, this.#options.columns() - 1);
    const active = progress.items.filter(({ phase }) => phase === "running" || phase === "waiting");
    const rows = active.slice(0, MAX_BARS).map((item) => this.#itemRow(item, now));
    if (this.#options.showTotal) rows.push(this.#totalRow(progress, now));
    const { lines, reserve } = layout(rows, width, this.#reserve);
    this.#reserve = reserve;
    if (active.length > MAX_BARS) {
      const more = fitWidth(`… and ${active.length - MAX_BARS} more downloading`, width);
      lines.splice(MAX_BARS, 0, more);
    }
    return lines;
  }

  #itemRow(item: HaulAllItemProgress, now: number): Row {
    const meter = this.#meters.get(item.index) ?? new RateMeter();
    this.#meters.set(item.index, meter);
    meter.add(now, item.received);
    let status: string;
    if (item.phase === "waiting") {
      const wait = Math.max(0, (item.retryAt ?? 0) - Date.now()) / 1000;
      const attempt = `${item.attempt}/${this.#options.maxAttempts}`;
      const why = this.#options.reason?.(item.index, item.item) ?? null;
      status = wait >= 0.05
        ? `retry ${attempt} in ${wait.toFixed(1)} s${why === null ? "" : `: ${why}`}`
        : `resuming, attempt ${attempt}`;
    } else {
      status = rateAndEta(meter.rate(now), item.validLength, item.totalLength);
    }
    const label = this.#options.label(item.index, item.item);
    return { label, valid: item.validLength, total: item.totalLength, status };
  }

  #totalRow(progress: HaulAllProgress, now: number): Row {
    this.#total.add(now, progress.received);
    let valid = 0;
    let total: number | null = 0;
    for (const item of progress.items) {
      valid += item.validLength;
      total = total === null || item.totalLength === null ? null : total + item.totalLength;
    }
    const finished = progress.done + progress.skipped + progress.failed;
    const label = `Total ${finished}/${progress.items.length}` +
      (progress.failed > 0 ? ` (${progress.failed} failed)` : "");
    return { label, valid, total, status: rateAndEta(this.#total.rate(now), valid, total) };
  }
}

/** One line of the display before layout. */
type Row = { label: string; valid: number; total: number | null; status: string };

function rateAndEta(rate: number | null, valid: number, total: number | null): string {
  if (rate === null) return "";
  const eta = total !== null && rate > 0 ? (total - valid) / rate : null;
  return `${formatRate(rate)}  ETA ${formatEta(eta)}`;
}

/**
 * `label  [=====>    ]  45.2%  135.6 MiB / 300.0 MiB  status` for every row,
 * with the labels and bars in aligned columns, each line fitted to `width`.
 */
function layout(
  rows: readonly Row[],
  width: number,
  reserved: number,
): { lines: string[]; reserve: number } {
  const longest = Math.max(0, ...rows.map((row) => displayWidth(row.label)));
  const labelWidth = Math.min(Math.max(12, Math.floor(width * 0.35)), longest);
  const rights = rows.map((row) => {
    const shown = row.total === null ? row.valid : Math.min(row.valid, row.total);
    const fraction = row.total === null ? null : row.total === 0 ? 1 : shown / row.total;
    const percent = fraction === null ? "" : `${(fraction * 100).toFixed(1).padStart(5)}%  `;
    const bytes = formatBytes(shown) + (row.total === null ? "" : ` / ${formatBytes(row.total)}`);
    return { fraction, text: `${percent}${bytes}${row.status === "" ? "" : `  ${row.status}`}` };
  });
  const reserve = Math.max(reserved, ...rights.map((right) => right.text.length));
  const barWidth = Math.min(40, width - labelWidth - reserve - 4);
  const lines = rows.map((row, i) => {
    const { fraction, text } = rights[i]!;
    const name = fitWidth(row.label, labelWidth, labelWidth, true);
    if (barWidth < 10) return fitWidth(`${name}  ${text}`, width);
    const drawn = fraction === null ? " ".repeat(barWidth) : bar(fraction, barWidth);
    return fitWidth(`${name}  ${drawn}  ${text}`, width);
  });
  return { lines, reserve };
}

function bar(fraction: number, width: number): string {
  const inner = width - 2;
  const filled = Math.floor(inner * Math.min(1, Math.max(0, fraction)));
  if (filled >= inner) return `[${"=".repeat(inner)}]`;
  return `[${"=".repeat(filled)}>${" ".repeat(inner - filled - 1)}]`;
}
