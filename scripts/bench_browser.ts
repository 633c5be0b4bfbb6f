/**
 * The browser's figures for docs/performance.md: the streaming SHA-256 of the
 * browser bundle (@noble/hashes, src/runtime/browser/hash.ts) in Debian's
 * chromium, in MB/s over 256 MiB fed 1 MiB at a time, beside WebCrypto's
 * one-shot digest of the same bytes; and a 256 MiB download into OPFS over
 * loopback (the bundles of scripts/build_browser.ts, which must be built).
 *
 * Usage: node --no-warnings scripts/bench_browser.ts
 */

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { haulIn, launch, newProfile, removeProfile, startSite } from "../tests/browser/harness.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const esbuild = createRequire(join(root, "tools/browser/node_modules/x.js"))(
  "esbuild",
) as typeof import("esbuild");
const built = await esbuild.build({
  stdin: {
    contents: `import { createNativeHash } from "./src/runtime/browser/hash.ts";
globalThis.hashRate = async (mib) => {
  const chunk = crypto.getRandomValues(new Uint8Array(1 << 20).subarray(0, 65536));
  const block = new Uint8Array(1 << 20);
  for (let i = 0; i < 16; i++) block.set(chunk, i * 65536);
  const hash = createNativeHash();
  let t = performance.now();
  for (let i = 0; i < mib; i++) hash.update(block);
  hash.digests();
  const noble = (mib * 1.048576) / ((performance.now() - t) / 1000);
  const all = new Uint8Array(mib << 20);
  t = performance.now();
  await crypto.subtle.digest("SHA-256", all);
  const subtle = (mib * 1.048576) / ((performance.now() - t) / 1000);
  return { noble, subtle };
};`,
    resolveDir: root,
    loader: "ts",
  },
  bundle: true,
  format: "esm",
  write: false,
  nodePaths: [join(root, "tools/browser/node_modules")],
});
const script = built.outputFiles[0]!.text;
const size = 256 << 20;
const body = new Uint8Array(size).fill(7);
const site = await startSite({ resource: { body } });
const profile = newProfile();
const session = await launch(profile, site.url);
try {
  await session.page.addScriptTag({ content: script, type: "module" });
  await session.page.waitForFunction(() => "hashRate" in globalThis);
  for (let run = 0; run < 3; run++) {
    const rate = await session.page.evaluate(() =>
      (globalThis as unknown as {
        hashRate(mib: number): Promise<{ noble: number; subtle: number }>;
      })
        .hashRate(256)
    );
    console.log(
      `sha256 @noble/hashes ${rate.noble.toFixed(0)} MB/s, WebCrypto one-shot ${
        rate.subtle.toFixed(0)
      } MB/s`,
    );
  }
  for (let run = 0; run < 2; run++) {
    const started = performance.now();
    const outcome = await haulIn(session.page, `${site.url}/file.bin`, {
      dest: `bench${run}.bin`,
    });
    const seconds = (performance.now() - started) / 1000;
    if (!outcome.ok) throw new Error(outcome.message);
    console.log(`download 256 MiB into OPFS: ${(size / 1e6 / seconds).toFixed(0)} MB/s`);
  }
} finally {
  await session.close();
  removeProfile(profile);
  await site.close();
}
