/**
 * haul in a real browser: Debian's chromium, real OPFS, real servers, a real
 * SIGKILL. Run by scripts/test.sh after the three runtimes:
 * node --test tests/browser/browser_run.ts (the bundles are built first).
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { gzipSync } from "node:zlib";
import type { Page } from "playwright-core";
import type { RecordedRequest } from "../helpers/script_server.ts";
import { durablePrefix } from "../../src/protocol/checkpoint.ts";
import { decodeCheckpoint } from "../../src/store/control_file.ts";
import {
  haulIn,
  launch,
  newProfile,
  opfsFile,
  type Outcome,
  removeProfile,
  type Scenario,
  startIn,
  startSite,
} from "./harness.ts";

const MiB = 1 << 20;
/** The page's hooks for a call it can abort (`startAbortable`, harness.ts). */
type TestPage = {
  startAbortable(url: string, options: object): void;
  controller: AbortController;
  outcome: Promise<Outcome>;
};

function bytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const body = bytes(24 * MiB, 7);
const scenario: Scenario = { resource: { body } };
let site: Awaited<ReturnType<typeof startSite>>;
const files = (): RecordedRequest[] => site.requests.filter((r) => r.path === "/file.bin");

/** What the honest server answered a request with (the twist only paces it). */
function honestStatus(req: RecordedRequest): number {
  const range = req.headers["range"];
  if (range === undefined) return 200;
  const ifRange = req.headers["if-range"];
  const etag = scenario.resource.etag === undefined
    ? `"v1-${scenario.resource.body.length}"`
    : scenario.resource.etag;
  return ifRange !== undefined && ifRange !== etag ? 200 : 206;
}

before(async () => {
  site = await startSite(scenario);
});
after(async () => {
  await site.close();
});

test("a fresh download lands in OPFS, verified, with Range: bytes=0-", async () => {
  const profile = newProfile();
  const session = await launch(profile, site.url);
  try {
    site.requests.length = 0;
    scenario.resource = { body };
    scenario.twist = undefined;
    const outcome = await haulIn(session.page, `${site.url}/file.bin`, {
      dest: "models/fresh.bin",
    });
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.equal(outcome.result.sha256, sha256(body));
    assert.equal(outcome.result.size, body.length);
    const onDisk = await opfsFile(session.page, "models/fresh.bin");
    assert.deepEqual(onDisk, { size: body.length, sha256: sha256(body) });
    const part = await opfsFile(session.page, "models/fresh.bin.part");
    assert.equal(part, null);
    assert.equal(files().length, 1);
    assert.equal(files()[0]!.headers["range"], "bytes=0-");
    assert.match(files()[0]!.headers["accept-encoding"] ?? "", /^identity$/);
  } finally {
    await session.close();
    removeProfile(profile);
  }
});

