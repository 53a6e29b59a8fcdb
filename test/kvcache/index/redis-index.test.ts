/**
 * The Redis/Valkey index against a real redis-server (started here on a free port). If
 * redis-server is missing these tests fail with instructions — they never skip silently.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { RedisKvBlockIndex, engineRedisKey, redisClientOptions } from '../../../scheduler/kvcache/index/redis-index.js';
import { createKvBlockIndex } from '../../../scheduler/kvcache/index/config.js';
import type { KvBlockIndex } from '../../../scheduler/kvcache/index/types.js';
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
    expect((await second.lookup([1n])).get(1n)).toEqual([{ pod: 'a:1', tier: 'gpu' }]);
    expect(await second.getRequestKeys('a:1', 101n)).toEqual([1n]);
    await second.evict(101n, 'engine', [{ pod: 'a:1', tier: 'gpu' }]);
    expect((await first.lookup([1n])).size).toBe(0);
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
