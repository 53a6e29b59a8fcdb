/**
 * Applies KV events to the index (the write path; docs/prefix-cache.md).
 *
 * Ordering: messages are sharded by FNV-1a-32(pod) mod `concurrency` onto FIFO queues run one task
 * at a time, so one pod's events apply in arrival order even over a remote index; pods on
 * different shards proceed concurrently. There is no cross-pod ordering (none is needed).
 *
 * BlockStored: request keys are recomputed from `token_ids` at the canonical block size (llm-d's
 * cbor-fnv chain, keyed by the LoRA name when present, else the topic's model), continuing from
 * the parent's request key, and recorded for the pod (tier = lower-cased `medium`, default "gpu")
 * together with the pod's engine→request mapping (ratio pairing, done by the index).
 *   - Parent not mapped for this pod (EPP restarted, events lost, P/D transfer): the event is
 *     **dropped** (KVC-0.8's behaviour, counted as parent_not_found). Continuing from the root
 *     instead would hash these tokens as if they began a prompt: such keys never equal a real
 *     request's keys except by accident — and an accident is a false hit that routes to a pod
 *     without the cache. So they cost memory at best and mis-route at worst; their descendants are
 *     dropped in turn, and the pod's next request from block 0 re-seeds the chain.
 *   - Fewer tokens than one canonical block: nothing to index (no_full_block) — except an event
 *     with no tokens at all (CPU offload, KVC-HEAD), which re-adds the pod's existing request keys
 *     for those engine keys under the new tier.
 * BlockRemoved: every engine key is evicted for (pod, tier). AllBlocksCleared: the pod is cleared
 * from the index, all tiers (KVC-HEAD #626).
 */
import { blockKeys, RootKeys, type BlockKey } from '../../../src/kvblock/keys.js';
import type { Logger } from '../../../src/log.js';
import type { KvCacheMetrics, DropReason } from '../index/metrics.js';
import type { KvBlockIndex, PodEntry } from '../index/types.js';
import { decodeEventBatch, parseTopic } from './decode.js';
import { canonicalExtras } from './extra-keys.js';
import { ShardQueue } from './shard-queue.js';
import {
  KvEventDecodeError,
  type BlockRemovedEvent,
  type BlockStoredEvent,
  type EventBatch,
  type KvCacheEvent,
  type RawKvMessage,
} from './types.js';

export interface KvEventProcessorOptions {
  index: KvBlockIndex;
  /** Canonical block size in tokens (`tokenProcessorConfig.blockSize`); must equal the read path's. */
  blockSize: number;
  /** `tokenProcessorConfig.hashSeed` (default ""). */
  hashSeed?: string;
  /** Shards = ordered workers (`kvEventsConfig.concurrency`, default 4). */
  concurrency?: number;
  /** Messages queued per shard before new ones are dropped (default 10000). */
  maxQueuedPerShard?: number;
  metrics?: KvCacheMetrics;
  logger?: Logger;
}

export const DEFAULT_TIER = 'gpu';

