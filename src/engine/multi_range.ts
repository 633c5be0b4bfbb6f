/**
 * Choosing between one connection and several for a call, and starting the
 * multi-range download (`range_download.ts`).
 *
 * - A checkpoint with several ranges (or one not starting at byte 0) is
 *   resumed range by range, whatever `connections` is (1: the gaps one after
 *   another).
 * - With `connections` > 1, a single-range checkpoint of a file whose length
 *   and strong validator are known is resumed by splitting its gap.
 * - Otherwise, with `connections` > 1, the first request is the ordinary
 *   one; only when its answer shows range support (`Accept-Ranges: bytes` or
 *   a 206), a strong validator and a length large enough to split are further
 *   ranges asked. Else that same response is downloaded over one connection.
 * - With `connections` 1 and no multi-range checkpoint, nothing changes; nor
 *   for a checkpoint whose ranges cannot be asked for (no length or strong
 *   validator).
 *
 * @module
 */

import type { KnownFile } from "../protocol/range_check.ts";
import { isStrongEtag } from "../protocol/etag.ts";
import { planResponse, type StreamPlan } from "../protocol/plan.ts";
import { buildRequest } from "../protocol/request.ts";
import {
  canResumeRanges,
  isMultiRange,
  openPartRanges,
  peekCheckpoint,
} from "../store/resume_ranges.ts";
import { fresh } from "../store/resume.ts";
import type { HaulOptions, HaulResult } from "../types.ts";
import type { CallContext } from "./call_context.ts";
import { RangeDownload } from "./range_download.ts";
import { splitRanges } from "./range_split.ts";

/** Default smallest range worth a connection of its own. */
export const DEFAULT_RANGE_FLOOR = 4 << 20;
/** The most connections one call opens. */
export const MAX_CONNECTIONS = 32;

/** Runs the call over one connection, with the first response when one was already made. */
export type SingleConnection = (first: Response | null) => Promise<HaulResult>;

/**
 * Reads and checks `options.connections`.
 *
 * @param options the call's options.
 * @returns connections allowed, from 1 to {@link MAX_CONNECTIONS}.
 * @throws {RangeError} for anything else.
 *
 * @example
 * ```ts
 * import { readConnections } from "./multi_range.ts";
 * console.log(readConnections({}), readConnections({ connections: 8 })); // 1 8
 * ```
 */
export function readConnections(options: Pick<HaulOptions, "connections">): number {
  const connections = options.connections ?? 1;
  if (!Number.isSafeInteger(connections) || connections < 1 || connections > MAX_CONNECTIONS) {
    throw new RangeError(
      `Invalid connections: ${connections}: use a whole number from 1 to ${MAX_CONNECTIONS}`,
    );
  }
  return connections;
}

/**
 * What the first response established, when it allows several connections;
 * `null` when the download stays on one.
 *
 * @param plan the plan for the first response.
 * @param headers its headers.
 * @param status its status.
 * @param connections connections allowed.
 * @param floor the smallest range worth a connection.
 * @returns the file's length and strong validator, or `null`.
 *
 * @example
 * ```ts
 * import { rangesAllowed } from "./multi_range.ts";
 * const headers = new Headers({ "accept-ranges": "bytes", etag: '"v1"' });
 * const plan = {
 *   kind: "stream", offset: 0, rewind: false, bodyLength: 1 << 24, total: 1 << 24,
 *   bodyEndsFile: true, validators: { etag: '"v1"', lastModified: null, contentType: null },
 * } as const;
 * console.log(rangesAllowed(plan, headers, 200, 8, 1 << 20)?.total); // 16777216
 * console.log(rangesAllowed(plan, new Headers(), 200, 8, 1 << 20)); // null
 * ```
 */
export function rangesAllowed(
  plan: StreamPlan,
  headers: Headers,
  status: number,
  connections: number,
  floor: number,
): KnownFile | null {
  const total = plan.total;
  if (plan.offset !== 0 || plan.rewind || !plan.bodyEndsFile || total === null || total <= 0) {
    return null;
  }
  const acceptRanges = (headers.get("accept-ranges") ?? "").toLowerCase().split(",")
    .map((token) => token.trim());
  if (status !== 206 && !acceptRanges.includes("bytes")) return null;
  const { etag, lastModified } = plan.validators;
  if (etag !== null ? !isStrongEtag(etag) : lastModified === null) return null;
  if (splitRanges(total, connections, floor).length < 2) return null;
  return { total, etag, lastModified: etag === null ? lastModified : null };
}

/**
 * Runs one locked call: over one connection as before, or over several.
 *
 * @param ctx the call.
 * @param single runs it over one connection.
 * @returns the result.
 *
 * @example
 * ```ts ignore
 * // Called by haulWith() while it holds the destination's lock.
 * const result = await runDownload(ctx, (first) => download(first));
 * ```
 */
export async function runDownload(
  ctx: CallContext,
  single: SingleConnection,
): Promise<HaulResult> {
  const { fs, paths, connections } = ctx;
  const saved = await peekCheckpoint(fs, paths);
  const multi = saved !== null && isMultiRange(saved);
  if (!multi && connections <= 1) return await single(null);
  // A checkpoint whose ranges cannot be asked for (no length, no strong
  // validator) is one connection's to resume, or to discard.
  if (saved !== null && !canResumeRanges(saved)) return await single(null);
  if (saved !== null) {
    const opened = await openPartRanges(fs, paths);
    await ctx.owner.adopt(opened.file);
    if (opened.checkpoint !== null) {
      return await new RangeDownload(ctx, opened.file).resume(opened.checkpoint);
    }
    await opened.file.close(); // nothing was borne out: .part was emptied
  }
  if (connections <= 1) return await single(null);
  const { input, options } = ctx;
  const request = buildRequest(input, options.headers, options.signal, {
    cursor: 0,
    checkpoint: null,
  });
  const response = await ctx.fetchFn(request);
  const plan = planResponse(
    { url: ctx.url, cursor: 0, checkpoint: null },
    response.status,
    response.headers,
  );
  const known = plan.kind === "stream"
    ? rangesAllowed(plan, response.headers, response.status, connections, ctx.floor)
    : null;
  if (plan.kind !== "stream" || known === null) return await single(response);
  let opened;
  try {
    opened = await openPartRanges(fs, paths);
    await ctx.owner.adopt(opened.file);
    if (opened.checkpoint !== null) await fresh(fs, paths, opened.file, true);
  } catch (error) {
    await opened?.file.close().catch(() => {});
    await discardResponse(response);
    throw error;
  }
  return await new RangeDownload(ctx, opened.file).fresh(response, known, plan.validators);
}

async function discardResponse(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => {});
}
