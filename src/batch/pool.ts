/**
 * Runs `task` for each index from 0 to `count - 1`, starting them in order,
 * with at most `concurrency` running at once: the one way a batch runs its
 * items a few at a time. `task` must not reject (that rejects the whole run).
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
