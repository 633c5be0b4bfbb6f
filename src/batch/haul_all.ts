/**
 * `haulAll()`: many downloads through a bounded pool, each one independent,
 * retried and resumable on its own, reported item by item.
 *
 * @module
 */

import { haulWithRetry, type HaulWithRetryOptions, numberField, readPolicy } from "./retry.ts";
import type { RetryInfo } from "./retry.ts";
import { type HaulResult, HaulState, type Source } from "../types.ts";
import { readRateLimit } from "../engine/rate_limit.ts";
import { atLeastOne, checkedHeaders, checkOptions, MAX_CONNECTIONS } from "../engine/settings.ts";
import { batchFs } from "../runtime/default_fs.ts";
import { sidecarPaths } from "../store/destination.ts";
import { destinationKey, requestHref } from "../engine/single_flight.ts";

/** Default cap on connections over every download of a batch. */
export const DEFAULT_MAX_CONNECTIONS = 16;

/** A batch's pool size (at most `maxConnections`) and each download's `connections`, within its share. */
export function shareConnections(
  concurrency: number,
  connections: number,
  maxConnections: number,
): { pool: number; perItem: number } {
  const pool = Math.min(concurrency, maxConnections);
  return { pool, perItem: Math.max(1, Math.min(connections, Math.floor(maxConnections / pool))) };
}

/** One download of a batch. */
export interface HaulAllItem {
  /** What to download (and what reports show). */
  url: string | URL;
  /** Every source, in order (mirrors, or functions giving a fresh URL); `url` still names the item. */
  urls?: readonly Source[];
  /** Where the finished file goes (its directory must exist). */
  dest: string | URL;
  /** Expected digest, as `haul()`'s `integrity` option. */
  integrity?: string;
  /** Extra request headers for this item, merged over the batch's `headers`. */
  headers?: HeadersInit;
}

/**
 * Where an item of a batch stands: `"pending"` (not started), `"running"` (an attempt runs),
 * `"waiting"` (an attempt failed; the next starts at `retryAt`), `"done"` (downloaded and
 * verified), `"skipped"` (the destination existed and was kept: no body read; with `revalidate`,
 * the server answered 304) or `"failed"` (see the report's `error`).
 */
export type HaulAllPhase = "pending" | "running" | "waiting" | "done" | "skipped" | "failed";

/** Live progress of one item (updated in place; copy what you keep). */
export interface HaulAllItemProgress {
  /** Position of the item in the input. */
  readonly index: number;
  /** The item. */
  readonly item: HaulAllItem;
  /** Where it stands. */
  readonly phase: HaulAllPhase;
  /** Bytes known good: the most seen so far, never decreasing (not even after a resume re-reads). */
  readonly validLength: number;
  /** Total size once the server said it, else `null`. */
  readonly totalLength: number | null;
  /** Body bytes received from the network by this batch for this item, all attempts together. */
  readonly received: number;
  /** The current (or last) attempt, 1-based; 0 before the first. */
  readonly attempt: number;
  /** When `phase` is `"waiting"`: the `Date.now()` time of the next attempt. */
  readonly retryAt: number | null;
}

/** Live progress of a whole batch, passed to {@link HaulAllOptions.onProgress}. */
export interface HaulAllProgress {
  /** Every item, in input order. */
  readonly items: readonly HaulAllItemProgress[];
  /** Items not started. */
  readonly pending: number;
  /** Items running or waiting for a retry. */
  readonly active: number;
  /** Items downloaded. */
  readonly done: number;
  /** Items skipped because their destination existed. */
  readonly skipped: number;
  /** Items that failed. */
  readonly failed: number;
  /** Body bytes received from the network by the whole batch. */
  readonly received: number;
}

/** An item that finished: downloaded (`"done"`) or already there (`"skipped"`). */
export interface HaulAllSuccess extends Pick<HaulAllItemProgress, "index" | "item" | "received"> {
  /** `"done"`: downloaded now; `"skipped"`: the destination was kept (with `revalidate`, a 304). */
  readonly status: "done" | "skipped";
  /** What `haul()` returned. */
  readonly result: HaulResult;
  /** Attempts made. */
  readonly attempts: number;
  /** Wall time from the first attempt's start to the end, retries and waits included. */
  readonly elapsedMs: number;
}

/** An item that failed. */
export interface HaulAllFailure extends Omit<HaulAllSuccess, "status" | "result" | "attempts"> {
  /** Always `"failed"`. */
  readonly status: "failed";
  /** The last attempt's error (the abort reason when the batch was aborted). */
  readonly error: unknown;
  /** Attempts made (0 when the batch was aborted before the item started). */
  readonly attempts: number;
}

