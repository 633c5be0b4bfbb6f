/**
 * Waiting for something that the caller's signal may cut short.
 *
 * @module
 */

/**
 * `promise`'s outcome, or a rejection with `signal`'s reason as soon as it
 * aborts (at once when it already has). The work behind `promise` goes on:
 * only the wait ends.
 *
 * @param promise what to wait for.
 * @param signal the caller's signal, if any.
 * @returns the outcome.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
