/**
 * `haulStream()` under Deno without `--allow-net`: like `haul()`, a non-retryable `HaulError`
 * that names the flag, never Deno's own `NotCapable`. Runs under every runtime: the child is
 * always the pinned Deno.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { REPO_ROOT, runtimeExecutable } from "../helpers/runtime.ts";
import { startResourceServer } from "../helpers/script_server.ts";
import { join, randomBody, withTempDir } from "../helpers/temp.ts";

const CHILD = `
import { haulStream, isRetryable } from ${JSON.stringify(pathToFileURL(`${REPO_ROOT}mod.ts`).href)};
try {
  let size = 0;
  for await (const chunk of haulStream(Deno.args[0])) size += chunk.length;
  console.log(JSON.stringify({ ok: true, size }));
} catch (error) {
  const { name, message } = error;
  console.log(JSON.stringify({ ok: false, name, message, retryable: isRetryable(error) }));
}
`;

describe("haulStream() under Deno without --allow-net", () => {
  it(
    "rejects with a non-retryable HaulError that names the flag",
    { timeout: 60_000 },
    async () => {
      const server = await startResourceServer({ body: randomBody(1000) });
      try {
        await withTempDir(async (dir) => {
          const script = join(dir, "child.ts");
          await writeFile(script, CHILD);
          // One permission flag: Deno's node:child_process runs `deno run` without any with -A.
          const flags = ["run", "--no-lock", `--allow-read=${dir}`];
          const child = spawn(runtimeExecutable("deno"), [...flags, script, server.url], {
            stdio: ["ignore", "pipe", "pipe"],
          });
          let output = "";
          child.stdout.on("data", (chunk: Uint8Array) => (output += String(chunk)));
          child.stderr.on("data", (chunk: Uint8Array) => (output += String(chunk)));
          await new Promise((resolve) => child.once("close", resolve));
          const line = JSON.parse(output.trim().split("\n").at(-1) ?? "{}");
          assert.equal(line.ok, false, output);
          assert.equal(line.name, "HaulError", output);
          assert.match(line.message, new RegExp(`--allow-net=127\\.0\\.0\\.1:${server.port}`));
          assert.equal(line.retryable, false);
          assert.equal(server.requests.length, 0);
        });
      } finally {
        await server.close();
      }
    },
  );
});
