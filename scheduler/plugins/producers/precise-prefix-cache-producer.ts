/**
 * `precise-prefix-cache-producer`: llm-d Router's producer half of precise prefix caching. It owns
 * the KV-block index fed by the model servers' KV events (the PrecisePrefixCache service,
 * scheduler/kvcache/precise/) and writes `PrefixCacheMatchInfo {matchBlocks, totalBlocks,
 * blockSizeTokens}` on every candidate; the generic `prefix-cache-scorer` (pointed at it with
 * `prefixMatchInfoProducerName`) turns that into `matchBlocks / totalBlocks`, and
 * `prefix-based-pd-decider` / `no-hit-lru-scorer` read the same info.
 *
 * Per request: the `TokenizedPrompt` of a `token-producer` when one ran (it is ordered first),
 * else the service's own in-process tokenizer → block keys (`tokenProcessorConfig.blockSize`
 * tokens per block, tail dropped) → index lookup over the candidates → matchBlocks = the leading
 * blocks each endpoint's events confirmed. PreRequest with `speculativeIndexing`: the chosen primary
 * and `prefill` targets are recorded as holding the keys for `speculativeTTL` (with `speculativeTail`,
 * also the keys of the untokenized rest, in the background).
 *
 * Parameters: exactly those of `precise-prefix-cache-scorer` (scheduler/kvcache/precise/config.ts:
 * `tokenProcessorConfig` {blockSize | blockSizeTokens, hashSeed}, `indexerConfig`
 * {kvBlockIndexConfig, kvCacheBackendConfigs}, `kvEventsConfig`, `speculativeIndexing`,
 * `speculativeTTL`, and pd-router's `speculativeTail` / `tokenizer` / `tokenizerPool` / `parity`).
 * Listed under an `endpoint-notification-source` (llm-d Router's samples do), its per-endpoint
 * KV-event sockets follow that source's add/delete events (see precise-prefix-cache-scorer.ts).
 * Differences from llm-d Router: without a token-producer it still works (it tokenizes itself)
 * instead of producing nothing; without a notification source it still follows the pool by
 * polling the endpoint set (llm-d Router subscribes to no pod then).
 *
 * ```yaml
 * - type: token-producer
 *   parameters: {modelName: Qwen/Qwen3-8B}
 * - type: precise-prefix-cache-producer
 *   parameters: {tokenProcessorConfig: {blockSize: 16}, kvEventsConfig: {zmqEndpoint: "tcp://*:5557"}}
 * - type: prefix-cache-scorer
 *   parameters: {prefixMatchInfoProducerName: precise-prefix-cache-producer}
 * ```
 */
import type { EndpointEvent, EndpointExtractor } from '../../datalayer/endpoint-events.js';
import { PREFIX_CACHE_MATCH_INFO, type SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { ConsumesAttributes, DataProducer, PreRequest, ResponseComplete, ResponseInfo, SchedulingResult, StartsUp } from '../../framework/plugins.js';
import type { PluginFactory } from '../../framework/registry.js';
import type { InferenceRequest } from '../../framework/request.js';
import type { PrecisePrefixCache } from '../../kvcache/precise/service.js';
import { precisePrefixCacheScorerFactory, type PrecisePrefixCacheScorer } from '../scorers/precise-prefix-cache-scorer.js';
import { TOKENIZED_PROMPT } from './tokenized-prompt.js';

export const PRECISE_PREFIX_CACHE_PRODUCER_TYPE = 'precise-prefix-cache-producer';

export class PrecisePrefixCacheProducer implements DataProducer, PreRequest, ResponseComplete, ConsumesAttributes, EndpointExtractor, StartsUp {
  readonly type = PRECISE_PREFIX_CACHE_PRODUCER_TYPE;
  readonly produces = [PREFIX_CACHE_MATCH_INFO] as const;
  /** Read when present (orders a token-producer first); absent is fine, see the header. */
  readonly consumes = [TOKENIZED_PROMPT] as const;

  /** `inner` does the work; this type exposes it as a producer only (no score). */
  constructor(readonly name: string, private readonly inner: PrecisePrefixCacheScorer) {}

  get cache(): PrecisePrefixCache { return this.inner.cache; }

  start(): Promise<void> { return this.inner.start(); }
  whenReady(): Promise<void> { return this.inner.whenReady(); }

  produce(ctx: SchedulingContext, request: InferenceRequest, endpoints: readonly Endpoint[]): Promise<void> {
    return this.inner.produce(ctx, request, endpoints);
  }

  preRequest(ctx: SchedulingContext, request: InferenceRequest, result: SchedulingResult): void {
    this.inner.preRequest(ctx, request, result);
  }

  responseComplete(request: InferenceRequest, response: ResponseInfo, targets: readonly Endpoint[]): void {
    this.inner.responseComplete(request, response, targets);
  }

  followEndpointEvents(): void { this.inner.followEndpointEvents(); }

  extractEndpoint(event: EndpointEvent): void { this.inner.extractEndpoint(event); }

  close(): Promise<void> { return this.inner.close(); }
}

export const precisePrefixCacheProducerFactory: PluginFactory = (name, parameters, handle) =>
  new PrecisePrefixCacheProducer(name, precisePrefixCacheScorerFactory(name, parameters, handle) as PrecisePrefixCacheScorer);
