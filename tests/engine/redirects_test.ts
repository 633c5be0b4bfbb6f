/**
 * Redirects, which the runtime's `fetch` follows: every connection's request follows them, a
 * resume starts again from the URL the caller gave, and a redirect `fetch` refuses to follow (to a
 * `file:` or `data:` URL) is a final failure, not one more try.
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isRetryable } from "../../mod.ts";
import { honestReply, type Reply, startScriptServer } from "../helpers/script_server.ts";
import { assertSucceeded, describeOutcome, haulWithRetries } from "../helpers/retry_loop.ts";
import { exists, join, randomBody, withTempDir } from "../helpers/temp.ts";
import { firstCutAfter } from "../helpers/cutting_fetch.ts";

const KiB = 1024;
const TIGHT = { blockSize: 64 * KiB, checkpointEvery: { bytes: 64 * KiB } };
const redirect = (location: string): Reply => ({
  status: 302,
  headers: [["Location", location]],
  body: "",
});

describe("a redirect", () => {
  it("relative, with a fragment, is followed by a resume and by each of 4 connections", async () => {
    const body = randomBody(768 * KiB);
    const server = await startScriptServer((req) =>
      req.path === "/old" ? redirect("new#part") : honestReply(req, { body })
    );
    try {
      await withTempDir(async (dir) => {
        const dest = join(dir, "file.bin");
        const cut = firstCutAfter(300 * KiB);
        const outcome = await haulWithRetries(
          `${server.url}/old`,
          (i) => ({ dest, ...TIGHT, connections: i === 0 ? 1 : 4, fetch: cut }),
          { server, maxAttempts: 3, hooks: { rangeFloor: 64 * KiB } },
        );
        await assertSucceeded(outcome, dest, body);
        const asked = (path: string) =>
          server.requests.filter((req) => req.path === path && req.headers["range"] !== undefined);
        assert.ok(asked("/old").length >= 2, "ranges asked at the URL given");
        assert.equal(asked("/new").length, asked("/old").length, "and each followed");
      });
    } finally {
      await server.close();
    }
  });

  for (const location of ["file:///etc/hostname", "data:,not-the-file"]) {
    it(`to ${location.split(":")[0]}: is a final failure: one request, nothing left`, async () => {
      const server = await startScriptServer(() => redirect(location));
      try {
        await withTempDir(async (dir) => {
          const dest = join(dir, "file.bin");
          const outcome = await haulWithRetries(`${server.url}/old`, { dest }, {
            server,
            maxAttempts: 3,
          });
          assert.equal(outcome.stoppedBy, "not-retryable", describeOutcome(outcome));
          assert.equal(isRetryable(outcome.attempts[0]!.error), false);
          for (const suffix of ["", ".part", ".part.ctrl", ".part.lock"]) {
            assert.equal(exists(dest + suffix), false, `${suffix} left`);
          }
        });
      } finally {
        await server.close();
      }
    });
  }
});