/** The outcome of one item of {@link haulAll}. */
export type HaulAllReport = HaulAllSuccess | HaulAllFailure;

/** {@link RetryInfo} for one item of a batch. */
export interface HaulAllRetryInfo extends RetryInfo, Pick<HaulAllItemProgress, "index" | "item"> {}

/**
 * Options of {@link haulAll}: those of `haulWithRetry()` that apply to every item (`headers`,
 * `fetch`, `signal`, `retries`, …), plus the pool size and the batch callbacks.
 */
export interface HaulAllOptions
  extends Omit<HaulWithRetryOptions, "dest" | "integrity" | "state" | "onProgress" | "onRetry"> {
  /**
   * Downloads running at once.
   * @default {4}
   */
  concurrency?: number;
  /**
   * Connections open at once over the whole batch, at most: each download
   * gets `connections`, or its share of this cap when that is smaller (and
   * fewer downloads run at once when the cap is below `concurrency`).
   * @default {16}
   */
  maxConnections?: number;
  /** Called when any item makes progress or changes phase. Keep it fast; a throw stops the batch. */
  onProgress?: (progress: HaulAllProgress) => void;
  /** Called once per item as it finishes, in completion order. A throw stops the batch. */
  onItemDone?: (report: HaulAllReport) => void;
  /** Called before each retry wait of any item. A throw stops the batch (see `haulAll()`). */
  onRetry?: (info: HaulAllRetryInfo) => void;
}

const NOT_STARTED = { phase: "pending", validLength: 0, totalLength: null, received: 0 } as const;
/** A `dir/..` step of a path (not `../..`), which a dest spelled two ways may hold. */
const UP_STEP = /(^|\/)(?!\.\.(?:\/|$))[^/]+\/\.\.(?:\/|$)/;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type MutableItemProgress = Mutable<HaulAllItemProgress>;
type MutableProgress = Mutable<Omit<HaulAllProgress, "items">> & { items: MutableItemProgress[] };

/** `haulAll()`, documented in `src/calls.ts`. */
export async function haulAll(
  items: Iterable<HaulAllItem>,
  options: HaulAllOptions = {},
): Promise<HaulAllReport[]> {
  checkOptions(options, "haulAll(items, options)", false);
  const { concurrency, maxConnections, onProgress, onItemDone, onRetry, ...common } = options;
  // A callback that throws (a bug of the caller's) stops the batch: haulAll() rejects with its error.
  const stop = new AbortController();
  const safely = (callback: () => void): void => {
    try {
      callback();
    } catch (error) {
      stop.abort(error); // the first one's
    }
  };
  common.signal = AbortSignal.any([common.signal ?? stop.signal, stop.signal]);
  const wanted = atLeastOne("concurrency", concurrency ?? 4);
  const cap = atLeastOne("maxConnections", maxConnections ?? DEFAULT_MAX_CONNECTIONS);
  readPolicy(common);
  const connections = atLeastOne("connections", common.connections ?? 1, MAX_CONNECTIONS);
  const { pool: poolSize, perItem } = shareConnections(wanted, connections, cap);
  if (common.connections !== undefined) common.connections = perItem;
  const list = readItems(items);
  const limiter = readRateLimit(common); // one pace over the whole batch
  const hooks = { fs: await batchFs(), ...(limiter === null ? {} : { limiter }) };
  const counts = { pending: list.length, active: 0, done: 0, skipped: 0, failed: 0, received: 0 };
  const progress: MutableProgress = {
    items: list.map((item, index) => ({ index, item, ...NOT_STARTED, attempt: 0, retryAt: null })),
    ...counts,
  };
  const emit = (): void => safely(() => onProgress?.(progress));

  const runItem = async (entry: MutableItemProgress): Promise<HaulAllReport> => {
    const { index, item } = entry;
    const startedAt = performance.now();
    const state = new HaulState();
    let receivedBefore = 0;
    const set = (fields: Partial<MutableItemProgress>) => Object.assign(entry, fields);
    const account = (): void => {
      const received = receivedBefore + state.bytesRead;
      progress.received += received - entry.received;
      entry.received = received;
      entry.validLength = Math.max(entry.validLength, state.validLength);
      entry.totalLength = state.reportedLength ?? entry.totalLength;
    };
    /** The item's end: its last progress, phase and the batch's counts; the report's common fields. */
    const end = <S extends HaulAllReport["status"]>(status: S, attempts = entry.attempt) => {
      account();
      if (entry.phase === "running" || entry.phase === "waiting") progress.active--;
      set({ phase: status, retryAt: null });
      progress[status]++;
      const elapsedMs = performance.now() - startedAt;
      return { status, index, item, attempts, received: entry.received, elapsedMs };
    };
    progress.pending--;
    if (common.signal?.aborted) {
      return { ...end("failed"), error: common.signal.reason, elapsedMs: 0 };
    }
    progress.active++;
    set({ phase: "running", attempt: 1 });
    emit();
    const itemOptions: HaulWithRetryOptions = {
      ...common,
      dest: item.dest,
      state,
      onProgress: () => {
        account();
        if (entry.phase === "waiting") set({ phase: "running", retryAt: null });
        emit();
      },
      onRetry: (info) => {
        account();
        receivedBefore += state.bytesRead;
        state.bytesRead = 0;
        set({ phase: "waiting", attempt: info.attempt + 1, retryAt: Date.now() + info.delayMs });
        safely(() => onRetry?.({ ...info, index, item }));
        emit();
      },
    };
    if (item.integrity !== undefined) itemOptions.integrity = item.integrity;
    try {
      if (item.headers !== undefined) { // invalid headers fail this item alone
        const headers = new Headers(common.headers);
        checkedHeaders(item.headers).forEach((value, name) => headers.set(name, value));
        itemOptions.headers = headers;
      }
      const result = await haulWithRetry(item.urls ?? item.url, itemOptions, hooks);
      const report = { ...end(result.alreadyComplete ? "skipped" : "done"), result };
      entry.validLength = entry.totalLength = result.size;
      return report;
    } catch (error) {
      return { ...end("failed", numberField(error, "attempts") ?? undefined), error };
    }
  };

  const reports: HaulAllReport[] = [];
  await eachLimited(list.length, poolSize, async (index) => {
    const report = reports[index] = await runItem(progress.items[index]!);
    safely(() => onItemDone?.(report));
    emit();
  });
  if (stop.signal.aborted) throw stop.signal.reason;
  return reports;
}

