/**
 * The Redis/Valkey index against a real redis-server (started here on a free port). If
 * redis-server is missing these tests fail with instructions — they never skip silently.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { RedisKvBlockIndex, engineRedisKey, redisClientOptions } from '../../../scheduler/kvcache/index/redis-index.js';
import { createKvBlockIndex } from '../../../scheduler/kvcache/index/config.js';
import type { KvBlockIndex } from '../../../scheduler/kvcache/index/types.js';
import { settleWithin } from '../../../src/deadline.js';
import { poll } from '../../helpers/poll.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis.js';
import { describeIndexSuite } from './index-suite.js';

let server: RedisServer;
let admin: ReturnType<typeof createClient>;
const opened: KvBlockIndex[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  admin = createClient({ url: server.url });
  await admin.connect();
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((index) => index.close()));
});

afterAll(async () => {
  await admin?.close();
  await server?.stop();
});

async function open(): Promise<RedisKvBlockIndex> {
  const index = await RedisKvBlockIndex.connect({ address: server.url });
  opened.push(index);
  return index;
}

describeIndexSuite('redis', {
  create: async () => {
    await admin.flushDb();
    return open();
  },
});

describe('RedisKvBlockIndex specifics', () => {
  it("writes llm-d's key schema: HASH per decimal request key, per-pod engine ZSET scored by position", async () => {
    await admin.flushDb();
    const index = await open();
    const big = (1n << 64n) - 5n;
    await index.add([big], [11n, 12n], [{ pod: '10.0.0.1:8000', tier: 'gpu' }]);
    await index.add(null, [11n], [{ pod: '10.0.0.2:8000', tier: '', speculative: true }]);
    expect((await admin.hKeys('11')).sort()).toEqual(['10.0.0.1:8000@gpu', '10.0.0.2:8000@[speculative]']);
    expect(await admin.hGet('11', '10.0.0.1:8000@gpu')).toBe('');
    const engineKey = engineRedisKey('10.0.0.1:8000', big);
    expect(engineKey).toBe('engine:10.0.0.1:8000:18446744073709551611');
    expect(await admin.zRangeWithScores(engineKey, 0, -1)).toEqual([
      { value: '11', score: 0 },
      { value: '12', score: 1 },
    ]);
    expect(await admin.ttl('11')).toBe(-1); // no TTLs
  });

  it('two index instances over one Redis (two EPP replicas) see each other\'s writes', async () => {
    await admin.flushDb();
    const first = await open();
    const second = await open();
    await first.add([101n], [1n], [{ pod: 'a:1', tier: 'gpu' }]);
    expect((await second.lookup([1n]))[0]).toEqual([{ pod: 'a:1', tier: 'gpu' }]);
    expect(await second.getRequestKeys('a:1', 101n)).toEqual([1n]);
    await second.evict(101n, 'engine', [{ pod: 'a:1', tier: 'gpu' }]);
    expect((await first.lookup([1n])).length).toBe(0);
    await second.add([7n], [2n], [{ pod: 'b:1', tier: 'gpu' }]);
    await first.clear('b:1');
    expect(await second.size()).toBe(0);
  });

  it('clear(pod) escapes glob characters in the pod id (bracketed IPv6)', async () => {
    await admin.flushDb();
    const index = await open();
    await index.add([1n], [1n], [{ pod: '[fd00::1]:8000', tier: 'gpu' }]);
    await index.add([1n], [1n], [{ pod: '[fd00::2]:8000', tier: 'gpu' }]);
    await index.clear('[fd00::1]:8000');
    expect(await index.getRequestKeys('[fd00::1]:8000', 1n)).toEqual([]);
    expect(await index.getRequestKeys('[fd00::2]:8000', 1n)).toEqual([1n]);
  });

  it('is chosen by redisConfig / valkeyConfig (valkey:// is the Redis protocol)', async () => {
    await admin.flushDb();
    const index = await createKvBlockIndex({ valkeyConfig: { address: server.url.replace('redis://', 'valkey://') } });
    opened.push(index);
    expect(index).toBeInstanceOf(RedisKvBlockIndex);
    await index.add(null, [5n], [{ pod: 'a:1', tier: 'gpu' }]);
    expect(await admin.exists('5')).toBe(1);
  });

  it('while the server is away operations fail at once instead of queueing, and succeed again once it is back', async () => {
    const own = await startRedisServer();
    let back: RedisServer | undefined;
    const index = await RedisKvBlockIndex.connect({ address: own.url });
    const entry = { pod: 'a:1', tier: 'gpu' };
    // Each call gets 1 s: a call still pending then was queued for the server's return.
    const bounded = <T>(call: () => Promise<T>): Promise<T> => settleWithin(call(), 1000, () => new Error('still pending after 1 s'));
    try {
      await index.add([9n], [1n], [entry]);
      expect((await index.lookup([1n]))[0]).toEqual([entry]);
      await own.stop();
      await poll(() => bounded(() => index.lookup([1n])).then(() => false, (err: Error) => !/still pending/.test(err.message)), {
        what: 'a lookup failing while redis-server is stopped',
      });
      const calls = await Promise.allSettled([
        bounded(() => index.add([10n], [2n], [entry])),
        bounded(() => index.lookup([1n, 2n])),
        bounded(() => index.getRequestKeys('a:1', 9n)),
        bounded(() => index.evict(1n, 'request', [entry])),
        bounded(() => index.size()),
      ]);
      for (const call of calls) {
        expect(call.status).toBe('rejected');
        expect(String((call as PromiseRejectedResult).reason)).not.toMatch(/still pending/);
      }
      back = await startRedisServer({ port: own.port });
      await poll(() => bounded(() => index.add([10n], [2n], [entry])).then(() => true), { what: 'writes succeeding once redis-server is back' });
      expect((await index.lookup([2n]))[0]).toEqual([entry]);
      expect((await index.lookup([1n])).length).toBe(0); // the restarted server kept nothing (no persistence)
    } finally {
      await index.close();
      await back?.stop();
      await own.stop();
    }
  });

  it('a server that stops answering (paused) fails operations within 5 s, gets no more commands while overdue, has its connection replaced, and is used again once it answers', { timeout: 60_000 }, async () => {
    const own = await startRedisServer();
    const index = await RedisKvBlockIndex.connect({ address: own.url });
    const entry = { pod: 'a:1', tier: 'gpu' };
    const bounded = <T>(call: () => Promise<T>): Promise<T> => settleWithin(call(), 8000, () => new Error('still pending after 8 s'));
    try {
      await index.add([9n], [1n], [entry]);
      own.pause();
      const started = Date.now();
      const calls = await Promise.allSettled([
        bounded(() => index.lookup([1n])),
        bounded(() => index.add([10n], [2n], [entry])),
        bounded(() => index.getRequestKeys('a:1', 9n)),
        bounded(() => index.evict(1n, 'request', [entry])),
        bounded(() => index.size()),
      ]);
      for (const call of calls) {
        expect(call.status).toBe('rejected');
        expect(String((call as PromiseRejectedResult).reason)).toMatch(/did not answer within 5000 ms/);
      }
      expect(Date.now() - started).toBeLessThan(7000);
      // Overdue commands: the next operation is refused without being sent.
      const refused = Date.now();
      await expect(index.lookup([1n])).rejects.toThrow(/unanswered|unreachable/);
      expect(Date.now() - refused).toBeLessThan(1000);
      // Nothing read or written for 5 s: the silent connection is closed (what was queued on it
      // fails) and a new one is being opened, to a server that still does not answer.
      await poll(() => index.lookup([1n]).then(() => false, (err: Error) => /unreachable \(reconnecting\)/.test(err.message)), {
        what: 'the silent connection being replaced',
      });
      own.resume();
      await poll(() => bounded(() => index.add([11n], [3n], [entry])).then(() => true), {
        what: 'writes answered again after the server resumed',
        timeoutMs: 30_000,
        intervalMs: 200,
      });
      expect((await index.lookup([3n]))[0]).toEqual([entry]);
      // Closing while the server is silent again ends within the 5 s bound (a graceful close
      // would wait for the pending PING's answer for ever).
      own.pause();
      await new Promise((resolve) => setTimeout(resolve, 1500)); // a PING is now unanswered
      await expect(settleWithin(index.close(), 8000, () => new Error('close still pending after 8 s'))).resolves.toBeUndefined();
    } finally {
      await index.close();
      await own.stop();
    }
  });

  it('fails to connect with the backend and address in the message', async () => {
    await expect(RedisKvBlockIndex.connect({ address: 'redis://127.0.0.1:1', backendType: 'valkey' })).rejects.toThrow(
      /failed to connect to valkey at redis:\/\/127\.0\.0\.1:1/,
    );
  });
});

describe('redis address forms', () => {
  it('maps valkey schemes, bare host:port and unix sockets', () => {
    expect(redisClientOptions('redis://h:1')).toEqual({ url: 'redis://h:1' });
    expect(redisClientOptions('rediss://h:1')).toEqual({ url: 'rediss://h:1' });
    expect(redisClientOptions('valkey://h:1/2')).toEqual({ url: 'redis://h:1/2' });
    expect(redisClientOptions('valkeys://h:1')).toEqual({ url: 'rediss://h:1' });
    expect(redisClientOptions('h:6379')).toEqual({ url: 'redis://h:6379' });
    expect(redisClientOptions('unix:///var/run/redis.sock')).toEqual({ socket: { path: '/var/run/redis.sock', tls: false } });
    expect(redisClientOptions('unix:///tmp/r.sock?db=3')).toEqual({ socket: { path: '/tmp/r.sock', tls: false }, database: 3 });
  });
});
