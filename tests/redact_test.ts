import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { redactHeaders, redactUrl } from "../src/redact.ts";

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
