/**
 * A bounded pool: the one way a batch runs its items a few at a time.
 *
 * @module
 */

/**
 * Runs `task` for each index from 0 to `count - 1`, starting them in order,
 * with at most `concurrency` running at once. `task` must not reject (a
 * rejection rejects the whole run, the other tasks going on).
 *
 * @param count how many items.
 * @param concurrency the most at once (1 or more).
 * @param task runs one item.
 * @returns when every task has ended.
 *
 * @example Two at a time
 * ```ts
 * import { eachLimited } from "./pool.ts";
 * const order: number[] = [];
 * await eachLimited(5, 2, async (index) => {
 *   order.push(index);
 * });
 * console.log(order); // [0, 1, 2, 3, 4]
 * ```
 */
export async function eachLimited(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
