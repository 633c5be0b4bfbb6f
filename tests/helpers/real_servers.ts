/**
 * Real servers for tests, each on 127.0.0.1 with a port of its own, stopped by the test: nginx with
 * a config written to a temp dir (one `server` block per entry; over TLS and HTTP/2 when given a
 * certificate), or any command serving a port. A missing binary fails the test loudly: CI runs
 * where nginx and python3 are installed.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { findNginx, freePort } from "../../scripts/bench/server.ts";
import { join } from "./temp.ts";

/** A running server: one URL per port it listens on. */
export interface Running {
  /** `http://127.0.0.1:<port>` (`https:` over TLS) of each port, in order. */
  readonly urls: string[];
  stop(): Promise<void>;
}

/**
 * Spawns `command` (in `cwd`) and waits until every one of `ports` answers a HEAD (over TLS, which
 * this process may not trust, until it accepts a TCP connection).
 */
export async function serve(
  command: string,
  args: string[],
  cwd: string,
  ports: number[],
  scheme: "http" | "https" = "http",
): Promise<Running> {
  const child: ChildProcess = spawn(command, args, { cwd, stdio: "ignore" });
  const urls = ports.map((port) => `${scheme}://127.0.0.1:${port}`);
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  const deadline = performance.now() + 10_000;
  for (const url of urls) {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${command} exited with ${child.exitCode}`);
      if (performance.now() > deadline) {
        await stop();
        throw new Error(`${command} did not start listening at ${url}`);
      }
      try {
        if (scheme === "https") await accepts(Number(new URL(url).port));
        else await (await fetch(`${url}/`, { method: "HEAD" })).body?.cancel();
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }
  return { urls, stop };
}

/** Resolves once a TCP connection to `port` on 127.0.0.1 is accepted; rejects if refused. */
function accepts(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.destroy();
      resolve();
    });
    socket.once("error", reject);
  });
}

/**
 * nginx with one `server` block per entry of `servers` (the directives inside each); with `tls`
 * (certificate and key files) every block listens with `ssl http2` and each request is logged to
 * `<work>/nginx/access.log` as `$connection $status $request`.
 */
export async function startNginx(
  work: string,
  servers: string[],
  tls?: { readonly certPath: string; readonly keyPath: string },
): Promise<Running> {
  const binary = findNginx();
  if (binary === null) throw new Error("nginx is not installed: these tests need it");
  const dir = join(work, "nginx");
  await mkdir(join(dir, "tmp"), { recursive: true });
  const temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((name) => `${name}_temp_path ${dir}/tmp/${name};`).join(" ");
  const ports: number[] = [];
  for (const _ of servers) ports.push(await freePort());
  const listen = tls === undefined ? "" : ` ssl http2; ssl_certificate ${tls.certPath};
    ssl_certificate_key ${tls.keyPath}`;
  const blocks = servers.map((body, i) =>
    `server { listen 127.0.0.1:${ports[i]}${listen}; ${body} }`
  );
  const log = tls === undefined ? "off" : `${dir}/access.log conn`;
  await writeFile(
    join(dir, "nginx.conf"),
    `daemon off; user root; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 64; }
http { log_format conn '$connection $status $request'; access_log ${log}; default_type application/octet-stream; ${temps}
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=cache:1m;
  ${blocks.join("\n  ")} }
`,
  );
  const args = ["-c", join(dir, "nginx.conf"), "-p", dir];
  return await serve(binary, args, dir, ports, tls === undefined ? "http" : "https");
}
