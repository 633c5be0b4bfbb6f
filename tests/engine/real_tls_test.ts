/**
 * haul over TLS, and over HTTP/2 where the runtime's `fetch` speaks it (Deno's; Bun's and Node's
 * speak HTTP/1.1 to the same servers): nginx with `listen ... ssl http2`, a `node:http2` secure
 * server that misbehaves on purpose (`tests/fixtures/h2_server.ts`, always run by the pinned Node),
 * the CLI over HTTPS, and what a user sees when the certificate or the handshake fails. The engine
 * runs in a child of the runtime running the tests (`tests/fixtures/tls_child.ts`) that trusts a
 * throwaway CA (`tests/helpers/tls.ts`). openssl and nginx must be installed: these tests fail
 * loudly otherwise (CI runs where they are).
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, rename, utimes, writeFile } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { describeError } from "../../src/cli/error_wording.ts";
import { fetchFailure } from "../../src/fetch_failure.ts";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import { startNginx } from "../helpers/real_servers.ts";
import { currentRuntime, runtimeExecutable } from "../helpers/runtime.ts";
import { type ChildOutcome, makeTestCa, outcomeOf, type TestCa, tlsChild } from "../helpers/tls.ts";
import { bytesOf, exists, join, randomBody, sha256, withTempDir } from "../helpers/temp.ts";

const MiB = 1024 * 1024;
const CHILD = fileURLToPath(new URL("../fixtures/tls_child.ts", import.meta.url));
const H2_SERVER = fileURLToPath(new URL("../fixtures/h2_server.ts", import.meta.url));
const CLI = fileURLToPath(new URL("../../cli.ts", import.meta.url));
const CUT = 256 * 1024; // where h2_server.ts misbehaves
/** Options of every call against the misbehaving server: checkpoints often, a short stall. */
const QUICK = { stallTimeout: 1000, checkpointEvery: { bytes: 64 * 1024, ms: 5 } };

/** Runs `fn` with a temp dir and a CA made in it. */
function withCa(fn: (dir: string, ca: TestCa) => Promise<void>): Promise<void> {
  return withTempDir((dir) => fn(dir, makeTestCa(dir)));
}

/** One `tls_child.ts` run to its end: its outcome. */
function child(
  mode: string,
  url: string,
  dest: string,
  ca: TestCa | null,
  options: object = {},
): Promise<ChildOutcome> {
  return outcomeOf(tlsChild(CHILD, [mode, url, dest, JSON.stringify(options)], ca));
}

/** The names in `dir` that begin with `name`'s base, sorted. */
function beside(dest: string): string[] {
  const base = dest.slice(dest.lastIndexOf("/") + 1);
  const dir = dest.slice(0, dest.lastIndexOf("/"));
  return readdirSync(dir).filter((name) => name.startsWith(base)).sort();
}

/** Writes `body` to `path` by a rename (as a deploy replaces a file), dated `age` s back. */
async function publish(path: string, body: Uint8Array, age = 3600): Promise<void> {
  await writeFile(`${path}.new`, body);
  const time = Date.now() / 1000 - age;
  await utimes(`${path}.new`, time, time);
  await rename(`${path}.new`, path);
}

/** nginx over TLS and HTTP/2 serving `www`, `limit_rate` per connection: `fn` gets its URL. */
async function withNginx(
  dir: string,
  ca: TestCa,
  directives: string,
  fn: (url: string, log: () => string[]) => Promise<void>,
): Promise<void> {
  const nginx = await startNginx(dir, [`root ${dir}/www; ${directives}`], ca);
  const log = () => readFileSync(join(dir, "nginx", "access.log"), "utf8").split("\n").slice(0, -1);
  try {
    await fn(nginx.urls[0]!, log);
  } finally {
    await nginx.stop();
  }
}

/** The misbehaving `node:http2` server serving `body`: `fn` gets its origin. */
async function withH2Server(
  dir: string,
  ca: TestCa,
  body: Uint8Array,
  fn: (origin: string) => Promise<void>,
): Promise<void> {
  await writeFile(join(dir, "body"), body);
  const server = spawn(runtimeExecutable("node"), [
    H2_SERVER,
    ca.certPath,
    ca.keyPath,
    join(dir, "body"),
  ], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      server.stdout!.once("data", (data) => resolve(JSON.parse(String(data)).port));
      server.once("exit", (code) => reject(new Error(`h2_server.ts exited with ${code}`)));
    });
    await fn(`https://127.0.0.1:${port}`);
  } finally {
    const exited = new Promise((resolve) => server.once("exit", resolve));
    if (server.exitCode === null) server.kill("SIGKILL");
    await exited;
  }
}

