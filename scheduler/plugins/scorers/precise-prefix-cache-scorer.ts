/**
 * `precise-prefix-cache-scorer`: prefers endpoints whose KV cache **actually** holds the longest
 * prefix of the request, as reported by the model servers' own KV events (ZeroMQ), instead of
 * guessing from past routing like `prefix-cache-scorer`. Design: docs/prefix-cache.md.
 *
 * Per request, once, as a DataProducer (before any profile runs):
 *   body → (chat template) → token ids (or the ids a `token-producer` published) → request keys (llm-d's cbor-fnv chain, `blockSize` tokens
 *   per block, tail dropped) → one index lookup filtered to the candidates' `ip:port` → LongestPrefix.
 * It writes `PrefixCacheMatchInfo {matchBlocks, totalBlocks, blockSizeTokens}` on every candidate,
 * with matchBlocks = the leading blocks the endpoint confirmed holding (every tier counts 1, guesses
 * not at all) — so `prefix-based-pd-decider` sees the real cached-token count for the decode pod it
 * is asked about (llm-d handed it a hit flag or a tier-weighted count instead). Because this plugin produces the match
 * info, the loader does not inject the approximate producer.
 *
 * Score (per profile): `min(1, raw / totalBlocks)` with raw = Σ best tier weight over the
 * endpoint's consecutive leading blocks (gpu 1.0, cpu 0.8); 0 when absent, when the request has no
 * full block, or when it cannot be tokenized. Category: affinity; llm-d's profiles weigh it 2–3.
 *
 * PreRequest (only with `speculativeIndexing`): records the primary and `prefill` targets as
 * holding the keys that were tokenized for `speculativeTTL`; with `speculativeTail` (default) the
 * keys of the untokenized rest follow in the background, off the decision's path.
 *
 * ResponseComplete: the pod's `usage.prompt_tokens` teaches the service's bytes-per-token estimate
 * of untokenized prompt tails, and a sample of requests the pod answered with success (2xx) is
 * checked for parity (did the pod's KV events confirm our keys?) — a rejected one was never
 * prefilled, and would read as a disagreement.
 *
 * The plugin is a thin adapter: the index, event subscriber and processor, tokenizer and
 * speculative entries belong to the PrecisePrefixCache service (scheduler/kvcache/precise/),
 * which the factory starts in the background (it is synchronous) — until it is ready every
 * endpoint scores 0, and start-up failures are logged and retried every 5 s. The EPP reports ready
 * only once `whenReady()` resolves: the service started and the tokenizers the config names loaded
 * in every worker (a tokenizer that cannot load fails start-up). `close()` releases it.
 * Every request's outcome is counted in `pd_router_precise_prefix_matches_total{outcome}`.
 *
 * Endpoint events (listed under an `endpoint-notification-source`, per-endpoint KV events only):
 * the KV-event sockets follow the source's events instead of polling the endpoint set — add/update
 * connects to `tcp://<address>:<socketPort>`, delete closes the socket (once no endpoint shares the
 * address) and clears the pod's (`ip:port`) index entries. With `zmqEndpoint` or `discoverPods:
 * false` the events are not needed and not used (as llm-d Router).
 *
 * Parameters: see scheduler/kvcache/precise/config.ts (llm-d's keys plus `tokenizer`).
 *
 * ```yaml
 * - type: precise-prefix-cache-scorer
 *   parameters:
 *     tokenProcessorConfig: {blockSize: 16}
 *     indexerConfig: {kvBlockIndexConfig: {redisConfig: {address: "redis://redis:6379"}}}
 *     kvEventsConfig: {zmqEndpoint: "tcp://*:5557"}
 *     tokenizer: {tokenizersDir: /mnt/models}
 * ```
 */
import { withSpan, type Span } from '../../../src/telemetry/tracing.js';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo, type SchedulingContext } from '../../framework/cycle-state.js';
import { EPP_TRACER } from '../../framework/director.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { DataProducer, PreRequest, ResponseComplete, ResponseInfo, Scorer, SchedulingResult, StartsUp } from '../../framework/plugins.js';
import type { PluginFactory } from '../../framework/registry.js';
import type { InferenceRequest } from '../../framework/request.js';
import type { Logger } from '../../../src/log.js';
import type { EndpointEvent, EndpointExtractor } from '../../datalayer/endpoint-events.js';
import type { KvEventProcessor } from '../../kvcache/events/processor.js';
import type { KvEventSubscriber } from '../../kvcache/events/subscriber.js';
import type { KvCacheMetrics } from '../../kvcache/index/metrics.js';
import type { KvBlockIndex } from '../../kvcache/index/types.js';
import { parsePrecisePrefixConfig, type PrecisePrefixConfig } from '../../kvcache/precise/config.js';
import type { RequestTokenizer } from '../../kvcache/precise/request-tokens.js';
import { eventSourceMode } from '../../kvcache/precise/event-sources.js';
import { FollowedEndpoints } from '../../kvcache/precise/followed-endpoints.js';
import { PrecisePrefixCache } from '../../kvcache/precise/service.js';
import type { PrecisePrefixCacheOptions, RequestMatch } from '../../kvcache/precise/service-types.js';
import { tokenizedPromptOf } from '../producers/tokenized-prompt.js';
import type { ScorerCategory } from './common.js';

