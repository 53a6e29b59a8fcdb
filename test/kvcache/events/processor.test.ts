import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { blockKeys, rootKey } from '../../../src/kvblock/keys.js';
import { KvEventProcessor, fnv1a32 } from '../../../scheduler/kvcache/events/processor.js';
import { MemoryKvBlockIndex } from '../../../scheduler/kvcache/index/memory-index.js';
import { KvCacheMetrics } from '../../../scheduler/kvcache/index/metrics.js';
import type { BlockKey, KeyType, KvBlockIndex, PodEntry } from '../../../scheduler/kvcache/index/types.js';
import { MODEL, message, metricValue, range, removed, stored } from './helpers.js';

const A = '10.0.0.1:8000';
const B = '10.0.0.2:8000';
const ROOT = rootKey('', MODEL);
const TOKENS = range(1000, 128);
/** Canonical request keys of the first `n` tokens at block size `bs`. */
const keysOf = (n: number, bs: number, tokens = TOKENS, root = ROOT): BlockKey[] => blockKeys(tokens.slice(0, n), bs, root);
const hashes = (from: number, count: number): bigint[] => range(from, count).map(BigInt);

let registry: Registry;
let metrics: KvCacheMetrics;
let index: MemoryKvBlockIndex;
let processor: KvEventProcessor;

function newProcessor(blockSize: number, target: KvBlockIndex = index, extra: { maxQueuedPerShard?: number } = {}): KvEventProcessor {
  processor = new KvEventProcessor({ index: target, blockSize, metrics, ...extra });
  return processor;
}

async function podsAt(keys: BlockKey[]): Promise<string[][]> {
  const found = await index.lookup(keys);
  return keys.map((_key, i) => (found[i] ?? []).map((e) => `${e.pod}@${e.tier}`).sort());
}

beforeEach(() => {
  registry = new Registry();
  metrics = new KvCacheMetrics(registry);
  index = new MemoryKvBlockIndex();
});

afterEach(async () => {
  await processor?.close();
  await index.close();
});

describe('BlockStored → canonical request keys', () => {
  it('1:1 — engine block size equals the canonical one', async () => {
    newProcessor(16);
    processor.submit(message(A, [stored(hashes(1, 2), null, TOKENS.slice(0, 32), 16)]));
    await processor.drain();
    const keys = keysOf(32, 16);
    expect(await podsAt(keys)).toEqual([[`${A}@gpu`], [`${A}@gpu`]]);
    expect(await index.getRequestKeys(A, 2n)).toEqual([keys[1]]);
    expect(await metricValue(registry, 'llm_d_kv_cache_events_processed_total', { type: 'BlockStored' })).toBe(1);
  });

  it('many:1 (16 → 64) — every engine key maps to the one request key; evicting any one removes it', async () => {
    newProcessor(64);
    processor.submit(message(A, [stored(hashes(1, 4), null, TOKENS.slice(0, 64), 16)]));
    await processor.drain();
    const [key] = keysOf(64, 64);
    for (const engineKey of hashes(1, 4)) expect(await index.getRequestKeys(A, engineKey)).toEqual([key]);
    processor.submit(message(A, [removed([3n])]));
    await processor.drain();
    expect((await index.lookup([key!])).length).toBe(0);
  });

  it('1:many (128 → 64) — one engine key maps to two request keys; the last continues chains', async () => {
    newProcessor(64);
    processor.submit(message(A, [stored([9n], null, TOKENS, 128)]));
    await processor.drain();
    const keys = keysOf(128, 64);
    expect(await index.getRequestKeys(A, 9n)).toEqual(keys);
    processor.submit(message(A, [removed([9n])]));
    await processor.drain();
    expect(await index.size()).toBe(0);
  });

  it('engines with block sizes 16 and 32 storing the same 128 tokens yield the same 2 canonical keys', async () => {
    newProcessor(64);
    processor.submit(message(A, [stored(hashes(100, 8), null, TOKENS, 16)]));
    processor.submit(message(B, [stored(hashes(200, 4), null, TOKENS, 32)]));
    await processor.drain();
    expect(await index.size()).toBe(2);
    expect(await podsAt(keysOf(128, 64))).toEqual([[`${A}@gpu`, `${B}@gpu`], [`${A}@gpu`, `${B}@gpu`]]);
  });

  it('48 tokens at canonical 64 → nothing indexed (counted as no_full_block)', async () => {
    newProcessor(64);
    processor.submit(message(A, [stored(hashes(1, 3), null, TOKENS.slice(0, 48), 16)]));
    await processor.drain();
    expect(await index.size()).toBe(0);
    expect(await metricValue(registry, 'llm_d_kv_cache_events_dropped_total', { reason: 'no_full_block' })).toBe(1);
  });

  it('continues the chain from the parent engine key: two events equal one long prompt', async () => {
    newProcessor(16);
    processor.submit(message(A, [stored(hashes(1, 4), null, TOKENS.slice(0, 64), 16)]));
    processor.submit(message(A, [stored(hashes(5, 4), 4n, TOKENS.slice(64, 128), 16)]));
    await processor.drain();
    const keys = keysOf(128, 16);
    expect((await index.lookup(keys)).length).toBe(8);
    expect(await index.getRequestKeys(A, 8n)).toEqual([keys[7]]);
  });

  it('drops an event whose parent is unknown for that pod (and its descendants)', async () => {
    newProcessor(16);
    processor.submit(message(A, [stored(hashes(5, 2), 4n, TOKENS.slice(64, 96), 16)]));
    processor.submit(message(A, [stored(hashes(7, 1), 6n, TOKENS.slice(96, 112), 16)]));
    await processor.drain();
    expect(await index.size()).toBe(0);
    expect(await metricValue(registry, 'llm_d_kv_cache_events_dropped_total', { reason: 'parent_not_found' })).toBe(2);
  });

  it('keys LoRA blocks by lora_name and lower-cases the tier (absent → gpu)', async () => {
    newProcessor(16);
    processor.submit(message(A, [stored([1n], null, TOKENS.slice(0, 16), 16, 'CPU', 'adapter-1'), ['BlockStored', [2n], null, TOKENS.slice(16, 32), 16]]));
    await processor.drain();
    expect(await podsAt(keysOf(16, 16, TOKENS, rootKey('', 'adapter-1')))).toEqual([[`${A}@cpu`]]);
    expect(await podsAt(keysOf(16, 16, TOKENS.slice(16)))).toEqual([[`${A}@gpu`]]);
  });

  it('a token-less BlockStored (CPU offload) adds the pod on the new tier for known engine keys', async () => {
    newProcessor(16);
    processor.submit(message(A, [stored(hashes(1, 2), null, TOKENS.slice(0, 32), 16)]));
    processor.submit(message(A, [stored(hashes(1, 2), null, [], 16, 'CPU')]));
    processor.submit(message(A, [removed(hashes(1, 2), 'GPU')]));
    await processor.drain();
    expect(await podsAt(keysOf(32, 16))).toEqual([[`${A}@cpu`], [`${A}@cpu`]]);
  });
});

