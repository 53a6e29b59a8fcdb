/**
 * `mm-embeddings-cache-producer`: remembers which endpoints recently encoded each multimodal input
 * (image, audio, video) and tells `mm-embeddings-cache-scorer` how many of a request's items each
 * endpoint likely still holds in its encoder cache.
 *
 * Produce: the request's items are the chat content parts `image_url.url`, `input_audio.data`
 * (+ format) and `video_url.url`, each identified by SHA-256 of modality + value; an item repeated
 * in one request counts once; every item has size 1. Each candidate gets
 * `EncoderCacheMatchInfo {requestItems, matchedItems}` (matched = items in that endpoint's LRU).
 * PreRequest: the primary profile's targets learn the request's items (most recent first).
 * Each endpoint has its own LRU of `cacheSizeInMBPerServer / 2` entries (2 MiB assumed per item,
 * as llm-d Router); endpoints that left the pool are forgotten lazily (checked every 2 minutes),
 * or at once when it is listed under an `endpoint-notification-source` (its delete events).
 *
 * Parameters: `cacheSizeInMBPerServer` (int, 4096; ≤ 0 → 4096). Older sample configs write
 * `cacheSizeInMB`, which llm-d Router silently ignores; pd-router reads it as the same setting.
 * Difference: multimodal hashes from a token-producer's render features are not used (the render
 * client keeps only token ids); items come from the request body.
 *
 * ```yaml
 * - type: mm-embeddings-cache-producer
 *   parameters: {cacheSizeInMBPerServer: 2048}
 * - type: mm-embeddings-cache-scorer
 * ```
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { DataProducer, PreRequest, SchedulingResult } from '../../framework/plugins.js';
import type { EndpointEvent, EndpointExtractor } from '../../datalayer/endpoint-events.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import type { InferenceRequest } from '../../framework/request.js';

export const MM_EMBEDDINGS_CACHE_PRODUCER_TYPE = 'mm-embeddings-cache-producer';
export const ENCODER_CACHE_MATCH_INFO = 'MultiModalEncoderCacheMatchInfoKey';
const DEFAULT_CACHE_MB = 4096;
const MB_PER_ITEM = 2;
const PURGE_INTERVAL_MS = 2 * 60_000;

export interface MatchItem { readonly hash: string; readonly size: number; readonly modality: 'image' | 'audio' | 'video' }
export interface EncoderCacheMatchInfo { readonly requestItems: readonly MatchItem[]; readonly matchedItems: readonly MatchItem[] }

/** The request's distinct multimodal items (chat content parts only). */
export function multimodalItems(request: InferenceRequest): MatchItem[] {
  if (request.body.api !== 'chat_completions') return [];
  const items = new Map<string, MatchItem>();
  const add = (modality: MatchItem['modality'], value: string): void => {
    const hash = createHash('sha256').update(`${modality}\0${value}`).digest('hex');
    items.set(hash, { hash, size: 1, modality });
  };
  for (const message of request.body.body.messages) {
    if (!Array.isArray(message.content)) continue;
    for (const part of message.content as Array<Record<string, unknown>>) {
      const image = (part.image_url as { url?: unknown } | undefined)?.url;
      const audio = part.input_audio as { data?: unknown; format?: unknown } | undefined;
      const video = (part.video_url as { url?: unknown } | undefined)?.url;
      if (typeof image === 'string') add('image', image);
      if (typeof audio?.data === 'string') add('audio', `${String(audio.format ?? '')}:${audio.data}`);
      if (typeof video === 'string') add('video', video);
    }
  }
  return [...items.values()];
}

/** An insertion-ordered LRU of hashes (Map order = recency). */
class HashLru {
  private readonly entries = new Map<string, true>();
  constructor(private readonly capacity: number) {}
  has(hash: string): boolean { return this.entries.has(hash); }
  add(hash: string): void {
    this.entries.delete(hash);
    this.entries.set(hash, true);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }
}

export class MmEmbeddingsCacheProducer implements DataProducer, PreRequest, EndpointExtractor {
  readonly type = MM_EMBEDDINGS_CACHE_PRODUCER_TYPE;
  readonly produces = [ENCODER_CACHE_MATCH_INFO] as const;
  private readonly caches = new Map<string, HashLru>();
  private lastPurge = Date.now();

  constructor(readonly name: string, readonly capacity: number, private readonly endpoints: () => readonly Endpoint[] = () => []) {}

  produce(ctx: SchedulingContext, request: InferenceRequest, endpoints: readonly Endpoint[]): void {
    const items = multimodalItems(request);
    ctx.state.set(this.name, items);
    for (const endpoint of endpoints) {
      const cache = this.caches.get(endpoint.name);
      const info: EncoderCacheMatchInfo = { requestItems: items, matchedItems: cache ? items.filter((item) => cache.has(item.hash)) : [] };
      ctx.attributes.set(endpoint, ENCODER_CACHE_MATCH_INFO, info);
    }
  }

  preRequest(ctx: SchedulingContext, _request: InferenceRequest, result: SchedulingResult): void {
    this.maybePurge();
    const items = ctx.state.get(this.name) as readonly MatchItem[] | undefined;
    if (!items || items.length === 0) return;
    for (const target of result.profileResults.get(result.primaryProfileName)?.targets ?? []) {
      let cache = this.caches.get(target.name);
      if (!cache) this.caches.set(target.name, cache = new HashLru(this.capacity));
      for (const item of items) cache.add(item.hash);
    }
  }

  /** Under an endpoint-notification-source: a removed endpoint's cache is dropped at once. */
  extractEndpoint(event: EndpointEvent): void {
    if (event.type === 'delete') this.caches.delete(event.endpoint.name);
  }

  private maybePurge(): void {
    if (Date.now() - this.lastPurge < PURGE_INTERVAL_MS) return;
    this.lastPurge = Date.now();
    const current = this.endpoints();
    if (current.length === 0) return;
    const active = new Set(current.map((e) => e.name));
    for (const name of this.caches.keys()) if (!active.has(name)) this.caches.delete(name);
  }
}

const Parameters = z.object({ cacheSizeInMBPerServer: z.number().int().nullish(), cacheSizeInMB: z.number().int().nullish() });

export const mmEmbeddingsCacheProducerFactory: PluginFactory = (name, parameters, handle) => {
  const p = parseParameters(Parameters, parameters);
  const mb = p.cacheSizeInMBPerServer ?? p.cacheSizeInMB ?? DEFAULT_CACHE_MB;
  return new MmEmbeddingsCacheProducer(name, Math.max(1, Math.floor((mb > 0 ? mb : DEFAULT_CACHE_MB) / MB_PER_ITEM)), () => handle.endpoints());
};