export const PRECISE_PREFIX_CACHE_SCORER_TYPE = 'precise-prefix-cache-scorer';
/** llm-d hard-codes the prefill profile's name for speculative entries. */
const PREFILL_PROFILE = 'prefill';

/** Per-request cycle state under the plugin's name. */
interface RequestState {
  promise: Promise<RequestMatch>;
  match: RequestMatch | undefined;
  /** Set when a scorer ran before the match was ready (producer timed out): the late result is dropped. */
  abandoned: boolean;
}

export class PrecisePrefixCacheScorer implements Scorer, DataProducer, PreRequest, ResponseComplete, EndpointExtractor, StartsUp {
  readonly type = PRECISE_PREFIX_CACHE_SCORER_TYPE;
  readonly category: ScorerCategory = 'affinity';
  readonly produces = [PREFIX_CACHE_MATCH_INFO] as const;
  readonly cache: PrecisePrefixCache;
  /** The match of each request in flight, for the response's usage (dropped with the request). */
  private readonly matches = new WeakMap<InferenceRequest, RequestMatch>();
  private readonly logger: Logger;
  /** The endpoint set from lifecycle events, once wired to an endpoint-notification-source. */
  private followed: FollowedEndpoints | undefined;

  constructor(readonly name: string, readonly config: PrecisePrefixConfig, options: PrecisePrefixCacheOptions) {
    this.cache = new PrecisePrefixCache(config, { name, ...options });
    this.logger = options.logger;
  }

  followEndpointEvents(): void {
    if (this.followed !== undefined) return;
    if (eventSourceMode(this.config.kvEvents) !== 'per-endpoint') {
      this.logger.info({ plugin: this.name }, 'endpoint events not used: KV events come from a bound socket (zmqEndpoint) or are off (discoverPods: false)');
      return;
    }
    this.followed = new FollowedEndpoints();
    this.cache.followEndpoints(this.followed.list);
  }

  extractEndpoint(event: EndpointEvent): void {
    if (this.followed === undefined) return;
    const gone = this.followed.apply(event);
    this.cache.syncEndpoints();
    for (const pod of gone) {
      this.cache.forgetPod(pod).catch((err: unknown) => this.logger.warn({ plugin: this.name, pod, err: (err as Error).message }, 'could not clear the index entries of a removed endpoint'));
    }
  }

  /** The service's parts, for tests and diagnostics (undefined before it started). */
  get index(): KvBlockIndex | undefined { return this.cache.index; }
  get processor(): KvEventProcessor | undefined { return this.cache.writePath?.processor; }
  get subscriber(): KvEventSubscriber | undefined { return this.cache.writePath?.subscriber; }
  get boundAddress(): string | undefined { return this.cache.boundAddress; }
  get metrics(): KvCacheMetrics { return this.cache.metrics; }
  get tokenizer(): RequestTokenizer { return this.cache.tokenizer; }

  start(): Promise<void> {
    return this.cache.start();
  }

  whenReady(): Promise<void> {
    return this.cache.whenReady();
  }

  produce(ctx: SchedulingContext, request: InferenceRequest, endpoints: readonly Endpoint[]): Promise<void> {
    return this.stateFor(ctx, request, endpoints).promise.then(() => undefined);
  }

  async score(ctx: SchedulingContext, request: InferenceRequest, endpoints: readonly Endpoint[]): Promise<Map<Endpoint, number>> {
    let state = ctx.state.get(this.name) as RequestState | undefined;
    if (state === undefined) {
      // Not run as a producer (e.g. a hand-built scheduler): compute now.
      state = this.stateFor(ctx, request, ctx.candidates.length > 0 ? ctx.candidates : endpoints);
      await state.promise;
    }
    const match = state.match;
    if (match === undefined) {
      state.abandoned = true;
      ctx.logger.debug({ plugin: this.name }, 'precise prefix match not ready in time: scoring 0');
    }
    return new Map(endpoints.map((endpoint) => [endpoint, match?.scores.get(endpoint.hostPort) ?? 0]));
  }