describe('per-pod state', () => {
  it('keeps the engine map per pod: the same engine hash on two pods, one evicts, the other still chains and evicts', async () => {
    newProcessor(16);
    for (const pod of [A, B]) processor.submit(message(pod, [stored(hashes(1, 2), null, TOKENS.slice(0, 32), 16)]));
    processor.submit(message(A, [removed([2n])]));
    processor.submit(message(B, [stored([3n], 2n, TOKENS.slice(32, 48), 16)]));
    await processor.drain();
    const keys = keysOf(48, 16);
    expect(await podsAt(keys)).toEqual([[`${A}@gpu`, `${B}@gpu`], [`${B}@gpu`], [`${B}@gpu`]]);
    processor.submit(message(B, [removed([2n, 3n])]));
    await processor.drain();
    expect(await podsAt([keys[0]!])).toEqual([[`${A}@gpu`, `${B}@gpu`]]);
    expect((await index.lookup(keys.slice(1))).length).toBe(0);
  });

  it('AllBlocksCleared clears that pod only', async () => {
    newProcessor(16);
    for (const pod of [A, B]) processor.submit(message(pod, [stored(hashes(1, 2), null, TOKENS.slice(0, 32), 16)]));
    processor.submit(message(A, [['AllBlocksCleared']]));
    await processor.drain();
    expect(await podsAt(keysOf(32, 16))).toEqual([[`${B}@gpu`], [`${B}@gpu`]]);
    expect(await index.getRequestKeys(A, 1n)).toEqual([]);
    expect(await metricValue(registry, 'llm_d_kv_cache_events_processed_total', { type: 'AllBlocksCleared' })).toBe(1);
  });

  it('applies each pod’s events in order when pods interleave over a slow index', async () => {
    const log = new Map<string, string[]>();
    const slow = new SlowIndex(index, (pod, op) => log.set(pod, [...(log.get(pod) ?? []), op]));
    newProcessor(16, slow);
    const pods = range(1, 6).map((i) => `10.1.0.${i}:8000`);
    const expected = new Map<string, string[]>();
    for (let round = 0; round < 6; round++) {
      for (const pod of pods) {
        const engineKey = BigInt(round + 1);
        const events = round % 2 === 0 ? [stored([engineKey], null, TOKENS.slice(round * 16, round * 16 + 16), 16)] : [removed([BigInt(round)])];
        processor.submit(message(pod, events));
        expected.set(pod, [...(expected.get(pod) ?? []), round % 2 === 0 ? `add:${engineKey}` : `evict:${round}`]);
      }
    }
    await processor.drain();
    for (const pod of pods) expect(log.get(pod)).toEqual(expected.get(pod));
    expect(await index.size()).toBe(0); // every stored block was removed again, in order
  });

  it('shards by FNV-1a-32 of the pod id', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
  });
});

