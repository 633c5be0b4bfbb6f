/**
 * How a download ends: the commit of a complete `.part`, and, decided without I/O, what its pieces'
 * ends mean (`download.ts` acts on them).
 *
 * @module
 */

import {
  ContentRangeError,
  HaulError,
  hidden,
  IntegrityError,
  PartialHaulError,
  ServerMisconfiguredError,
} from "../errors.ts";
import { type ExpectedDigests, integrityMismatch } from "../protocol/integrity.ts";
import { judgeBodyEnd, type StreamPlan, type Validators } from "../protocol/plan.ts";
import { hasStrongValidator, parseHttpDate } from "../protocol/headers.ts";
import type { ShimFile } from "../runtime/fs_shim.ts";
import type { Digests } from "../runtime/multi_hash.ts";
import { toDestinationError } from "../store/destination.ts";
import { CallbackFailure } from "./progress.ts";
import type { CallContext } from "./settings.ts";
import type { HaulResult } from "../types.ts";
import type { ByteSpan } from "./range_split.ts";
import { OverLongBody } from "./segment.ts";

/** A range answer that shows the bytes on disk cannot be continued (a resume starts over). */
export class RangeReset extends Error {}

/**
 * Whether the rest of the file may be asked for in ranges: range support shown, a strong
 * validator, a length, and two ranges of `floor` bytes left.
 */
export function splittable(
  plan: StreamPlan,
  response: Response,
  validators: Validators,
  floor: number,
): boolean {
  const { total } = plan;
  const { etag, lastModified } = validators;
  if (!plan.bodyEndsFile || total === null || total - plan.offset < 2 * floor) return false;
  const accepts = (response.headers.get("accept-ranges") ?? "").toLowerCase().split(",")
    .some((token) => token.trim() === "bytes");
  return hasStrongValidator(etag, lastModified) && (response.status === 206 || accepts);
}

/** A response's validators, completed by the checkpoint's (a 206 repeats only the one it continues). */
export function merged(now: Validators, saved: Validators | null): Validators {
  return {
    etag: now.etag ?? saved?.etag ?? null,
    lastModified: now.lastModified ?? saved?.lastModified ?? null,
    contentType: now.contentType ?? saved?.contentType ?? null,
  };
}

/**
 * A body of unknown length ended at `end`: the file's length, or an error (an interruption, to
 * resume from what was saved) when nothing says the file ends there.
 */
export function judgeEnd(plan: StreamPlan, end: number): number {
  const received = end - plan.offset;
  const verdict = judgeBodyEnd({ ...plan, total: null, received, fileLength: end });
  if (verdict.kind !== "complete") throw new Error(verdict.reason);
  return end;
}

/**
 * Every connection stopped with `span` still pending. Progress made in this call is saved; with
 * none (`accepted` 0), the download is discarded and the call starts over without ranges.
 */
export function leftOver(span: ByteSpan, refused: string | null, accepted: number): Error {
  const reason = refused ?? "no connection was left";
  if (accepted === 0) return new RangeReset(reason);
  return new Error(`no connection could fetch bytes ${span.start}-${span.end - 1} (${reason})`);
}

/**
 * The error of a failure that discards the download (a range of another version, a body past its
 * declared end), or `null` for any other.
 */
export function resetError(error: unknown, url: string): HaulError | null {
  if (error instanceof RangeReset) {
    return new ContentRangeError(
      `Server answered a range inconsistently (${error.message}): ${url}: ` +
        "progress discarded, the next call starts over",
      { retryable: true, cause: error },
    );
  }
  if (error instanceof OverLongBody) {
    return new ServerMisconfiguredError(
      `Server sent more bytes than it declared (${error.message}): ${url}: ` +
        "the download was discarded",
      { retryable: error.start > 0 },
    );
  }
  return null;
}

