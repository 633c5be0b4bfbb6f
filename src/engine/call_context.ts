/**
 * What one locked call hands to the download that runs it (`download.ts`).
 *
 * @module
 */

import type { ExpectedDigests } from "../protocol/integrity.ts";
import type { FsShim } from "../runtime/fs_shim.ts";
import type { SidecarPaths } from "../store/destination.ts";
import type { PartOwner } from "../store/ownership.ts";
import type { FetchLike, HaulOptions, SourceInput } from "../types.ts";
import type { Sources } from "./sources.ts";
import type { ProgressReporter } from "./progress.ts";
import type { Settings } from "./settings.ts";

/** What a download needs from `haulWith()`. */
export interface CallContext {
  /** Filesystem shim. */
  readonly fs: FsShim;
  /** The destination's sidecars. */
  readonly paths: SidecarPaths;
  /** The call's settings. */
  readonly settings: Settings;
  /** The caller's fetch. */
  readonly fetchFn: FetchLike;
  /** The URL, redacted, for messages. */
  readonly url: string;
  /** The call's sources (one, or mirrors). */
  readonly sources: Sources;
  /** The source of the first request, and what it resolved to. */
  readonly first: { readonly index: number; readonly input: SourceInput };
  /** The caller's options (`signal` includes the lock's). */
  readonly options: HaulOptions;
  /** The expected digests, if any. */
  readonly expected: ExpectedDigests | null;
  /** Progress of the call. */
  readonly progress: ProgressReporter;
  /** When the call started (`performance.now()`). */
  readonly startedAt: number;
  /** Connections allowed (>= 1). */
  readonly connections: number;
  /** The smallest range worth a connection. */
  readonly floor: number;
  /** The destination's owner: checked before each checkpoint, removal and the commit. */
  readonly owner: PartOwner;
  /** The name the first successful response suggested (`Content-Disposition`), so far. */
  readonly suggestedName: () => string | null;
  /** The mtime (ms) of the `dest` being revalidated (`If-Modified-Since`), or `null`. */
  readonly since: number | null;
}