/** FNV-1a 32-bit over UTF-8: the same shard function as upstream, so a pod always lands on one worker. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash >>> 0;
}

export class KvEventProcessor {
  private readonly index: KvBlockIndex;
  private readonly blockSize: number;
  private readonly roots: RootKeys;
  private readonly shards: ShardQueue[];
  private readonly metrics: KvCacheMetrics | undefined;
  private readonly logger: Logger | undefined;
  private closed = false;

  constructor(options: KvEventProcessorOptions) {
    if (!Number.isInteger(options.blockSize) || options.blockSize <= 0) throw new RangeError(`blockSize ${options.blockSize} must be a positive integer`);
    const concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency <= 0) throw new RangeError(`concurrency ${concurrency} must be a positive integer`);
    this.index = options.index;
    this.blockSize = options.blockSize;
    this.roots = new RootKeys(options.hashSeed ?? '');
    this.metrics = options.metrics;
    this.logger = options.logger;
    const limit = options.maxQueuedPerShard ?? 10_000;
    this.shards = Array.from({ length: concurrency }, () => new ShardQueue(limit, (err) => this.logger?.error({ err }, 'kv event task failed')));
  }

  /** Queues a message on its pod's shard. False when it was dropped (bad topic, full queue, closed). */
  submit(message: RawKvMessage): boolean {
    if (this.closed) return false;
    const topic = parseTopic(message.topic);
    if (topic === undefined) {
      this.drop('bad_topic', { topic: message.topic, source: message.source });
      return false;
    }
    const shard = this.shards[fnv1a32(topic.pod) % this.shards.length]!;
    const queued = shard.push(() => this.process(topic.pod, topic.model, message));
    if (!queued) this.drop('queue_full', { pod: topic.pod });
    return queued;
  }

  /** Resolves when everything submitted so far has been applied (tests, shutdown). */
  async drain(): Promise<void> {
    // A task may not enqueue more work, so one pass over the shards suffices.
    await Promise.all(this.shards.map((shard) => shard.idle()));
  }

  /** Stops accepting messages and waits for queued ones. The index is the caller's to close. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drain();
  }

  private async process(pod: string, model: string, message: RawKvMessage): Promise<void> {
    let batch: EventBatch;
    try {
      batch = decodeEventBatch(message.payload);
    } catch (err) {
      if (!(err instanceof KvEventDecodeError)) throw err;
      this.drop('decode_error', { pod, seq: message.seq.toString(), err: err.message });
      return;
    }
    for (const skipped of batch.skipped) {
      this.drop(skipped.kind === 'unknown_event' ? 'unknown_event' : 'malformed_event', { pod, err: skipped.message });
    }
    for (const event of batch.events) {
      try {
        await this.apply(pod, model, event);
      } catch (err) {
        this.drop('index_error', { pod, event: event.type, err: (err as Error).message });
      }
    }
  }

  private async apply(pod: string, model: string, event: KvCacheEvent): Promise<void> {
    switch (event.type) {
      case 'BlockStored':
        return this.blockStored(pod, model, event);
      case 'BlockRemoved':
        return this.blockRemoved(pod, event);
      case 'AllBlocksCleared':
        await this.index.clear(pod);
        this.metrics?.processed('AllBlocksCleared');
        return;
    }
  }

  private async blockStored(pod: string, model: string, event: BlockStoredEvent): Promise<void> {
    const entry: PodEntry = { pod, tier: tierOf(event.medium) };
    let parent: BlockKey;
    if (event.parentBlockHash !== null) {
      const mapped = await this.index.getRequestKeys(pod, event.parentBlockHash);
      if (mapped.length === 0) {
        this.drop('parent_not_found', { pod, parent: event.parentBlockHash.toString() });
        return;
      }
      parent = mapped[mapped.length - 1]!;
    } else {
      parent = this.roots.get(event.loraName !== null && event.loraName !== '' ? event.loraName : model);
    }
    const canonicalCount = Math.floor(event.tokenIds.length / this.blockSize);
    const requestKeys = blockKeys(event.tokenIds, this.blockSize, parent, canonicalExtras(event.extraKeys, canonicalCount));
    if (requestKeys.length === 0) {
      if (event.tokenIds.length === 0 && event.blockHashes.length > 0) {
        await this.tierUpdate(pod, event.blockHashes, entry);
        return;
      }
      this.drop('no_full_block', { pod, tokens: event.tokenIds.length });
      return;
    }
    if (event.blockHashes.length === 0) {
      this.drop('malformed_event', { pod, err: 'BlockStored with tokens but no block hashes' });
      return;
    }
    await this.index.add(event.blockHashes, requestKeys, [entry]);
    this.metrics?.processed('BlockStored');
  }

  /** A token-less BlockStored (offload to another tier): the same blocks, now also on `entry.tier`. */
  private async tierUpdate(pod: string, engineKeys: readonly BlockKey[], entry: PodEntry): Promise<void> {
    const requestKeys = new Set<BlockKey>();
    for (const engineKey of engineKeys) for (const key of await this.index.getRequestKeys(pod, engineKey)) requestKeys.add(key);
    if (requestKeys.size === 0) {
      this.drop('parent_not_found', { pod, reason: 'tier update for unknown engine keys' });
      return;
    }
    await this.index.add(null, [...requestKeys], [entry]);
    this.metrics?.processed('BlockStored');
  }

  private async blockRemoved(pod: string, event: BlockRemovedEvent): Promise<void> {
    const entries: PodEntry[] = [{ pod, tier: tierOf(event.medium) }];
    for (const engineKey of event.blockHashes) await this.index.evict(engineKey, 'engine', entries);
    this.metrics?.processed('BlockRemoved');
  }

  private drop(reason: DropReason, details: Record<string, unknown>): void {
    this.metrics?.dropped(reason);
    this.logger?.debug({ reason, ...details }, 'kv event dropped');
  }
}

/** `medium` lower-cased; absent → "gpu" (KVM-0.4; KVC-0.8's "GPU" default missed the weight table). */
function tierOf(medium: string | null): string {
  return medium === null || medium === '' ? DEFAULT_TIER : medium.toLowerCase();
}
