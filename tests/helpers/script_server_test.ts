/**
 * Tests for the scripted loopback server used by the rest of the suite:
 * checked with the runtime's `fetch` and with a raw `node:net` client.
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as net from "node:net";
import {
  honestReply,
  type RecordedRequest,
  type Reply,
  type ResourceOptions,
  startResourceServer,
  startScriptServer,
} from "./script_server.ts";

/** Bun's fetch asks for compression by default; every test request opts out. */
const IDENTITY = { "accept-encoding": "identity" } as const;

function pattern(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { headers: { ...IDENTITY, ...headers } });
}

/** Reads a fetch body to its end or its failure, counting bytes. */
async function drain(
  response: Response,
): Promise<{ bytes: Uint8Array; error: unknown; failed: boolean }> {
  const parts: Uint8Array[] = [];
  const body = response.body;
  if (body === null) return { bytes: new Uint8Array(0), error: undefined, failed: false };
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
    }
  } catch (error) {
    return { bytes: new Uint8Array(Buffer.concat(parts)), error, failed: true };
  }
  return { bytes: new Uint8Array(Buffer.concat(parts)), error: undefined, failed: false };
}

/** A minimal HTTP client on a raw socket, for what fetch hides. */
class RawClient {
  readonly socket: net.Socket;
  ended = false;
  closed = false;
  error: Error | undefined;
  #waiters = new Set<() => void>();
  #parts: Buffer[] = [];
  #size = 0;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (data: Buffer) => {
      this.#parts.push(data);
      this.#size += data.length;
      this.#wake();
    });
    socket.on("end", () => {
      this.ended = true;
      this.#wake();
    });
    socket.on("error", (error: Error) => {
      this.error = error;
      this.#wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.#wake();
    });
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RawClient(socket));
      });
    });
  }

  /** Bytes received and not yet taken. */
  get size(): number {
    return this.#size;
  }

  /** The bytes received and not yet taken, as one buffer. */
  get buffer(): Buffer {
    if (this.#parts.length !== 1) this.#parts = [Buffer.concat(this.#parts, this.#size)];
    return this.#parts[0] ?? Buffer.alloc(0);
  }

  set buffer(rest: Buffer) {
    this.#parts = [rest];
    this.#size = rest.length;
  }

  #wake(): void {
    for (const wake of this.#waiters) wake();
  }

  /** Waits until `ready()` holds or the socket closes. */
  async until(ready: () => boolean): Promise<void> {
    while (!ready() && !this.closed) {
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
      });
    }
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** Takes one response head off the buffer. */
  async head(): Promise<{ text: string; status: number; headers: Map<string, string> }> {
    await this.until(() => this.buffer.includes("\r\n\r\n"));
    const end = this.buffer.indexOf("\r\n\r\n");
    assert.ok(end >= 0, "connection closed before a response head arrived");
    const text = this.buffer.subarray(0, end + 4).toString("latin1");
    this.buffer = this.buffer.subarray(end + 4);
    const lines = text.split("\r\n");
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    return { text, status: Number((lines[0] ?? "").split(" ")[1]), headers };
  }

  /** Takes up to `count` bytes off the buffer (fewer if the connection closed first). */
  async take(count: number): Promise<Buffer> {
    await this.until(() => this.size >= count);
    const taken = this.buffer.subarray(0, count);
    this.buffer = this.buffer.subarray(taken.length);
    return taken;
  }

  /** Takes everything until the connection closes. */
  async rest(): Promise<Buffer> {
    await this.until(() => false);
    const taken = this.buffer;
    this.buffer = Buffer.alloc(0);
    return taken;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

describe("startScriptServer", () => {
  it("records method, path, lower-case headers and the raw head before the script replies", async () => {
    let seenByScript = -1;
    const server = await startScriptServer(() => {
      seenByScript = server.requests.length;
      return { status: 204 };
    });
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(server.origin, server.url);
      const response = await get(`${server.url}/files/a.bin?v=2`, { "X-Custom-Thing": "Value 1" });
      await response.arrayBuffer();
      assert.equal(response.status, 204);
      assert.equal(seenByScript, 1);
      const req = server.requests[0];
      assert.ok(req !== undefined);
      assert.equal(req.index, 0);
      assert.equal(req.method, "GET");
      assert.equal(req.path, "/files/a.bin?v=2");
      assert.equal(req.headers["x-custom-thing"], "Value 1");
      assert.equal(req.headers["accept-encoding"], "identity");
      assert.ok(req.raw.startsWith("GET /files/a.bin?v=2 HTTP/1.1\r\n"));
      assert.ok(req.raw.endsWith("\r\n\r\n"));
    } finally {
      await server.close();
    }
  });

  it("sends scripted headers verbatim and in order, adding only Content-Length", async () => {
    const server = await startScriptServer(() => ({
      status: 299,
      reason: "Whatever You Like",
      headers: [["X-Zeta", "1"], ["x-alpha", "two"], ["X-Zeta", "3"]],
      body: "hello",
    }));
    try {
      const client = await RawClient.connect(server.port);
      try {
        client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        const head = await client.head();
        assert.equal(
          head.text,
          "HTTP/1.1 299 Whatever You Like\r\nX-Zeta: 1\r\nx-alpha: two\r\nX-Zeta: 3\r\n" +
            "Content-Length: 5\r\n\r\n",
        );
        assert.equal((await client.take(5)).toString(), "hello");
      } finally {
        client.destroy();
      }
    } finally {
      await server.close();
    }
  });

  it("lets a reply lie with its own Content-Length, which is sent instead of the real one", async () => {
    const server = await startScriptServer(() => ({
      status: 200,
      headers: { "Content-Length": "3", "Connection": "close" },
      body: "hello",
    }));
    try {
      const client = await RawClient.connect(server.port);
      try {
        client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        const head = await client.head();
        assert.equal(
          head.text,
          "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n",
        );
        assert.equal((await client.rest()).toString(), "hello");
      } finally {
        client.destroy();
      }
      const response = await get(server.url);
      assert.equal(response.headers.get("content-length"), "3");
      assert.equal(await response.text(), "hel");
    } finally {
      await server.close();
    }
  });

  it("sends chunked bodies that fetch reassembles and that are framed as scripted", async () => {
    const body = pattern(10_000);
    const server = await startScriptServer(() => ({
      status: 200,
      body,
      framing: "chunked",
      chunkSize: 4096,
    }));
    try {
      const response = await get(server.url);
      assert.equal(response.headers.get("transfer-encoding"), "chunked");
      assert.equal(response.headers.get("content-length"), null);
      assert.deepEqual(new Uint8Array(await response.arrayBuffer()), body);

      const client = await RawClient.connect(server.port);
      try {
        client.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        const head = await client.head();
        assert.equal(head.headers.get("transfer-encoding"), "chunked");
        const wire = await client.rest();
        const sizes: string[] = [];
        let offset = 0;
        for (;;) {
          const lineEnd = wire.indexOf("\r\n", offset);
          const size = wire.subarray(offset, lineEnd).toString("latin1");
          sizes.push(size);
          offset = lineEnd + 2 + parseInt(size, 16) + 2;
          if (size === "0") break;
        }
        assert.deepEqual(sizes, ["1000", "1000", "710", "0"]);
        assert.equal(offset, wire.length);
      } finally {
        client.destroy();
      }
    } finally {
      await server.close();
    }
  });

  it("delimits a close-framed body by closing the connection", async () => {
    const body = pattern(300_000);
    const server = await startScriptServer(() => ({ status: 200, body, framing: "close" }));
    try {
      const response = await get(server.url);
      assert.equal(response.headers.get("content-length"), null);
      assert.deepEqual(new Uint8Array(await response.arrayBuffer()), body);
    } finally {
      await server.close();
    }
  });

  it("answers HEAD with the full Content-Length and no body", async () => {
    const server = await startScriptServer(() => ({ status: 200, body: pattern(1234) }));
    try {
      const client = await RawClient.connect(server.port);
      try {
        client.write("HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
        const head = await client.head();
        assert.equal(head.headers.get("content-length"), "1234");
        // The next bytes are the GET's response, not a HEAD body.
        const second = await client.head();
        assert.equal(second.status, 200);
        assert.equal((await client.take(1234)).length, 1234);
        assert.deepEqual(server.requests.map((req) => req.method), ["HEAD", "GET"]);
      } finally {
        client.destroy();
      }
    } finally {
      await server.close();
    }
  });

  for (const framing of ["length", "chunked"] as const) {
    it(`cuts a ${framing}-framed body after exactly cutAfter bytes, as a raw client sees it`, async () => {
      const body = pattern(1_000_000);
      const server = await startScriptServer(() => ({
        status: 200,
        body,
        framing,
        chunkSize: 100_000,
        cutAfter: 123_457,
      }));
      try {
        const client = await RawClient.connect(server.port);
        try {
          client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
          const head = await client.head();
          assert.equal(head.status, 200);
          const wire = await client.rest();
          let payload: Buffer;
          if (framing === "length") {
            assert.equal(head.headers.get("content-length"), "1000000");
            payload = wire;
          } else {
            // One full 100000-byte chunk, then a chunk announced as 100000 and left unfinished.
            const first = "186a0\r\n";
            assert.equal(wire.subarray(0, first.length).toString("latin1"), first);
            const secondStart = first.length + 100_000 + 2;
            assert.equal(wire.subarray(secondStart, secondStart + first.length).toString(), first);
            payload = Buffer.concat([
              wire.subarray(first.length, first.length + 100_000),
              wire.subarray(secondStart + first.length),
            ]);
          }
          assert.equal(payload.length, 123_457);
          assert.deepEqual(new Uint8Array(payload), body.subarray(0, 123_457));
          assert.ok(client.ended || client.error !== undefined);
        } finally {
          client.destroy();
        }
      } finally {
        await server.close();
      }
    });

    it(`makes fetch's body reader fail after exactly cutAfter bytes of a ${framing}-framed body`, async () => {
      const body = pattern(1_000_000);
      const server = await startScriptServer(() => ({
        status: 200,
        body,
        framing,
        cutAfter: 300_000,
        // Generous, so that Bun's fetch (which drops bytes read together with the close) sees all.
        cutLingerMs: 150,
      }));
      try {
        const response = await get(server.url);
        assert.equal(response.status, 200);
        const result = await drain(response);
        assert.equal(result.bytes.length, 300_000);
        assert.deepEqual(result.bytes, body.subarray(0, 300_000));
        assert.ok(result.failed, "a body shorter than announced must not end cleanly");
        assert.ok(result.error instanceof TypeError, `unexpected error ${String(result.error)}`);
      } finally {
        await server.close();
      }
    });
  }

  it("still breaks fetch's body without a linger, after delivering at most a prefix of cutAfter bytes", async () => {
    const body = pattern(1_000_000);
    const server = await startScriptServer(() => ({
      status: 200,
      body,
      cutAfter: 300_000,
      cutLingerMs: 0,
    }));
    try {
      const result = await drain(await get(server.url));
      assert.ok(result.failed);
      assert.ok(result.bytes.length <= 300_000);
      assert.deepEqual(result.bytes, body.subarray(0, result.bytes.length));
      // Deno's fetch hands over every byte; Bun's may drop those read along with the close.
      if (!("Bun" in globalThis)) assert.equal(result.bytes.length, 300_000);
    } finally {
      await server.close();
    }
  });

  it("makes fetch fail without a response when the reply hangs up", async () => {
    const server = await startScriptServer(() => ({ status: 200, hangUp: true }));
    try {
      const error = await get(server.url).catch((e: unknown) => e);
      assert.ok(error instanceof Error, String(error));
      assert.ok(server.requests.length >= 1);
    } finally {
      await server.close();
    }
  });

  it("cuts right after the head when cutAfter is 0", async () => {
    const server = await startScriptServer(() => ({ status: 200, body: "abc", cutAfter: 0 }));
    try {
      const response = await get(server.url);
      const result = await drain(response);
      assert.equal(result.bytes.length, 0);
      assert.ok(result.failed);
    } finally {
      await server.close();
    }
  });

  it("makes fetch fail when a chunked body ends without its final chunk", async () => {
    const body = pattern(50_000);
    const server = await startScriptServer(() => ({
      status: 200,
      body,
      framing: "chunked",
      omitFinalChunk: true,
      cutLingerMs: 150,
    }));
    try {
      const client = await RawClient.connect(server.port);
      try {
        client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        await client.head();
        const wire = await client.rest();
        assert.ok(wire.toString("latin1").endsWith("\r\n"));
        assert.ok(!wire.toString("latin1").includes("\r\n0\r\n"));
        assert.ok(client.ended);
      } finally {
        client.destroy();
      }
      const result = await drain(await get(server.url));
      assert.equal(result.bytes.length, 50_000);
      assert.ok(result.failed);
    } finally {
      await server.close();
    }
  });

  it("stalls after stallAfter bytes until close() breaks the fetch body", async () => {
    const body = pattern(100_000);
    const server = await startScriptServer(() => ({ status: 200, body, stallAfter: 1000 }));
    let closing: Promise<void> | undefined;
    try {
      const response = await get(server.url);
      const reader = response.body?.getReader();
      assert.ok(reader !== undefined);
      let received = 0;
      while (received < 1000) {
        const { done, value } = await reader.read();
        assert.ok(!done);
        received += value.length;
      }
      assert.equal(received, 1000);
      let settled = false;
      const next = reader.read().then(
        () => "resolved",
        () => "rejected",
      ).finally(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal(settled, false, "nothing more may arrive while stalled");
      closing = server.close();
      assert.equal(await next, "rejected");
    } finally {
      await (closing ?? server.close());
    }
  });

  it("lets a stalled raw client see the connection close when the server closes", async () => {
    const server = await startScriptServer(() => ({
      status: 200,
      body: pattern(10_000),
      framing: "chunked",
      stallAfter: 10,
    }));
    try {
      const client = await RawClient.connect(server.port);
      try {
        client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        await client.head();
        await client.until(() => client.size >= "2710\r\n".length + 10);
        assert.equal(client.buffer.toString("latin1", 0, 6), "2710\r\n");
        await server.close();
        await client.until(() => false);
        assert.ok(client.closed);
      } finally {
        client.destroy();
      }
    } finally {
      await server.close();
    }
  });

  it("ends a stall when the client goes away, so later requests are still served", async () => {
    const server = await startScriptServer((req) =>
      req.path === "/stall"
        ? { status: 200, body: pattern(10_000), stallAfter: 100 }
        : { status: 200, body: "ok" }
    );
    try {
      const client = await RawClient.connect(server.port);
      client.write("GET /stall HTTP/1.1\r\nHost: x\r\n\r\n");
      await client.head();
      await client.take(100);
      client.destroy();
      const response = await get(`${server.url}/after`);
      assert.equal(await response.text(), "ok");
    } finally {
      await server.close();
    }
  });

  it("serves two requests on one keep-alive connection, one after the other", async () => {
    const server = await startScriptServer((req) => ({ status: 200, body: `reply ${req.index}` }));
    try {
      const client = await RawClient.connect(server.port);
      try {
        client.write("GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
        const first = await client.head();
        assert.equal(
          (await client.take(Number(first.headers.get("content-length")))).toString(),
          "reply 0",
        );
        client.write("GET /two HTTP/1.1\r\nHost: x\r\n\r\n");
        const second = await client.head();
        assert.equal(
          (await client.take(Number(second.headers.get("content-length")))).toString(),
          "reply 1",
        );
        assert.equal(client.closed, false);
        assert.deepEqual(server.requests.map((req) => req.path), ["/one", "/two"]);
        assert.deepEqual(server.requests.map((req) => req.connection), [0, 0]);
      } finally {
        client.destroy();
      }
    } finally {
      await server.close();
    }
  });

  it("answers pipelined requests in order", async () => {
    const server = await startScriptServer((req) => ({
      status: 200,
      body: req.path,
      delayMs: req.path === "/slow" ? 50 : 0,
    }));
    try {
      const client = await RawClient.connect(server.port);
      try {
        client.write("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
        await client.head();
        assert.equal((await client.take(5)).toString(), "/slow");
        await client.head();
        assert.equal((await client.take(5)).toString(), "/fast");
      } finally {
        client.destroy();
      }
    } finally {
      await server.close();
    }
  });

  it("closes the connection after a reply when the client sends Connection: close", async () => {
    const server = await startScriptServer(() => ({ status: 200, body: "bye" }));
    try {
      const client = await RawClient.connect(server.port);
      try {
        client.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        await client.head();
        assert.equal((await client.rest()).toString(), "bye");
        assert.ok(client.ended);
      } finally {
        client.destroy();
      }
    } finally {
      await server.close();
    }
  });

  it("answers a client that half-closes right after its request", async () => {
    const server = await startScriptServer(() => ({ status: 200, body: "late", delayMs: 30 }));
    try {
      const client = await RawClient.connect(server.port);
      try {
        client.socket.end("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        await client.head();
        assert.equal((await client.rest()).toString(), "late");
      } finally {
        client.destroy();
      }
    } finally {
      await server.close();
    }
  });

  it("streams a 64 MiB body with backpressure to a slow raw reader and to fetch", async () => {
    const body = pattern(64 * 1024 * 1024);
    const server = await startScriptServer(() => ({ status: 200, body }));
    try {
      const client = await RawClient.connect(server.port);
      try {
        client.socket.pause();
        client.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        await new Promise((resolve) => setTimeout(resolve, 200));
        client.socket.resume();
        await client.head();
        const wire = await client.rest();
        assert.equal(wire.length, body.length);
        assert.ok(Buffer.from(body.buffer, body.byteOffset, body.length).equals(wire));
      } finally {
        client.destroy();
      }
      const result = await drain(await get(server.url));
      assert.equal(result.failed, false);
      assert.equal(result.bytes.length, body.length);
    } finally {
      await server.close();
    }
  });

  it("waits delayMs before the head and paces the body at bytesPerSecond", async () => {
    const server = await startScriptServer((req) =>
      req.path === "/delay"
        ? { status: 200, body: "x", delayMs: 200 }
        : { status: 200, body: pattern(40_000), bytesPerSecond: 100_000 }
    );
    try {
      let started = Date.now();
      await (await get(`${server.url}/delay`)).arrayBuffer();
      assert.ok(Date.now() - started >= 180, "delayMs not respected");
      started = Date.now();
      const bytes = await (await get(`${server.url}/paced`)).arrayBuffer();
      assert.equal(bytes.byteLength, 40_000);
      assert.ok(Date.now() - started >= 300, "bytesPerSecond not respected");
    } finally {
      await server.close();
    }
  });

  it("unblocks a delayed reply when the server closes", async () => {
    const server = await startScriptServer(() => ({ status: 200, delayMs: 60_000 }));
    let closing: Promise<void> | undefined;
    try {
      const pending = get(server.url).then(
        (response) => response.arrayBuffer().then(() => "answered"),
        () => "failed",
      );
      while (server.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      closing = server.close();
      assert.equal(await pending, "failed");
    } finally {
      await (closing ?? server.close());
    }
  });

  it("answers 500 when the script throws, and records the error", async () => {
    const server = await startScriptServer(() => {
      throw new Error("boom");
    });
    try {
      const response = await get(server.url);
      assert.equal(response.status, 500);
      assert.match(await response.text(), /boom/);
      assert.equal(server.errors.length, 1);
    } finally {
      await server.close();
    }
  });

  it("survives clients that vanish mid-body, and close() is idempotent", async () => {
    const server = await startScriptServer(() => ({ status: 200, body: pattern(8 * 1024 * 1024) }));
    try {
      for (let i = 0; i < 3; i++) {
        const client = await RawClient.connect(server.port);
        client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        await client.head();
        await client.take(1000);
        client.destroy();
      }
      const response = await get(server.url);
      assert.equal((await response.arrayBuffer()).byteLength, 8 * 1024 * 1024);
      assert.deepEqual(server.errors, []);
    } finally {
      await server.close();
      await server.close();
    }
  });
});

/** A request as the server would record it, for calling honestReply directly. */
function request(headers: Record<string, string>, method = "GET"): RecordedRequest {
  return { index: 0, connection: 0, method, path: "/", version: "HTTP/1.1", headers, raw: "" };
}

function headerOf(reply: Reply, name: string): string | undefined {
  const pairs = Array.isArray(reply.headers) ? reply.headers : Object.entries(reply.headers ?? {});
  return pairs.find(([key]) => key.toLowerCase() === name)?.[1];
}

function bodyOf(reply: Reply): string {
  return typeof reply.body === "string" ? reply.body : new TextDecoder().decode(reply.body);
}

describe("honestReply", () => {
  const resource: ResourceOptions = {
    body: new TextEncoder().encode("0123456789"),
    lastModified: "Tue, 15 Nov 1994 08:12:31 GMT",
  };

  it("answers 200 with the whole body, a strong default ETag and Accept-Ranges", () => {
    const reply = honestReply(request({}), resource);
    assert.equal(reply.status, 200);
    assert.equal(bodyOf(reply), "0123456789");
    assert.equal(headerOf(reply, "etag"), '"v1-10"');
    assert.equal(headerOf(reply, "accept-ranges"), "bytes");
    assert.equal(headerOf(reply, "last-modified"), "Tue, 15 Nov 1994 08:12:31 GMT");
    assert.equal(reply.framing, "length");
  });

  it("answers 206 from the offset to the end for bytes=5-", () => {
    const reply = honestReply(request({ range: "bytes=5-" }), resource);
    assert.equal(reply.status, 206);
    assert.equal(headerOf(reply, "content-range"), "bytes 5-9/10");
    assert.equal(bodyOf(reply), "56789");
  });

  it("answers 206 with just the closed range for bytes=2-4", () => {
    const reply = honestReply(request({ range: "bytes=2-4" }), resource);
    assert.equal(reply.status, 206);
    assert.equal(headerOf(reply, "content-range"), "bytes 2-4/10");
    assert.equal(bodyOf(reply), "234");
  });

  it("clamps a range end past the last byte and serves suffix ranges", () => {
    const clamped = honestReply(request({ range: "bytes=8-100" }), resource);
    assert.equal(headerOf(clamped, "content-range"), "bytes 8-9/10");
    const suffix = honestReply(request({ range: "bytes=-3" }), resource);
    assert.equal(headerOf(suffix, "content-range"), "bytes 7-9/10");
    assert.equal(bodyOf(suffix), "789");
  });

  it("answers 416 with bytes */length for a range starting at or beyond the end", () => {
    for (const range of ["bytes=10-", "bytes=50-60"]) {
      const reply = honestReply(request({ range }), resource);
      assert.equal(reply.status, 416);
      assert.equal(headerOf(reply, "content-range"), "bytes */10");
      assert.equal(bodyOf(reply), "");
    }
  });

  it("answers 200 for an empty resource even when a range is asked for", () => {
    const reply = honestReply(request({ range: "bytes=0-" }), { body: new Uint8Array(0) });
    assert.equal(reply.status, 200);
  });

  it("serves the range when If-Range matches the ETag", () => {
    const reply = honestReply(request({ range: "bytes=5-", "if-range": '"v1-10"' }), resource);
    assert.equal(reply.status, 206);
  });

  it("serves the whole body when If-Range does not match the ETag", () => {
    const reply = honestReply(request({ range: "bytes=5-", "if-range": '"v0-10"' }), resource);
    assert.equal(reply.status, 200);
    assert.equal(bodyOf(reply), "0123456789");
  });

  it("serves the whole body for a weak ETag in If-Range, since strong comparison fails", () => {
    const weak = { ...resource, etag: 'W/"v1-10"' };
    const sameWeak = honestReply(request({ range: "bytes=5-", "if-range": 'W/"v1-10"' }), weak);
    assert.equal(sameWeak.status, 200);
    const strongVsWeak = honestReply(request({ range: "bytes=5-", "if-range": '"v1-10"' }), weak);
    assert.equal(strongVsWeak.status, 200);
    const weakVsStrong = honestReply(
      request({ range: "bytes=5-", "if-range": 'W/"v1-10"' }),
      resource,
    );
    assert.equal(weakVsStrong.status, 200);
  });

  it("serves the range when If-Range is exactly the Last-Modified date, else the whole body", () => {
    const exact = honestReply(
      request({ range: "bytes=5-", "if-range": "Tue, 15 Nov 1994 08:12:31 GMT" }),
      resource,
    );
    assert.equal(exact.status, 206);
    const other = honestReply(
      request({ range: "bytes=5-", "if-range": "Tue, 15 Nov 1994 08:12:32 GMT" }),
      resource,
    );
    assert.equal(other.status, 200);
  });

  it("ignores If-Range when honorIfRange is false", () => {
    const reply = honestReply(
      request({ range: "bytes=5-", "if-range": '"changed"' }),
      { ...resource, honorIfRange: false },
    );
    assert.equal(reply.status, 206);
  });

  it("answers 200 without Accept-Ranges when honorRange is false", () => {
    const reply = honestReply(request({ range: "bytes=5-" }), { ...resource, honorRange: false });
    assert.equal(reply.status, 200);
    assert.equal(headerOf(reply, "accept-ranges"), undefined);
    assert.equal(bodyOf(reply), "0123456789");
  });

  it("omits the ETag when etag is null, and then no If-Range tag can match", () => {
    const noTag = { ...resource, etag: null };
    assert.equal(headerOf(honestReply(request({}), noTag), "etag"), undefined);
    const reply = honestReply(request({ range: "bytes=5-", "if-range": '"v1-10"' }), noTag);
    assert.equal(reply.status, 200);
  });

  it("ignores multiple or malformed ranges and serves the whole body", () => {
    for (const range of ["bytes=0-1,3-4", "bytes=4-2", "items=1-2", "bytes=-"]) {
      assert.equal(honestReply(request({ range }), resource).status, 200, range);
    }
  });
});

describe("startResourceServer", () => {
  const body = pattern(100_000);

  it("serves 200, 206 and 416 over HTTP as fetch sees them", async () => {
    const server = await startResourceServer({ body });
    try {
      const full = await get(server.url);
      assert.equal(full.status, 200);
      assert.equal(full.headers.get("content-length"), "100000");
      assert.equal(full.headers.get("etag"), '"v1-100000"');
      assert.deepEqual(new Uint8Array(await full.arrayBuffer()), body);

      const tail = await get(server.url, { range: "bytes=5-" });
      assert.equal(tail.status, 206);
      assert.equal(tail.headers.get("content-range"), "bytes 5-99999/100000");
      assert.equal(tail.headers.get("content-length"), "99995");
      assert.deepEqual(new Uint8Array(await tail.arrayBuffer()), body.subarray(5));

      const middle = await get(server.url, { range: "bytes=2-4", "if-range": '"v1-100000"' });
      assert.equal(middle.status, 206);
      assert.deepEqual(new Uint8Array(await middle.arrayBuffer()), body.subarray(2, 5));

      const beyond = await get(server.url, { range: "bytes=100000-" });
      assert.equal(beyond.status, 416);
      assert.equal(beyond.headers.get("content-range"), "bytes */100000");
      assert.equal((await beyond.arrayBuffer()).byteLength, 0);

      const changed = await get(server.url, { range: "bytes=5-", "if-range": '"v0"' });
      assert.equal(changed.status, 200);
      assert.equal((await changed.arrayBuffer()).byteLength, 100_000);
    } finally {
      await server.close();
    }
  });

  it("answers HEAD with the length and validators but no body", async () => {
    const server = await startResourceServer({
      body,
      lastModified: "Tue, 15 Nov 1994 08:12:31 GMT",
    });
    try {
      const response = await fetch(server.url, { method: "HEAD", headers: IDENTITY });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-length"), "100000");
      assert.equal(response.headers.get("last-modified"), "Tue, 15 Nov 1994 08:12:31 GMT");
      assert.equal((await response.arrayBuffer()).byteLength, 0);
    } finally {
      await server.close();
    }
  });

  it("applies a twist to the honest reply, e.g. cutting every first attempt", async () => {
    const server = await startResourceServer(
      { body },
      (
        req,
        honest,
      ) => (req.index === 0 ? { ...honest, cutAfter: 40_000, cutLingerMs: 150 } : honest),
    );
    try {
      const first = await drain(await get(server.url));
      assert.ok(first.failed);
      assert.equal(first.bytes.length, 40_000);
      const resumed = await get(server.url, { range: "bytes=40000-", "if-range": '"v1-100000"' });
      assert.equal(resumed.status, 206);
      assert.deepEqual(new Uint8Array(await resumed.arrayBuffer()), body.subarray(40_000));
    } finally {
      await server.close();
    }
  });

  it("chooses the resource per request when given a function", async () => {
    const server = await startResourceServer((req) => ({
      body,
      etag: req.index === 0 ? '"old"' : '"new"',
    }));
    try {
      const first = await get(server.url);
      assert.equal(first.headers.get("etag"), '"old"');
      await first.arrayBuffer();
      const stale = await get(server.url, { range: "bytes=10-", "if-range": '"old"' });
      assert.equal(stale.status, 200);
      assert.equal(stale.headers.get("etag"), '"new"');
      await stale.arrayBuffer();
    } finally {
      await server.close();
    }
  });
});
