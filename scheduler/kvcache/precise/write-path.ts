/**
 * The KV-event write path of the precise prefix cache: model servers' ZeroMQ KV events → decoded
 * and keyed by the event processor → the index. It owns the subscriber (sockets), the processor
 * (per-pod ordered queues) and the event sources (which sockets: one bound SUB, one per endpoint,
 * or none — see event-sources.ts). The index belongs to the caller.
 *
 * `start()` binds or connects; `close()` stops polling, closes the sockets, then drains the
 * processor so no event is applied after it resolves.
 */
import type { Logger } from '../../../src/log.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { KvEventsConfig } from '../events/config.js';
import { KvEventProcessor } from '../events/processor.js';
import { KvEventSubscriber } from '../events/subscriber.js';
import type { KvCacheMetrics } from '../index/metrics.js';
import type { KvBlockIndex } from '../index/types.js';
import { KvEventSources } from './event-sources.js';

export interface KvEventWritePathOptions {
  index: KvBlockIndex;
  blockSize: number;
  hashSeed: string;
  events: KvEventsConfig;
  metrics: KvCacheMetrics;
  logger: Logger;
  /** The EPP's endpoint set (per-endpoint mode). */
  endpoints: () => readonly Endpoint[];
  /** Per-endpoint mode background poll (default 1000 ms). */
  pollIntervalMs?: number;
}

export class KvEventWritePath {
  readonly processor: KvEventProcessor;
  readonly subscriber: KvEventSubscriber;
  readonly sources: KvEventSources;

  constructor(options: KvEventWritePathOptions) {
    const { index, blockSize, hashSeed, events, metrics, logger } = options;
    this.processor = new KvEventProcessor({ index, blockSize, hashSeed, concurrency: events.concurrency, metrics, logger });
    const processor = this.processor;
    this.subscriber = new KvEventSubscriber({ onMessage: (message) => void processor.submit(message), topicFilter: events.topicFilter, metrics, logger });
    this.sources = new KvEventSources({ config: events, subscriber: this.subscriber, endpoints: options.endpoints, pollIntervalMs: options.pollIntervalMs, logger });
  }

  /** Binds (global mode: resolves to the bound address) or connects to the endpoints. */
  start(): Promise<string | undefined> {
    return this.sources.start();
  }

  /** Per-endpoint mode: follows a changed endpoint set (cheap when unchanged). */
  sync(): void {
    this.sources.sync();
  }

  async close(): Promise<void> {
    this.sources.stop();
    await this.subscriber.close();
    await this.processor.close();
  }
}
