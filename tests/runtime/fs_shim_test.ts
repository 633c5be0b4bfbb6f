/**
 * The same table of behaviours, run against every filesystem shim the current
 * runtime can load: in Deno both `denoFs` and `nodeFs`, in Bun `nodeFs`.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { type FsShim, FsShimError, toShimError } from "../../src/runtime/fs_shim.ts";
import { linuxProcessStart, nodeFs } from "../../src/runtime/node_fs.ts";
import { batchFs, defaultFs, openTwice } from "../../src/runtime/default_fs.ts";
import { withTempDir } from "../helpers/temp.ts";

const inDeno = typeof globalThis.Deno?.open === "function";
const shims: FsShim[] = [nodeFs];
if (inDeno) shims.unshift((await import("../../src/runtime/deno_fs.ts")).denoFs);

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);

/** Asserts that `promise` rejects with an {@link FsShimError} of `code`. */
async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof FsShimError, `expected an FsShimError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

/** Reads the whole of `file` from 0 (at most `max` bytes). */
async function readAll(file: { read(b: Uint8Array, p: number): Promise<number> }, max = 4096) {
  const buffer = new Uint8Array(max);
  const count = await file.read(buffer, 0);
  return buffer.slice(0, count);
}

/** The pid of a process that has exited and been reaped. */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn("true", [], { stdio: "ignore" });
    child.on("error", reject);
    child.on("exit", () => {
      if (child.pid === undefined) reject(new Error("child had no pid"));
      else resolve(child.pid);
    });
  });
}

for (const shim of shims) {
  describe(`The ${shim.name} filesystem shim`, () => {
    let dir = "";
    let counter = 0;
    const fresh = (label: string): string => path.join(dir, `${label}-${counter++}`);

    before(async () => {
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), `haul-fs-${shim.name}-`));
    });
    after(async () => {
      if (dir !== "") await fsp.rm(dir, { recursive: true, force: true });
    });

    it("writes and reads back bytes at absolute positions", async () => {
      const file = await shim.open(fresh("roundtrip"), "readwrite");
      try {
        await file.write(bytes("hello"), 0);
        await file.write(bytes(" world"), 5);
        assert.deepEqual(await readAll(file), bytes("hello world"));
        const middle = new Uint8Array(3);
        assert.equal(await file.read(middle, 4), 3);
        assert.deepEqual(middle, bytes("o w"));
      } finally {
        await file.close();
      }
    });

    it("reads fewer bytes near the end and zero bytes at or past the end", async () => {
      const file = await shim.open(fresh("eof"), "readwrite");
      try {
        await file.write(bytes("abcdef"), 0);
        const buffer = new Uint8Array(10);
        assert.equal(await file.read(buffer, 4), 2);
        assert.deepEqual(buffer.subarray(0, 2), bytes("ef"));
        assert.equal(await file.read(buffer, 6), 0);
        assert.equal(await file.read(buffer, 100), 0);
      } finally {
        await file.close();
      }
    });

    it("leaves a gap of zeros when writing past the end", async () => {
      const file = await shim.open(fresh("sparse"), "readwrite");
      try {
        await file.write(bytes("abc"), 0);
        await file.write(bytes("xyz"), 10);
        assert.equal(await file.size(), 13);
        assert.deepEqual(
          await readAll(file),
          new Uint8Array([97, 98, 99, 0, 0, 0, 0, 0, 0, 0, 120, 121, 122]),
        );
      } finally {
        await file.close();
      }
    });

    it("overwrites bytes in the middle without touching the rest", async () => {
      const file = await shim.open(fresh("overwrite"), "readwrite");
      try {
        await file.write(bytes("0123456789"), 0);
        await file.write(bytes("ab"), 4);
        assert.deepEqual(await readAll(file), bytes("0123ab6789"));
        assert.equal(await file.size(), 10);
      } finally {
        await file.close();
      }
    });

    it("keeps every byte when many writes at different positions run at once", async () => {
      const file = await shim.open(fresh("concurrent"), "readwrite");
      try {
        const chunk = 4096;
        const count = 64;
        // Interleaved order so that consecutive calls never continue each other.
        const order = Array.from({ length: count }, (_, i) => (i * 37) % count);
        await Promise.all(
          order.map((index) => file.write(new Uint8Array(chunk).fill(index + 1), index * chunk)),
        );
        assert.equal(await file.size(), chunk * count);
        const all = await readAll(file, chunk * count);
        for (let index = 0; index < count; index++) {
          const slice = all.subarray(index * chunk, (index + 1) * chunk);
          assert.ok(slice.every((b) => b === index + 1), `chunk ${index} was corrupted`);
        }
      } finally {
        await file.close();
      }
    });

    it("writes a large buffer completely in one call", async () => {
      const file = await shim.open(fresh("large"), "readwrite");
      try {
        const data = new Uint8Array(8 * 1024 * 1024);
        for (let i = 0; i < data.length; i++) data[i] = i % 251;
        await file.write(data, 3);
        assert.equal(await file.size(), data.length + 3);
        const back = new Uint8Array(data.length);
        assert.equal(await file.read(back, 3), data.length);
        assert.deepEqual(back, data);
      } finally {
        await file.close();
      }
    });

    it("shrinks and grows a file with truncate, the growth reading as zeros", async () => {
      const file = await shim.open(fresh("truncate"), "readwrite");
      try {
        await file.write(bytes("0123456789"), 0);
        await file.truncate(4);
        assert.equal(await file.size(), 4);
        assert.deepEqual(await readAll(file), bytes("0123"));
        await file.truncate(8);
        assert.equal(await file.size(), 8);
        assert.deepEqual(await readAll(file), new Uint8Array([48, 49, 50, 51, 0, 0, 0, 0]));
        await file.truncate(0);
        assert.equal(await file.size(), 0);
      } finally {
        await file.close();
      }
    });

    it("flushes with datasync and sync without error", async () => {
      const file = await shim.open(fresh("sync"), "readwrite");
      try {
        await file.write(bytes("durable"), 0);
        assert.equal(await file.datasync(), undefined);
        assert.equal(await file.sync(), undefined);
      } finally {
        await file.close();
      }
    });

    it("keeps an existing file's bytes when opening it for readwrite", async () => {
      const target = fresh("keep");
      await fsp.writeFile(target, "existing");
      const file = await shim.open(target, "readwrite");
      try {
        assert.equal(await file.size(), 8);
        await file.write(bytes("E"), 0);
      } finally {
        await file.close();
      }
      assert.equal(await fsp.readFile(target, "utf8"), "Existing");
    });

    it("empties an existing file when opening it with create-truncate", async () => {
      const target = fresh("truncating-open");
      await fsp.writeFile(target, "old contents");
      const file = await shim.open(target, "create-truncate");
      try {
        assert.equal(await file.size(), 0);
        await file.write(bytes("new"), 0);
      } finally {
        await file.close();
      }
      assert.equal(await fsp.readFile(target, "utf8"), "new");
    });

    it("creates a missing file with create-exclusive", async () => {
      const target = fresh("exclusive");
      const file = await shim.open(target, "create-exclusive");
      try {
        await file.write(bytes("lock"), 0);
      } finally {
        await file.close();
      }
      assert.equal(await fsp.readFile(target, "utf8"), "lock");
    });

    it("allows closing a file twice", async () => {
      const file = await shim.open(fresh("close"), "readwrite");
      await file.close();
      await file.close();
    });

    it("rejects a write after close with an FsShimError", async () => {
      const file = await shim.open(fresh("closed"), "readwrite");
      await file.close();
      await assert.rejects(file.write(bytes("x"), 0), FsShimError);
    });

    it("renames over an existing file, replacing it", async () => {
      const from = fresh("rename-from");
      const to = fresh("rename-to");
      await fsp.writeFile(from, "new");
      await fsp.writeFile(to, "old");
      await shim.rename(from, to);
      assert.equal(await fsp.readFile(to, "utf8"), "new");
      assert.equal(await shim.stat(from), null);
    });

    it("fails to rename a missing file with ENOENT", async () => {
      await rejectsWithCode(shim.rename(fresh("missing"), fresh("target")), "ENOENT");
    });

    it("sets a file's mtime with utime, and fails on a missing file with ENOENT", async () => {
      const target = fresh("utime");
      await fsp.writeFile(target, "x");
      const when = Date.UTC(2025, 5, 2, 10);
      await shim.utime!(target, when);
      assert.equal((await shim.stat(target))?.mtimeMs, when);
      await rejectsWithCode(shim.utime!(fresh("missing"), when), "ENOENT");
    });

    it("removes a file, and removing a missing file is fine", async () => {
      const target = fresh("remove");
      await fsp.writeFile(target, "x");
      await shim.remove(target);
      assert.equal(await shim.stat(target), null);
      await shim.remove(target);
      await shim.remove(fresh("never-existed"));
    });

    it("stats a file, a directory and a symlink without following it", async () => {
      const file = fresh("stat-file");
      await fsp.writeFile(file, "12345");
      const fileStat = await shim.stat(file);
      const mtimeMs = (await fsp.lstat(file)).mtimeMs;
      assert.deepEqual(fileStat, {
        isFile: true,
        isDirectory: false,
        isSymlink: false,
        size: 5,
        mtimeMs: fileStat?.mtimeMs,
        identity: `${(await fsp.lstat(file)).dev}:${(await fsp.lstat(file)).ino}`,
        links: 1,
      });
      // A second name: the shim counts it (openPart() never writes through a shared inode).
      await fsp.link(file, fresh("stat-file-2"));
      assert.equal((await shim.stat(file))?.links, 2);
      // The lease of the lock reads it: the same clock as the file's own mtime (ms).
      assert.ok(Math.abs((fileStat?.mtimeMs ?? NaN) - mtimeMs) < 2, `mtime ${fileStat?.mtimeMs}`);
      const sub = fresh("stat-dir");
      await fsp.mkdir(sub);
      const dirStat = await shim.stat(sub);
      assert.equal(dirStat?.isDirectory, true);
      assert.equal(dirStat?.isFile, false);
      assert.equal(dirStat?.isSymlink, false);
      const link = fresh("stat-link");
      await fsp.symlink(file, link);
      const linkStat = await shim.stat(link);
      assert.equal(linkStat?.isSymlink, true);
      assert.equal(linkStat?.isFile, false);
      assert.equal(linkStat?.size, bytes(file).length);
      const dangling = fresh("stat-dangling");
      await fsp.symlink(fresh("nowhere"), dangling);
      assert.equal((await shim.stat(dangling))?.isSymlink, true);
    });

    it("stats a missing path as null", async () => {
      assert.equal(await shim.stat(fresh("missing")), null);
      assert.equal(await shim.stat(path.join(fresh("missing-dir"), "child")), null);
    });

    it("fails to stat a path under a regular file with ENOTDIR", async () => {
      const file = fresh("stat-parent-file");
      await fsp.writeFile(file, "x");
      await rejectsWithCode(shim.stat(path.join(file, "child")), "ENOTDIR");
    });

    it("reads a whole file as a plain Uint8Array, and a missing one as null", async () => {
      const target = fresh("readfile");
      await fsp.writeFile(target, "contents");
      const data = await shim.readFile(target);
      assert.ok(data instanceof Uint8Array);
      assert.deepEqual(data, bytes("contents"));
      assert.equal(await shim.readFile(fresh("missing")), null);
    });

    it("fsyncs a real directory", async () => {
      const sub = fresh("syncdir");
      await fsp.mkdir(sub);
      await fsp.writeFile(path.join(sub, "a"), "a");
      await shim.syncDir(sub);
      await shim.syncDir(dir);
    });

    it("fails to fsync a missing directory with ENOENT", async () => {
      await rejectsWithCode(shim.syncDir(fresh("missing-dir")), "ENOENT");
    });

    it("fails to open a missing file for reading with ENOENT", async () => {
      const target = fresh("missing");
      await rejectsWithCode(shim.open(target, "read"), "ENOENT");
      await assert.rejects(shim.open(target, "read"), (error: unknown) => {
        assert.ok(error instanceof FsShimError);
        assert.equal(error.name, "FsShimError");
        assert.equal(error.path, target);
        assert.ok(error.message.includes(target), error.message);
        assert.ok(error.cause !== undefined, "the platform error is kept as cause");
        return true;
      });
    });

    it("fails to create-exclusive an existing file with EEXIST", async () => {
      const target = fresh("exists");
      await fsp.writeFile(target, "x");
      await rejectsWithCode(shim.open(target, "create-exclusive"), "EEXIST");
      assert.equal(await fsp.readFile(target, "utf8"), "x");
    });

    it("fails to open a directory for readwrite with EISDIR", async () => {
      await rejectsWithCode(shim.open(dir, "readwrite"), "EISDIR");
    });

    it("fails to open a path under a regular file with ENOTDIR", async () => {
      const file = fresh("parent-file");
      await fsp.writeFile(file, "x");
      await rejectsWithCode(shim.open(path.join(file, "child"), "readwrite"), "ENOTDIR");
    });

    it("fails to open a 300-byte file name with ENAMETOOLONG", async () => {
      await rejectsWithCode(
        shim.open(path.join(dir, "n".repeat(300)), "readwrite"),
        "ENAMETOOLONG",
      );
    });

    it("fails to open a symlink loop with ELOOP", async () => {
      const loop = fresh("loop");
      await fsp.symlink(loop, loop);
      await rejectsWithCode(shim.open(loop, "read"), "ELOOP");
    });

    it("fails to create a file in a read-only directory with EACCES, unless the kernel lets this process bypass permissions", async () => {
      const locked = fresh("readonly");
      await fsp.mkdir(locked);
      await fsp.chmod(locked, 0o555);
      try {
        assert.equal((await fsp.stat(locked)).mode & 0o777, 0o555);
        // Ask the kernel from another process: `test -w` is access(2), which says yes to
        // root (CAP_DAC_OVERRIDE) whatever the mode. (Deno's node:fs access() only
        // compares mode bits, so it cannot be used to tell.)
        const bypasses = spawnSync("sh", ["-c", 'test -w "$1"', "sh", locked]).status === 0;
        const target = path.join(locked, "file");
        if (bypasses) {
          // Privileged: the kernel ignores the mode, so creating must succeed.
          const file = await shim.open(target, "create-exclusive");
          await file.close();
          assert.equal((await shim.stat(target))?.isFile, true);
          await shim.remove(target);
        } else {
          await rejectsWithCode(shim.open(target, "create-exclusive"), "EACCES");
          assert.equal(await shim.stat(target), null);
        }
      } finally {
        await fsp.chmod(locked, 0o755);
      }
    });

    it("reports this process's pid and sees it as alive", () => {
      assert.equal(shim.pid, process.pid);
      assert.equal(shim.isProcessAlive(shim.pid), true);
    });

    it("sees a process that has exited as dead", async () => {
      const pid = await deadPid();
      assert.equal(shim.isProcessAlive(pid), false);
    });

    it("sees nonsensical pids as dead", () => {
      assert.equal(shim.isProcessAlive(0), false);
      assert.equal(shim.isProcessAlive(-1), false);
      assert.equal(shim.isProcessAlive(1.5), false);
    });
  });
}

describe("toShimError()", () => {
  it("codes an error by its errno code, else by its class name, else UNKNOWN (never by Object's own keys)", () => {
    const named = (name: string, code?: string) =>
      Object.assign(new Error("x"), { name }, { code });
    assert.equal(toShimError(named("Error", "ENOSPC"), "write", "f").code, "ENOSPC");
    assert.equal(toShimError(named("NotFound"), "open", "f").code, "ENOENT");
    assert.equal(toShimError(named("QuotaExceededError"), "write", "f").code, "ENOSPC");
    for (const name of ["constructor", "toString", "__proto__", "Weird"]) {
      assert.equal(toShimError(named(name), "open", "f").code, "UNKNOWN", name);
    }
  });
});

describe("linuxProcessStart()", () => {
  const stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 9 0 0 0 0 0 0 0 20 0 1 0 777 1 2";

  it("reads field 22 of /proc/<pid>/stat, after a command name holding spaces and parentheses", () => {
    assert.equal(linuxProcessStart(42, () => stat), "777");
  });

  it("is null for a nonsensical pid, an unreadable file or a short line", () => {
    assert.equal(linuxProcessStart(0, () => stat), null);
    assert.equal(
      linuxProcessStart(42, () => {
        throw new Error("EACCES");
      }),
      null,
    );
    assert.equal(linuxProcessStart(42, () => "42 (x) S 1"), null);
  });
});

describe("Choosing the default filesystem shim", () => {
  it("picks the Deno shim in Deno and the node:fs shim elsewhere, every time", async () => {
    for (let call = 0; call < 3; call++) {
      assert.equal((await defaultFs()).name, inDeno ? "deno" : "node");
    }
  });

  it("keeps the process's identity live: read when asked, not when the shim is made", async () => {
    const shim = await defaultFs();
    for (const key of ["pid", "processScope"] as const) {
      assert.equal(typeof Object.getOwnPropertyDescriptor(shim, key)?.get, "function", key);
    }
    assert.equal(shim.pid, process.pid);
  });

  it("reads this process's scope and start once for a batch, and another process's when asked", async () => {
    const [live, batch] = [await defaultFs(), await batchFs()];
    assert.equal(batch.name, live.name);
    assert.equal(Object.getOwnPropertyDescriptor(batch, "processScope")?.get, undefined);
    assert.equal(batch.processScope, live.processScope ?? null);
    assert.equal(batch.processStart?.(process.pid), live.processStart?.(process.pid) ?? null);
    assert.equal(batch.processStart?.(1), live.processStart?.(1) ?? null);
    assert.equal(batch.pid, process.pid);
  });

  it("opens Deno's .part twice as one file: written by one handle, read and synced by the other", async () => {
    await withTempDir(async (dir) => {
      const part = path.join(dir, "a.part");
      const writers = shims.at(0)!; // denoFs in Deno, else nodeFs
      const file = await openTwice(part, nodeFs, writers);
      await file.write(bytes("hello, world"), 0);
      await file.write(bytes("HELLO"), 0);
      await file.datasync();
      assert.equal(await file.size(), 12);
      assert.deepEqual(await readAll(file), bytes("HELLO, world"));
      await file.close();
      assert.equal(await fsp.readFile(part, "utf8"), "HELLO, world");
    });
  });

  it("refuses a .part replaced between its two opens (ESTALE), with both handles closed", async () => {
    await withTempDir(async (dir) => {
      const part = path.join(dir, "a.part");
      const other = path.join(dir, "other");
      await fsp.writeFile(other, "someone else's");
      let closed = 0;
      const replacing: FsShim = {
        ...nodeFs,
        open: async (at, mode) => {
          const file = await nodeFs.open(at, mode);
          await fsp.rename(other, at); // another process takes the name over meanwhile
          return { ...file, close: () => file.close().then(() => void closed++) };
        },
      };
      await rejectsWithCode(openTwice(part, replacing, shims.at(0)!), "ESTALE");
      assert.equal(closed, 1);
      assert.equal(await fsp.readFile(part, "utf8"), "someone else's"); // not written
    });
  });

  it("keeps one node:fs handle for a .part where no inode number tells the two opens apart", async () => {
    await withTempDir(async (dir) => {
      const part = path.join(dir, "a.part");
      let writerClosed = false;
      const blind: FsShim = { // Deno on Windows: FileInfo.ino is null
        ...shims.at(0)!,
        open: async (at, mode) => {
          const file = await shims.at(0)!.open(at, mode);
          const close = () => file.close().then(() => void (writerClosed = true));
          return { ...file, identity: () => Promise.resolve(null), close };
        },
      };
      const file = await openTwice(part, nodeFs, blind);
      assert.equal(writerClosed, true, "the second handle is closed at once");
      await file.write(bytes("one handle"), 0);
      await file.close();
      assert.equal(await fsp.readFile(part, "utf8"), "one handle");
    });
  });

  it("sets mtimes through the default shim", async () => {
    assert.equal(typeof (await defaultFs()).utime, "function");
  });

  it("can import the Deno shim in any runtime without touching Deno APIs", async () => {
    const { denoFs } = await import("../../src/runtime/deno_fs.ts");
    assert.equal(denoFs.name, "deno");
  });
});

if (inDeno) {
  describe("The Deno shim's liveness check under narrower permissions", () => {
    let dir = "";
    let script = "";
    before(async () => {
      dir = await fsp.mkdtemp(path.join(os.tmpdir(), "haul-fs-perm-"));
      script = path.join(dir, "probe.ts");
      const shimUrl = new URL("../../src/runtime/deno_fs.ts", import.meta.url).href;
      await fsp.writeFile(
        script,
        [
          `import { denoFs } from ${JSON.stringify(shimUrl)};`,
          `let procReadable = true;`,
          `try { Deno.statSync("/proc/self"); } catch { procReadable = false; }`,
          `const self = denoFs.isProcessAlive(Deno.pid);`,
          `const dead = denoFs.isProcessAlive(Number(Deno.args[0]));`,
          `console.log(JSON.stringify({ self, dead, procReadable }));`,
        ].join("\n"),
      );
    });
    after(async () => {
      if (dir !== "") await fsp.rm(dir, { recursive: true, force: true });
    });

    interface Probe {
      self: boolean | null;
      dead: boolean | null;
      procReadable: boolean;
    }

    /** Runs the probe in a child Deno given only `flags`, asking about a dead pid. */
    async function probe(flags: string[]): Promise<Probe> {
      const dead = await deadPid();
      // Deno.Command rather than node:child_process: Deno's node compat layer
      // grants every permission to a deno child it spawns, defeating the test.
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-prompt", "--no-check", ...flags, script, String(dead)],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder();
      assert.equal(output.code, 0, text.decode(output.stderr));
      return JSON.parse(text.decode(output.stdout)) as Probe;
    }

    it("uses kill(pid, 0) when only the run permission is granted", async () => {
      const result = await probe(["--allow-run"]);
      assert.equal(result.self, true);
      assert.equal(result.dead, false);
    });

    it('answers "cannot tell" without the run permission, even with read permission', async () => {
      // /proc is no way around it: Deno wants --allow-all for anything under /proc.
      const result = await probe(["--allow-read"]);
      assert.deepEqual(result, { self: null, dead: null, procReadable: false });
    });

    it('answers "cannot tell" when it has no permission to tell', async () => {
      const result = await probe([]);
      assert.deepEqual(result, { self: null, dead: null, procReadable: false });
    });
  });
}
