/**
 * Terminal column widths of text, so that progress lines never wrap.
 *
 * @module
 */

/** Code point ranges drawn two columns wide (CJK, Hangul, full-width forms, emoji). */
const WIDE: readonly [number, number][] = [
  [0x1100, 0x115f],
  [0x2e80, 0xa4cf],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe30, 0xfe4f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x1f300, 0x1faff],
  [0x20000, 0x3fffd],
];

function charWidth(codePoint: number): number {
  if (codePoint < 0x20 || (codePoint >= 0x7f && codePoint < 0xa0)) return 0;
  if (codePoint >= 0x300 && codePoint <= 0x36f) return 0; // combining marks
  for (const [low, high] of WIDE) if (codePoint >= low && codePoint <= high) return 2;
  return 1;
}

/** Columns the text takes on a terminal (an estimate good for file names). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += charWidth(char.codePointAt(0)!);
  return width;
}

/**
 * The text cut to at most `width` columns (`…` where cut; `keepEnd`: the start is
 * cut, so a file name stays), padded to `pad`; control characters shown as `?`.
 *
 * @example
 * ```ts
 * import { fitWidth } from "./text_width.ts";
 * console.log(fitWidth("a-very-long-name.bin", 10)); // "a-very-lo…"
 * console.log(fitWidth("downloads/a-very-long-name.bin", 10, 0, true)); // "…-name.bin"
 * ```
 */
export function fitWidth(text: string, width: number, pad = 0, keepEnd = false): string {
  // deno-lint-ignore no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
  let out = "";
  let used = 0;
  if (displayWidth(clean) > width) {
    const chars = keepEnd ? [...clean].reverse() : [...clean];
    const kept: string[] = [];
    for (const char of chars) {
      const w = charWidth(char.codePointAt(0)!);
      if (used + w > width - 1) break;
      kept.push(char);
      used += w;
    }
    out = keepEnd ? `…${kept.reverse().join("")}` : `${kept.join("")}…`;
    used += 1;
  } else {
    out = clean;
    used = displayWidth(clean);
  }
  return used < pad ? out + " ".repeat(pad - used) : out;
}
