/**
 * One way to bound a wait: `settleWithin(promise, ms, onTimeout)` is `promise`, or a rejection
 * with `onTimeout()`'s error once `ms` pass first. The timer never outlives the race (cleared
 * when either side settles), and a `promise` that rejects after the deadline is handled (the race
 * holds a handler on it), so a late failure never becomes an unhandled rejection. The work behind
 * `promise` is not cancelled: its owner bounds it (a socket timeout, a queue limit) or lets it
 * finish in the background.
 */
export async function settleWithin<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
