import { describe, expect, it } from 'vitest';
import { RedisGuard } from '../../../scheduler/kvcache/index/redis-guard.js';

function deferred(): { promise: Promise<string>; resolve: (value: string) => void } {
  let resolve!: (value: string) => void;
  const promise = new Promise<string>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

describe('RedisGuard', () => {
  it('refuses while the client is not ready, without starting the operation', async () => {
    let ready = false;
    let started = 0;
    const guard = new RedisGuard({ label: 'redis at x', timeoutMs: 1000, maxCommands: 10, ready: () => ready });
    await expect(guard.run(1, async () => started++)).rejects.toThrow('redis at x is unreachable (reconnecting)');
    ready = true;
    await expect(guard.run(1, async () => started++)).resolves.toBe(0);
    expect(started).toBe(1);
  });

  it('sends an operation whole or not at all: one that would pass maxCommands is refused until answers come back', async () => {
    const guard = new RedisGuard({ label: 'redis at x', timeoutMs: 5000, maxCommands: 4, ready: () => true });
    const first = deferred();
    const running = guard.run(3, () => first.promise);
    expect(guard.pending).toBe(3);
    let started = false;
    await expect(guard.run(2, async () => (started = true))).rejects.toThrow(/3 commands unanswered; 2 more would pass the limit of 4/);
    expect(started).toBe(false);
    await expect(guard.run(1, async () => 'fits')).resolves.toBe('fits');
    first.resolve('answered');
    await expect(running).resolves.toBe('answered');
    expect(guard.pending).toBe(0);
    await expect(guard.run(4, async () => 'all four')).resolves.toBe('all four');
  });

  it('times an operation out; while it stays unanswered nothing more is sent; its late answer (or failure) opens the way again', async () => {
    const guard = new RedisGuard({ label: 'redis at x', timeoutMs: 30, maxCommands: 10, ready: () => true });
    const silent = deferred();
    await expect(guard.run(1, () => silent.promise)).rejects.toThrow('redis at x did not answer within 30 ms');
    await expect(guard.run(1, async () => 'next')).rejects.toThrow(/left commands unanswered for over 30 ms/);
    silent.resolve('late');
    await Promise.resolve();
    await expect(guard.run(1, async () => 'next')).resolves.toBe('next');
    expect(guard.pending).toBe(0);
  });
});
