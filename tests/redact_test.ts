import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { haul, haulAll, haulStream, UnexpectedStatusError } from "../mod.ts";
import { checkUrl } from "../src/cli/jobs.ts";
import { redactHeaders, redactUrl } from "../src/redact.ts";
import { startScriptServer } from "./helpers/script_server.ts";
import { join, withTempDir } from "./helpers/temp.ts";

describe("redactHeaders()", () => {
  it("replaces credential-bearing values and keeps the others", () => {
    const headers = redactHeaders(
      new Headers({ "set-cookie": "id=1", Authorization: "Bearer t", etag: '"a"' }),
    );
    assert.equal(headers.get("set-cookie"), "[redacted]");
    assert.equal(headers.get("authorization"), "[redacted]");
    assert.equal(headers.get("etag"), '"a"');
  });
});

describe("redactUrl()", () => {
  it("drops user:password@ and redacts sensitive query values", () => {
    assert.equal(
      redactUrl("https://me:pw@example.com/a.bin?sig=abc&part=1"),
      "https://example.com/a.bin?sig=%5Bredacted%5D&part=1",
    );
    assert.equal(
      redactUrl(new URL("https://example.com/?X-Amz-Credential=c&api_key=k")),
      "https://example.com/?X-Amz-Credential=%5Bredacted%5D&api_key=%5Bredacted%5D",
    );
  });

  it("never echoes what it cannot parse", () => {
    assert.equal(redactUrl("not a url with a password"), "[unparseable URL]");
  });
});

describe("a URL that does not parse, with credentials", () => {
  // A password may hold "@" or "/" (the URL parser takes the last "@"; "/" ends the host).
  const urls = [
    "http://user:p4ss@w0rd@h%zz/x",
    "http://user:p4ss/w0rd@h/x",
    "http://user:p4ssw0rd@exa mple.com/x",
  ];
  /** Every message of `error` and its causes. */
  const messages = (error: unknown): string =>
    error instanceof Error ? `${error.message} ${messages(error.cause)}` : String(error ?? "");
  const leaks = (text: string) => /p4ss|w0rd/.test(text);

  it("is refused by haul(), haulAll() and haulStream() without a word of the password", async () => {
    await withTempDir(async (dir) => {
      for (const url of urls) {
        for (const source of [url, () => url]) {
          const error = await haul(source, { dest: join(dir, "f") }).then(() => null, (e) => e);
          assert.ok(error instanceof TypeError, `${url}: ${error}`);
          assert.match(error.message, /^Invalid URL/);
          assert.ok(!leaks(messages(error)), messages(error));
        }
        const [report] = await haulAll([{ url, dest: join(dir, "g") }]);
        assert.equal(report?.status, "failed");
        assert.ok(!leaks(messages(report?.error)), messages(report?.error));
        const thrown = (() => {
          try {
            haulStream(url);
          } catch (error) {
            return error;
          }
        })();
        assert.ok(thrown instanceof TypeError, `${url}: ${thrown}`);
        assert.ok(!leaks(messages(thrown)), messages(thrown));
      }
      assert.deepEqual(await readdir(dir), []);
    });
  });

  it("is refused by the command line's check without a word of the password", () => {
    for (const url of urls) {
      const problem = checkUrl(url);
      assert.equal(typeof problem, "string", url);
      assert.match(problem as string, /^Invalid URL "http:\/\//);
      assert.ok(!leaks(problem as string), problem as string);
    }
  });
});

describe("a URL's fragment", () => {
  // A fragment may carry a token (an OAuth implicit grant's "#access_token=…"); fetch never sends it.
  const fragment = "#access_token=s3cr3t&state=x";
  const leaks = (text: string) => /s3cr3t|access_token/.test(text);

  it("is dropped by redactUrl(), with or without a query", () => {
    assert.equal(redactUrl(`https://example.com/a.bin${fragment}`), "https://example.com/a.bin");
    assert.equal(
      redactUrl(new URL(`https://example.com/a.bin?part=1${fragment}`)),
      "https://example.com/a.bin?part=1",
    );
  });

  it("never reaches the server, nor an error's message, nor the command line's check", async () => {
    const server = await startScriptServer(() => ({ status: 404, body: "gone" }));
    try {
      await withTempDir(async (dir) => {
        const error = await haul(`${server.url}/a.bin${fragment}`, { dest: join(dir, "a.bin") })
          .then(() => null, (e) => e);
        assert.ok(error instanceof UnexpectedStatusError, String(error));
        assert.match(error.message, /HTTP 404 from http:\/\/127\.0\.0\.1:\d+\/a\.bin: /);
        assert.ok(!leaks(error.message), error.message);
        assert.equal(server.requests[0]?.path, "/a.bin");
        assert.ok(!leaks(server.requests[0]!.raw), server.requests[0]!.raw);
        assert.deepEqual(await readdir(dir), []);
      });
    } finally {
      await server.close();
    }
    const problem = checkUrl(`http://h%zz/x${fragment}`);
    assert.equal(typeof problem, "string");
    assert.ok(!leaks(problem as string), problem as string);
  });
});
