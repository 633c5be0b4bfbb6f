/**
 * How the command line shows numbers and names: sizes, rates, durations, a rate measured over
 * a sliding window, and text fitted to terminal columns so that progress lines never wrap.
 *
 * @module
 */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/** A byte count in binary units with one decimal (`"300.0 MiB"`; bytes exact). */
export function formatBytes(bytes: number): string {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** A transfer rate (`"52.3 MiB/s"`). */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** A duration for summaries: `"850 ms"`, `"4.2 s"`, `"3 min 05 s"`, `"2 h 03 min"`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${pad(seconds % 60)} s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${pad(minutes % 60)} min`;
}

/** A compact time left for progress bars: `"0:07"`, `"12:30"`, `"3:02:10"`, `"--:--"` when unknown. */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return "--:--";
  const total = Math.ceil(seconds);
  if (total >= 100 * 3600) return ">99h";
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

function pad(value: number): string {
  return String(value).padStart(2, "0");
}

/** Measures the rate of a growing byte count over the last few seconds. */
export class RateMeter {
  readonly #windowMs: number;
  #samples: { at: number; bytes: number }[] = [];

  constructor(windowMs = 3000) {
    this.#windowMs = windowMs;
  }

  /** Records the cumulative (never decreasing) byte count at a time in ms on a monotonic clock. */
  add(at: number, bytes: number): void {
    const last = this.#samples.at(-1);
    if (last !== undefined && last.bytes === bytes && at - last.at < 250) return;
    this.#samples.push({ at, bytes });
    const horizon = at - this.#windowMs;
    let drop = 0;
    while (drop < this.#samples.length - 2 && this.#samples[drop + 1]!.at <= horizon) drop++;
    if (drop > 0) this.#samples.splice(0, drop);
  }

  /** Bytes per second over the window (decaying while the count stands still), `null` before 200 ms of samples. */
  rate(now: number): number | null {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (first === undefined || last === undefined) return null;
    const span = Math.max(now, last.at) - first.at;
    if (span < 200) return null;
    return ((last.bytes - first.bytes) / span) * 1000;
  }
}

/** Characters drawn two columns wide (CJK, Hangul, full-width forms, emoji) and none (controls, combining marks). */
const WIDE =
  /[\u{1100}-\u{115f}\u{2e80}-\u{a4cf}\u{ac00}-\u{d7a3}\u{f900}-\u{faff}\u{fe30}-\u{fe4f}\u{ff00}-\u{ff60}\u{ffe0}-\u{ffe6}\u{1f300}-\u{1faff}\u{20000}-\u{3fffd}]/u;
const NONE = /[\p{Cc}\u0300-\u036f]/u;

function charWidth(char: string): number {
  return NONE.test(char) ? 0 : WIDE.test(char) ? 2 : 1;
}

/** Columns the text takes on a terminal (an estimate good for file names). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += charWidth(char);
  return width;
}

/**
 * The text cut to at most `width` columns (`…` where cut; `keepEnd`: the start is
 * cut, so a file name stays), padded to `pad`; control characters shown as `?`.
 */
export function fitWidth(text: string, width: number, pad = 0, keepEnd = false): string {
  const clean = text.replace(/\p{Cc}/gu, "?");
  let out = clean;
  let used = displayWidth(clean);
  if (used > width) {
    const chars = keepEnd ? [...clean].reverse() : [...clean];
    const kept: string[] = [];
    used = 0;
    for (const char of chars) {
      const w = charWidth(char);
      if (used + w > width - 1) break;
      kept.push(char);
      used += w;
    }
    out = keepEnd ? `…${kept.reverse().join("")}` : `${kept.join("")}…`;
    used += 1;
  }
  return used < pad ? out + " ".repeat(pad - used) : out;
}
