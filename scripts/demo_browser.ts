/**
 * A page a user can open: a 64 MiB download into OPFS, paced to 4 MiB/s, with
 * a progress bar that survives pressing reload (the page resumes the download
 * it finds unfinished). Serves the page, the bundles and the file on
 * 127.0.0.1 until stopped. With --screenshot FILE: starts Debian's chromium,
 * reloads the page mid-download, saves a screenshot and stops.
 *
 * Usage: bash scripts/demo-browser.sh [--screenshot docs/browser-demo.png]
 */

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { honestReply, startScriptServer } from "../tests/helpers/script_server.ts";
import { launch, newProfile, removeProfile } from "../tests/browser/harness.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const body = new Uint8Array(64 << 20).map((_, i) => (i * 2654435761) >>> 24);
const PAGE =
  `<!doctype html><meta charset="utf-8"><title>haul: a download that survives reload</title>
<style>body{font:16px system-ui;margin:3em;max-width:40em}progress{width:100%;height:1.5em}</style>
<h1>haul in the browser</h1>
<p>64 MiB into the origin private file system at 4 MiB/s. Press reload at any time: it resumes.</p>
<button id="go">Download</button> <progress id="bar" value="0" max="1"></progress>
<p id="text">Not started.</p>
<script type="module">
import { haul } from "/browser.js";
const MiB = (n) => (n / 1048576).toFixed(1) + " MiB";
const text = document.getElementById("text"), bar = document.getElementById("bar");
async function run() {
  localStorage.setItem("haul-demo", "running");
  text.textContent = "Starting…";
  try {
    const result = await haul("/file.bin", {
      dest: "demo/file.bin",
      onProgress: (s) => {
        bar.max = s.reportedLength ?? 1;
        bar.value = s.validLength;
        text.textContent = MiB(s.validLength) + " of " + MiB(s.reportedLength ?? 0);
      },
    });
    bar.max = bar.value = 1;
    text.textContent = "Done: " + MiB(result.size) + ", resumed from " + MiB(result.resumedFrom) +
      ", SHA-256 " + result.sha256.slice(0, 16) + "…";
    localStorage.removeItem("haul-demo");
  } catch (error) {
    text.textContent = error.name + ": " + error.message;
  }
}
document.getElementById("go").onclick = async () => {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry("demo", { recursive: true }).catch(() => {});
  run();
};
if (localStorage.getItem("haul-demo") === "running") run();
window.ready = true; // for the screenshot run
</script>`;

const bundle = (name: string) => readFileSync(join(root, "dist/browser", name));
const server = await startScriptServer((req) => {
  const js = [["Content-Type", "text/javascript"]] as [string, string][];
  if (req.path === "/") {
    return { status: 200, headers: [["Content-Type", "text/html"]], body: PAGE };
  }
  if (req.path.endsWith(".js")) {
    return { status: 200, headers: js, body: bundle(req.path.slice(1)) };
  }
  return { ...honestReply(req, { body }), bytesPerSecond: 4 << 20 };
});
const shot = process.argv.indexOf("--screenshot");
if (shot < 0) {
  console.log(`haul browser demo: open ${server.url}/ (Ctrl-C stops)`);
} else {
  const profile = newProfile();
  const session = await launch(profile, server.url).catch(async (error) => {
    await server.close();
    throw error;
  });
  try {
    await session.page.setViewportSize({ width: 800, height: 360 });
    await session.page.click("#go");
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await session.page.reload();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await session.page.screenshot({ path: process.argv[shot + 1]! });
  } finally {
    await session.close();
    removeProfile(profile);
    await server.close();
  }
}
