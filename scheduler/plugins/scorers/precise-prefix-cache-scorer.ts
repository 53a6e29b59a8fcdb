/**
 * `precise-prefix-cache-scorer`: prefers endpoints whose KV cache **actually** holds the longest
 * prefix of the request, as reported by the model servers' own KV events (ZeroMQ), instead of
 * guessing from past routing like `prefix-cache-scorer`. Spec: prefix-cache.md; docs:
 * docs/prefix-cache.md "The precise-prefix-cache-scorer".
 *
 * Per request, once, as a DataProducer (before any profile runs):
 *   body → (chat template) → token ids → request keys (llm-d's cbor-fnv chain, `blockSize` tokens
 *   per block, tail dropped) → one index lookup filtered to the candidates' `ip:port` → LongestPrefix.
 * It writes `PrefixCacheMatchInfo {matchBlocks, totalBlocks, blockSizeTokens}` on every candidate,
 * with matchBlocks = the leading blocks the endpoint confirmed holding (every tier counts 1, guesses
 * not at all) — so `prefix-based-pd-decider` sees the real cached-token count for the decode pod it
 * is asked about (upstream broke this: llm-d/llm-d#1466). Because this plugin produces the match
 * info, the loader does not inject the approximate producer.
 *
 * Score (per profile): `min(1, raw / totalBlocks)` with raw = Σ best tier weight over the
 * endpoint's consecutive leading blocks (gpu 1.0, cpu 0.8); 0 when absent, when the request has no
 * full block, or when it cannot be tokenized. Category: affinity; llm-d's profiles weigh it 2–3.
 *
 * PreRequest (only with `speculativeIndexing`): records the primary and `prefill` targets as
 * holding the keys for `speculativeTTL`.
 *
 * The plugin owns its index (memory or Redis), event subscriber, event processor and tokenizer;
 * they start in the background (the factory is synchronous) — until then every endpoint scores 0
 * — and start-up failures (Redis unreachable, address in use) are logged and retried every 5 s.
 * `close()` releases everything.
 *
 * Parameters: see scheduler/kvcache/precise/config.ts (llm-d's §8 keys plus `tokenizer`).
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
import { Registry } from 'prom-client';
import { RootKeys, blockKeys } from '../../../src/kvblock/keys.js';
import type { Logger } from '../../../src/log.js';
import { withSpan, type Span } from '../../../src/telemetry/tracing.js';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo, type SchedulingContext } from '../../framework/cycle-state.js';
import { EPP_TRACER } from '../../framework/director.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { DataProducer, PreRequest, Scorer, SchedulingResult } from '../../framework/plugins.js';
import type { PluginFactory } from '../../framework/registry.js';
import type { InferenceRequest } from '../../framework/request.js';
import { KvEventProcessor } from '../../kvcache/events/processor.js';
import { KvEventSubscriber } from '../../kvcache/events/subscriber.js';
import { createKvBlockIndex } from '../../kvcache/index/config.js';
import { KvCacheMetrics, instrumentIndex } from '../../kvcache/index/metrics.js';
import type { KvBlockIndex } from '../../kvcache/index/types.js';
import { parsePrecisePrefixConfig, type PrecisePrefixConfig } from '../../kvcache/precise/config.js';
import { KvEventSources } from '../../kvcache/precise/event-sources.js';
import { KV_CACHE_TRACER, matchPrefix, type PrefixMatchResult } from '../../kvcache/precise/read-path.js';
import { createRequestTokenizer, type RequestTokenizer } from '../../kvcache/precise/request-tokens.js';
import { SpeculativeEntries } from '../../kvcache/precise/speculative.js';
import type { ScorerCategory } from './common.js';

export const PRECISE_PREFIX_CACHE_SCORER_TYPE = 'precise-prefix-cache-scorer';
/** llm-d hard-codes the prefill profile's name for speculative entries. */
const PREFILL_PROFILE = 'prefill';
const START_RETRY_MS = 5000;

/** Why a request got no prefix scores (span attribute `llm_d.scorer.result`). */
type MatchOutcome = 'scored' | 'index_not_ready' | 'tokenization_failed' | 'no_full_block' | 'lookup_failed';

interface RequestMatch extends PrefixMatchResult {
  readonly outcome: MatchOutcome;
  /** Prompt tokens, when the request was tokenized. */
  readonly tokenCount?: number;
}

/** Per-request cycle state under the plugin's name. */
interface RequestState {
  promise: Promise<RequestMatch>;
  match: RequestMatch | undefined;
  /** Set when a scorer ran before the match was ready (producer timed out): the late result is dropped. */
  abandoned: boolean;
}

interface Running {
  readonly index: KvBlockIndex;
  readonly processor: KvEventProcessor;
  readonly subscriber: KvEventSubscriber;
  readonly sources: KvEventSources;
  readonly speculative: SpeculativeEntries | undefined;
}

