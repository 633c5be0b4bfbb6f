import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkRangeResponse, type KnownFile } from "../../src/protocol/range_check.ts";

const file: KnownFile = { total: 1000, etag: '"v1"', lastModified: null };
const asked = { start: 500, end: 800 };

describe("checkRangeResponse()", () => {
  const table: {
    name: string;
    status: number;
    headers: Record<string, string>;
    known?: KnownFile;
    kind: "write" | "reset" | "refuse" | "fail";
  }[] = [
    {
      name: "a 206 of exactly the asked bytes, same ETag",
      status: 206,
      headers: { "content-range": "bytes 500-799/1000", etag: '"v1"', "content-length": "300" },
      kind: "write",
    },
    {
      name: "a 206 without the ETag (RFC 9110 §15.3.7: a 206 repeats it)",
      status: 206,
      headers: { "content-range": "bytes 500-799/1000" },
      kind: "refuse",
    },
    {
      name: "a 206 without the Last-Modified it continues",
      status: 206,
      headers: { "content-range": "bytes 500-799/1000" },
      known: { total: 1000, etag: null, lastModified: "Tue, 15 Nov 1994 12:45:26 GMT" },
      kind: "refuse",
    },
    { name: "a 200 (If-Range failed or Range ignored)", status: 200, headers: {}, kind: "refuse" },
    {
      name: "a 200 under the same ETag",
      status: 200,
      headers: { etag: '"v1"' },
      kind: "refuse",
    },
    { name: "a 200 with another ETag", status: 200, headers: { etag: '"v2"' }, kind: "reset" },
    { name: "a 416", status: 416, headers: { "content-range": "bytes */900" }, kind: "refuse" },
    {
      name: "a 416 with another ETag",
      status: 416,
      headers: { "content-range": "bytes */900", etag: '"v2"' },
      kind: "reset",
    },
    { name: "a 503", status: 503, headers: {}, kind: "fail" },
    { name: "a 429", status: 429, headers: { "retry-after": "1" }, kind: "fail" },
    {
      name: "another ETag",
      status: 206,
      headers: { "content-range": "bytes 500-799/1000", etag: '"v2"' },
      kind: "reset",
    },
    {
      name: "the weak form of the ETag (the same tag, nothing proves its bytes)",
      status: 206,
      headers: { "content-range": "bytes 500-799/1000", etag: 'W/"v1"' },
      kind: "refuse",
    },
    {
      name: "another weak ETag",
      status: 206,
      headers: { "content-range": "bytes 500-799/1000", etag: 'W/"v2"' },
      kind: "reset",
    },
    {
      name: "a range that starts elsewhere",
      status: 206,
      headers: { "content-range": "bytes 0-299/1000", etag: '"v1"' },
      kind: "refuse",
    },
    {
      name: "a range that ends elsewhere",
      status: 206,
      headers: { "content-range": "bytes 500-999/1000", etag: '"v1"' },
      kind: "refuse",
    },
    {
      name: "another total",
      status: 206,
      headers: { "content-range": "bytes 500-799/2000", etag: '"v1"' },
      kind: "refuse",
    },
    {
      name: "an unknown total",
      status: 206,
      headers: { "content-range": "bytes 500-799/*", etag: '"v1"' },
      kind: "refuse",
    },
    {
      name: "gzip-coded bytes",
      status: 206,
      headers: { "content-range": "bytes 500-799/1000", "content-encoding": "gzip" },
      kind: "refuse",
    },
    {
      name: "identity coding",
      status: 206,
      headers: {
        "content-range": "bytes 500-799/1000",
        "content-encoding": "identity",
        etag: '"v1"',
      },
      kind: "write",
    },
    {
      name: "no Content-Range",
      status: 206,
      headers: { etag: '"v1"' },
      kind: "refuse",
    },
    {
      name: "a Content-Length that disagrees",
      status: 206,
      headers: { "content-range": "bytes 500-799/1000", "content-length": "301" },
      kind: "refuse",
    },
    {
      name: "an ETag where the file had only Last-Modified",
      status: 206,
      headers: { "content-range": "bytes 500-799/1000", etag: '"x"' },
      known: { total: 1000, etag: null, lastModified: "Sun, 06 Nov 1994 08:49:37 GMT" },
      kind: "reset",
    },
    {
      name: "another Last-Modified",
      status: 206,
      headers: {
        "content-range": "bytes 500-799/1000",
        "last-modified": "Mon, 07 Nov 1994 08:49:37 GMT",
      },
      known: { total: 1000, etag: null, lastModified: "Sun, 06 Nov 1994 08:49:37 GMT" },
      kind: "reset",
    },
    {
      name: "the same Last-Modified",
      status: 206,
      headers: {
        "content-range": "bytes 500-799/1000",
        "last-modified": "Sun, 06 Nov 1994 08:49:37 GMT",
      },
      known: { total: 1000, etag: null, lastModified: "Sun, 06 Nov 1994 08:49:37 GMT" },
      kind: "write",
    },
  ];
  for (const row of table) {
    it(`${row.kind}: ${row.name}`, () => {
      const verdict = checkRangeResponse(
        asked,
        row.known ?? file,
        row.status,
        new Headers(row.headers),
      );
      assert.equal(verdict.kind, row.kind, JSON.stringify(verdict));
      if (verdict.kind !== "write") assert.ok(verdict.reason.length > 0);
    });
  }
});
