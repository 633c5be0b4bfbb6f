/**
 * Runs `task` for each index below `count`, in order, at most `concurrency` at once (a batch's
 * items, the command line's probes). `task` must not reject (that rejects the whole run).
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
