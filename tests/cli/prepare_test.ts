/**
 * The command line's size check of existing files (`src/cli/prepare.ts`):
 * retried like a download, a few at a time, stopped by the run's signal.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  checkExisting,
  type CheckExistingOptions,
  ExistingFileError,
} from "../../src/cli/prepare.ts";
import type { RetryInfo } from "../../src/batch/retry.ts";
import { UnexpectedStatusError } from "../../src/errors.ts";
import type { FetchLike } from "../../src/types.ts";

const SIZE = 1000;

function candidates(count: number) {
  return Array.from({ length: count }, (_, index) => ({
    index,
    size: SIZE,
    item: { url: `http://example.test/${index}.bin`, dest: `${index}.bin` },
  }));
}

function options(
  fetch: FetchLike,
  extra: Partial<CheckExistingOptions> = {},
): CheckExistingOptions & { retries: number; readonly told: [number, RetryInfo][] } {
  const told: [number, RetryInfo][] = [];
  return {
    retries: 3,
    minDelayMs: 1,
    maxDelayMs: 2,
    concurrency: 2,
    fetch,
    headers: new Headers(),
    signal: new AbortController().signal,
    onRetry: (index, info) => told.push([index, info]),
    told,
    ...extra,
  };
}

const sized = (size: number) =>
  new Response(null, { status: 200, headers: { "content-length": String(size) } });

describe("checkExisting()", () => {
  it("retries a failure that may pass, telling onRetry, and accepts the size it then gets", async () => {
    let calls = 0;
    const run = options(() =>
      Promise.resolve(++calls <= 4 ? new Response("", { status: 503 }) : sized(SIZE))
    );
    const failures = await checkExisting(candidates(1), run);
    assert.deepEqual(failures, []);
    assert.equal(calls, 5, "two attempts of HEAD and GET, then a HEAD");
    assert.deepEqual(run.told.map(([index, info]) => [index, info.attempt, info.maxAttempts]), [
      [0, 1, 4],
      [0, 2, 4],
    ]);
    assert.ok(run.told.every(([, info]) => info.error instanceof UnexpectedStatusError));
  });

  it("stops at once on a refusal no retry cures, and after the last attempt otherwise", async () => {
    const refused = await checkExisting(
      candidates(1),
      options(() => Promise.resolve(new Response("", { status: 404 }))),
    );
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!.attempts, 1);
    assert.equal((refused[0]!.error as UnexpectedStatusError).status, 404);

    const run = options(() => Promise.resolve(new Response("", { status: 503 })), { retries: 2 });
    const exhausted = await checkExisting(candidates(1), run);
    assert.equal(exhausted[0]!.attempts, 3);
    assert.equal(run.told.length, 2);
  });

  it("reports another size, in index order, with at most `concurrency` checks at once", async () => {
    let running = 0;
    let most = 0;
    const fetch: FetchLike = async (request) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
      return sized(request.url.endsWith("/3.bin") || request.url.endsWith("/1.bin") ? 7 : SIZE);
    };
    const failures = await checkExisting(candidates(6), options(fetch, { concurrency: 2 }));
    assert.equal(most, 2);
    assert.deepEqual(failures.map((failure) => failure.index), [1, 3]);
    assert.ok(failures.every((failure) => failure.error instanceof ExistingFileError));
    assert.ok(failures.every((failure) => failure.attempts === 1 && failure.received === 0));
  });

  it("ends a retry wait when the signal aborts, with its reason", async () => {
    const controller = new AbortController();
    const reason = new Error("stop");
    const busy = () => new Response("", { status: 503, headers: { "retry-after": "60" } });
    const run = options(() => Promise.resolve(busy()), {
      signal: controller.signal,
      onRetry: () => setTimeout(() => controller.abort(reason), 5),
    });
    const started = performance.now();
    const failures = await checkExisting(candidates(1), run);
    assert.ok(performance.now() - started < 10_000, "the wait was cut short");
    assert.equal(failures[0]!.error, reason);
    assert.equal(failures[0]!.attempts, 1);
    const none = await checkExisting(candidates(2), { ...run, onRetry: () => {} });
    assert.deepEqual(none.map((failure) => [failure.error, failure.attempts]), [
      [reason, 0],
      [reason, 0],
    ]);
  });
});
