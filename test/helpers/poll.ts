/**
 * The one polling helper of the test suite: calls `check` until it returns a value other than
 * `undefined`, `null` or `false` (resolving with that value), or throws once `timeoutMs` has
 * passed, saying what it waited for. A `check` that throws counts as "not yet" (the last error is
 * reported on timeout).
 */
export interface PollOptions {
  /** What is awaited, for the timeout message (a function is called only on timeout). */
  what: string | (() => string);
  timeoutMs?: number;
  intervalMs?: number;
}

export async function poll<T>(check: () => T | undefined | null | false | Promise<T | undefined | null | false>, options: PollOptions): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const what = typeof options.what === 'function' ? options.what() : options.what;
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 20));
  }
}
