/**
 * `haulWithRetry()`: `haul()` called again while {@link isRetryable} says a
 * new attempt can help, with exponential backoff and full jitter.
 *
 * @module
 */

import { type EngineHooks, haul } from "../engine/haul.ts";
import { KeptHasher } from "../engine/kept_hashes.ts";
import { checkOptions } from "../engine/settings.ts";
import { filesystemCode, hidden, isRetryable, UnexpectedStatusError } from "../errors.ts";
import { readRateLimit, sleep } from "../engine/rate_limit.ts";
import { Sources } from "../engine/sources.ts";
import type { FetchLike, HaulOptions, HaulResult, Source } from "../types.ts";
import { HaulState, withInputSignal } from "../types.ts";

/** What {@link RetryOptions.onRetry} is told before each wait. */
export interface RetryInfo {
  /** The attempt that just failed (1 for the first call). */
  readonly attempt: number;
  /** The most attempts that will be made (`retries + 1`). */
  readonly maxAttempts: number;
  /** What the failed attempt threw. */
  readonly error: unknown;
  /** How long haulWithRetry waits before the next attempt. */
  readonly delayMs: number;
}

/** The retry policy of {@link haulWithRetry}. */
export interface RetryOptions {
  /**
   * Further attempts after the first one (0: a single attempt).
   * @default {5}
   */
  retries?: number;
  /**
   * Backoff ceiling of the first retry, doubled at each retry that follows a
   * failure without progress. An attempt that saved new bytes resets it.
   * @default {500}
   */
  minDelayMs?: number;
  /**
   * The largest backoff ceiling (without it: 30000, or `minDelayMs` when larger). A server's
   * `Retry-After` may ask for longer and is honoured.
   * @default {30000}
   */
  maxDelayMs?: number;
  /** Called before each wait (keep it fast; it must not throw). */
  onRetry?: (info: RetryInfo) => void;
}

/** Options of {@link haulWithRetry}: those of `haul()` plus the retry policy. */
export type HaulWithRetryOptions = HaulOptions & RetryOptions;

/**
 * An error thrown by {@link haulWithRetry} once it gave up: the last
 * attempt's error with the number of attempts made recorded on it.
 */
export type RetriedError = Error & { attempts: number };

/** `haulWithRetry()`; `hooks`: a `haulAll()` batch's pace, or the browser worker's fs. */
export async function haulWithRetry(
  input: Source | readonly Source[],
  options: HaulWithRetryOptions,
  hooks: Pick<EngineHooks, "limiter" | "fs"> = {},
): Promise<HaulResult> {
  checkOptions(options, "haulWithRetry(url, { dest })");
  options = withInputSignal(input, options);
  const { retries, minDelayMs, maxDelayMs, onRetry, onProgress, ...haulOptions } = options;
  const policy = readPolicy({ retries, minDelayMs, maxDelayMs });
  const state = haulOptions.state ?? new HaulState();
  const fetchFn: FetchLike = haulOptions.fetch ?? ((request) => globalThis.fetch(request));
  let thrown: { value: unknown } | null = null; // by the caller's onProgress: no retry cures it
  let fetched = false;
  const limiter = hooks.limiter ?? readRateLimit(haulOptions) ?? undefined; // one pace for all
  const kept = new KeptHasher(); // each attempt continues the last one's SHA-256
  let sources: Sources; // a failed attempt moves the next one to the next source
  try {
    sources = Sources.of(input);
  } catch (error) {
    throw withAttempts(error, 1); // an invalid URL: as if its one attempt failed
  }
  const attemptOptions: HaulOptions = {
    ...haulOptions,
    state,
    fetch: (request, init) => {
      fetched = true;
      return fetchFn(request, init);
    },
  };
  if (onProgress !== undefined) {
    attemptOptions.onProgress = (progress) => {
      try {
        onProgress(progress);
      } catch (error) {
        thrown = { value: error };
        throw error;
      }
    };
  }
  let published: (() => Promise<HaulResult | null>) | undefined; // failed past its rename
  const attempt = async (): Promise<HaulResult> => {
    fetched = false;
    const index = sources.current;
    const before = state.validLength;
    try {
      // A joined attempt's requests were made by the call it joined.
      return await haul(input, attemptOptions, () => fetched = true, {
        ...hooks,
        ...(limiter === undefined ? {} : { limiter }),
        kept,
        sources,
      }).then(async (r) => (r.alreadyComplete ? await published?.() : null) ?? r);
    } catch (error) {
      published = (error as { published?: typeof published } | null)?.published ?? published;
      if (state.validLength > before) sources.served(index);
      sources.failed(index);
      throw error;
    }
  };
  // With mirrors, a status that says nothing of the others (a 404…) moves on to one not yet tried.
  const moveOn = (error: unknown) => error instanceof UnexpectedStatusError && sources.untried;
  const retryable = (error: unknown) =>
    thrown?.value !== error && (shouldRetry(error, fetched) || moveOn(error));
  return await retrying(attempt, policy, { signal: options.signal, onRetry, retryable });
}