describe('bad input', () => {
  it('counts bad topics, undecodable payloads and skipped events, and applies the rest', async () => {
    newProcessor(16);
    expect(processor.submit({ ...message(A, []), topic: 'kv@only-pod' })).toBe(false);
    processor.submit({ ...message(A, []), payload: Uint8Array.from([0xc1]) });
    processor.submit(message(A, [['BlockSwapped'], stored([1n], null, TOKENS.slice(0, 16), 16), ['BlockRemoved']]));
    await processor.drain();
    expect(await index.size()).toBe(1);
    for (const reason of ['bad_topic', 'decode_error', 'unknown_event', 'malformed_event']) {
      expect(await metricValue(registry, 'llm_d_kv_cache_events_dropped_total', { reason })).toBe(1);
    }
  });

  it('drops messages beyond the per-shard queue limit instead of growing without bound', async () => {
    const gate = new SlowIndex(index, () => {});
    gate.hold();
    processor = new KvEventProcessor({ index: gate, blockSize: 16, metrics, concurrency: 1, maxQueuedPerShard: 1 });
    expect(processor.submit(message(A, [stored([1n], null, TOKENS.slice(0, 16), 16)]))).toBe(true); // running
    expect(processor.submit(message(A, [stored([2n], 1n, TOKENS.slice(16, 32), 16)]))).toBe(true); // queued
    expect(processor.submit(message(B, [stored([3n], null, TOKENS.slice(0, 16), 16)]))).toBe(false);
    gate.release();
    await processor.drain();
    expect(await metricValue(registry, 'llm_d_kv_cache_events_dropped_total', { reason: 'queue_full' })).toBe(1);
    expect(await index.size()).toBe(2);
  });

  it('counts index failures and keeps going', async () => {
    const failing = new SlowIndex(index, () => {});
    failing.failAdds = true;
    newProcessor(16, failing);
    processor.submit(message(A, [stored([1n], null, TOKENS.slice(0, 16), 16), ['AllBlocksCleared']]));
    await processor.drain();
    expect(await metricValue(registry, 'llm_d_kv_cache_events_dropped_total', { reason: 'index_error' })).toBe(1);
    expect(await metricValue(registry, 'llm_d_kv_cache_events_processed_total', { type: 'AllBlocksCleared' })).toBe(1);
  });
});

/** Wraps an index: every mutation waits a varying number of event-loop turns, can be held, can fail. */
class SlowIndex implements KvBlockIndex {
  private turn = 0;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  failAdds = false;

  constructor(
    private readonly inner: KvBlockIndex,
    private readonly record: (pod: string, op: string) => void,
  ) {}

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  private async pause(): Promise<void> {
    if (this.gate !== undefined) await this.gate;
    const turns = (this.turn++ * 7) % 5; // deterministic, uneven delays
    for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
  }

  lookup(keys: readonly BlockKey[], filter?: ReadonlySet<string>): Promise<PodEntry[][]> {
    return this.inner.lookup(keys, filter);
  }

  async add(engineKeys: readonly BlockKey[] | null, requestKeys: readonly BlockKey[], entries: readonly PodEntry[]): Promise<void> {
    await this.pause();
    if (this.failAdds) throw new Error('index unavailable');
    this.record(entries[0]!.pod, `add:${engineKeys?.join(',')}`);
    await this.inner.add(engineKeys, requestKeys, entries);
  }

  async evict(key: BlockKey, keyType: KeyType, entries: readonly PodEntry[]): Promise<void> {
    await this.pause();
    this.record(entries[0]!.pod, `evict:${key}`);
    await this.inner.evict(key, keyType, entries);
  }

  async getRequestKeys(pod: string, engineKey: BlockKey): Promise<BlockKey[]> {
    await this.pause();
    return this.inner.getRequestKeys(pod, engineKey);
  }

  async clear(pod: string): Promise<void> {
    await this.pause();
    this.record(pod, 'clear');
    await this.inner.clear(pod);
  }

  size(): Promise<number> {
    return this.inner.size();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