/** The error an interrupted call rejects with, once its last checkpoint was written (or failed). */
export function interruption(
  cause: unknown,
  call: {
    readonly dest: string;
    readonly url: string;
    readonly saved: boolean;
    readonly recorded: number;
    readonly total: number | null;
  },
): unknown {
  const { dest, url, saved, recorded, total } = call;
  if (cause instanceof CallbackFailure) return cause.cause; // the caller's bug: no retry cures it
  if (cause instanceof TypeError && /^Invalid\b/.test(cause.message)) return cause; // not bytes
  if (cause instanceof HaulError) return cause; // a status, with progress on disk
  const fsError = toDestinationError(cause, dest, saved);
  if (fsError !== cause) return fsError;
  const reason = cause instanceof Error ? cause.message : String(cause);
  if (!saved) {
    return new PartialHaulError(
      `Download interrupted before any byte was saved (${reason}): ${url}: ` +
        "the next call starts over",
      { cause, validLength: 0 },
    );
  }
  const of = total === null ? "" : ` of ${total}`;
  return new PartialHaulError(
    `Download interrupted with ${recorded}${of} bytes saved (${reason}): ${url}: ` +
      "progress saved; call again to resume",
    { cause, validLength: recorded },
  );
}

/**
 * An integrity failure of a download from mirrors, told which source served which bytes
 * (`served`: `"<url>: bytes a-b"` per range, `null` with one source); any other error as it is.
 */
export function provenance(
  error: unknown,
  served: readonly string[] | null,
  base: number,
): unknown {
  if (served === null || !(error instanceof IntegrityError)) return error;
  const earlier = base > 0 ? [`bytes 0-${base - 1} from an earlier attempt`] : [];
  return new IntegrityError(`${error.message} (${[...served, ...earlier].join("; ")})`, error);
}

/**
 * The {@link IntegrityError} of `digests` that match no digest of `expected` (`null`: they match,
 * or none is expected); `describe` words the message around what was found.
 */
export function integrityFailure(
  expected: ExpectedDigests | null,
  digests: Parameters<typeof integrityMismatch>[1],
  describe: (found: string) => string,
): IntegrityError | null {
  const mismatch = expected === null ? null : integrityMismatch(expected, digests);
  if (mismatch === null) return null;
  const { algorithm, actual } = mismatch;
  const found = `${algorithm} ${actual}, expected ${mismatch.expected.join(" or ")}`;
  return new IntegrityError(`Integrity check failed: ${describe(found)}`, mismatch);
}

/** A complete `.part` about to be committed (it is cut to `size`, its verified length). */
interface Completion {
  readonly file: ShimFile;
  readonly size: number;
  /** The digests (hex) of the first `size` bytes, as the engine hashed them. */
  readonly digest: () => Promise<Digests>;
  readonly close: () => Promise<void>;
  /** Whether its checkpoint may be on disk (`CheckpointStore.saved`): removed last. */
  readonly checkpointed: boolean;
  /** The file's (strong) `Last-Modified`: its mtime when asked (`remoteTime` or `revalidate`). */
  readonly lastModified: string | null;
  readonly result: (digests: Digests) => HaulResult;
}

/**
 * Commits a complete `.part` (the last byte streamed, or a 416 that says the checkpoint covers the
 * file) onto `dest`, the one door to it; a failure past the rename carries `published` (retry.ts).
 */
export async function commit(ctx: CallContext, part: Completion): Promise<HaulResult> {
  const { owner, options } = ctx;
  const { file, size } = part;
  if ((await file.size()) !== size) await file.truncate(size);
  const asked = options.remoteTime === true || options.revalidate === true;
  const mtime = asked && part.lastModified !== null ? parseHttpDate(part.lastModified) : null;
  if (mtime !== null) await owner.stamp(mtime); // after the last change of its bytes
  await file.sync();
  const digests = await part.digest();
  const identity = (await file.identity?.().catch(() => null)) ?? null;
  await part.close();
  const failure = integrityFailure(
    ctx.expected,
    digests,
    (found) => `${ctx.url}: got ${found}; nothing was saved at ${ctx.paths.dest}`,
  );
  if (failure !== null) {
    await owner.remove();
    throw failure;
  }
  await owner.publish(options.overwrite === true, part.checkpointed).catch((error) => {
    const failure = toDestinationError(error, ctx.paths.dest) as object;
    const result = part.result(digests); // for a retry's next attempt, while this file is at dest
    const there = async () => (await ctx.fs.stat(ctx.paths.dest).catch(() => null))?.identity;
    hidden(failure, "published", async () => ((await there()) === identity ? result : null));
    throw failure;
  });
  return part.result(digests);
}
