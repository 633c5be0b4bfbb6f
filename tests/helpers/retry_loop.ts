/**
 * The caller's retry loop, as a user of `haul()` would write it, instrumented
 * for tests: it calls `haul()` up to `maxAttempts` times, retrying only while
 * {@link isRetryable} says another call can help, and records for every
 * attempt what the checkpoint said before and after it, which requests the
 * server saw during it, and how it ended.
 *
 * {@link assertSafeOutcome} then checks haul's promise: either the file at
 * `dest` holds exactly the expected bytes, or every attempt failed with a
 * typed error and nothing sits at `dest`.
 *
 * @example A download that must end with the right bytes
 * ```ts ignore
 * const outcome = await haulWithRetries(server.url, { dest }, { server });
 * await assertSucceeded(outcome, dest, body);
 * assertRangesFollowCheckpoint(outcome);
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { type Checkpoint, durablePrefix } from "../../src/protocol/checkpoint.ts";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import { type EngineHooks, haulWith } from "../../src/engine/haul.ts";
import { haul } from "../../src/calls.ts";
import { HaulError, isRetryable } from "../../src/errors.ts";
import type { HaulOptions, HaulResult } from "../../src/types.ts";
import type { RecordedRequest } from "./script_server.ts";
import { bytesOf, exists, sha256 } from "./temp.ts";
import { assertIdentityOnly } from "./accept_encoding.ts";

/** One call of `haul()` inside the loop. */
export interface AttemptRecord {
  /** 0-based attempt number. */
  readonly index: number;
  /** The result, when the call succeeded. */
  readonly result: HaulResult | null;
  /** What the call threw (`undefined` when it succeeded). */
  readonly error: unknown;
  /** The signal the call was given, if any (its reason is a typed failure). */
  readonly signal: AbortSignal | undefined;
  /** The checkpoint on disk before the call (`null`: none, or unreadable). */
  readonly before: SavedCheckpoint | null;
  /** The checkpoint on disk after the call (`null`: none, or unreadable). */
  readonly after: SavedCheckpoint | null;
  /** Requests the server recorded while the call ran (several when redirects are followed). */
  readonly requests: readonly RecordedRequest[];
}

/** How a loop ended. */
export interface LoopOutcome {
  /** Every attempt, in order. */
  readonly attempts: readonly AttemptRecord[];
  /** The successful result, or `null`. */
  readonly result: HaulResult | null;
  /** Why the loop stopped. */
  readonly stoppedBy: "success" | "not-retryable" | "exhausted";
}

/** Settings of {@link haulWithRetries}. */
export interface LoopSettings {
  /** Most calls to make. Default 40. */
  maxAttempts?: number;
  /** The server whose `requests` are attributed to attempts. */
  server?: { readonly requests: readonly RecordedRequest[] };
  /** Runs before each attempt (e.g. to change what the server serves). */
  beforeAttempt?: (attempt: number) => void | Promise<void>;
  /** Engine hooks (e.g. a range floor) for the attempts. */
  hooks?: EngineHooks;
}

/** A decoded checkpoint with its resume cursor (the end of the range from byte 0). */
export type SavedCheckpoint = Checkpoint & { readonly cursor: number };

/**
 * Reads `<dest>.part.ctrl`, or `null` when it is absent or unreadable.
 *
 * @param dest the destination.
 * @returns the decoded checkpoint, with its cursor.
 */
export async function readCheckpointOf(dest: string): Promise<SavedCheckpoint | null> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(`${dest}.part.ctrl`));
  } catch {
    return null;
  }
  try {
    const checkpoint = decodeCheckpoint(bytes);
    return { ...checkpoint, cursor: durablePrefix(checkpoint) };
  } catch {
    return null;
  }
}

/**
 * Calls `haul()` until it succeeds, throws something not retryable, or
 * `maxAttempts` calls were made. Never sleeps (tests want speed; a user
 * would back off, honouring `retryAfterMs`).
 *
 * @param url what to download.
 * @param options haul's options, or a function giving them per attempt (for a fresh `signal`).
 * @param settings attempts, the server to attribute requests from, a hook.
 * @returns every attempt and how the loop ended.
 */
