import { afterEach, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { settleWithin } from '../src/deadline.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
process.on('unhandledRejection', onUnhandled);
afterEach(() => {
  unhandled.length = 0;
});

describe('settleWithin', () => {
  it('is the promise when it settles first, value or error', async () => {
    await expect(settleWithin(Promise.resolve(7), 1000, () => new Error('late'))).resolves.toBe(7);
    await expect(settleWithin(Promise.reject(new Error('own failure')), 1000, () => new Error('late'))).rejects.toThrow('own failure');
  });

  it("rejects with onTimeout's error once the time passes, and a later rejection of the promise stays handled", async () => {
    let rejectLate!: (err: Error) => void;
    const slow = new Promise<number>((_, reject) => {
      rejectLate = reject;
    });
    const started = Date.now();
    await expect(settleWithin(slow, 50, () => new Error('gave up after 50 ms'))).rejects.toThrow('gave up after 50 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    rejectLate(new Error('the work failed after the deadline'));
    await sleep(20);
    expect(unhandled).toEqual([]);
  });

  it('builds the timeout error only when the deadline passes', async () => {
    let built = 0;
    await settleWithin(sleep(5, 'done'), 1000, () => {
      built++;
      return new Error('late');
    });
    expect(built).toBe(0);
  });
});
