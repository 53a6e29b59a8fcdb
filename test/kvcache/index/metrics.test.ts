import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { KvCacheMetrics, instrumentIndex } from '../../../scheduler/kvcache/index/metrics.js';
import { MemoryKvBlockIndex } from '../../../scheduler/kvcache/index/memory-index.js';

describe('KvCacheMetrics', () => {
  it('counts lookups, hits and matched blocks, and reports the index size on scrape', async () => {
    const registry = new Registry();
    const metrics = new KvCacheMetrics(registry);
    const index = instrumentIndex(new MemoryKvBlockIndex(), metrics);
    await index.add([1n, 2n], [10n, 20n], [{ pod: 'a:1', tier: 'gpu' }]);
    await index.lookup([10n, 20n, 30n]);
    await index.lookup([30n]);
    const text = await registry.metrics();
    expect(text).toContain('llm_d_kv_cache_index_size 2');
    expect(text).toContain('llm_d_kv_cache_index_lookups_total 2');
    expect(text).toContain('llm_d_kv_cache_index_lookup_hits_total 1');
    expect(text).toContain('llm_d_kv_cache_index_lookup_blocks_total 2');
    expect(await index.getRequestKeys('a:1', 2n)).toEqual([20n]);
    await index.close();
  });

  it('labels processed events by type and drops by reason', async () => {
    const registry = new Registry();
    const metrics = new KvCacheMetrics(registry);
    metrics.processed('BlockStored');
    metrics.dropped('parent_not_found', 2);
    const text = await registry.metrics();
    expect(text).toContain('llm_d_kv_cache_events_processed_total{type="BlockStored"} 1');
    expect(text).toContain('llm_d_kv_cache_events_dropped_total{reason="parent_not_found"} 2');
    expect(text).toContain('llm_d_kv_cache_events_messages_received_total 0');
  });
});