/** Calls one after the other in one child (`[mode, url, dest, options]` each): their outcomes. */
async function calls(ca: TestCa, list: [string, string, string, object][]) {
  const arg = JSON.stringify(list.map(([mode, url, dest, options]) => [
    mode,
    url,
    dest,
    JSON.stringify(options),
  ]));
  return (await outcomeOf<{ outcomes: ChildOutcome[] }>(tlsChild(CHILD, ["each", arg], ca)))
    .outcomes;
}

/**
 * Each mode's `f.bin` twice, in one child: a cut mid-body is a retryable error with progress saved
 * and `dest` absent, then the next call resumes it whole. Returns the first calls' outcomes.
 */
async function cutThenResumed(
  origin: string,
  dir: string,
  ca: TestCa,
  body: Uint8Array,
  modes: string[],
): Promise<ChildOutcome[]> {
  const twice = modes.flatMap((mode): [string, string, string, object][] => {
    const call: [string, string, string, object] = [
      "haul",
      `${origin}/${mode}/f.bin`,
      join(dir, `${mode}.bin`),
      QUICK,
    ];
    return [call, call];
  });
  const outcomes = await calls(ca, twice);
  return modes.map((mode, i) => {
    const [first, second] = [outcomes[2 * i]!, outcomes[2 * i + 1]!];
    assert.equal(first.name, "PartialHaulError", `${mode}: ${JSON.stringify(first)}`);
    assert.equal(first.retryable, true);
    assert.ok(first.validLength! > 0, JSON.stringify(first));
    assert.deepEqual(first.left, [`${mode}.bin.part`, `${mode}.bin.part.ctrl`]);
    assert.ok(second.resumedFrom! > 0, `${mode}: ${JSON.stringify(second)}`);
    assert.equal(second.sha256, sha256(body), mode);
    assert.deepEqual(second.left, [`${mode}.bin`]);
    return first;
  });
}