/** Runs `task(i)` for each `i < count`, in order, at most `concurrency` at once; it must not reject. */
export async function eachLimited(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** The items as `{ url, dest }`s, each dest no other's sidecar, nor its dest for another URL. */
function readItems(items: Iterable<HaulAllItem>): HaulAllItem[] {
  if (typeof (items as Partial<Iterable<HaulAllItem>> | null)?.[Symbol.iterator] !== "function") {
    throw new TypeError("Invalid items: haulAll(items) needs an iterable of { url, dest }");
  }
  const list = [...items];
  const paths = new Map<string, string>(); // each valid dest as one flight keys it: where asked
  const firsts = new Map<string, number>(); // the same keys: the first item of each
  const problems: string[] = [];
  list.forEach((item: Partial<HaulAllItem> | null | undefined, index) => {
    if (typeof item !== "object" || item === null || item.url == null || item.dest == null) {
      throw new TypeError(`Invalid items: item ${index} is not a { url, dest } object`);
    }
    let key = destinationKey(item.dest);
    if (key === null) return; // an invalid dest fails its item alone
    while (UP_STEP.test(key)) key = key.replace(UP_STEP, "$1"); // `x/../f` is `f` (a link at x aside)
    paths.set(key, `item ${index}`);
    const first = firsts.get(key) ?? index;
    firsts.set(key, first);
    const [own, its] = [item, list[first]!].map((one) => requestHref(one.urls ?? one.url!));
    if (first !== index && (own === null || own !== its)) { // else the second joins the first
      const why = `both download to ${key}, not from one URL: give each its own dest`;
      problems.push(`item ${first} and item ${index} ${why}`);
    }
  });
  const [clash] = [...problems, ...sidecarClashes(paths)];
  if (clash !== undefined) throw new TypeError(`Invalid items: ${clash}`);
  return list;
}

/** A problem line for each of `dests` (path → where asked for) that is another's `.part`, checkpoint or lock file. */
export function sidecarClashes(dests: ReadonlyMap<string, string>): string[] {
  return [...dests].flatMap(([dest, where]) => {
    const { part, ctrl, ctrlTmp, lock, guards } = sidecarPaths(dest);
    return [part, ctrl, ctrlTmp, lock, ...guards].filter((path) => dests.has(path)).map((path) =>
      `${dests.get(path)}: Destination ${path} is where ${dest} (${where}) keeps its download ` +
      "in progress: give them different paths"
    );
  });
}
