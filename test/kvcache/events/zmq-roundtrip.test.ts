/**
 * End to end over real ZeroMQ: the simulator's KV cache → ZmqKvEventPublisher → KvEventSubscriber
 * → KvEventProcessor → index → LongestPrefix, once over the in-memory index and once over a real
 * redis-server; in global-bind mode (EPP binds, simulator connects) and per-endpoint mode
 * (simulator binds, EPP connects).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { blockKeys, rootKey } from '../../../src/kvblock/keys.js';
import { KvCache } from '../../../src/sim/kv-cache.js';
import { ZmqKvEventPublisher, kvEventsTopic } from '../../../src/sim/kv-events-publisher.js';
import { KvEventProcessor } from '../../../scheduler/kvcache/events/processor.js';
import { KvEventSubscriber } from '../../../scheduler/kvcache/events/subscriber.js';
import { matchLongestPrefix } from '../../../scheduler/kvcache/index/longest-prefix.js';
import { MemoryKvBlockIndex } from '../../../scheduler/kvcache/index/memory-index.js';
import { KvCacheMetrics } from '../../../scheduler/kvcache/index/metrics.js';
import { RedisKvBlockIndex } from '../../../scheduler/kvcache/index/redis-index.js';
import type { KvBlockIndex } from '../../../scheduler/kvcache/index/types.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis.js';
import { MODEL, metricValue, range, waitFor } from './helpers.js';

const POD = '127.0.0.1:8000';
const BLOCK = 16;
const root = rootKey('', MODEL);
const keysOf = (tokens: number[]): bigint[] => blockKeys(tokens, BLOCK, root);

let redis: RedisServer | undefined;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

interface Stack {
  index: KvBlockIndex;
  registry: Registry;
  processor: KvEventProcessor;
  subscriber: KvEventSubscriber;
  publisher: ZmqKvEventPublisher;
  seqs: bigint[];
}
let stack: Stack | undefined;

afterEach(async () => {
  if (stack === undefined) return;
  await stack.publisher.close();
  await stack.subscriber.close();
  await stack.processor.close();
  await stack.index.close();
  stack = undefined;
});

async function build(indexKind: 'memory' | 'redis', mode: 'global-bind' | 'per-endpoint'): Promise<Stack> {
  const index = indexKind === 'memory' ? new MemoryKvBlockIndex() : await RedisKvBlockIndex.connect({ address: redis!.url });
  if (indexKind === 'redis') for (const pod of [POD]) await index.clear(pod); // the server is shared by this file's tests
  const registry = new Registry();
  const metrics = new KvCacheMetrics(registry);
  const processor = new KvEventProcessor({ index, blockSize: BLOCK, metrics });
  const seqs: bigint[] = [];
  const subscriber = new KvEventSubscriber({
    metrics,
    onMessage: (message) => {
      seqs.push(message.seq);
      processor.submit(message);
    },
  });
  const topic = kvEventsTopic('127.0.0.1', 8000, MODEL);
  let publisher: ZmqKvEventPublisher;
  if (mode === 'global-bind') {
    const endpoint = await subscriber.bind('tcp://127.0.0.1:*');
    publisher = await ZmqKvEventPublisher.open({ endpoint, topic, flushIntervalMs: 20 });
  } else {
    publisher = await ZmqKvEventPublisher.open({ endpoint: 'tcp://127.0.0.1:*', bind: true, topic, flushIntervalMs: 20 });
    subscriber.setEndpoint('sim-pod', publisher.endpoint);
  }
  stack = { index, registry, processor, subscriber, publisher, seqs };
  // PUB drops messages until the subscription has reached it ("slow joiner"): send harmless
  // AllBlocksCleared batches until one is applied, instead of sleeping a fixed time.
  await waitFor(async () => {
    publisher.allCleared();
    publisher.flush();
    await new Promise((resolve) => setTimeout(resolve, 20));
    return (await metricValue(registry, 'llm_d_kv_cache_events_processed_total', { type: 'AllBlocksCleared' })) > 0;
  }, 'the subscription to reach the publisher');
  await processor.drain();
  return stack;
}

describe.each([
  ['memory', 'global-bind'],
  ['memory', 'per-endpoint'],
  ['redis', 'global-bind'],
  ['redis', 'per-endpoint'],
] as const)('ZMQ round trip: %s index, %s mode', (indexKind, mode) => {
  it('follows a simulated cache: stores, chained stores, evictions and a clear', async () => {
    const { index, publisher, seqs, registry } = await build(indexKind, mode);
    const kv = new KvCache({ capacity: 4, blockSize: BLOCK, hashSeed: '', loadedModels: [MODEL], sink: publisher });
    const first = range(1, 48);
    const second = range(1, 64); // extends the first: one new block whose parent is block 3
    const other = range(5000, 64);

    kv.admit('r1', first, MODEL);
    await waitFor(async () => (await index.lookup(keysOf(first))).length === 3, 'the first prompt to be indexed');
    kv.admit('r2', second, MODEL);
    await waitFor(async () => (await index.lookup(keysOf(second))).length === 4, 'the chained block to be indexed');
    const match = await matchLongestPrefix(index, keysOf(second), [POD, '127.0.0.2:8000']);
    expect(match.scores).toEqual(new Map([[POD, 1], ['127.0.0.2:8000', 0]]));

    kv.release('r1');
    kv.release('r2');
    kv.admit('r3', other, MODEL); // evicts the four idle blocks, oldest first
    await waitFor(async () => (await index.lookup(keysOf(other))).length === 4, 'the third prompt to be indexed');
    await waitFor(async () => (await index.lookup(keysOf(second))).length === 0, 'the evicted blocks to leave the index');

    kv.discard(); // /sleep → AllBlocksCleared
    await waitFor(async () => (await index.size()) === 0, 'AllBlocksCleared to empty the index');

    // Once subscribed, every batch arrives in order: consecutive sequence numbers up to the last sent.
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1n);
    expect(seqs.at(-1)).toBe(publisher.lastSequence);
    expect(await metricValue(registry, 'llm_d_kv_cache_events_dropped_total')).toBe(0);
  });
});
