/**
 * The mode of a finished file: 0o666 less the umask, as `curl -o`, `wget` and `cp` give theirs,
 * on every runtime. (A fixed 0o644 dropped the group's write bit under `umask 002`, the default of
 * user-private groups, where curl gives 0o664.) Each case runs the haul child of the runtime under
 * test in `sh` with the umask set.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { startResourceServer } from "../helpers/script_server.ts";
import { join, randomBody, withTempDir } from "../helpers/temp.ts";
import { outputOf, REPO_ROOT, runtimeCommand } from "../helpers/runtime.ts";

const CHILD = fileURLToPath(new URL("../fixtures/least_privilege_child.ts", import.meta.url));

/** Runs the haul child under `umask`; resolves to what it printed. */
function haulUnderUmask(umask: number, url: string, dest: string, dir: string): Promise<string> {
  const net = new URL(url).host;
  const [command, args] = runtimeCommand(CHILD, ["haul", url, dest], { net, readWriteDir: dir });
  const script = `umask ${umask.toString(8).padStart(3, "0")} && exec "$@"`;
  const child = spawn("sh", ["-c", script, "sh", command, ...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return outputOf(child).then(({ output }) => output);
}

describe("A finished file's mode", () => {
  it("is 0o666 less the umask, as curl -o gives", { timeout: 60_000 }, async () => {
    const server = await startResourceServer({ body: randomBody(10_000) });
    try {
      await withTempDir(async (dir) => {
        for (const umask of [0o002, 0o022, 0o077]) {
          const dest = join(dir, `f${umask.toString(8)}.bin`);
          const output = await haulUnderUmask(umask, `${server.url}/f.bin`, dest, dir);
          assert.match(output, /"ok":true/, output);
          const mode = statSync(dest).mode & 0o777;
          assert.equal(mode.toString(8), (0o666 & ~umask).toString(8), `umask ${umask}`);
        }
        assert.deepEqual((await readdir(dir)).sort(), ["f2.bin", "f22.bin", "f77.bin"]);
      });
    } finally {
      await server.close();
    }
  });
});