describe("nginx over TLS with http2", () => {
  it("four connections (nginx's limit_rate), integrity, haulStream: the file whole", {
    timeout: 60_000,
  }, async () => {
    await withCa(async (dir, ca) => {
      await mkdir(join(dir, "www"));
      const body = randomBody(24 * MiB);
      await publish(join(dir, "www", "f.bin"), body);
      await withNginx(dir, ca, "limit_rate 24m;", async (origin, log) => {
        const sri = `sha512-${createHash("sha512").update(body).digest("base64")}`;
        const four = await child("haul", `${origin}/f.bin`, join(dir, "four.bin"), ca, {
          connections: 4,
          integrity: sri,
        });
        assert.equal(four.ok, true, JSON.stringify(four));
        assert.equal(four.connections, 4);
        assert.equal(four.sha256, sha256(body));
        assert.equal(sha256(await bytesOf(join(dir, "four.bin"))), sha256(body));
        const lines = log();
        // Deno's fetch speaks HTTP/2 over TLS (its four connections are streams); the others 1.1.
        const version = currentRuntime() === "deno" ? "HTTP/2.0" : "HTTP/1.1";
        assert.ok(lines.every((line) => line.endsWith(version)), lines.join("\n"));
        assert.ok(lines.filter((line) => / 206 /.test(line)).length >= 3, lines.join("\n"));
        const wrong = await child("haul", `${origin}/f.bin`, join(dir, "wrong.bin"), ca, {
          integrity: `sha256-${createHash("sha256").update("other").digest("base64")}`,
        });
        assert.equal(wrong.name, "IntegrityError", JSON.stringify(wrong));
        assert.equal(exists(join(dir, "wrong.bin")), false);
        const streamed = await child("stream", `${origin}/f.bin`, join(dir, "s.bin"), ca, {});
        assert.equal(streamed.sha256, sha256(body), JSON.stringify(streamed));
        if (currentRuntime() === "deno") {
          const dest = join(dir, "client.bin");
          const own = await outcomeOf(
            tlsChild(CHILD, ["deno-client", `${origin}/f.bin`, dest, ca.caPath], null),
          );
          assert.equal(own.sha256, sha256(body), JSON.stringify(own));
        }
      });
    });
  });

  it(
    "a child SIGKILLed mid-download resumes; a file replaced meanwhile is fetched anew (If-Range)",
    {
      timeout: 60_000,
    },
    async () => {
      await withCa(async (dir, ca) => {
        await mkdir(join(dir, "www"));
        const old = randomBody(16 * MiB);
        await publish(join(dir, "www", "f.bin"), old, 7200);
        await withNginx(dir, ca, "limit_rate 8m;", async (origin) => {
          for (const replaced of [false, true]) {
            const dest = join(dir, `f-${replaced}.bin`);
            const options = {
              connections: 4,
              progress: true,
              checkpointEvery: { bytes: MiB, ms: 5 },
            };
            const running = tlsChild(CHILD, [
              "haul",
              `${origin}/f.bin`,
              dest,
              JSON.stringify(options),
            ], ca);
            const deadline = Date.now() + 30_000;
            while (!/"saved":[2-9]\d{6}/.test(running.output()) && Date.now() < deadline) {
              if (running.hasExited) assert.fail(`the child ended first: ${running.output()}`);
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
            await running.kill();
            assert.equal(exists(dest), false);
            // What the last checkpoint counts (on a busy machine, maybe none yet: a resume from 0).
            const ctrl = exists(`${dest}.part.ctrl`) ? await bytesOf(`${dest}.part.ctrl`) : null;
            const counted = ctrl === null ? 0 : decodeCheckpoint(ctrl).ranges
              .reduce((sum, range) => sum + range.end - range.start, 0);
            const now = replaced ? randomBody(old.length) : old;
            if (replaced) await publish(join(dir, "www", "f.bin"), now);
            const resumed = await child("haul", `${origin}/f.bin`, dest, ca, { connections: 4 });
            assert.equal(resumed.ok, true, JSON.stringify(resumed));
            assert.equal(resumed.resumedFrom, replaced ? 0 : counted, JSON.stringify(resumed));
            assert.equal(resumed.sha256, sha256(now));
            assert.equal(sha256(await bytesOf(dest)), sha256(now));
            assert.deepEqual(beside(dest), [`f-${replaced}.bin`]);
          }
        });
      });
    },
  );
});

describe("a node:http2 server that misbehaves", () => {
  it(
    "RST_STREAM (CANCEL, INTERNAL_ERROR, REFUSED_STREAM, ENHANCE_YOUR_CALM), GOAWAY mid-body, a stall, a closed window: saved, resumed whole",
    {
      timeout: 60_000,
    },
    async () => {
      await withCa(async (dir, ca) => {
        const body = randomBody(2 * MiB);
        await withH2Server(dir, ca, body, async (origin) => {
          const codes = ["CANCEL", "INTERNAL_ERROR", "REFUSED_STREAM", "ENHANCE_YOUR_CALM"];
          const cuts = [...codes.map((code) => `rst-${code}`), "goaway", "short"];
          const started = Date.now();
          const firsts = await cutThenResumed(origin, dir, ca, body, [...cuts, "stall", "window"]);
          for (const [i, first] of firsts.entries()) {
            if (i < cuts.length) assert.equal(first.validLength, CUT, JSON.stringify(first));
            else assert.match(first.message!, /No body byte for 1000 ms/);
          }
          assert.ok(Date.now() - started < 30_000, `${Date.now() - started} ms`);
        });
      });
    },
  );

  it(
    "no answer at all, a GOAWAY before it, a length that lies or is absent, trailers, 103 first, a 206 of other bytes",
    {
      timeout: 60_000,
    },
    async () => {
      await withCa(async (dir, ca) => {
        const body = randomBody(2 * MiB);
        await withH2Server(dir, ca, body, async (origin) => {
          const call = (mode: string, kind = "haul"): [string, string, string, object] => [
            kind,
            `${origin}/${mode}/${kind}.bin`,
            join(dir, `${kind}-${mode}.bin`),
            kind === "stream" ? { stallTimeout: 1000, minDelayMs: 5, maxDelayMs: 20 } : QUICK,
          ];
          const streamed = ["rst-CANCEL", "goaway", "stall", "nohead", "goaway-first", "badrange"];
          const [nohead, goneFirst, long, unknown, ...rest] = await calls(ca, [
            call("nohead"),
            call("goaway-first"),
            call("long"),
            call("nolength-rst"),
            ...["nolength", "trailers", "early"].map((mode) => call(mode)),
            ...[1, 2, 3].map(() => call("badrange")),
            ...streamed.map((mode) => call(mode, "stream")),
          ]);
          assert.equal(nohead!.name, "TimeoutError", JSON.stringify(nohead));
          assert.equal(goneFirst!.ok, false, JSON.stringify(goneFirst)); // fetch's TypeError: retryable
          assert.deepEqual([nohead!.left, goneFirst!.left], [[], []]);
          // A length shorter than the body: over HTTP/1.1 the rest cannot be told from the next
          // answer on the connection, so the file is the declared bytes; over HTTP/2 the DATA past
          // it fails the stream. Either way never the wrong bytes under the reported digest.
          if (long!.ok) {
            assert.equal(long!.size, CUT);
            assert.equal(long!.sha256, sha256(body.subarray(0, CUT)));
            assert.equal(sha256(await bytesOf(join(dir, "haul-long.bin"))), long!.sha256);
          } else {
            assert.equal(long!.retryable, true, JSON.stringify(long));
            assert.deepEqual(long!.left, ["haul-long.bin.part", "haul-long.bin.part.ctrl"]);
          }
          // No length, and RST_STREAM (CANCEL) after CUT bytes: Deno's fetch reads the reset as the
          // body's end, so nothing tells the file is short (docs/reliability.md); the others cut.
          if (currentRuntime() === "deno") {
            assert.equal(unknown!.size, CUT, JSON.stringify(unknown));
          } else assert.equal(unknown!.retryable, true, JSON.stringify(unknown));
          for (const whole of rest.slice(0, 3)) {
            assert.equal(whole.sha256, sha256(body), JSON.stringify(whole));
          }
          // Cut, then every range answered with bytes one further: never a splice; then anew.
          const [cut, refused, anew] = rest.slice(3, 6);
          assert.equal(cut!.name, "PartialHaulError", JSON.stringify(cut));
          assert.equal(refused!.name, "ContentRangeError", JSON.stringify(refused));
          assert.equal(refused!.retryable, true);
          assert.deepEqual(refused!.left, []);
          assert.equal(anew!.resumedFrom, 0, JSON.stringify(anew));
          assert.equal(anew!.sha256, sha256(body));
          // haulStream() reconnects over each of these, and a 206 of other bytes ends it.
          for (const [i, mode] of streamed.entries()) {
            const outcome = rest[6 + i]!;
            if (mode === "badrange") assert.equal(outcome.name, "StreamCutError", mode);
            else assert.equal(outcome.sha256, sha256(body), `${mode}: ${JSON.stringify(outcome)}`);
          }
        });
      });
    },
  );

  it(
    "four connections, the server taking one stream at a time (REFUSED_STREAM, ENHANCE_YOUR_CALM; 503 over 1.1), or cutting a range: whole",
    {
      timeout: 60_000,
    },
    async () => {
      await withCa(async (dir, ca) => {
        const body = randomBody(16 * MiB);
        await withH2Server(dir, ca, body, async (origin) => {
          const four = (mode: string): [string, string, string, object] => [
            "haul",
            `${origin}/${mode}/f.bin`,
            join(dir, `${mode}.bin`),
            { ...QUICK, connections: 4 },
          ];
          const modes = ["refused-ranges", "calm-ranges"];
          const cuts = ["rst-range", "goaway-range", "stall-range"];
          // The refusals: whole in one call. A range cut (by RST_STREAM, by a GOAWAY below every
          // range's stream, by a stall): a retryable error, progress saved; the next call, whole.
          const outcomes = await calls(ca, [...modes, ...cuts, ...cuts].map(four));
          for (const [i, mode] of [...modes, ...cuts].entries()) {
            const first = outcomes[i]!;
            const last = i < modes.length ? first : outcomes[i + cuts.length]!;
            if (i >= modes.length) {
              assert.equal(first.name, "PartialHaulError", `${mode}: ${JSON.stringify(first)}`);
              assert.equal(first.retryable, true, mode);
              assert.ok(last.resumedFrom! > 0, `${mode}: ${JSON.stringify(last)}`);
            }
            assert.equal(last.sha256, sha256(body), `${mode}: ${JSON.stringify(first)}`);
            assert.deepEqual(last.left, [`${mode}.bin`]);
          }
        });
      });
    },
  );
});

describe("the CLI over HTTPS, and TLS failures", () => {
  it("downloads with the CA trusted; an untrusted certificate is one clear, non-retryable error", {
    timeout: 60_000,
  }, async () => {
    await withCa(async (dir, ca) => {
      const body = randomBody(MiB);
      await withH2Server(dir, ca, body, async (origin) => {
        for (const trusted of [true, false]) {
          const dest = join(dir, `f-${trusted}.bin`);
          const cli = tlsChild(CLI, [`${origin}/honest/f.bin`, "-o", dest], trusted ? ca : null);
          const code = await cli.exited;
          if (trusted) {
            assert.equal(code, 0, cli.output());
            assert.equal(sha256(await bytesOf(dest)), sha256(body));
          } else {
            assert.equal(code, 1, cli.output());
            assert.match(
              cli.output(),
              /^Failed .*: Certificate rejected: .*TLS certificate is not valid here/m,
            );
            assert.doesNotMatch(cli.output(), /Retrying/);
            assert.deepEqual(beside(dest), []);
          }
        }
      });
    });
  });

  it("an expired certificate, its CA trusted: one clear, non-retryable error", {
    timeout: 60_000,
  }, async () => {
    await withCa(async (dir, ca) => {
      const server = createHttpsServer({ key: ca.key, cert: ca.expired }, (_request, response) => {
        response.end("expired");
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      try {
        const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/f.bin`;
        const once = await child("haul", url, join(dir, "f.bin"), ca, { retries: 3 });
        assert.equal(once.attempts, 1, JSON.stringify(once));
        const cli = tlsChild(CLI, [url, "-o", join(dir, "f.bin")], ca);
        assert.equal(await cli.exited, 1, cli.output());
        assert.match(cli.output(), /Certificate rejected: .*not valid here \(expired/);
        assert.deepEqual(beside(join(dir, "f.bin")), []);
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  });

  it("https:// to a port that does not speak TLS: one clear, non-retryable error naming TLS", {
    timeout: 60_000,
  }, async () => {
    const server = createHttpServer((_request, response) => response.end("plain"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      await withTempDir(async (dir) => {
        const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/f.bin`;
        const once = await child("haul", url, join(dir, "f.bin"), null, { retries: 3 });
        assert.equal(once.attempts, 1, JSON.stringify(once));
        const cli = tlsChild(CLI, [url, "-o", join(dir, "f.bin")], null);
        assert.equal(await cli.exited, 1, cli.output());
        assert.match(cli.output(), /TLS handshake failed: does port \d+ speak TLS\?/);
        assert.doesNotMatch(cli.output(), /Retrying/);
      });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("a handshake that fails is not retried, as each runtime words it; a stream refused is retried", () => {
    const cause = (message: string, code?: string) =>
      new TypeError("fetch failed", { cause: Object.assign(new Error(message), { code }) });
    const cases: [string, unknown][] = [
      [
        "Node, plain HTTP",
        cause("error:0A00010B:SSL routines::wrong version number", "ERR_SSL_WRONG_VERSION_NUMBER"),
      ],
      [
        "Node, old TLS",
        cause(
          "SSL routines:ssl3_read_bytes:tlsv1 alert protocol version",
          "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION",
        ),
      ],
      [
        "Bun",
        Object.assign(
          new TypeError(
            "EPROTO: The TLS handshake failed. Does the server speak TLS on this port?",
          ),
          { code: "EPROTO" },
        ),
      ],
      [
        "Deno",
        cause("client error (Connect): received corrupt message of type InvalidContentType"),
      ],
    ];
    for (
      const message of [
        "stream error received: refused stream before processing any application logic",
        "stream error received: detected excessive load generating behavior",
      ]
    ) {
      const failure = fetchFailure(new TypeError("fetch failed", { cause: new Error(message) }));
      assert.deepEqual(failure, {
        code: "REFUSED_STREAM",
        reason: "stream refused",
        retryable: true,
      });
    }
    for (const [name, error] of cases) {
      const failure = fetchFailure(error);
      assert.equal(failure?.code, "TLS_HANDSHAKE", name);
      assert.equal(failure?.retryable, false, name);
      const url = new URL("https://e.com:8080/f.bin");
      assert.match(describeError(error, { url, dest: "f.bin" }, 1), /TLS handshake failed/, name);
    }
  });
});
