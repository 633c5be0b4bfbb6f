/**
 * Checking what a request said in `Accept-Encoding`.
 *
 * @module
 */

import assert from "node:assert/strict";

/**
 * Asserts that an `Accept-Encoding` value asks for `identity` and nothing
 * else. Node's fetch appends its own `identity` to a request with `Range`
 * (as the Fetch standard says), so `"identity, identity"` arrives there: the
 * same request, said twice.
 *
 * @param value the header as the server received it.
 * @param context what the request was, for the failure message.
 */
export function assertIdentityOnly(value: string | undefined, context = "request"): void {
  const codings = new Set((value ?? "").split(",").map((coding) => coding.trim().toLowerCase()));
  assert.deepEqual([...codings], ["identity"], `${context}: Accept-Encoding ${value}`);
}