export async function haulWithRetries(
  url: string | URL | Request,
  options: HaulOptions | ((attempt: number) => HaulOptions),
  settings: LoopSettings = {},
): Promise<LoopOutcome> {
  const maxAttempts = settings.maxAttempts ?? 40;
  const attempts: AttemptRecord[] = [];
  for (let index = 0; index < maxAttempts; index++) {
    await settings.beforeAttempt?.(index);
    const chosen = typeof options === "function" ? options(index) : options;
    const dest = String(chosen.dest);
    const before = await readCheckpointOf(dest);
    const firstRequest = settings.server?.requests.length ?? 0;
    let result: HaulResult | null = null;
    let error: unknown = undefined;
    try {
      result = settings.hooks !== undefined
        ? await haulWith(url, chosen, settings.hooks)
        : await haul(url, chosen);
    } catch (thrown) {
      error = thrown;
    }
    attempts.push({
      index,
      result,
      error,
      signal: chosen.signal,
      before,
      after: await readCheckpointOf(dest),
      requests: settings.server?.requests.slice(firstRequest) ?? [],
    });
    if (result !== null) return { attempts, result, stoppedBy: "success" };
    if (!isRetryable(error)) return { attempts, result: null, stoppedBy: "not-retryable" };
  }
  return { attempts, result: null, stoppedBy: "exhausted" };
}

/**
 * Whether `error` is a failure haul may legitimately report: one of its own
 * errors, a `fetch` network `TypeError`, a stalled head's `TimeoutError`, or the reason of the
 * caller's signal.
 *
 * @param error what a call threw.
 * @param signal the signal that call was given.
 * @returns true for a typed failure.
 */
export function isTypedFailure(error: unknown, signal?: AbortSignal): boolean {
  if (error instanceof HaulError) return true;
  if (error instanceof TypeError) return true;
  // A response head that never came within `stallTimeout` (docs/api.md, the errors table).
  if (error instanceof DOMException && error.name === "TimeoutError") return true;
  return signal !== undefined && signal.aborted && error === signal.reason;
}

/** A short description of how an attempt ended, for assertion messages. */
export function describeAttempt(attempt: AttemptRecord): string {
  if (attempt.result !== null) return `#${attempt.index}: ok (HTTP ${attempt.result.status})`;
  const error = attempt.error as { name?: unknown; message?: unknown } | null;
  const name = typeof error?.name === "string" ? error.name : typeof error;
  const message = typeof error?.message === "string" ? error.message : String(error);
  return `#${attempt.index}: ${name}: ${message.slice(0, 160)}`;
}

/** Every attempt, one line each. */
export function describeOutcome(outcome: LoopOutcome): string {
  return `${outcome.stoppedBy} after ${outcome.attempts.length} attempt(s):\n  ` +
    outcome.attempts.map(describeAttempt).join("\n  ");
}

/**
 * The product's promise: the file at `dest` holds exactly `expected` (one of
 * the `expected` versions, when several are acceptable), or every attempt failed
 * with a typed error and nothing is at `dest`.
 *
 * @param outcome the loop's outcome.
 * @param dest the destination.
 * @param expected the acceptable contents of `dest`.
 * @returns "success" or "failure", whichever held.
 */