/** Waits until the checkpoint of `dest` is in OPFS (the first one is written after ~1 s). */
async function untilCheckpoint(page: Page, dest: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (((await opfsFile(page, `${dest}.part.ctrl`))?.size ?? 0) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no checkpoint for ${dest}`);
}

/** A browser on a fresh profile, for `run`; closed and removed afterwards. */
async function withBrowser(run: (page: Page, profile: string) => Promise<void>): Promise<void> {
  const profile = newProfile();
  const session = await launch(profile, site.url);
  try {
    await run(session.page, profile);
  } finally {
    await session.close();
    removeProfile(profile);
  }
}

function reset(resource = { body } as Scenario["resource"]): void {
  site.requests.length = 0;
  scenario.resource = resource;
  scenario.twist = (_req, honest) => ({ ...honest, bytesPerSecond: 4 * MiB });
}

const unpaced = () => (scenario.twist = undefined);

test("a reload mid-download resumes with a 206 from the checkpoint", async () => {
  await withBrowser(async (page) => {
    reset();
    await startIn(page, `${site.url}/file.bin`, { dest: "r/reload.bin" });
    await untilCheckpoint(page, "r/reload.bin");
    await page.reload();
    await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
    unpaced();
    const outcome = await haulIn(page, `${site.url}/file.bin`, { dest: "r/reload.bin" });
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.ok(outcome.result.resumedFrom > 0, "resumed from the checkpoint");
    assert.equal(outcome.result.sha256, sha256(body));
    assert.equal(outcome.result.status, 206);
    const [first, second, ...more] = files();
    assert.equal(more.length, 0);
    assert.equal(first!.headers["range"], "bytes=0-");
    assert.equal(second!.headers["range"], `bytes=${outcome.result.resumedFrom}-`);
    assert.equal(second!.headers["if-range"], `"v1-${body.length}"`);
    assert.equal(honestStatus(second!), 206);
    assert.deepEqual(await opfsFile(page, "r/reload.bin"), {
      size: body.length,
      sha256: sha256(body),
    });
  });
});

test("a file changed between reloads starts over and never splices", async () => {
  await withBrowser(async (page) => {
    reset();
    await startIn(page, `${site.url}/file.bin`, { dest: "changed.bin" });
    await untilCheckpoint(page, "changed.bin");
    await page.reload();
    await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
    const changed = bytes(body.length, 99);
    scenario.resource = { body: changed, etag: '"v2"' };
    unpaced();
    const outcome = await haulIn(page, `${site.url}/file.bin`, { dest: "changed.bin" });
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.equal(outcome.result.resumedFrom, 0);
    assert.equal(outcome.result.sha256, sha256(changed));
    const second = files()[1]!;
    assert.equal(second.headers["if-range"], `"v1-${body.length}"`);
    assert.equal(honestStatus(second), 200);
    assert.deepEqual(await opfsFile(page, "changed.bin"), {
      size: changed.length,
      sha256: sha256(changed),
    });
  });
});

test("Chromium killed with SIGKILL mid-download resumes on the next start", async () => {
  const profile = newProfile();
  try {
    reset();
    const first = await launch(profile, site.url);
    await startIn(first.page, `${site.url}/file.bin`, { dest: "killed.bin" });
    await untilCheckpoint(first.page, "killed.bin");
    await first.kill();
    unpaced();
    const second = await launch(profile, site.url);
    try {
      const outcome = await haulIn(second.page, `${site.url}/file.bin`, { dest: "killed.bin" });
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.ok(outcome.result.resumedFrom > 0, "resumed after the kill");
      assert.equal(outcome.result.sha256, sha256(body));
      assert.equal(honestStatus(files().at(-1)!), 206);
    } finally {
      await second.close();
    }
  } finally {
    removeProfile(profile);
  }
});

test("a compressed response is refused cleanly", async () => {
  await withBrowser(async (page) => {
    reset();
    const gzipped = gzipSync(body.subarray(0, MiB));
    scenario.twist = (_req, honest) => ({
      ...honest,
      status: 200,
      body: gzipped,
      headers: [["Content-Encoding", "gzip"], ["ETag", '"gz"']],
    });
    const outcome = await haulIn(page, `${site.url}/file.bin`, { dest: "gz.bin" });
    assert.equal(outcome.ok, false);
    assert.equal(outcome.name, "ServerMisconfiguredError", JSON.stringify(outcome));
    assert.match(outcome.message, /Content-Encoding: gzip/);
    assert.equal(await opfsFile(page, "gz.bin"), null);
    assert.equal(await opfsFile(page, "gz.bin.part"), null);
  });
});

test("integrity is checked: a wrong digest leaves nothing, a right one lands", async () => {
  await withBrowser(async (page) => {
    reset();
    unpaced();
    const sha512 = createHash("sha512").update(body).digest("base64");
    const wrong = await haulIn(page, `${site.url}/file.bin`, {
      dest: "sri.bin",
      integrity: `sha256-${createHash("sha256").update("other").digest("base64")}`,
    });
    assert.equal(wrong.ok, false);
    assert.equal(wrong.name, "IntegrityError");
    assert.equal(await opfsFile(page, "sri.bin"), null);
    assert.equal(await opfsFile(page, "sri.bin.part"), null);
    const right = await haulIn(page, `${site.url}/file.bin`, {
      dest: "sri.bin",
      integrity: `sha512-${sha512}`,
    });
    assert.equal(right.ok, true, JSON.stringify(right));
  });
});

test("a full OPFS quota is a clear error", async () => {
  await withBrowser(async (page) => {
    reset();
    unpaced();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Storage.overrideQuotaForOrigin", { origin: site.url, quotaSize: 4 * MiB });
    const outcome = await haulIn(page, `${site.url}/file.bin`, { dest: "full.bin" });
    assert.equal(outcome.ok, false);
    assert.equal(outcome.name, "DestinationError", JSON.stringify(outcome));
    assert.match(outcome.message, /full/);
    assert.equal(await opfsFile(page, "full.bin"), null);
  });
});

test("two tabs, one dest: the second is refused as busy (retryable), the first lands exact", async () => {
  await withBrowser(async (page) => {
    reset();
    await startIn(page, `${site.url}/file.bin`, { dest: "tabs.bin" });
    await untilCheckpoint(page, "tabs.bin");
    const other = await page.context().newPage();
    await other.goto(site.url);
    await other.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
    const refused = await haulIn(other, `${site.url}/file.bin`, { dest: "tabs.bin" });
    assert.equal(refused.name, "DestinationError", JSON.stringify(refused));
    assert.equal(refused.retryable, true);
    assert.match(refused.message, /Destination busy/);
    const outcome = await page.evaluate(() =>
      (globalThis as unknown as { outcome: Promise<Outcome> }).outcome
    );
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.equal(outcome.result.resumedFrom, 0);
    assert.equal(outcome.result.sha256, sha256(body));
    assert.equal(files().length, 1, "the refused tab made no request");
    assert.deepEqual(await opfsFile(other, "tabs.bin"), {
      size: body.length,
      sha256: sha256(body),
    });
    assert.equal(await opfsFile(other, "tabs.bin.part"), null);
  });
});

test("tabs, one dest through two directory handles: busy, never both; the same name in another directory is not busy", async () => {
  await withBrowser(async (page) => {
    reset();
    await startIn(page, `${site.url}/file.bin`, { dest: "al/a.bin" });
    await untilCheckpoint(page, "al/a.bin");
    const other = await page.context().newPage();
    await other.goto(site.url);
    await other.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
    // `directory` is the handle of "al" (and then of "el"), `dest` the name in it.
    const inDirectory = (dir: string) =>
      other.evaluate(async ([u, d]) => {
        const root = await (navigator as unknown as {
          storage: { getDirectory(): Promise<FileSystemDirectoryHandle> };
        }).storage.getDirectory();
        const directory = await root.getDirectoryHandle(d!, { create: true });
        const test = globalThis as unknown as {
          haulTest(u: string, o: object, r: boolean): Promise<Outcome>;
        };
        return await test.haulTest(u!, { dest: "a.bin", directory }, false);
      }, [`${site.url}/file.bin`, dir]);
    // Before the fix the Web Lock was named after "a.bin.part.lock": this call took the
    // lock over, both calls failed, the first one as not retryable (EBUSY on .part).
    const refused = await inDirectory("al");
    assert.equal(refused.name, "DestinationError", JSON.stringify(refused));
    assert.equal(refused.retryable, true);
    assert.match(refused.message, /Destination busy/);
    assert.equal(files().length, 1, "the refused tab made no request");
    // Another directory's a.bin is another file: not busy, and it lands too.
    const elsewhere = inDirectory("el");
    const outcome = await page.evaluate(() =>
      (globalThis as unknown as { outcome: Promise<Outcome> }).outcome
    );
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.equal(outcome.result.sha256, sha256(body));
    const second = await elsewhere;
    assert.equal(second.ok, true, JSON.stringify(second));
    for (const dest of ["al/a.bin", "el/a.bin"]) {
      assert.deepEqual(await opfsFile(page, dest), { size: body.length, sha256: sha256(body) });
      assert.equal(await opfsFile(page, `${dest}.part`), null);
    }
  });
});

/** The names in the OPFS root (each test runs on a fresh profile). */
function opfsNames(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const names: string[] = [];
    const root = await (navigator as unknown as {
      storage: { getDirectory(): Promise<{ keys(): AsyncIterable<string> }> };
    }).storage.getDirectory();
    for await (const name of root.keys()) names.push(name);
    return names.sort();
  });
}

// The lock file a call took over is the guard `.part.takeover` renamed over `.part.lock`: its Web
// Lock follows it on the rename (docs/browser.md, "Locks are Web Locks"). Before that fix the
// owner held the Web Lock named after `.part.takeover`, the lock file's own was free, and the
// second tab took a live owner's lock over: the first call failed with `Destination lock lost`.
test(
  "a call that took a reloaded tab's lock over holds it: another tab on the same dest is busy",
  async () => {
    await withBrowser(async (page) => {
      reset();
      await startIn(page, `${site.url}/file.bin`, { dest: "taken.bin" });
      await untilCheckpoint(page, "taken.bin");
      await page.reload();
      await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
      // The lock file is the dead call's: this call takes it over (through .part.takeover).
      await startIn(page, `${site.url}/file.bin`, { dest: "taken.bin" });
      while (files().length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
      const other = await page.context().newPage();
      await other.goto(site.url);
      await other.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
      const refused = await haulIn(other, `${site.url}/file.bin`, { dest: "taken.bin" });
      assert.equal(refused.name, "DestinationError", JSON.stringify(refused));
      assert.equal(refused.retryable, true);
      assert.match(refused.message, /Destination busy/);
      assert.equal(files().length, 2, "the refused tab made no request");
      unpaced();
      const outcome = await page.evaluate(() =>
        (globalThis as unknown as { outcome: Promise<Outcome> }).outcome
      );
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.ok(outcome.result.resumedFrom > 0, JSON.stringify(outcome));
      assert.equal(outcome.result.sha256, sha256(body));
      assert.deepEqual(await opfsFile(page, "taken.bin"), {
        size: body.length,
        sha256: sha256(body),
      });
      assert.deepEqual(await opfsNames(page), ["taken.bin"]);
    });
  },
);

/** A second tab on the test page. */
async function newTab(page: Page): Promise<Page> {
  const other = await page.context().newPage();
  await other.goto(site.url);
  await other.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
  return other;
}

const outcomeOf = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { outcome: Promise<Outcome> }).outcome);

test("two tabs take the same dead lock over at once: one lands exact, the other is busy", async () => {
  await withBrowser(async (page) => {
    reset();
    await startIn(page, `${site.url}/file.bin`, { dest: "both.bin" });
    await untilCheckpoint(page, "both.bin");
    await page.reload();
    await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
    const other = await newTab(page);
    // Both find the dead call's lock file and take it over, each through .part.takeover.
    await Promise.all(
      [page, other].map((tab) => startIn(tab, `${site.url}/file.bin`, { dest: "both.bin" })),
    );
    const outcomes = [await outcomeOf(page), await outcomeOf(other)];
    const landed = outcomes.filter((one) => one.ok);
    assert.equal(landed.length, 1, JSON.stringify(outcomes));
    assert.ok(landed[0]!.result.resumedFrom > 0, JSON.stringify(landed));
    assert.equal(landed[0]!.result.sha256, sha256(body));
    const refused = outcomes.find((one) => !one.ok)!;
    assert.equal(refused.name, "DestinationError", JSON.stringify(refused));
    assert.equal(refused.retryable, true);
    assert.match(refused.message, /Destination busy/);
    assert.equal(files().length, 2, "one request before the reload, one resume");
    assert.deepEqual(await opfsFile(page, "both.bin"), { size: body.length, sha256: sha256(body) });
    assert.deepEqual(await opfsNames(page), ["both.bin"]);
  });
});

test("a tab reloaded mid-takeover: its guard goes, the next call lands exact, nothing left beside", async () => {
  await withBrowser(async (page) => {
    reset();
    await startIn(page, `${site.url}/file.bin`, { dest: "mid.bin" });
    await untilCheckpoint(page, "mid.bin");
    await page.reload();
    await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
    // What a tab reloaded while it held the takeover guard leaves: the dead call's lock file and
    // the guard, with its dead worker's record (`flock: true`, its Web Lock released on reload).
    await page.evaluate(async () => {
      const root = await (navigator as unknown as {
        storage: { getDirectory(): Promise<FileSystemDirectoryHandle> };
      }).storage.getDirectory();
      const record = await (await (await root.getFileHandle("mid.bin.part.lock")).getFile()).text();
      const guard = await root.getFileHandle("mid.bin.part.takeover", { create: true });
      const writable = await guard.createWritable();
      await writable.write(record.replace(/"nonce":"\w+"/, '"nonce":"dead-taker"'));
      await writable.close();
    });
    unpaced();
    // The engine's rule (tests/store/lock_test.ts, "the takeover guard"): the call that finds a
    // dead taker's guard removes it and is refused as busy, before any request; the next one lands.
    const refused = await haulIn(page, `${site.url}/file.bin`, { dest: "mid.bin" });
    assert.equal(refused.name, "DestinationError", JSON.stringify(refused));
    assert.equal(refused.retryable, true);
    assert.match(refused.message, /Destination busy/);
    assert.equal(files().length, 1, "the refused call made no request");
    const outcome = await haulIn(page, `${site.url}/file.bin`, { dest: "mid.bin" });
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.ok(outcome.result.resumedFrom > 0, JSON.stringify(outcome));
    assert.equal(outcome.result.sha256, sha256(body));
    assert.deepEqual(await opfsNames(page), ["mid.bin"]);
  });
});

/** When the OPFS file at `path` (in the root) was last written, or `null`. */
function lastModified(page: Page, path: string): Promise<number | null> {
  return page.evaluate(async (p) => {
    const root = await (navigator as unknown as {
      storage: { getDirectory(): Promise<FileSystemDirectoryHandle> };
    }).storage.getDirectory();
    return await root.getFileHandle(p).then((h) => h.getFile()).then(
      (f) => f.lastModified,
      () => null,
    );
  }, path);
}

test("a call that took a lock over keeps its lease, and a reload after it lets the next call take it over at once", async () => {
  await withBrowser(async (page) => {
    reset();
    await startIn(page, `${site.url}/file.bin`, { dest: "again.bin" });
    await untilCheckpoint(page, "again.bin");
    await page.reload();
    await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
    await startIn(page, `${site.url}/file.bin`, { dest: "again.bin" }); // takes the lock over
    while (files().length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    // Its heartbeat writes the lock file it renamed over .part.lock (the handle moved with it).
    const before = await lastModified(page, "again.bin.part.lock");
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const after = await lastModified(page, "again.bin.part.lock");
    assert.ok(before !== null && after !== null && after > before, `${before} → ${after}`);
    await page.reload(); // the taker's worker dies holding the Web Lock that followed the file
    await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
    unpaced();
    const outcome = await haulIn(page, `${site.url}/file.bin`, { dest: "again.bin" });
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.ok(outcome.result.resumedFrom > 0, JSON.stringify(outcome));
    assert.equal(outcome.result.sha256, sha256(body));
    assert.equal(files().length, 3, "one request per call: a 200, then two 206 resumes");
    assert.deepEqual(await opfsNames(page), ["again.bin"]);
  });
});

test("a takeover while another tab's probe holds the guard's Web Lock: the lock still says flock, its lease moves", async () => {
  await withBrowser(async (page) => {
    reset();
    await startIn(page, `${site.url}/file.bin`, { dest: "probed.bin" });
    await untilCheckpoint(page, "probed.bin");
    await page.reload();
    await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
    // Another tab's inspection of a guard holds its Web Lock for a moment (probeFlock); here the
    // page holds it for 1 s while this call takes the dead lock over through that guard.
    await page.evaluate(() => {
      const locks = (navigator as unknown as {
        locks: { request(name: string, task: () => Promise<void>): Promise<void> };
      }).locks;
      void locks.request(
        "haul:probed.bin.part.takeover",
        () => new Promise((resolve) => setTimeout(resolve, 1000)),
      );
    });
    await startIn(page, `${site.url}/file.bin`, { dest: "probed.bin" });
    while (files().length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    const record = await page.evaluate(async () => {
      const root = await (navigator as unknown as {
        storage: { getDirectory(): Promise<FileSystemDirectoryHandle> };
      }).storage.getDirectory();
      return await (await (await root.getFileHandle("probed.bin.part.lock")).getFile()).text();
    });
    assert.match(record, /"flock":true/, record);
    const before = await lastModified(page, "probed.bin.part.lock");
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const after = await lastModified(page, "probed.bin.part.lock");
    assert.ok(before !== null && after !== null && after > before, `${before} → ${after}`);
    unpaced();
    const outcome = await outcomeOf(page);
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.equal(outcome.result.sha256, sha256(body));
    assert.deepEqual(await opfsNames(page), ["probed.bin"]);
  });
});

test("a tab closed mid-download: another tab takes its lock over at once and resumes", async () => {
  await withBrowser(async (page) => {
    reset();
    const first = await newTab(page);
    await startIn(first, `${site.url}/file.bin`, { dest: "closed.bin" });
    await untilCheckpoint(first, "closed.bin");
    await first.close(); // its worker is terminated, holding the lock
    unpaced();
    const outcome = await haulIn(page, `${site.url}/file.bin`, { dest: "closed.bin" });
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.ok(outcome.result.resumedFrom > 0, JSON.stringify(outcome));
    assert.equal(outcome.result.sha256, sha256(body));
    assert.equal(files().length, 2);
    assert.deepEqual(await opfsNames(page), ["closed.bin"]);
  });
});

test("an abort through signal is a pause: it rejects with the signal's reason, the next call resumes", async () => {
  await withBrowser(async (page) => {
    reset();
    await page.evaluate(
      ([u, o]) => (globalThis as unknown as TestPage).startAbortable(u, o),
      [
        `${site.url}/file.bin`,
        { dest: "abort.bin" },
      ] as const,
    );
    await untilCheckpoint(page, "abort.bin");
    const aborted = await page.evaluate(() => {
      const page = globalThis as unknown as TestPage;
      page.controller.abort();
      return page.outcome;
    });
    assert.equal(aborted.ok, false);
    assert.equal(aborted.name, "AbortError", JSON.stringify(aborted));
    assert.ok((await opfsFile(page, "abort.bin.part")) !== null, "the .part is kept");
    assert.equal(await opfsFile(page, "abort.bin"), null);
    unpaced();
    const outcome = await haulIn(page, `${site.url}/file.bin`, { dest: "abort.bin" });
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.ok(outcome.result.resumedFrom > 0, "resumed from the checkpoint");
    assert.equal(outcome.result.status, 206);
    assert.deepEqual(await opfsFile(page, "abort.bin"), {
      size: body.length,
      sha256: sha256(body),
    });
  });
});

test("a server without ranges: a reload starts over with a 200 and the file lands exact", async () => {
  await withBrowser(async (page) => {
    reset({ body, honorRange: false });
    await startIn(page, `${site.url}/file.bin`, { dest: "noranges.bin" });
    await untilCheckpoint(page, "noranges.bin");
    await page.reload();
    await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
    unpaced();
    const outcome = await haulIn(page, `${site.url}/file.bin`, { dest: "noranges.bin" });
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.equal(outcome.result.status, 200);
    assert.equal(outcome.result.resumedFrom, 0);
    assert.equal(outcome.result.sha256, sha256(body));
    assert.deepEqual(await opfsFile(page, "noranges.bin"), {
      size: body.length,
      sha256: sha256(body),
    });
    assert.equal(await opfsFile(page, "noranges.bin.part.ctrl"), null);
  });
});

test("what no call again can cure is not retryable: a dest with '..', a worker that cannot load", async () => {
  await withBrowser(async (page) => {
    reset();
    const dotdot = await haulIn(page, `${site.url}/file.bin`, { dest: "up/../x.bin" });
    assert.equal(dotdot.ok, false);
    assert.equal(dotdot.name, "TypeError", JSON.stringify(dotdot));
    assert.match(dotdot.message, /^Invalid dest up\/\.\.\/x\.bin: /);
    assert.equal(dotdot.retryable, false);
    const missing = await haulIn(page, `${site.url}/file.bin`, {
      dest: "w.bin",
      workerUrl: "/missing_worker.js",
    });
    assert.equal(missing.ok, false);
    assert.match(
      missing.message,
      /could not start.*\/missing_worker\.js.*workerUrl/,
      missing.message,
    );
    assert.equal(missing.retryable, false);
    assert.equal(files().length, 0, "no request");
  });
});

test("a dest or directory that cannot be used is a typed error, not retryable, and leaves nothing in OPFS", async () => {
  await withBrowser(async (page) => {
    reset();
    await page.evaluate(async () => {
      await (await navigator.storage.getDirectory()).getFileHandle("plain", { create: true });
    });
    // A file where a directory must be: DOMException TypeMismatchError before the fix.
    const underFile = await haulIn(page, `${site.url}/file.bin`, { dest: "plain/x.bin" });
    assert.equal(underFile.name, "DestinationError", JSON.stringify(underFile));
    assert.equal(underFile.retryable, false);
    // OPFS refuses a directory name with a backslash: a retryable TypeError before the fix.
    const refused = await haulIn(page, `${site.url}/file.bin`, { dest: "bad\\dir/x.bin" });
    assert.equal(refused.name, "DestinationError", JSON.stringify(refused));
    assert.equal(refused.retryable, false);
    // What haul refuses is refused before a directory is made: a NUL ("a" was left before).
    const nul = await haulIn(page, `${site.url}/file.bin`, { dest: "a\0b/x.bin" });
    assert.equal(nul.name, "TypeError", JSON.stringify(nul));
    assert.match(nul.message, /^Invalid dest: /);
    // A `directory` that is no directory handle: a TypeError, not retryable (before: retryable).
    for (const directory of ["plain", 7]) {
      const notHandle = await haulIn(page, `${site.url}/file.bin`, { dest: "x.bin", directory });
      assert.equal(notHandle.name, "TypeError", JSON.stringify(notHandle));
      assert.match(notHandle.message, /^Invalid options: directory /);
      assert.equal(notHandle.retryable, false);
    }
    assert.equal(files().length, 0, "no request");
    const names = await page.evaluate(async () => {
      const found: string[] = [];
      const root = await (navigator as unknown as {
        storage: { getDirectory(): Promise<FileSystemDirectoryHandle & AsyncIterable<[string]>> };
      }).storage.getDirectory();
      for await (const [name] of root) found.push(name);
      return found;
    });
    assert.deepEqual(names, ["plain"]);
  });
});

/** The browser examples of docs/browser.md and of src/browser/'s JSDoc, as their readers see them. */
function browserExamples(): { where: string; code: string }[] {
  const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
  const doc = /```js\n([^]*?)```/.exec(read("docs/browser.md"))![1]!;
  const found = [{ where: "docs/browser.md", code: doc }];
  for (const path of ["src/browser/mod.ts", "src/browser/page.ts"]) {
    for (const [, block] of read(path).matchAll(/ \* ```ts ignore\n([^]*?) \* ```/g)) {
      found.push({ where: path, code: block!.replace(/^ \* ?/gm, "") });
    }
  }
  return found;
}

test("every browser example of the docs runs as written (with a real URL and digest)", async () => {
  const small = bytes(MiB, 11);
  const examples = browserExamples();
  assert.equal(examples.length, 4, examples.map((e) => e.where).join(", "));
  await withBrowser(async (page) => {
    reset({ body: small });
    unpaced();
    for (const { where, code } of examples) {
      const runnable = code
        .replaceAll('"@haul/haul/browser"', '"/browser.js"')
        .replaceAll("https://example.com/model.bin", `${site.url}/file.bin`)
        .replaceAll(
          '"sha256-…"',
          `"sha256-${createHash("sha256").update(small).digest("base64")}"`,
        );
      assert.notEqual(runnable, code, where);
      const outcome = await page.evaluate(async (source) => {
        // A blob: module resolves "/browser.js" against nothing: the page's origin is spelled out.
        const text = source.replaceAll('"/browser.js"', `"${location.origin}/browser.js"`);
        const module = URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
        try {
          await import(module);
          return "ran";
        } catch (error) {
          return `${(error as Error).name}: ${(error as Error).message}`;
        }
      }, runnable);
      assert.equal(outcome, "ran", `${where}: ${runnable}`);
      assert.deepEqual(await opfsFile(page, "models/model.bin"), {
        size: small.length,
        sha256: sha256(small),
      });
      assert.equal(await opfsFile(page, "models/model.bin.part"), null);
      await page.evaluate(async () => {
        const root = await (navigator as unknown as {
          storage: { getDirectory(): Promise<FileSystemDirectoryHandle> };
        }).storage.getDirectory();
        await root.removeEntry("models", { recursive: true });
      });
    }
  });
});

test("haulWithRetry() in the browser: a download cut twice lands in one call", async () => {
  await withBrowser(async (page) => {
    reset();
    let cuts = 0;
    scenario.twist = (_req, honest) => (cuts++ < 2 ? { ...honest, cutAfter: 8 * MiB } : honest);
    const outcome = await haulIn(page, `${site.url}/file.bin`, {
      dest: "retry.bin",
      minDelayMs: 10,
      maxDelayMs: 50,
    }, true);
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.deepEqual(outcome.retries, ["PartialHaulError", "PartialHaulError"]);
    assert.equal(outcome.result.sha256, sha256(body));
    assert.ok(outcome.result.resumedFrom > 8 * MiB, "the last attempt resumed past the first cut");
    assert.equal(outcome.result.status, 206);
    const [first, ...resumes] = files();
    assert.equal(first!.headers["range"], "bytes=0-");
    assert.equal(resumes.length, 2);
    for (const resume of resumes) {
      assert.match(resume.headers["range"] ?? "", /^bytes=[1-9]\d*-$/);
      assert.equal(resume.headers["if-range"], `"v1-${body.length}"`);
      assert.equal(honestStatus(resume), 206);
    }
    assert.deepEqual(await opfsFile(page, "retry.bin"), {
      size: body.length,
      sha256: sha256(body),
    });
  });
});

/** The bytes of an OPFS file, read by the page. */
async function opfsBytes(page: Page, path: string): Promise<Uint8Array> {
  return Uint8Array.from(
    await page.evaluate(async (p) => {
      let dir = await navigator.storage.getDirectory();
      const names = p.split("/");
      for (const name of names.slice(0, -1)) dir = await dir.getDirectoryHandle(name);
      return [
        ...new Uint8Array(
          await (await dir.getFileHandle(names.at(-1)!)).getFile().then((f) => f.arrayBuffer()),
        ),
      ];
    }, path),
  );
}

/** Overwrites bytes of an OPFS file at `at`, from the page (a writable stream keeping the rest). */
async function opfsOverwrite(page: Page, path: string, at: number, data: number[]): Promise<void> {
  await page.evaluate(async ([p, position, bytes]) => {
    let dir = await navigator.storage.getDirectory();
    const names = p.split("/");
    for (const name of names.slice(0, -1)) dir = await dir.getDirectoryHandle(name);
    const file = await dir.getFileHandle(names.at(-1)!);
    const writable = await file.createWritable({ keepExistingData: true });
    await writable.write({ type: "write", position, data: new Uint8Array(bytes) });
    await writable.close();
  }, [path, at, data] as const);
}

/** opfs_fs.ts's two checkpoint slots, each a 44-byte header (magic, sequence, length, SHA-256) and the record. */
const SLOT = 32 * 1024;

/** Both slots of a checkpoint file, newest first: where each starts, its sequence and its durable prefix. */
function slotsOf(file: Uint8Array): { at: number; sequence: number; prefix: number }[] {
  return [0, SLOT].map((at) => {
    const view = new DataView(file.buffer, file.byteOffset + at, 44);
    const record = file.subarray(at + 44, at + 44 + view.getUint32(8));
    return { at, sequence: view.getUint32(4), prefix: durablePrefix(decodeCheckpoint(record)) };
  }).sort((a, b) => b.sequence - a.sequence);
}

/** A download of `dest` cut after 12 MiB with a checkpoint every 2 MiB (so both slots hold one). */
async function cutWithCheckpoints(page: Page, dest: string) {
  reset();
  scenario.twist = (_req, honest) => ({ ...honest, cutAfter: 12 * MiB });
  const cut = await haulIn(page, `${site.url}/file.bin`, {
    dest,
    checkpointEvery: { bytes: 2 * MiB },
  });
  assert.equal(cut.name, "PartialHaulError", JSON.stringify(cut));
  unpaced();
  const slots = slotsOf(await opfsBytes(page, `${dest}.part.ctrl`));
  assert.equal(slots[0]!.sequence, slots[1]!.sequence + 1);
  assert.ok(slots[1]!.prefix > 0 && slots[1]!.prefix < slots[0]!.prefix, JSON.stringify(slots));
  return slots;
}

test("a torn newest checkpoint slot: the resume is a 206 from the older slot's record", async () => {
  await withBrowser(async (page) => {
    const [newest, older] = await cutWithCheckpoints(page, "torn.bin");
    const at = newest!.at + 44 + 40; // a byte of the newest record: its digest no longer holds
    const [byte] = (await opfsBytes(page, "torn.bin.part.ctrl")).subarray(at, at + 1);
    await opfsOverwrite(page, "torn.bin.part.ctrl", at, [byte! ^ 0xff]);
    const outcome = await haulIn(page, `${site.url}/file.bin`, { dest: "torn.bin" });
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.equal(outcome.result.resumedFrom, older!.prefix);
    assert.equal(outcome.result.status, 206);
    const resume = files().at(-1)!;
    assert.equal(resume.headers["range"], `bytes=${older!.prefix}-`);
    assert.equal(honestStatus(resume), 206);
    assert.deepEqual(await opfsFile(page, "torn.bin"), { size: body.length, sha256: sha256(body) });
  });
});

test("both checkpoint slots garbage: ControlFileError (retryable), then a fresh start lands exact", async () => {
  await withBrowser(async (page) => {
    const slots = await cutWithCheckpoints(page, "garbage.bin");
    for (const { at } of slots) {
      await opfsOverwrite(page, "garbage.bin.part.ctrl", at, [...bytes(SLOT, at + 3)]);
    }
    const requests = files().length;
    const discarded = await haulIn(page, `${site.url}/file.bin`, { dest: "garbage.bin" });
    assert.equal(discarded.name, "ControlFileError", JSON.stringify(discarded));
    assert.equal(discarded.retryable, true);
    assert.match(discarded.message, /Checkpoint discarded.*starts from byte 0/);
    assert.equal(files().length, requests, "no request before the checkpoint is read");
    assert.equal(await opfsFile(page, "garbage.bin.part.ctrl"), null);
    const outcome = await haulIn(page, `${site.url}/file.bin`, { dest: "garbage.bin" });
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.equal(outcome.result.resumedFrom, 0);
    assert.equal(files().at(-1)!.headers["range"], "bytes=0-");
    assert.equal(files().at(-1)!.headers["if-range"], undefined);
    assert.deepEqual(await opfsFile(page, "garbage.bin"), {
      size: body.length,
      sha256: sha256(body),
    });
  });
});

/** A download from another origin cut at 8 MiB, then called again: what the second call did. */
async function crossOrigin(cors: Pick<Scenario, "headers" | "preflight">) {
  const other: Scenario = { resource: { body }, ...cors };
  const server = await startSite(other);
  try {
    let outcome: Outcome | null = null;
    await withBrowser(async (page) => {
      other.twist = (req, honest) => (req.index <= 1 ? { ...honest, cutAfter: 8 * MiB } : honest);
      const url = `${server.url}/file.bin`;
      const cut = await haulIn(page, url, { dest: "cors.bin" });
      assert.equal(cut.ok, false);
      assert.equal(cut.name, "PartialHaulError", JSON.stringify(cut));
      other.twist = undefined;
      outcome = await haulIn(page, url, { dest: "cors.bin" });
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.equal(outcome.result.sha256, sha256(body));
      assert.deepEqual(await opfsFile(page, "cors.bin"), {
        size: body.length,
        sha256: sha256(body),
      });
      outcome = { ...outcome, warnings: [...cut.warnings, ...outcome.warnings] };
    });
    return { outcome: outcome!, requests: server.requests.filter((r) => r.method === "GET") };
  } finally {
    await server.close();
  }
}

const ALLOW = ["Access-Control-Allow-Origin", "*"] as [string, string];
const EXPOSE = ["Access-Control-Expose-Headers", "ETag, Content-Range"] as [string, string];

test("cross-origin, headers exposed and If-Range allowed: the resume is a 206", async () => {
  const { outcome, requests } = await crossOrigin({
    headers: [ALLOW, EXPOSE],
    preflight: [ALLOW, ["Access-Control-Allow-Headers", "If-Range, Range"]],
  });
  assert.ok(outcome.result.resumedFrom > 0);
  assert.equal(requests.at(-1)!.headers["if-range"], `"v1-${body.length}"`);
  assert.equal(honestStatus(requests.at(-1)!), 206);
  assert.deepEqual(outcome.warnings, []);
});

test("cross-origin, If-Range refused by the preflight: resumed on the answer's proof", async () => {
  const { outcome, requests } = await crossOrigin({ headers: [ALLOW, EXPOSE], preflight: [ALLOW] });
  assert.ok(outcome.result.resumedFrom > 0);
  assert.equal(requests.at(-1)!.headers["if-range"], undefined);
  assert.equal(requests.at(-1)!.headers["range"], `bytes=${outcome.result.resumedFrom}-`);
  assert.match(outcome.warnings.join("\n"), /without If-Range/);
});

test("cross-origin, ETag and Content-Range hidden: downloads, and a cut starts over, saying why", async () => {
  const { outcome, requests } = await crossOrigin({ headers: [ALLOW] });
  assert.equal(outcome.result.resumedFrom, 0);
  assert.equal(requests.at(-1)!.headers["range"], "bytes=0-");
  assert.equal(requests.at(-1)!.headers["if-range"], undefined);
  assert.match(outcome.warnings.join("\n"), /shows this origin no ETag/);
});
