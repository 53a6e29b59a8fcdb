/**
 * Prometheus metrics of the precise prefix cache, registered on a Registry the caller owns (the
 * EPP's). Names and what they count:
 *
 *   llm_d_kv_cache_index_size                       gauge    request keys in the index, read on scrape
 *                                                            (memory: O(1); Redis: a SCAN of the database)
 *   llm_d_kv_cache_index_lookups_total              counter  index lookups
 *   llm_d_kv_cache_index_lookup_hits_total          counter  lookups whose first block was found
 *   llm_d_kv_cache_index_lookup_blocks_total        counter  leading blocks found, summed over lookups
 *   llm_d_kv_cache_events_messages_received_total   counter  ZMQ messages received (before validation)
 *   llm_d_kv_cache_events_processed_total{type}     counter  events applied: BlockStored | BlockRemoved | AllBlocksCleared
 *   llm_d_kv_cache_events_dropped_total{reason}     counter  messages or events not applied, by reason (DropReason)
 *
 * "No events arriving" (the most common misconfiguration, docs/prefix-cache.md) shows as a flat
 * messages_received counter; a wrong topic or encoding as dropped{reason=bad_topic|decode_error}.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BlockKey, KeyType, KvBlockIndex, PodEntry } from './types.js';

/**
 * Why a message (m) or an event (e) was not applied:
 *   bad_frames (m)        not exactly 3 frames
 *   bad_sequence (m)      sequence frame not 8 bytes
 *   bad_topic (m)         topic not `kv@<pod>@<model>`
 *   decode_error (m)      payload is not a msgpack event batch
 *   queue_full (m)        the pod's shard queue is at its limit (the index cannot keep up)
 *   unknown_event (e)     unknown event tag (newer engine)
 *   malformed_event (e)   an event with missing or mistyped fields
 *   parent_not_found (e)  BlockStored whose parent engine key is not mapped for that pod
 *   no_full_block (e)     BlockStored with fewer tokens than one canonical block
 *   index_error (e)       the index rejected the operation (e.g. Redis unreachable)
 */
export type DropReason =
  | 'bad_frames'
  | 'bad_sequence'
  | 'bad_topic'
  | 'decode_error'
  | 'queue_full'
  | 'unknown_event'
  | 'malformed_event'
  | 'parent_not_found'
  | 'no_full_block'
  | 'index_error';

export type ProcessedEventType = 'BlockStored' | 'BlockRemoved' | 'AllBlocksCleared';

export class KvCacheMetrics {
  readonly indexSize: Gauge;
  readonly lookups: Counter;
  readonly lookupHits: Counter;
  readonly lookupBlocks: Counter;
  readonly messagesReceived: Counter;
  readonly eventsProcessed: Counter<'type'>;
  readonly eventsDropped: Counter<'reason'>;
  private sizeSource: (() => Promise<number>) | undefined;

  constructor(registry: Registry) {
    const registers = [registry];
    const metrics = this;
    this.indexSize = new Gauge({
      name: 'llm_d_kv_cache_index_size',
      help: 'Request keys (KV blocks) in the prefix-cache index.',
      registers,
      async collect() {
        if (metrics.sizeSource !== undefined) this.set(await metrics.sizeSource());
      },
    });
    this.lookups = new Counter({ name: 'llm_d_kv_cache_index_lookups_total', help: 'Prefix-cache index lookups.', registers });
    this.lookupHits = new Counter({ name: 'llm_d_kv_cache_index_lookup_hits_total', help: 'Index lookups that found at least the first block.', registers });
    this.lookupBlocks = new Counter({ name: 'llm_d_kv_cache_index_lookup_blocks_total', help: 'Leading blocks found by index lookups.', registers });
    this.messagesReceived = new Counter({ name: 'llm_d_kv_cache_events_messages_received_total', help: 'KV-event ZMQ messages received.', registers });
    this.eventsProcessed = new Counter({ name: 'llm_d_kv_cache_events_processed_total', help: 'KV events applied to the index, by type.', labelNames: ['type'], registers });
    this.eventsDropped = new Counter({ name: 'llm_d_kv_cache_events_dropped_total', help: 'KV-event messages or events not applied, by reason.', labelNames: ['reason'], registers });
  }

  /** Reports this index's size on every scrape. */
  observeIndex(index: KvBlockIndex): void {
    this.sizeSource = () => index.size();
  }

  processed(type: ProcessedEventType): void {
    this.eventsProcessed.inc({ type });
  }

  dropped(reason: DropReason, count = 1): void {
    this.eventsDropped.inc({ reason }, count);
  }
}

/** Wraps an index so lookups are counted; every other call passes through. */
export function instrumentIndex(index: KvBlockIndex, metrics: KvCacheMetrics): KvBlockIndex {
  metrics.observeIndex(index);
  return {
    async lookup(requestKeys: readonly BlockKey[], podFilter?: ReadonlySet<string>): Promise<PodEntry[][]> {
      const found = await index.lookup(requestKeys, podFilter);
      metrics.lookups.inc();
      if (found.length > 0) {
        metrics.lookupHits.inc();
        metrics.lookupBlocks.inc(found.length);
      }
      return found;
    },
    add: (engineKeys: readonly BlockKey[] | null, requestKeys: readonly BlockKey[], entries: readonly PodEntry[]) =>
      index.add(engineKeys, requestKeys, entries),
    evict: (key: BlockKey, keyType: KeyType, entries: readonly PodEntry[]) => index.evict(key, keyType, entries),
    getRequestKeys: (pod: string, engineKey: BlockKey) => index.getRequestKeys(pod, engineKey),
    clear: (pod: string) => index.clear(pod),
    size: () => index.size(),
    close: () => index.close(),
  };
}

/** One KvCacheMetrics per registry: a second precise cache shares the first one's series. */
const metricsByRegistry = new WeakMap<Registry, KvCacheMetrics>();

export function kvCacheMetrics(registry: Registry): KvCacheMetrics {
  let metrics = metricsByRegistry.get(registry);
  if (metrics === undefined) {
    metrics = new KvCacheMetrics(registry);
    metricsByRegistry.set(registry, metrics);
  }
  return metrics;
}
