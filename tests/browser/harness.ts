/**
 * What the browser tests stand on: Debian's chromium (`/usr/bin/chromium`),
 * started by the test itself (so it can be killed with SIGKILL and started
 * again on the same profile), driven over CDP by playwright-core (from
 * tools/browser/); and a site served by the scenario servers of the other
 * tests (`tests/helpers/script_server.ts`): the test page, the bundles
 * (`scripts/build_browser.ts`), and the files to download.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import {
  honestReply,
  type RecordedRequest,
  type Reply,
  type ResourceOptions,
  type ScriptServer,
  startScriptServer,
} from "../helpers/script_server.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const require = createRequire(join(root, "tools/browser/node_modules/x.js"));
const { chromium } = require("playwright-core") as typeof import("playwright-core");

/** The chromium the tests run: Debian's, never a downloaded build. */
export const CHROMIUM = process.env["HAUL_CHROMIUM"] ?? "/usr/bin/chromium";

const PAGE = `<!doctype html><meta charset="utf-8"><title>haul test</title>
<script type="module">
import { haul, haulWithRetry, isRetryable } from "/browser.js";
const digest = async (bytes) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))]
  .map((b) => b.toString(16).padStart(2, "0")).join("");
const find = async (path) => {
  let dir = await navigator.storage.getDirectory();
  const names = path.split("/");
  for (const name of names.slice(0, -1)) dir = await dir.getDirectoryHandle(name);
  return await (await dir.getFileHandle(names.at(-1))).getFile();
};
window.warnings = [];
window.haulTest = async (url, options, retry) => {
  const retries = [];
  try {
    const result = await (retry ? haulWithRetry : haul)(url, { ...options, onWarning: (m) => warnings.push(m),
      ...(retry ? { onRetry: (info) => retries.push(info.error.name) } : {}) });
    return { ok: true, result, warnings, retries };
  } catch (error) {
    return { ok: false, name: error.name, message: error.message, retryable: isRetryable(error), warnings, retries };
  }
};
window.startHaul = (url, options) => { window.outcome = window.haulTest(url, options); };
window.startAbortable = (url, options) => {
  window.controller = new AbortController();
  window.outcome = window.haulTest(url, { ...options, signal: window.controller.signal });
};
window.opfsFile = async (path) => {
  try {
    const file = await find(path);
    return { size: file.size, sha256: await digest(await file.arrayBuffer()) };
  } catch { return null; }
};
window.ready = true;
</script>`;

/** What the site serves at /file.bin: a resource and an optional twist, set by each test. */
export interface Scenario {
  resource: ResourceOptions;
  twist?: (req: RecordedRequest, honest: Reply) => Reply;
  /** Extra headers on every answer to /file.bin (CORS on the other origin). */
  headers?: [string, string][];
  /** The headers of the answer to a CORS preflight (default: {@link Scenario.headers}). */
  preflight?: [string, string][];
}

/** The page, the bundles and /file.bin, served by a script server. */
export async function startSite(scenario: Scenario): Promise<ScriptServer> {
  const bundle = (name: string) => readFileSync(join(root, "dist/browser", name));
  return await startScriptServer((req) => {
    const path = req.path.split("?")[0];
    const js = [["Content-Type", "text/javascript"]] as [string, string][];
    if (path === "/") return { status: 200, headers: [["Content-Type", "text/html"]], body: PAGE };
    if (path === "/browser.js") return { status: 200, headers: js, body: bundle("browser.js") };
    if (path === "/haul_worker.js") {
      return { status: 200, headers: js, body: bundle("haul_worker.js") };
    }
    if (path !== "/file.bin") return { status: 404, body: "" };
    const cors = scenario.headers ?? [];
    if (req.method === "OPTIONS") return { status: 204, headers: scenario.preflight ?? cors };
    const honest = honestReply(req, scenario.resource);
    const reply = scenario.twist?.(req, honest) ?? honest;
    return { ...reply, headers: [...(reply.headers as [string, string][] ?? []), ...cors] };
  });
}

/** A running chromium and its page on the test site. */
export interface Session {
  readonly browser: Browser;
  readonly page: Page;
  readonly process: ChildProcess;
  /** SIGKILL to chromium's process group; resolves once its main process is gone. */
  kill(): Promise<void>;
  /** Closes the browser. */
  close(): Promise<void>;
}

/** A new profile directory (remove it with {@link removeProfile}). */
export function newProfile(): string {
  return mkdtempSync(join(tmpdir(), "haul-chromium-"));
}

/** Removes a profile directory. */
export function removeProfile(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Starts chromium on `profile`, opens `url` and waits for the test page. */
export async function launch(profile: string, url: string): Promise<Session> {
  const child = spawn(CHROMIUM, [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    `--user-data-dir=${profile}`,
    "about:blank",
  ], { detached: true, stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const endpoint = await new Promise<string>((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`chromium did not start: ${text}`)), 30_000);
    child.stderr!.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const found = /DevTools listening on (ws:\/\/\S+)/.exec(text);
      if (found !== null) {
        clearTimeout(timer);
        resolve(found[1]!);
      }
    });
    child.once("exit", () => reject(new Error(`chromium exited: ${text}`)));
  });
  const browser = await chromium.connectOverCDP(endpoint);
  const context = browser.contexts()[0]!;
  const page = context.pages()[0] ?? await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
  const kill = async () => {
    process.kill(-child.pid!, "SIGKILL");
    await exited;
  };
  return {
    browser,
    page,
    process: child,
    kill,
    close: async () => {
      await browser.close().catch(() => {});
      if (child.exitCode === null) await kill().catch(() => {});
    },
  };
}

/** What the test page's `haulTest()` resolves to. */
export interface Outcome {
  readonly ok: boolean;
  readonly result: {
    sha256: string;
    size: number;
    resumedFrom: number;
    status: number;
    dest: string;
  };
  readonly name: string;
  readonly message: string;
  readonly retryable: boolean;
  readonly warnings: string[];
  /** With `retry`: the name of each error `onRetry` was told of. */
  readonly retries: string[];
}

type TestWindow = {
  haulTest(url: string, options: object, retry: boolean): Promise<Outcome>;
  startHaul(url: string, options: object): void;
  outcome: Promise<Outcome>;
  opfsFile(path: string): Promise<{ size: number; sha256: string } | null>;
};

/** Runs the page's `haul()` (with `retry`, its `haulWithRetry()`) to the end. */
export function haulIn(page: Page, url: string, options: object, retry = false): Promise<Outcome> {
  return page.evaluate(
    ([u, o, r]) => (globalThis as unknown as TestWindow).haulTest(u, o, r),
    [url, options, retry] as const,
  );
}

/** Starts the page's `haul()` without waiting. */
export async function startIn(page: Page, url: string, options: object): Promise<void> {
  await page.evaluate(
    ([u, o]) => (globalThis as unknown as TestWindow).startHaul(u, o),
    [url, options] as const,
  );
}

/** The size and SHA-256 of an OPFS file, or `null`. */
export function opfsFile(
  page: Page,
  path: string,
): Promise<{ size: number; sha256: string } | null> {
  return page.evaluate((p) => (globalThis as unknown as TestWindow).opfsFile(p), path);
}
