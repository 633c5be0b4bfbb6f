/**
 * TLS for tests against real servers: a throwaway CA and a certificate for 127.0.0.1 and localhost
 * made with `openssl` (missing, the test fails loudly: CI must install it), and children of the
 * runtime running the tests that trust that CA (Deno: `DENO_CERT`; Node and Bun:
 * `NODE_EXTRA_CA_CERTS`), each printing one JSON line of its outcome.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { currentRuntime, type RuntimeChild, runtimeChild } from "./runtime.ts";
import { join } from "./temp.ts";

/** A CA and a server certificate signed by it, as files and as PEM text. */
export interface TestCa {
  /** The CA's certificate (the file a client trusts). */
  readonly caPath: string;
  /** The server's certificate and key files (for nginx). */
  readonly certPath: string;
  readonly keyPath: string;
  /** The server's certificate and key, PEM (for `node:http2`). */
  readonly cert: string;
  /** The same certificate, expired yesterday, PEM. */
  readonly expired: string;
  readonly key: string;
}

function openssl(dir: string, args: string[]): void {
  const run = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (run.error !== undefined) throw new Error(`openssl is not installed: these tests need it`);
  if (run.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${run.stderr}`);
}

/** Makes a CA (valid two days) and a certificate for 127.0.0.1 and localhost (and an expired one) in `dir`. */
export function makeTestCa(dir: string): TestCa {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl(
    dir,
    [
      "req",
      "-x509",
      ...ec,
      ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=haul test CA"],
      ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"],
    ].flat(),
  );
  openssl(dir, ["req", ...ec, "-keyout", "key.pem", "-out", "req.csr", "-subj", "/CN=localhost"]);
  writeFileSync(
    join(dir, "ext.cnf"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n" +
      "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n",
  );
  openssl(
    dir,
    [
      ["x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"],
      ["-out", "cert.pem", "-days", "2", "-extfile", "ext.cnf"],
    ].flat(),
  );
  // The same key and names, expired yesterday.
  openssl(
    dir,
    [
      ["x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"],
      ["-out", "expired.pem", "-days", "-1", "-extfile", "ext.cnf"],
    ].flat(),
  );
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  return {
    caPath: join(dir, "ca.pem"),
    certPath,
    keyPath,
    cert: readFileSync(certPath, "utf8"),
    expired: readFileSync(join(dir, "expired.pem"), "utf8"),
    key: readFileSync(keyPath, "utf8"),
  };
}

/** The environment that makes a child of the current runtime trust `ca`. */
export function trusting(ca: TestCa): Record<string, string> {
  return currentRuntime() === "deno"
    ? { DENO_CERT: ca.caPath }
    : { NODE_EXTRA_CA_CERTS: ca.caPath };
}

/** `tests/fixtures/haul_child.ts`: one `haul()`, one JSON line. */
export const HAUL_CHILD: string = fileURLToPath(
  new URL("../fixtures/haul_child.ts", import.meta.url),
);

/** The line a haul child prints: its result, or its error. */
export interface ChildOutcome {
  readonly ok: boolean;
  readonly sha256?: string;
  readonly size?: number;
  readonly resumedFrom?: number;
  readonly status?: number;
  readonly connections?: number;
  readonly name?: string;
  readonly message?: string;
  readonly retryable?: boolean;
  readonly validLength?: number;
  readonly attempts?: number;
  /** The names beside `dest` that begin with its name, after the call. */
  readonly left?: string[];
}

/** Starts `script` with `args` under the current runtime (`-A` on Deno), trusting `ca`. */
export function tlsChild(
  script: string,
  args: readonly string[],
  ca: TestCa | null,
  env: Record<string, string> = {},
): RuntimeChild {
  return runtimeChild(script, args, { allowAll: true }, {
    ...(ca === null ? {} : trusting(ca)),
    ...env,
  });
}

/**
 * Waits for `child` to end by itself and returns its last JSON line; a child still running after
 * `ms` (a hang, or an open handle that keeps it alive past its outcome) is killed and fails.
 */
export async function outcomeOf<T = ChildOutcome>(child: RuntimeChild, ms = 30_000): Promise<T> {
  let killed = false;
  const timer = setTimeout(() => void (killed = true, child.kill()), ms);
  try {
    await child.exited;
  } finally {
    clearTimeout(timer);
  }
  if (killed) throw new Error(`the child did not end within ${ms} ms: ${child.output()}`);
  const lines = child.output().split("\n").filter((line) => line.startsWith("{"));
  if (lines.length === 0) throw new Error(`no JSON line from the child: ${child.output()}`);
  return JSON.parse(lines[lines.length - 1]!) as T;
}
