import { describe, expect, it } from 'vitest';
import { OpenAIError } from '../../src/openai/errors.js';
import { blockKeys, rootKey } from '../../src/kvblock/keys.js';
import { CAPACITY_ERROR, KvCache } from '../../src/sim/kv-cache.js';
import { RecordingKvEventSink } from '../../src/sim/kv-events.js';

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

function cache(capacity: number, options: { blockSize?: number; loaded?: string[] } = {}) {
  const sink = new RecordingKvEventSink();
  const kv = new KvCache({ capacity, blockSize: options.blockSize ?? 4, hashSeed: '', loadedModels: options.loaded ?? ['m'], sink });
  return { kv, sink };
}

describe('KV cache admission', () => {
  it('new prompt: one BlockStored with all full blocks, no parent, concatenated tokens; tail ignored', () => {
    const { kv, sink } = cache(10);
    const tokens = range(1, 10);
    const admission = kv.admit('r1', tokens, 'm');
    expect(admission).toEqual({ cachedBlocks: 0, cachedTokens: 0, queriedTokens: 10 });
    expect(sink.events).toEqual([{
      type: 'BlockStored',
      blockHashes: blockKeys(tokens, 4, rootKey('', 'm')),
      parentBlockHash: null,
      tokenIds: range(1, 8),
      blockSize: 4,
      loraId: null,
      loraName: null,
      medium: 'GPU',
    }]);
    expect(kv.usedBlocks).toBe(2);
    expect(kv.usage).toBeCloseTo(0.2);
  });

  it('same prompt again: cached = ⌊n/bs⌋·bs, and no new BlockStored', () => {
    const { kv, sink } = cache(10);
    const tokens = range(1, 11);
    kv.admit('r1', tokens, 'm');
    kv.release('r1');
    expect(kv.usage).toBe(0);
    expect(kv.idleBlocks).toBe(2);
    sink.clear();
    expect(kv.admit('r2', tokens, 'm').cachedTokens).toBe(8);
    expect(sink.events).toEqual([]);
    expect(kv.usedBlocks).toBe(2);
  });

  it('a longer prompt stores only its new blocks, parented on the last cached one', () => {
    const { kv, sink } = cache(10);
    const keys = kv.keysFor(range(1, 16), 'm');
    kv.admit('r1', range(1, 8), 'm');
    sink.clear();
    expect(kv.admit('r2', range(1, 16), 'm').cachedBlocks).toBe(2);
    expect(sink.events).toEqual([expect.objectContaining({ blockHashes: keys.slice(2), parentBlockHash: keys[1], tokenIds: range(9, 8) })]);
  });

  it('blocks in use are shared: refcounts, and release only idles them at 0', () => {
    const { kv } = cache(10);
    const [key] = kv.keysFor(range(1, 4), 'm');
    kv.admit('a', range(1, 4), 'm');
    expect(kv.admit('b', range(1, 4), 'm').cachedTokens).toBe(4);
    expect(kv.blockInfo(key!, 'm')).toEqual({ present: true, refCount: 2 });
    kv.release('a');
    expect(kv.blockInfo(key!, 'm')).toEqual({ present: true, refCount: 1 });
    expect(kv.usedBlocks).toBe(1);
    kv.release('b');
    expect(kv.blockInfo(key!, 'm')).toEqual({ present: true, refCount: 0 });
    expect(kv.usedBlocks).toBe(0);
    kv.release('b');
    expect(kv.idleBlocks).toBe(1);
  });

  it('counts every cached block, not only a contiguous prefix; can equal the whole prompt', () => {
    const { kv } = cache(10);
    const tokens = range(1, 12);
    kv.admit('full', tokens, 'm');
    expect(kv.admit('again', tokens, 'm').cachedTokens).toBe(12);
  });

  it('models never share blocks (LoRA vs base)', () => {
    const { kv, sink } = cache(10);
    kv.admit('a', range(1, 4), 'm');
    expect(kv.admit('b', range(1, 4), 'lora-1', { id: 1, name: 'lora-1' }).cachedTokens).toBe(0);
    expect(sink.events[1]).toMatchObject({ loraId: 1, loraName: 'lora-1', blockHashes: kv.keysFor(range(1, 4), 'lora-1') });
  });

  it('fails with 500 when used + new + revived blocks exceed the capacity, changing nothing', () => {
    const { kv, sink } = cache(3);
    kv.admit('a', range(1, 8), 'm');
    let error: unknown;
    try {
      kv.admit('b', range(100, 8), 'm');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(OpenAIError);
    expect(error).toMatchObject({ status: 500, message: CAPACITY_ERROR, type: 'InternalServerError' });
    expect(kv.usedBlocks).toBe(2);
    expect(sink.events).toHaveLength(1);
    expect(kv.activeRequests).toBe(1);
  });

  it('rejects a duplicate running request id with 500', () => {
    const { kv } = cache(10);
    kv.admit('same', range(1, 4), 'm');
    expect(() => kv.admit('same', range(1, 4), 'm')).toThrow(/request already exists/);
    kv.release('same');
    expect(() => kv.admit('same', range(1, 4), 'm')).not.toThrow();
  });
});

describe('eviction', () => {
  it('fills capacity with idle prompts, then evicts oldest-released first, one BlockRemoved per block', () => {
    const { kv, sink } = cache(4);
    const first = kv.keysFor(range(1, 8), 'm');
    const second = kv.keysFor(range(101, 8), 'm');
    kv.admit('a', range(1, 8), 'm');
    kv.admit('b', range(101, 8), 'm');
    kv.release('a');
    kv.release('b');
    sink.clear();
    const third = kv.keysFor(range(201, 12), 'm');
    kv.admit('c', range(201, 12), 'm');
    expect(sink.events.map((event) => event.type)).toEqual(['BlockRemoved', 'BlockRemoved', 'BlockRemoved', 'BlockStored']);
    expect(sink.ofType('BlockRemoved').map((event) => event.blockHashes)).toEqual([[first[0]], [first[1]], [second[0]]]);
    expect(sink.ofType('BlockStored')[0]!.blockHashes).toEqual(third);
    expect(kv.blockInfo(second[1]!, 'm').present).toBe(true);
    expect(kv.blockInfo(first[0]!, 'm').present).toBe(false);
  });

  it('revived blocks move to the end of the eviction order', () => {
    const { kv, sink } = cache(3);
    kv.admit('a', range(1, 4), 'm');
    kv.release('a');
    kv.admit('b', range(101, 4), 'm');
    kv.release('b');
    kv.admit('a2', range(1, 4), 'm');
    kv.release('a2');
    sink.clear();
    kv.admit('c', range(201, 8), 'm');
    expect(sink.ofType('BlockRemoved').map((event) => event.blockHashes[0])).toEqual([kv.keysFor(range(101, 4), 'm')[0]]);
  });

  it('prefers idle blocks of models that are not loaded (idle LoRAs)', () => {
    const { kv, sink } = cache(2, { loaded: ['m'] });
    kv.admit('base', range(1, 4), 'm');
    kv.release('base');
    kv.setModelLoaded('lora');
    kv.admit('lora', range(1, 4), 'lora');
    kv.release('lora');
    kv.setModelUnloaded('lora');
    sink.clear();
    kv.admit('new', range(50, 4), 'm');
    expect(sink.ofType('BlockRemoved')[0]!.blockHashes).toEqual(kv.keysFor(range(1, 4), 'lora'));
    expect(kv.blockInfo(kv.keysFor(range(1, 4), 'm')[0]!, 'm').present).toBe(true);
  });
});

describe('sleep: discard and activate', () => {
  it('clears everything, emits AllBlocksCleared, and admits nothing until activated', () => {
    const { kv, sink } = cache(10);
    kv.admit('a', range(1, 8), 'm');
    kv.discard();
    expect(sink.events.at(-1)).toEqual({ type: 'AllBlocksCleared' });
    expect(kv.usedBlocks).toBe(0);
    expect(kv.admit('b', range(1, 8), 'm').cachedTokens).toBe(0);
    expect(kv.usedBlocks).toBe(0);
    kv.release('a');
    kv.activate();
    expect(kv.admit('c', range(1, 8), 'm').cachedTokens).toBe(0);
    expect(kv.usedBlocks).toBe(2);
  });
});
