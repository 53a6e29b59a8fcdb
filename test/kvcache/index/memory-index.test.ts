import { describe, expect, it } from 'vitest';
import { MemoryKvBlockIndex } from '../../../scheduler/kvcache/index/memory-index.js';
import { MAX_MAP_ENTRIES } from '../../../src/lru.js';
import { BlockKeyLru } from '../../../scheduler/kvcache/index/block-key-lru.js';
import { createKvBlockIndex, resolveIndexBackend } from '../../../scheduler/kvcache/index/config.js';
import { describeIndexSuite } from './index-suite.js';

describeIndexSuite('in-memory', { create: async () => new MemoryKvBlockIndex() });

const gpu = (pod: string) => ({ pod, tier: 'gpu' });

describe('MemoryKvBlockIndex caps (inMemoryConfig)', () => {
  it('size bounds the request keys; the least recently used key goes first', async () => {
    const index = new MemoryKvBlockIndex({ size: 3 });
    await index.add(null, [1n, 2n, 3n], [gpu('a:1')]);
    await index.lookup([1n]); // 1 becomes the most recent; 2 is now the oldest
    await index.add(null, [4n], [gpu('a:1')]);
    expect(await index.size()).toBe(3);
    expect((await index.lookup([2n])).length).toBe(0);
    expect((await index.lookup([1n])).length).toBe(1);
    expect((await index.lookup([3n, 4n])).length).toBe(2);
  });

  it('podCacheSize bounds entries per key; the 11th distinct entry pushes out the least recently added', async () => {
    const index = new MemoryKvBlockIndex();
    for (let i = 0; i < 10; i++) await index.add(null, [1n], [gpu(`10.0.0.${i}:8000`)]);
    await index.add(null, [1n], [gpu('10.0.0.0:8000')]); // re-adding refreshes pod 0
    await index.add(null, [1n], [gpu('10.0.0.10:8000')]);
    const pods = (await index.lookup([1n]))[0]!.map((e) => e.pod);
    expect(pods).toHaveLength(10);
    expect(pods).not.toContain('10.0.0.1:8000');
    expect(pods).toContain('10.0.0.0:8000');
    expect(pods).toContain('10.0.0.10:8000');
  });

  it('a small podCacheSize counts tiers and speculative entries as distinct entries', async () => {
    const index = new MemoryKvBlockIndex({ podCacheSize: 2 });
    await index.add(null, [1n], [gpu('a:1'), { pod: 'a:1', tier: 'cpu' }, { pod: 'a:1', tier: '', speculative: true }]);
    expect((await index.lookup([1n]))[0]).toEqual([{ pod: 'a:1', tier: 'cpu' }, { pod: 'a:1', tier: '', speculative: true }]);
  });

  it('one entry, several, back to one and none: lookups, evictions and clear agree at each step', async () => {
    const index = new MemoryKvBlockIndex({ podCacheSize: 3 });
    const cpu = (pod: string) => ({ pod, tier: 'cpu' });
    await index.add(null, [1n, 2n], [gpu('a:1')]);
    await index.add(null, [1n], [gpu('a:1')]); // same entry again: still one
    expect((await index.lookup([1n]))[0]).toEqual([gpu('a:1')]);
    await index.add(null, [1n], [cpu('a:1'), gpu('b:2')]);
    expect((await index.lookup([1n]))[0]).toEqual([gpu('a:1'), cpu('a:1'), gpu('b:2')]);
    await index.add(null, [1n], [gpu('a:1')]); // refresh: a:1@gpu becomes the newest
    await index.add(null, [1n], [gpu('c:3')]); // the oldest (a:1@cpu) goes
    expect((await index.lookup([1n]))[0]).toEqual([gpu('b:2'), gpu('a:1'), gpu('c:3')]);
    expect((await index.lookup([1n], new Set(['c:3'])))[0]).toEqual([gpu('c:3')]);
    await index.evict(1n, 'request', [gpu('b:2'), gpu('c:3')]);
    expect((await index.lookup([1n]))[0]).toEqual([gpu('a:1')]);
    await index.evict(2n, 'request', [cpu('a:1')]); // another tier: the key keeps its entry
    expect((await index.lookup([2n]))[0]).toEqual([gpu('a:1')]);
    expect((await index.lookup([2n], new Set(['b:2']))).length).toBe(0);
    await index.add(null, [2n], [{ pod: 'a:1', tier: 'gpu', speculative: true }]);
    await index.clear('a:1');
    expect(await index.size()).toBe(0);
  });

  it('rejects non-positive caps', () => {
    expect(() => new MemoryKvBlockIndex({ size: 0 })).toThrow(/positive/);
    expect(() => new MemoryKvBlockIndex({ podCacheSize: -1 })).toThrow(/positive/);
  });

  it('clamps capacities (no unbounded typed arrays)', () => {
    expect(new BlockKeyLru(100_000_000).capacity).toBe(MAX_MAP_ENTRIES);
  });
});

describe('kvBlockIndexConfig', () => {
  it('defaults to the in-memory index and reads its caps', async () => {
    expect(resolveIndexBackend(undefined)).toEqual({ kind: 'memory', config: {} });
    expect(resolveIndexBackend({ inMemoryConfig: { size: 5, podCacheSize: 2 } })).toEqual({ kind: 'memory', config: { size: 5, podCacheSize: 2 } });
    const index = await createKvBlockIndex({ inMemoryConfig: { size: 5 } });
    expect(index).toBeInstanceOf(MemoryKvBlockIndex);
    await index.close();
  });

  it('prefers valkey, then redis, over in-memory; null disables a backend', () => {
    expect(resolveIndexBackend({ inMemoryConfig: { size: 5 }, redisConfig: { address: 'r:1' } })).toMatchObject({ kind: 'redis', config: { address: 'r:1', backendType: 'redis' } });
    expect(resolveIndexBackend({ redisConfig: { address: 'r:1' }, valkeyConfig: {} })).toMatchObject({ kind: 'redis', config: { address: 'valkey://127.0.0.1:6379', backendType: 'valkey' } });
    expect(resolveIndexBackend({ redisConfig: null, inMemoryConfig: {} })).toEqual({ kind: 'memory', config: {} });
  });

  it('fails with the YAML path on bad or unsupported settings', () => {
    expect(() => resolveIndexBackend({ inMemoryConfig: { size: '1e8' } })).toThrow('indexerConfig.kvBlockIndexConfig.inMemoryConfig.size must be a positive integer');
    expect(() => resolveIndexBackend({ inMemoryConfig: { sise: 1 } })).toThrow('inMemoryConfig.sise is not a known field');
    expect(() => resolveIndexBackend({ costAwareMemoryConfig: { size: '2GiB' } })).toThrow(/costAwareMemoryConfig is not supported/);
    expect(() => resolveIndexBackend({ redisConfig: { address: '' } })).toThrow('redisConfig.address must be a non-empty string');
    expect(() => resolveIndexBackend({ bogus: 1 }, 'x')).toThrow('x.bogus is not a known field');
  });
});
