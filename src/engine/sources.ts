/**
 * Where a call's bytes come from: one `Source` or several (mirrors of one file). One
 * {@link Sources} lives as long as a retry loop: a failed attempt moves the next one to the next
 * source; one that failed {@link GIVE_UP_AFTER} times in a row is skipped while another is left.
 *
 * @module
 */

import { redactUnparsed, redactUrl } from "../redact.ts";
import type { Source, SourceInput } from "../types.ts";

const GIVE_UP_AFTER = 3;

/** The sources of one call (or retry loop). */
export class Sources {
  readonly #list: readonly Source[];
  readonly #failures: number[];
  #current = 0;

  private constructor(list: readonly Source[]) {
    this.#list = list;
    this.#failures = list.map(() => 0);
  }

  /** The sources of `input` (`TypeError`: an empty array, an entry no function nor URL). */
  static of(input: Source | readonly Source[]): Sources {
    const list: Source[] = Array.isArray(input) ? [...input] : [input as Source];
    if (list.length === 0) throw new TypeError("Invalid URL: the list of sources is empty");
    for (const source of list) if (typeof source !== "function") checked(source);
    return new Sources(list);
  }

  /** Whether there are several sources (mirrors of one file). */
  get mirrors(): boolean {
    return this.#list.length > 1;
  }

  /** The source the next attempt starts from. */
  get current(): number {
    return this.#current;
  }

  /** Whether the next attempt's source is a mirror not tried yet (none failed before). */
  get untried(): boolean {
    return this.mirrors && this.#failures[this.#current] === 0;
  }

  /** Whether source `index` is a function (its URL can be asked for anew). */
  isFunction(index: number): boolean {
    return typeof this.#list[index] === "function";
  }

  /** The source of an attempt's `k`-th connection: the current one, then the others in turn. */
  pick(k: number): number {
    const alive = this.#alive();
    const at = alive.indexOf(this.#current);
    return alive[(Math.max(at, 0) + k) % alive.length]!;
  }

  /** What a request to source `index` is made from (a function is called now, and checked). */
  async resolve(index: number): Promise<SourceInput> {
    const source = this.#list[index]!;
    return typeof source === "function" ? checked(await source(), `source ${index} gave `) : source;
  }

  /** Source `index` failed: the next attempt starts from the next source. */
  failed(index: number): void {
    this.#failures[index] = (this.#failures[index] ?? 0) + 1;
    const alive = this.#alive();
    this.#current = alive[(alive.indexOf(index) + 1) % alive.length] ?? alive[0]!;
  }

  /** Source `index` served bytes: its failures in a row start again from 0. */
  served(index: number): void {
    this.#failures[index] = 0;
  }

  /** The sources not given up on (all of them when every one was). */
  #alive(): number[] {
    const alive = this.#list.map((_, i) => i).filter((i) => this.#failures[i]! < GIVE_UP_AFTER);
    return alive.length > 0 ? alive : this.#list.map((_, i) => i);
  }
}

/** A URL for messages, credentials redacted; a `TypeError` for one haul cannot request (POST…). */
export function urlOf(input: SourceInput): string {
  const raw = input instanceof Request ? input.url : String(input);
  if (input instanceof Request && input.method !== "GET") { // Range is defined for GET only
    throw new TypeError(`Invalid request: haul downloads with GET, not ${input.method}`);
  }
  try {
    if (URL.canParse(raw)) return redactUrl(new Request(raw).url); // Node's refuses user:password@
  } catch {
    throw new TypeError(`Invalid URL: ${redactUrl(raw)}: fetch refuses a user:password@ here`);
  }
  throw new TypeError(`Invalid URL: ${redactUnparsed(raw).slice(0, 200)}`); // no cause: echoes raw
}

/** `value` when haul can request it ({@link urlOf}), else a `TypeError` saying who `gave` it. */
function checked(value: unknown, gave = ""): SourceInput {
  if (typeof value !== "string" && !(value instanceof URL) && !(value instanceof Request)) {
    throw new TypeError(`Invalid URL: ${gave}${String(value).slice(0, 200)}`);
  }
  urlOf(value);
  return value;
}
