import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startWorker, type ThreadPort } from "../../src/runtime/worker_thread.ts";

const ECHO = new URL("../fixtures/echo_worker.ts", import.meta.url);

/** The next message from `port`, or its crash, within 20 s. */
function listen(port: ThreadPort): { next(): Promise<unknown>; crash: Promise<Error> } {
  const queue: unknown[] = [];
  const waiting: ((message: unknown) => void)[] = [];
  const { promise: crash, resolve: crashed } = Promise.withResolvers<Error>();
  port.listen((message) => {
    const waiter = waiting.shift();
    if (waiter === undefined) queue.push(message);
    else waiter(message);
  }, crashed);
  return {
    next: () => {
      if (queue.length > 0) return Promise.resolve(queue.shift());
      const { promise, resolve, reject } = Promise.withResolvers<unknown>();
      const timer = setTimeout(() => reject(new Error("no message within 20 s")), 20_000);
      waiting.push((message) => {
        clearTimeout(timer);
        resolve(message);
      });
      return promise;
    },
    crash,
  };
}

/** `promise`, or a rejection if it takes more than 20 s (the timer does not outlive it). */
async function within<T>(promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("nothing within 20 s")), 20_000);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe("startWorker() and parentThread()", () => {
  it("deliver a worker's first message however soon it comes, worker after worker", async () => {
    // A small worker posts "ready" at once. Deno's Worker dispatched it before `listen()` was
    // called now and then, and the message was lost: the call waited for it forever.
    for (let i = 0; i < 40; i++) {
      const port = await startWorker(ECHO);
      try {
        assert.equal(await listen(port).next(), "ready", `worker ${i}`);
      } finally {
        port.close();
      }
    }
  });

  it("carry structured messages both ways, then report the worker's error as a crash, once", async () => {
    const port = await startWorker(ECHO);
    try {
      const inbox = listen(port);
      assert.equal(await inbox.next(), "ready");
      port.post({ n: 1, bytes: new Uint8Array([1, 2]) });
      assert.deepEqual(await inbox.next(), {
        echo: { n: 1, bytes: new Uint8Array([1, 2]) },
        onWorker: true,
      });
      let crashes = 0;
      void inbox.crash.then(() => crashes++);
      port.post("throw");
      const crash = await within(inbox.crash);
      assert.ok(crash instanceof Error);
      assert.match(String(crash.message), /thrown on the worker|worker/);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(crashes, 1);
    } finally {
      port.close();
    }
  });
});