export async function assertSafeOutcome(
  outcome: LoopOutcome,
  dest: string,
  expected: Uint8Array | readonly Uint8Array[],
): Promise<"success" | "failure"> {
  const versions = expected instanceof Uint8Array ? [expected] : expected;
  const story = describeOutcome(outcome);
  if (outcome.result !== null) {
    assert.ok(exists(dest), `success reported but nothing at dest\n${story}`);
    const got = await bytesOf(dest);
    const digest = sha256(got);
    const match = versions.find((version) => sha256(version) === digest);
    assert.ok(
      match !== undefined,
      `dest holds ${got.length} bytes (sha256 ${digest}) matching no expected version ` +
        `(${
          versions.map((v) => `${v.length} bytes ${sha256(v).slice(0, 12)}`).join(", ")
        })\n${story}`,
    );
    assert.deepEqual(got, match);
    // A dest an earlier attempt left complete is kept unread without integrity: no digest then.
    const unread = outcome.result.alreadyComplete && outcome.result.sha256 === null;
    if (!unread) assert.equal(outcome.result.sha256, digest, story);
    assert.equal(outcome.result.size, got.length, story);
    for (const suffix of [".part", ".part.ctrl", ".part.ctrl.tmp", ".part.lock"]) {
      assert.equal(exists(dest + suffix), false, `${suffix} left behind\n${story}`);
    }
    return "success";
  }
  assert.equal(exists(dest), false, `every attempt failed, yet something is at dest\n${story}`);
  for (const attempt of outcome.attempts) {
    assert.ok(
      isTypedFailure(attempt.error, attempt.signal),
      `untyped failure ${describeAttempt(attempt)}\n${story}`,
    );
  }
  return "failure";
}

/**
 * Asserts the loop ended with `dest` holding exactly `expected`.
 *
 * @param outcome the loop's outcome.
 * @param dest the destination.
 * @param expected the bytes.
 * @returns the successful result.
 */
export async function assertSucceeded(
  outcome: LoopOutcome,
  dest: string,
  expected: Uint8Array,
): Promise<HaulResult> {
  assert.equal(outcome.stoppedBy, "success", describeOutcome(outcome));
  await assertSafeOutcome(outcome, dest, expected);
  return outcome.result!;
}

/**
 * Asserts every attempt failed with a typed error and nothing is at `dest`.
 *
 * @param outcome the loop's outcome.
 * @param dest the destination.
 */
export async function assertFailedSafely(outcome: LoopOutcome, dest: string): Promise<void> {
  assert.equal(outcome.result, null, describeOutcome(outcome));
  await assertSafeOutcome(outcome, dest, []);
}

/** The start of a `Range: bytes=N-` (or, from several connections, `bytes=N-M`) value, or `null` when absent. */
export function rangeStart(request: RecordedRequest): number | null {
  const value = request.headers["range"];
  if (value === undefined) return null;
  const match = /^bytes=(\d+)-(\d*)$/.exec(value);
  assert.ok(match !== null, `unexpected Range: ${value}`);
  return Number(match[1]);
}

/**
 * Asserts every `Range` haul sent starts exactly at the cursor of the
 * checkpoint on disk before that attempt (what was durable), that a range is
 * sent only with a checkpoint, and that `If-Range` never carries a weak ETag.
 *
 * @param outcome the loop's outcome (made with `settings.server`).
 */
export function assertRangesFollowCheckpoint(outcome: LoopOutcome): void {
  for (const attempt of outcome.attempts) {
    for (const request of attempt.requests) {
      const start = rangeStart(request);
      const ifRange = request.headers["if-range"];
      if (ifRange !== undefined) {
        assert.ok(!ifRange.trim().startsWith("W/"), `weak If-Range ${ifRange}`);
        assert.notEqual(start, null, "If-Range without Range");
      }
      if (start === null) continue;
      assert.match(request.headers["range"]!, /^bytes=\d+-$/, "one connection resumes to the end");
      assert.ok(
        attempt.before !== null,
        `Range ${start} without a checkpoint, attempt ${attempt.index}`,
      );
      assert.equal(start, attempt.before.cursor, `attempt ${attempt.index}: Range start`);
      assertIdentityOnly(request.headers["accept-encoding"], `attempt ${attempt.index}`);
    }
  }
}

/** All requests of every attempt. */
export function allRequests(outcome: LoopOutcome): RecordedRequest[] {
  return outcome.attempts.flatMap((attempt) => [...attempt.requests]);
}