export interface PrecisePrefixCacheOptions {
  logger: Logger;
  /** The EPP's endpoint set (per-endpoint event mode). */
  endpoints?: () => readonly Endpoint[];
  /** Where the llm_d_kv_cache_* metrics go (default: a private registry). */
  registry?: Registry;
  /** Use this index instead of building one from the config (tests); it is closed with the plugin. */
  index?: KvBlockIndex;
  tokenizer?: RequestTokenizer;
  /** Per-endpoint mode background poll (default 1000 ms). */
  pollIntervalMs?: number;
}

/** One KvCacheMetrics per registry: a second precise scorer shares the first one's series. */
const metricsByRegistry = new WeakMap<Registry, KvCacheMetrics>();

function kvCacheMetrics(registry: Registry): KvCacheMetrics {
  let metrics = metricsByRegistry.get(registry);
  if (metrics === undefined) {
    metrics = new KvCacheMetrics(registry);
    metricsByRegistry.set(registry, metrics);
  }
  return metrics;
}

const EMPTY: PrefixMatchResult = { keys: [], scores: new Map(), cachedBlocks: new Map() };

export class PrecisePrefixCacheScorer implements Scorer, DataProducer, PreRequest {
  readonly type = PRECISE_PREFIX_CACHE_SCORER_TYPE;
  readonly category: ScorerCategory = 'affinity';
  readonly produces = [PREFIX_CACHE_MATCH_INFO] as const;
  readonly metrics: KvCacheMetrics;
  readonly tokenizer: RequestTokenizer;
  private readonly roots: RootKeys;
  private readonly logger: Logger;
  private running: Running | undefined;
  private starting: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private closed = false;
  /** Global mode: the address the SUB is bound to (port resolved), once started. */
  boundAddress: string | undefined;
  private readonly warnedTokenization = new Set<string>();

  constructor(readonly name: string, readonly config: PrecisePrefixConfig, private readonly options: PrecisePrefixCacheOptions) {
    this.logger = options.logger;
    this.metrics = kvCacheMetrics(options.registry ?? new Registry());
    this.tokenizer = options.tokenizer ?? createRequestTokenizer(config.tokenizer);
    this.roots = new RootKeys(config.hashSeed);
  }

  /** The index once started (undefined before). */
  get index(): KvBlockIndex | undefined {
    return this.running?.index;
  }

  get processor(): KvEventProcessor | undefined {
    return this.running?.processor;
  }

  get subscriber(): KvEventSubscriber | undefined {
    return this.running?.subscriber;
  }

  /** Starts the index, event processing and sockets; resolves when ready, retries failures in the background. */
  start(): Promise<void> {
    this.starting ??= this.startLoop();
    return this.starting;
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
    const speculative = this.running?.speculative;
    const match = (ctx.state.get(this.name) as RequestState | undefined)?.match;
    if (speculative === undefined || match === undefined || match.keys.length === 0) return;
    const pods = new Set<string>();
    for (const profile of [result.primaryProfileName, PREFILL_PROFILE]) {
      const target = result.profileResults.get(profile)?.targets[0];
      if (target) pods.add(target.hostPort);
    }
    speculative.add(match.keys, [...pods]);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.retry = undefined;
    this.wake?.();
    await this.starting;
    const running = this.running;
    this.running = undefined;
    if (running !== undefined) await this.shutdown(running);
    else await this.options.index?.close();
    await this.tokenizer.close();
  }