type Policy = Required<Pick<RetryOptions, "retries" | "minDelayMs" | "maxDelayMs">>;

/**
 * The loop of {@link haulWithRetry}, for any attempt that makes requests (`haulStream()`'s and the
 * command line's too): `attempt` again while `retryable` (default: {@link shouldRetry}) says so.
 */
export async function retrying<T>(
  attempt: () => Promise<T>,
  policy: Policy,
  options: {
    signal?: AbortSignal | undefined;
    onRetry?: ((info: RetryInfo) => void) | undefined;
    retryable?: (error: unknown) => boolean;
  } = {},
): Promise<T> {
  const { signal, onRetry, retryable = (error) => shouldRetry(error, true) } = options;
  const maxAttempts = policy.retries + 1;
  let saved = -1;
  let streak = 0; // failures in a row that saved no new byte
  for (let count = 1;; count++) {
    signal?.throwIfAborted();
    try {
      return await attempt();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (count >= maxAttempts || !retryable(error)) throw withAttempts(error, count);
      const durable = numberField(error, "validLength");
      streak = durable !== null && durable > saved ? 0 : streak + 1;
      if (durable !== null) saved = Math.max(saved, durable);
      // Full jitter under an exponential ceiling, never less than the server's Retry-After.
      const doublings = Math.min(Math.max(0, streak - 1), 40);
      const ceiling = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** doublings);
      const asked = numberField(error, "retryAfterMs") ?? 0;
      const delayMs = Math.max(Math.floor(Math.random() * ceiling), asked > 0 ? asked : 0);
      onRetry?.({ attempt: count, maxAttempts, error, delayMs });
      await sleep(delayMs, signal);
    }
  }
}

/**
 * Whether another attempt can succeed: {@link isRetryable}, but not a `TypeError` before any request
 * (an invalid URL or dest), nor a full disk (retryable for a later call, not cured by waiting).
 */
export function shouldRetry(error: unknown, requestMade: boolean): boolean {
  if ((error as Error | null)?.name === "TypeError" && !requestMade) return false;
  if (/^(ENOSPC|EDQUOT)$/.test(filesystemCode(error) ?? "")) return false;
  return isRetryable(error);
}

/** The retry policy with its defaults filled in; a `RangeError` when it is invalid. */
export function readPolicy(options: { [K in keyof Policy]?: number | undefined }): Policy {
  const { retries = 5, minDelayMs = 500 } = options;
  const maxDelayMs = options.maxDelayMs ?? Math.max(30_000, minDelayMs);
  if (!Number.isSafeInteger(retries) || retries < 0) {
    throw new RangeError(`Invalid retries: ${retries}: use a whole number of 0 or more`);
  }
  if (!(minDelayMs >= 0) || !(maxDelayMs >= minDelayMs)) {
    throw new RangeError(
      `Invalid delays: minDelayMs ${minDelayMs}, maxDelayMs ${maxDelayMs}: ` +
        "use 0 <= minDelayMs <= maxDelayMs",
    );
  }
  return { retries, minDelayMs, maxDelayMs };
}

/** A number field of what was thrown (`validLength`, `retryAfterMs`, `attempts`), read by shape, across realms. */
export function numberField(error: unknown, key: string): number | null {
  const value = (error as Record<string, unknown> | null)?.[key];
  return typeof value === "number" ? value : null;
}

/** Records `attempts` on what was thrown, non-enumerable as `Error`'s own fields are. */
function withAttempts(error: unknown, attempts: number): unknown {
  if (typeof error === "object" && error !== null && Object.isExtensible(error)) {
    hidden(error, "attempts", attempts);
  }
  return error;
}
