/**
 * haul: resumable, crash-safe, verified HTTP downloads for Deno, Bun and Node.
 *
 * `await haul(url, { dest })` makes one request with your `fetch` (one per
 * range with `connections`), streams the body into `<dest>.part`, keeps a
 * binary checkpoint in `<dest>.part.ctrl`, and renames `.part` onto `dest`
 * only when every byte has arrived and been hashed. If anything fails, the next call resumes from the
 * last durable byte (`Range` + `If-Range`). {@link isRetryable} says when
 * another call can help; {@link haulWithRetry} (one file) and {@link haulAll}
 * (many, a bounded pool) make those calls for you.
 *
 * @example Download a file, retrying while it makes sense
 * `deno test --doc` skips this one because it needs the network; the next runs offline.
 * ```ts ignore
 * // Not run by `deno test --doc`: it downloads from the network.
 * import { haulWithRetry } from "@haul/haul";
 *
 * const result = await haulWithRetry("https://example.com/big.iso", { dest: "big.iso" });
 * console.log(`${result.size} bytes, sha256 ${result.sha256}`);
 * ```
 *
 * @example Your own `fetch` (a proxy, auth, or here an in-memory server)
 * ```ts
 * import { haul } from "@haul/haul";
 * import { mkdtemp, readFile, rm } from "node:fs/promises";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 *
 * const body = new TextEncoder().encode("hello, haul\n");
 * const fetch = () =>
 *   Promise.resolve(new Response(body, { headers: { etag: '"v1"', "content-length": "12" } }));
 * const dir = await mkdtemp(join(tmpdir(), "haul-example-"));
 * try {
 *   const dest = join(dir, "hello.txt");
 *   const result = await haul("https://example.com/hello.txt", { dest, fetch });
 *   console.log(result.size, await readFile(dest, "utf8")); // 12 "hello, haul\n"
 * } finally {
 *   await rm(dir, { recursive: true, force: true });
 * }
 * ```
 *
 * @module
 */

export { haul, haulAll, haulWithRetry } from "./src/calls.ts";
export { haulStream, type HaulStreamOptions, StreamCutError } from "./src/stream.ts";
export {
  type CheckpointInterval,
  type FetchLike,
  type HaulOptions,
  type HaulResult,
  HaulState,
  type Source,
  type SourceInput,
} from "./src/types.ts";
export {
  ContentRangeError,
  ControlFileError,
  DestinationError,
  HaulError,
  type HaulErrorOptions,
  IntegrityError,
  isRetryable,
  PartialHaulError,
  ServerMisconfiguredError,
  type UnexpectedStatusDetails,
  UnexpectedStatusError,
} from "./src/errors.ts";
export {
  type HaulWithRetryOptions,
  type RetriedError,
  type RetryInfo,
  type RetryOptions,
} from "./src/batch/retry.ts";
export {
  type HaulAllFailure,
  type HaulAllItem,
  type HaulAllItemProgress,
  type HaulAllOptions,
  type HaulAllPhase,
  type HaulAllProgress,
  type HaulAllReport,
  type HaulAllRetryInfo,
  type HaulAllSuccess,
} from "./src/batch/haul_all.ts";
