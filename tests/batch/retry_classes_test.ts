import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer } from "node:net";
import type { AddressInfo } from "node:net";
import { haulAll, haulWithRetry } from "../../mod.ts";
import { fetchFailure } from "../../src/fetch_failure.ts";
import { describeError } from "../../src/cli/error_wording.ts";
import { isRetryable } from "../../src/errors.ts";
import { SELF_SIGNED_CERT, SELF_SIGNED_KEY } from "../fixtures/self_signed_cert.ts";
import { exists, join, withTempDir } from "../helpers/temp.ts";

const IS_BUN = "Bun" in globalThis;
const IS_NODE = !IS_BUN && !("Deno" in globalThis);

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Runs `fn` against an HTTPS server on 127.0.0.1 with a self-signed certificate. */
async function withSelfSignedServer(fn: (url: string) => Promise<void>): Promise<void> {
  const server = createHttpsServer({ key: SELF_SIGNED_KEY, cert: SELF_SIGNED_CERT }, (_q, r) => {
    r.end("hello");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await fn(`https://127.0.0.1:${(server.address() as AddressInfo).port}/a.bin`);
  } finally {
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function attemptsFor(
  url: string,
  dir: string,
): Promise<{ error: unknown; attempts: number }> {
  let retries = 0;
  const error = await haulWithRetry(url, {
    dest: join(dir, "x.bin"),
    retries: 3,
    minDelayMs: 1,
    maxDelayMs: 5,
    onRetry: () => retries++,
  }).catch((e: unknown) => e);
  const attempts = (error as { attempts?: number }).attempts ?? -1;
  assert.equal(attempts, retries + 1, "one onRetry per further attempt");
  return { error, attempts };
}

describe("haulWithRetry() classifies what fetch throws", () => {
  it("stops at once when fetch refuses the URL's scheme", async () => {
    await withTempDir(async (dir) => {
      const { error, attempts } = await attemptsFor("ftp://127.0.0.1/x.bin", dir);
      assert.equal(attempts, 1, String(error));
      assert.equal(fetchFailure(error)?.code, "BAD_SCHEME");
      assert.equal(exists(join(dir, "x.bin")), false);
    });
  });

  it("stops at once when the server's certificate is rejected", async () => {
    await withSelfSignedServer(async (url) => {
      await withTempDir(async (dir) => {
        const { error, attempts } = await attemptsFor(url, dir);
        assert.equal(attempts, 1, String(error));
        const failure = fetchFailure(error);
        assert.equal(failure?.retryable, false);
        assert.match(failure?.reason ?? "", /certificate/);
      });
    });
  });

  it("retries a refused connection to an ordinary port, naming ECONNREFUSED", async () => {
    const port = await closedPort();
    await withTempDir(async (dir) => {
      const { error, attempts } = await attemptsFor(`http://127.0.0.1:${port}/x.bin`, dir);
      assert.equal(attempts, 4, String(error));
      assert.deepEqual(fetchFailure(error), {
        code: "ECONNREFUSED",
        reason: "connection refused",
        retryable: true,
      });
    });
  });

  it("retries a connection closed before any answer, naming why on every runtime", async () => {
    const server = createNetServer((socket) => socket.once("data", () => socket.destroy()));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      await withTempDir(async (dir) => {
        const { error, attempts } = await attemptsFor(`http://127.0.0.1:${port}/x.bin`, dir);
        assert.equal(attempts, 4, String(error));
        const failure = fetchFailure(error);
        assert.equal(
          failure?.retryable,
          true,
          `${String(error)}: ${String((error as Error).cause)}`,
        );
        assert.equal(exists(join(dir, "x.bin")), false);
      });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("gets the file through an unasked 100 Continue on Deno and Bun; on Node stops at once, saying why", async () => {
    // RFC 9110 §15.2: a client must parse a 1xx it did not expect; Node's fetch (undici) fails the
    // request on a 100 instead ("bad response"), which no retry of the same server cures.
    const server = createNetServer((socket) => {
      socket.on("error", () => {});
      socket.once("data", () => {
        socket.write("HTTP/1.1 100 Continue\r\n\r\n");
        setTimeout(() => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), 20);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x.bin`;
      await withTempDir(async (dir) => {
        if (!IS_NODE) {
          const result = await haulWithRetry(url, { dest: join(dir, "x.bin") });
          assert.equal(result.size, 5);
          return;
        }
        const { error, attempts } = await attemptsFor(url, dir);
        assert.equal(attempts, 1, String(error));
        assert.ok(error instanceof TypeError, String(error)); // fetch's own, as for a refused connection
        assert.equal(isRetryable(error), false);
        assert.equal(fetchFailure(error)?.code, "UNASKED_100");
        assert.match(
          describeError(error, { url: new URL(url), dest: "x.bin" }, 1),
          /^Cannot download http:\S+: Node's fetch refuses an unasked 100 Continue: use Deno or Bun$/,
        );
        assert.deepEqual(readdirSync(dir), []);
      });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("stops at once at a redirect loop, and the CLI says so", async () => {
    const server = createHttpServer((request, response) => {
      response.writeHead(302, { location: `/again-${request.url!.length}` }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const url = `http://127.0.0.1:${port}/x.bin`;
      await withTempDir(async (dir) => {
        const { error, attempts } = await attemptsFor(url, dir);
        assert.equal(attempts, 1, String(error));
        assert.equal(fetchFailure(error)?.code, "TOO_MANY_REDIRECTS");
        assert.equal(isRetryable(error), false);
        assert.match(
          describeError(error, { url: new URL(url), dest: "x.bin" }, 1),
          /redirects in a loop .*check the URL$/,
        );
        assert.deepEqual(readdirSync(dir), []);
      });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("stops at once on a port fetch refuses to use (Deno, Node); Bun's fetch has no such list and is refused by the OS", async () => {
    await withTempDir(async (dir) => {
      const { error, attempts } = await attemptsFor("http://127.0.0.1:1/x.bin", dir);
      if (IS_BUN) {
        assert.equal(fetchFailure(error)?.code, "ECONNREFUSED");
        assert.equal(attempts, 4);
      } else {
        assert.equal(fetchFailure(error)?.code, "BAD_PORT");
        assert.equal(attempts, 1, String(error));
      }
    });
  });

  it("gives haulAll() the same verdicts, item by item", async () => {
    const port = await closedPort();
    await withTempDir(async (dir) => {
      const reports = await haulAll([
        { url: "ftp://127.0.0.1/a.bin", dest: join(dir, "a.bin") },
        { url: `http://127.0.0.1:${port}/b.bin`, dest: join(dir, "b.bin") },
      ], { retries: 2, minDelayMs: 1, maxDelayMs: 2 });
      assert.deepEqual(reports.map((report) => [report.status, report.attempts]), [
        ["failed", 1],
        ["failed", 3],
      ]);
    });
  });
});

describe("fetchFailure()", () => {
  it("reads each runtime's wording of a failed request", () => {
    const cause = (message: string, code?: string) =>
      new TypeError("fetch failed", { cause: Object.assign(new Error(message), { code }) });
    const coded = (message: string, code: string) =>
      Object.assign(new TypeError(message), { code });
    const cases: [string, unknown, string | null, boolean | null][] = [
      ["Node bad port", cause("bad port"), "BAD_PORT", false],
      [
        "Deno bad port",
        new TypeError("Fetch failed: Requests to port 1 are blocked"),
        "BAD_PORT",
        false,
      ],
      ["Node scheme", cause("unknown scheme"), "BAD_SCHEME", false],
      ["Node file:", cause("not implemented... yet..."), "BAD_SCHEME", false],
      ["Deno scheme", new TypeError("Url scheme 'ftp' not supported"), "BAD_SCHEME", false],
      ["Node redirect to file:", cause("URL scheme must be a HTTP(S) scheme"), "BAD_SCHEME", false],
      [
        "Deno redirect to data:",
        new TypeError("Fetch failed: Can not redirect to a non HTTP(s) url"),
        "BAD_SCHEME",
        false,
      ],
      [
        "Bun redirect to file:",
        new TypeError('UnsupportedRedirectProtocol fetching "http://h/a". For more information…'),
        "BAD_SCHEME",
        false,
      ],
      [
        "Bun scheme",
        coded("protocol must be http:, https: or s3:", "ERR_INVALID_ARG_VALUE"),
        "BAD_SCHEME",
        false,
      ],
      [
        "Node URL",
        new TypeError("Failed to parse URL from x", {
          cause: coded("Invalid URL", "ERR_INVALID_URL"),
        }),
        "INVALID_URL",
        false,
      ],
      ["Bun URL", coded("fetch() URL is invalid", "ERR_INVALID_URL"), "INVALID_URL", false],
      [
        "Node TLS",
        cause("self-signed certificate", "DEPTH_ZERO_SELF_SIGNED_CERT"),
        "DEPTH_ZERO_SELF_SIGNED_CERT",
        false,
      ],
      [
        "Bun TLS",
        coded("unable to verify the first certificate", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"),
        "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
        false,
      ],
      [
        "Deno TLS",
        cause("client error (Connect): invalid peer certificate: UnknownIssuer"),
        "CERTIFICATE",
        false,
      ],
      [
        "Deno permission",
        Object.assign(new Error('Requires net access to "e.com:443"'), { name: "NotCapable" }),
        "NOT_PERMITTED",
        false,
      ],
      [
        "Node refused",
        cause("connect ECONNREFUSED 127.0.0.1:5", "ECONNREFUSED"),
        "ECONNREFUSED",
        true,
      ],
      [
        "Bun refused",
        coded("ECONNREFUSED: Unable to connect.", "ECONNREFUSED"),
        "ECONNREFUSED",
        true,
      ],
      ["old Bun refused", coded("Unable to connect", "ConnectionRefused"), "ECONNREFUSED", true],
      [
        "Deno refused",
        cause("tcp connect error: Connection refused (os error 111)"),
        "ECONNREFUSED",
        true,
      ],
      [
        "Deno closed",
        cause("client error (SendRequest): connection closed before message completed"),
        "ECONNRESET",
        true,
      ],
      [
        "Deno reset",
        cause("connection error: Connection reset by peer (os error 104)"),
        "ECONNRESET",
        true,
      ],
      ["Node DNS", cause("getaddrinfo ENOTFOUND nowhere.invalid", "ENOTFOUND"), "ENOTFOUND", true],
      [
        "Deno DNS",
        cause("dns error: failed to lookup address information: Name or service not known"),
        "ENOTFOUND",
        true,
      ],
      [
        "Deno DNS later",
        cause(
          "dns error: failed to lookup address information: Temporary failure in name resolution",
        ),
        "EAI_AGAIN",
        true,
      ],
      [
        "Deno loop",
        new TypeError("Fetch failed: Maximum number of redirects (20) reached"),
        "TOO_MANY_REDIRECTS",
        false,
      ],
      [
        "Bun loop",
        coded("TooManyRedirects: The response redirected too many times", "TooManyRedirects"),
        "TOO_MANY_REDIRECTS",
        false,
      ],
      ["Node loop", cause("redirect count exceeded"), "TOO_MANY_REDIRECTS", false],
      ["unknown", new TypeError("fetch failed"), null, null],
      ["not an error", "boom", null, null],
    ];
    for (const [label, error, code, retryable] of cases) {
      const failure = fetchFailure(error);
      assert.equal(failure?.code ?? null, code, label);
      assert.equal(failure?.retryable ?? null, retryable, label);
      if (failure !== null) assert.match(failure.reason, /^[a-z][A-Za-z' ]+$/, label);
    }
  });
});

describe("shouldRetry()", () => {
  it("stops on a full disk and on a TypeError thrown before any request, and follows isRetryable otherwise", async () => {
    const { shouldRetry } = await import("../../src/batch/retry.ts");
    const { DestinationError, PartialHaulError } = await import("../../src/errors.ts");
    const { FsShimError } = await import("../../src/runtime/fs_shim.ts");
    const full = new DestinationError("Cannot use destination: x.part: the disk is full", "x", {
      cause: new FsShimError("ENOSPC", "x.part", "write failed"),
      retryable: true,
    });
    assert.equal(full.retryable, true, "haul() itself says a later call may resume");
    assert.equal(shouldRetry(full, true), false);
    const busy = new DestinationError("Destination busy: x", "x", { retryable: true });
    assert.equal(shouldRetry(busy, true), true);
    assert.equal(shouldRetry(new TypeError("fetch failed"), false), false);
    assert.equal(shouldRetry(new TypeError("fetch failed"), true), true);
    assert.equal(shouldRetry(new PartialHaulError("cut", { validLength: 5 }), true), true);
  });
});
