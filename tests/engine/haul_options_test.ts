import { describe, it } from "node:test";
import { rm } from "node:fs/promises";
import process from "node:process";
import { runInNewContext } from "node:vm";
import assert from "node:assert/strict";
import { haul, haulWithRetry, isRetryable } from "../../mod.ts";
import { haulWith } from "../../src/engine/haul.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { exists, randomBody } from "../helpers/temp.ts";

/** `haul()` as a JavaScript caller sees it: no types to stop a missing argument. */
const untypedHaul = haul as (input: string, options?: unknown) => Promise<unknown>;
const untypedHaulWith = haulWith as (
  input: string,
  options: unknown,
  hooks: object,
) => Promise<unknown>;

/** Options a JavaScript caller may pass by mistake, with what the message must say. */
const MISUSES: [string, unknown, RegExp][] = [
  ["no options", undefined, /needs an options object/],
  ["null", null, /needs an options object/],
  ["a string", "file.bin", /needs an options object/],
  ["no dest", {}, /needs a dest/],
  ["no dest, several connections", { connections: 4 }, /needs a dest/],
];

describe("haul() options", () => {
  it("rejects missing options or a missing dest with a TypeError before any request", async () => {
    const server = await startResourceServer({ body: randomBody(100) });
    try {
      for (const [name, options, message] of MISUSES) {
        for (
          const [call, run] of [
            ["haul", () => untypedHaul(server.url, options)],
            ["haulWith", () => untypedHaulWith(server.url, options, {})],
          ] as const
        ) {
          const error = await run().then(
            () => assert.fail(`${call}, ${name}: resolved`),
            (e: unknown) => e,
          );
          assert.ok(error instanceof TypeError, `${call}, ${name}: ${error}`);
          assert.match(error.message, /^Invalid options: /, `${call}, ${name}`);
          assert.match(error.message, message, `${call}, ${name}`);
          assert.equal(isRetryable(error), false, `${call}, ${name}`);
        }
      }
      assert.equal(server.requests.length, 0);
    } finally {
      await server.close();
    }
  });

  it("names a wrong-typed option or an unknown integrity algorithm in a TypeError that is not retryable, before any request", async () => {
    const server = await startResourceServer({ body: randomBody(100) });
    const dest = "never-written.bin";
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ["integrity of no known algorithm", { integrity: "md5-AAAA" }, /^Invalid integrity: /],
      ["fetch a number", { fetch: 5 }, /^Invalid options: fetch /],
      ["onProgress a string", { onProgress: "log" }, /^Invalid options: onProgress /],
      ["onRetry an object", { onRetry: {} }, /^Invalid options: onRetry /],
      ["signal a plain object", { signal: { aborted: false } }, /^Invalid options: signal /],
    ];
    try {
      for (const [name, options, message] of cases) {
        for (const call of [haul, haulWithRetry]) {
          const error = await call(server.url, { dest, ...options }).catch((e: unknown) => e);
          assert.ok(error instanceof TypeError, `${call.name}, ${name}: ${error}`);
          assert.match(error.message, message, `${call.name}, ${name}`);
          assert.equal(isRetryable(error), false, `${call.name}, ${name}`);
        }
      }
      assert.equal(server.requests.length, 0);
      assert.equal(exists(dest) || exists(`${dest}.part`), false);
    } finally {
      await server.close();
    }
  });

  it("takes a function of another realm (node:vm, as Jest's environments make) as a callback", async () => {
    const body = randomBody(100);
    const server = await startResourceServer({ body });
    const seen: number[] = [];
    const onProgress = runInNewContext("(seen) => (state) => seen.push(state.validLength)")(seen);
    assert.equal(onProgress instanceof Function, false, "a function of another realm");
    const dest = `another-realm-${process.pid}.bin`;
    try {
      await haul(server.url, { dest, onProgress });
      assert.equal(seen.at(-1), body.length);
    } finally {
      await server.close();
      await rm(dest, { force: true });
    }
  });
});
