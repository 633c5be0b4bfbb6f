/**
 * HTTP/1.1 framing that only raw sockets can send, answered to a download over 1 and 4
 * connections: informational (1xx) answers before the final one, trailers, chunk extensions, and
 * framing a `fetch` must refuse. Pinned: the right file at `dest`, or a typed error, nothing at
 * `dest` and no hang (1xx answers sent forever end within `stallTimeout`). `tests/helpers/script_server.ts`
 * cannot send these (its heads are one per request, its chunks plain).
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { Buffer } from "node:buffer";
import { haulWith } from "../../src/engine/haul.ts";
import { isTypedFailure } from "../helpers/retry_loop.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const KiB = 1024;
const BODY = randomBody(512 * KiB);
const ETAG = '"raw"';

/** The asked range (`null`: the whole file) and the honest status line and headers for it. */
interface Asked {
  readonly range: { readonly start: number; readonly end: number } | null;
}

/** The honest head (without its framing header and blank line) and body for `asked`. */
function honest(asked: Asked): { head: string; bytes: Uint8Array } {
  const fields = `ETag: ${ETAG}\r\nAccept-Ranges: bytes\r\n`;
  if (asked.range === null) return { head: `HTTP/1.1 200 OK\r\n${fields}`, bytes: BODY };
  const { start, end } = asked.range;
  const range = `Content-Range: bytes ${start}-${end}/${BODY.length}\r\n`;
  return {
    head: `HTTP/1.1 206 Partial Content\r\n${fields}${range}`,
    bytes: BODY.subarray(start, end + 1),
  };
}

/** `bytes` as chunks of 16 KiB, each size line followed by `extension`, then `trailer` fields. */
function chunked(bytes: Uint8Array, extension = "", trailer = ""): Buffer {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += 16 * KiB) {
    const piece = bytes.subarray(at, at + 16 * KiB);
    parts.push(
      Buffer.from(`${piece.length.toString(16)}${extension}\r\n`),
      piece,
      Buffer.from("\r\n"),
    );
  }
  return Buffer.concat([...parts, Buffer.from(`0\r\n${trailer}\r\n`)]);
}

/** The honest answer with a `Content-Length`, after `before` (informational answers). */
function withLength(socket: net.Socket, asked: Asked, before = ""): void {
  const { head, bytes } = honest(asked);
  socket.write(`${before}${head}Content-Length: ${bytes.length}\r\n\r\n`);
  socket.write(bytes);
}

type Answer = (socket: net.Socket, asked: Asked) => void;

/** Starts a server answering every request with `answer`; `close()` ends every socket. */
async function rawServer(answer: Answer) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let input = "";
    socket.on("data", (data) => {
      input += data.toString("latin1");
      for (let end = input.indexOf("\r\n\r\n"); end >= 0; end = input.indexOf("\r\n\r\n")) {
        const head = input.slice(0, end);
        input = input.slice(end + 4);
        const match = /\r\nrange: bytes=(\d+)-(\d*)/i.exec(head);
        const range = match === null ? null : {
          start: Number(match[1]),
          end: match[2] === "" ? BODY.length - 1 : Number(match[2]),
        };
        answer(socket, { range });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/f.bin`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** `file`: `dest` holds the file; `typed`: a typed error, nothing at `dest`; `either`: a runtime's choice. */
const cases: [string, "file" | "typed" | "either", Answer][] = [
  ["a 103 Early Hints before the answer", "file", (socket, asked) => {
    withLength(
      socket,
      asked,
      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
    );
  }],
  ["a 102 and a 103 before the answer", "file", (socket, asked) => {
    withLength(socket, asked, "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n");
  }],
  ["a 103 before the answers to ranges only", "file", (socket, asked) => {
    withLength(socket, asked, asked.range === null ? "" : "HTTP/1.1 103 Early Hints\r\n\r\n");
  }],
  // Node's fetch (undici) fails on a 100 the request did not ask for; Deno's and Bun's skip it.
  ["an unasked 100 Continue before the answer", "either", (socket, asked) => {
    withLength(socket, asked, "HTTP/1.1 100 Continue\r\n\r\n");
  }],
  ["chunked, with trailer fields", "file", (socket, asked) => {
    const { head, bytes } = honest(asked);
    socket.write(`${head}Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n`);
    socket.write(chunked(bytes, "", "X-Sum: 0123\r\n"));
  }],
  ["chunked, with chunk extensions", "file", (socket, asked) => {
    const { head, bytes } = honest(asked);
    socket.write(`${head}Transfer-Encoding: chunked\r\n\r\n`);
    socket.write(chunked(bytes, ';name="value"'));
  }],
  ["1xx answers every 100 ms, never a final one", "typed", (socket) => {
    const timer = setInterval(() => socket.write("HTTP/1.1 102 Processing\r\n\r\n"), 100);
    socket.on("close", () => clearInterval(timer));
  }],
  ["Content-Length and Transfer-Encoding: chunked together", "typed", (socket, asked) => {
    const { head, bytes } = honest(asked);
    socket.write(`${head}Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n`);
    socket.write(chunked(bytes));
  }],
  ["two Content-Length fields that differ", "typed", (socket, asked) => {
    const { head, bytes } = honest(asked);
    socket.write(
      `${head}Content-Length: ${bytes.length}\r\nContent-Length: ${bytes.length + 1}\r\n\r\n`,
    );
    socket.write(bytes);
  }],
  ["a chunk cut in its middle by a close", "typed", (socket, asked) => {
    const { head, bytes } = honest(asked);
    socket.write(`${head}Transfer-Encoding: chunked\r\n\r\n`);
    const wire = chunked(bytes);
    socket.write(wire.subarray(0, wire.length >> 1), () => setTimeout(() => socket.destroy(), 100));
  }],
];

describe("raw HTTP/1.1 framing", () => {
  for (const [name, expected, answer] of cases) {
    for (const connections of [1, 4]) {
      it(`${name} (${connections} connection${connections > 1 ? "s" : ""}): ${expected}`, async () => {
        const server = await rawServer(answer);
        try {
          await withTempDir(async (dir) => {
            const dest = join(dir, "f.bin");
            const started = performance.now();
            const outcome = await haulWith(server.url, { dest, connections, stallTimeout: 500 }, {
              rangeFloor: 64 * KiB,
            }).then((result) => ({ result }), (error: unknown) => ({ error }));
            const took = performance.now() - started;
            assert.ok(took < 10_000, `took ${took} ms`);
            if ("result" in outcome) {
              assert.notEqual(expected, "typed", "a download finished");
              assert.equal(outcome.result.sha256, sha256(BODY));
              assert.deepEqual(await bytesOf(dest), BODY);
            } else {
              assert.notEqual(expected, "file", String(outcome.error));
              assert.ok(isTypedFailure(outcome.error), `untyped: ${String(outcome.error)}`);
              assert.equal(exists(dest), false, "something at dest");
            }
          });
        } finally {
          await server.close();
        }
      });
    }
  }
});