  preRequest(ctx: SchedulingContext, _request: InferenceRequest, result: SchedulingResult): void {
    const match = (ctx.state.get(this.name) as RequestState | undefined)?.match;
    if (match === undefined || match.keys.length === 0) return;
    const pods = new Set<string>();
    for (const profile of [result.primaryProfileName, PREFILL_PROFILE]) {
      const target = result.profileResults.get(profile)?.targets[0];
      if (target) pods.add(target.hostPort);
    }
    this.cache.speculate(match, [...pods]);
  }

  /** The pod's usage.prompt_tokens teaches the tail estimate; a request answered with success may be a parity sample. */
  responseComplete(request: InferenceRequest, response: ResponseInfo, targets: readonly Endpoint[]): void {
    const match = this.matches.get(request);
    if (match === undefined) return;
    this.matches.delete(request);
    const promptTokens = response.usage?.promptTokens;
    if (promptTokens !== undefined) this.cache.observePromptTokens(match, promptTokens);
    const target = targets[0];
    const succeeded = response.completed && response.status >= 200 && response.status < 300;
    if (succeeded && target !== undefined) this.cache.checkParity(request.targetModel, target.hostPort, match);
  }

  close(): Promise<void> {
    return this.cache.close();
  }

  private stateFor(ctx: SchedulingContext, request: InferenceRequest, candidates: readonly Endpoint[]): RequestState {
    const existing = ctx.state.get(this.name) as RequestState | undefined;
    if (existing !== undefined) return existing;
    this.cache.syncEndpoints();
    const progress: Omit<RequestState, 'promise'> = { match: undefined, abandoned: false };
    const promise = this.match(request, candidates, tokenizedPromptOf(ctx)?.tokenIds).then((match) => {
      this.cache.precise.matches.inc({ outcome: progress.abandoned ? 'late' : match.outcome });
      if (!progress.abandoned) {
        progress.match = match;
        this.matches.set(request, match);
        for (const endpoint of candidates) {
          const info: PrefixCacheMatchInfo = { matchBlocks: match.cachedBlocks.get(endpoint.hostPort) ?? 0, totalBlocks: match.keys.length, blockSizeTokens: this.config.blockSize, inputTokens: match.tokenCount };
          ctx.attributes.set(endpoint, PREFIX_CACHE_MATCH_INFO, info);
        }
      }
      return match;
    });
    const state: RequestState = Object.assign(progress, { promise });
    ctx.state.set(this.name, state);
    return state;
  }

  /** The service's match in the `llm_d.epp.scorer.prefix_cache` span. Never rejects. */
  private match(request: InferenceRequest, candidates: readonly Endpoint[], tokenIds: ArrayLike<number> | undefined): Promise<RequestMatch> {
    return withSpan(EPP_TRACER, 'llm_d.epp.scorer.prefix_cache', {
      attributes: { 'llm_d.scorer.candidate_endpoints': candidates.length, 'gen_ai.request.model': request.targetModel, 'gen_ai.request.id': request.id },
    }, async (span) => {
      const endpointKeys = [...new Set(candidates.map((endpoint) => endpoint.hostPort))];
      const match = await this.cache.match(request.targetModel, request.body, endpointKeys, tokenIds);
      recordOutcome(span, match, candidates);
      return match;
    });
  }
}

function recordOutcome(span: Span, match: RequestMatch, candidates: readonly Endpoint[]): void {
  const scores = candidates.map((endpoint) => match.scores.get(endpoint.hostPort) ?? 0);
  const max = scores.reduce((a, b) => Math.max(a, b), 0);
  const avg = scores.length > 0 ? scores.reduce((a, b) => a + b, 0) / scores.length : 0;
  span.setAttributes({
    'llm_d.scorer.result': match.outcome,
    'llm_d.scorer.scores_computed': match.outcome === 'scored',
    'llm_d.scorer.score.max': max,
    'llm_d.scorer.score.avg': avg,
    'llm_d.scorer.endpoints_scored': scores.filter((score) => score > 0).length,
  });
}

export const precisePrefixCacheScorerFactory: PluginFactory = (name, parameters, handle) => {
  const config = parsePrecisePrefixConfig(parameters, handle.logger);
  const plugin = new PrecisePrefixCacheScorer(name, config, {
    logger: handle.logger,
    endpoints: () => handle.endpoints(),
    ...(handle.metrics ? { registry: handle.metrics.registry } : {}),
  });
  void plugin.start();
  return plugin;
};
