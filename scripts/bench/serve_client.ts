/**
 * A server that downloads: one process answering HTTP with its runtime's own
 * server (`Deno.serve` or `Bun.serve`) while `haul()` downloads a big file in
 * the same process, so `pinger.ts` can measure how long `/ping` waits.
 *
 * ```sh
 * deno run -A scripts/bench/serve_client.ts --url URL --dest FILE
 * bun scripts/bench/serve_client.ts --url URL --dest FILE
 * ```
 *
 * Prints `{"port":N}` once listening. `GET /ping` answers the download's
 * state (`idle`, `busy`, `done`, or `failed: …`); `GET /start` starts the
 * download; `GET /stop` ends the process.
 *
 * @module
 */

import process from "node:process";
import { haul } from "../../mod.ts";
import { option } from "./argv.ts";

type Handler = (request: Request) => Response;

/** Starts the runtime's own server on 127.0.0.1 and an ephemeral port; returns the port. */
function serve(handler: Handler): number {
  const runtime = globalThis as unknown as {
    Deno?: {
      serve(
        options: { hostname: string; port: number; onListen(): void },
        handler: Handler,
      ): { addr: { port: number } };
    };
    Bun?: { serve(options: { hostname: string; port: number; fetch: Handler }): { port: number } };
  };
  if (runtime.Deno !== undefined) {
    return runtime.Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler).addr
      .port;
  }
  if (runtime.Bun !== undefined) {
    return runtime.Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handler }).port;
  }
  throw new Error("Run this under Deno or Bun");
}

const url = option("--url");
const dest = option("--dest");
let status = "idle";

const port = serve((request) => {
  const path = new URL(request.url).pathname;
  if (path === "/start" && status === "idle") {
    status = "busy";
    haul(url, { dest, overwrite: true }).then(
      () => {
        status = "done";
      },
      (error) => {
        status = `failed: ${String(error)}`;
      },
    );
    return new Response("started");
  }
  if (path === "/stop") {
    setTimeout(() => process.exit(0), 10);
    return new Response("bye");
  }
  return new Response(status);
});
process.stdout.write(`${JSON.stringify({ port })}\n`);