  private stateFor(ctx: SchedulingContext, request: InferenceRequest, candidates: readonly Endpoint[]): RequestState {
    const existing = ctx.state.get(this.name) as RequestState | undefined;
    if (existing !== undefined) return existing;
    this.running?.sources.sync();
    const progress: Omit<RequestState, 'promise'> = { match: undefined, abandoned: false };
    const promise = this.match(request, candidates).then((match) => {
      if (!progress.abandoned) {
        progress.match = match;
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

  /** Templating + tokenization + keys + lookup, in the `llm_d.epp.scorer.prefix_cache` span. Never rejects. */
  private match(request: InferenceRequest, candidates: readonly Endpoint[]): Promise<RequestMatch> {
    return withSpan(EPP_TRACER, 'llm_d.epp.scorer.prefix_cache', {
      attributes: { 'llm_d.scorer.candidate_endpoints': candidates.length, 'gen_ai.request.model': request.targetModel, 'gen_ai.request.id': request.id },
    }, async (span) => {
      const match = await this.computeMatch(request, candidates);
      recordOutcome(span, match, candidates);
      return match;
    });
  }

  private async computeMatch(request: InferenceRequest, candidates: readonly Endpoint[]): Promise<RequestMatch> {
    const running = this.running;
    if (running === undefined) return { ...EMPTY, outcome: 'index_not_ready' };
    const model = request.targetModel;
    let tokens: ArrayLike<number>;
    try {
      tokens = await withSpan(KV_CACHE_TRACER, 'llm_d.kv_cache.tokenize', { attributes: { 'gen_ai.request.model': model, 'llm_d.kv_cache.tokenizer': this.tokenizer.kind } }, async (span) => {
        const ids = await this.tokenizer.tokenize(model, request.body);
        span.setAttribute('llm_d.kv_cache.token_count', ids.length);
        return ids;
      });
    } catch (err) {
      this.warnTokenization(model, err);
      return { ...EMPTY, outcome: 'tokenization_failed' };
    }
    const keys = blockKeys(tokens, this.config.blockSize, this.roots.get(model));
    if (keys.length === 0) return { ...EMPTY, outcome: 'no_full_block', tokenCount: tokens.length };
    try {
      const endpointKeys = [...new Set(candidates.map((endpoint) => endpoint.hostPort))];
      return { ...(await matchPrefix(running.index, model, tokens.length, keys, endpointKeys, this.config.tierWeights)), outcome: 'scored', tokenCount: tokens.length };
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, plugin: this.name }, 'precise prefix-cache lookup failed: scoring 0');
      return { ...EMPTY, keys, outcome: 'lookup_failed', tokenCount: tokens.length };
    }
  }

  /** Warns once per (model, reason); later failures are debug (a model without a tokenizer would flood the log). */
  private warnTokenization(model: string, err: unknown): void {
    const code = (err as { code?: string }).code ?? 'error';
    const message = err instanceof Error ? err.message : String(err);
    const key = `${model}\u0000${code}`;
    const level = this.warnedTokenization.has(key) ? 'debug' : 'warn';
    this.warnedTokenization.add(key);
    this.logger[level]({ plugin: this.name, model, code, err: message }, 'precise prefix-cache: request not tokenized, scoring 0');
  }

  private async startLoop(): Promise<void> {
    while (!this.closed) {
      try {
        this.running = await this.startOnce();
        return;
      } catch (err) {
        if (this.closed) return;
        this.logger.error({ plugin: this.name, err: (err as Error).message, retryInMs: START_RETRY_MS }, 'precise-prefix-cache-scorer failed to start; scoring 0 until it does');
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.retry = setTimeout(resolve, START_RETRY_MS);
          this.retry.unref();
        });
        this.wake = undefined;
      }
    }
  }

  /** Builds everything; undefined when the plugin was closed meanwhile (then nothing is left open). */
  private async startOnce(): Promise<Running | undefined> {
    const { config, metrics, logger } = this;
    const ownsIndex = this.options.index === undefined;
    const raw = this.options.index ?? await createKvBlockIndex(config.kvBlockIndexConfig, { logger, path: 'indexerConfig.kvBlockIndexConfig' });
    if (this.closed) {
      if (ownsIndex) await raw.close();
      return undefined;
    }
    const index = instrumentIndex(raw, metrics);
    const processor = new KvEventProcessor({ index, blockSize: config.blockSize, hashSeed: config.hashSeed, concurrency: config.kvEvents.concurrency, metrics, logger });
    const subscriber = new KvEventSubscriber({ onMessage: (message) => void processor.submit(message), topicFilter: config.kvEvents.topicFilter, metrics, logger });
    const sources = new KvEventSources({ config: config.kvEvents, subscriber, endpoints: this.options.endpoints ?? (() => []), pollIntervalMs: this.options.pollIntervalMs, logger });
    const speculative = config.speculativeIndexing ? new SpeculativeEntries(index, config.speculativeTtlMs, logger) : undefined;
    const running: Running = { index, processor, subscriber, sources, speculative };
    try {
      this.boundAddress = await sources.start();
    } catch (err) {
      await this.shutdown(running, ownsIndex);
      throw err;
    }
    if (this.closed) {
      await this.shutdown(running, ownsIndex);
      return undefined;
    }
    logger.info({
      plugin: this.name, index: config.indexKind, events: sources.mode, endpoint: this.boundAddress, blockSize: config.blockSize, tokenizer: config.tokenizer.type,
    }, 'precise-prefix-cache-scorer ready');
    this.tokenizer.warm().catch((err: unknown) => {
      if (!this.closed) logger.warn({ plugin: this.name, err: (err as Error).message }, 'precise prefix-cache: a configured tokenizer did not load');
    });
    return running;
  }

  private async shutdown(running: Running, closeIndex = true): Promise<void> {
    running.sources.stop();
    await running.subscriber.close();
    await running.processor.close();
    await running.speculative?.close();
    if (closeIndex) await running.index.close();
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
