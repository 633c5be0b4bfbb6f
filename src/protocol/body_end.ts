/**
 * Verdicts on where a response body ended: too long (as soon as a chunk
 * passes the declared length), too short, at the file's end, or somewhere the
 * server did not vouch for. Pure, so every case is tested from a table.
 *
 * @module
 */

/** What is known when a body ends (or a chunk arrives). */
export interface BodyEndFacts {
  /** Body bytes received in this call. */
  readonly received: number;
  /** Bytes of the file so far (the resume offset plus `received`). */
  readonly fileLength: number;
  /** The body's declared length (`Content-Length` or the range's size), or `null`. */
  readonly bodyLength: number | null;
  readonly total: number | null;
  /** Whether the end of the body is the end of the file (false for a range of unknown total). */
  readonly bodyEndsFile: boolean;
}

/** `short` is an interruption (progress is kept); `unknown-end`: the next call asks for the rest. */
type BodyEndVerdict =
  | { readonly kind: "complete" }
  | { readonly kind: "short" | "unknown-end"; readonly reason: string };

/** Whether a chunk takes the body past its declared length (the download must be discarded). */
export function isOverLong(
  received: number,
  chunkLength: number,
  bodyLength: number | null,
): boolean {
  return bodyLength !== null && received + chunkLength > bodyLength;
}

/** Judges a body that ended without an error. */
export function judgeBodyEnd(facts: BodyEndFacts): BodyEndVerdict {
  const { received, fileLength, bodyLength, total } = facts;
  const short = bodyLength !== null && received < bodyLength;
  if (short || (total !== null && fileLength < total)) {
    const expected = short ? bodyLength : total;
    return { kind: "short", reason: `body ended at ${fileLength} of ${expected} bytes` };
  }
  if (!facts.bodyEndsFile) {
    // A range of a file of unknown length: a 416 to the next call confirms completion.
    return {
      kind: "unknown-end",
      reason: `the server did not say whether the file ends at byte ${fileLength}`,
    };
  }
  return { kind: "complete" };
}
