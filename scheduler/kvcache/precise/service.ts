/**
 * The precise prefix cache as one service: it owns the block index (memory or Redis), the
 * KV-event write path (write-path.ts), the request tokenizer, speculative entries and the
 * llm_d_kv_cache_* metrics, and answers one question per request — "how long a prefix of this
 * request does each candidate endpoint hold?" (`match`). The scorer plugin is a thin adapter over
 * it (scheduler/plugins/scorers/precise-prefix-cache-scorer.ts); the design is in
 * docs/prefix-cache.md.
 *
 * Lifecycle: `start()` builds everything and resolves when started; a failure (Redis unreachable,
 * address in use) is logged and retried every 5 s in the background — until then `match` answers
 * `index_not_ready`. It also loads the tokenizers the config names in every worker
 * (tokenizer-preload.ts). `whenReady()` waits for the tokenizers and the first start attempt (not
 * its success: an index down must not keep every EPP replica unready), and rejects when a tokenizer
 * cannot load. `close()` releases everything, also mid-start.
 */
import { Registry } from 'prom-client';
import { RootKeys } from '../../../src/kvblock/keys.js';
import type { Logger } from '../../../src/log.js';
import type { InferenceBody } from '../../../src/openai/types.js';
import { TokenizationError } from '../../../src/tokenization/errors.js';
import { IdsStream, type TokenStream } from '../../../src/tokenization/token-stream.js';
import { withSpan } from '../../../src/telemetry/tracing.js';
import type { Endpoint } from '../../framework/endpoint.js';
import { createKvBlockIndex } from '../index/config.js';
import { kvCacheMetrics, type KvCacheMetrics, instrumentIndex } from '../index/metrics.js';
import type { KvBlockIndex } from '../index/types.js';
import type { PrecisePrefixConfig } from './config.js';
import { ParityMonitor } from './parity.js';
import { MAX_MODEL_SERIES, precisePrefixMetrics, type PrecisePrefixMetrics } from './metrics.js';
import { NotTokenized } from './not-tokenized.js';
import type { PrecisePrefixCacheOptions, RequestMatch } from './service-types.js';
import { KV_CACHE_TRACER, walkPrefix, type PrefixMatchResult, type WalkResult } from './read-path.js';
import { createRequestTokenizer, type RequestTokenizer } from './request-tokens.js';
import { SpeculativeEntries } from './speculative.js';
import { PendingTail, SpeculativeTails } from './speculative-tail.js';
import { BytesPerToken, DEFAULT_BYTES_PER_TOKEN, type Pending } from './token-estimate.js';
import { preloadTokenizers } from './tokenizer-preload.js';
import { KvEventWritePath } from './write-path.js';

const START_RETRY_MS = 5000;

interface Running {
  readonly index: KvBlockIndex;
  readonly writePath: KvEventWritePath;
  readonly speculative: SpeculativeEntries | undefined;
  readonly tails: SpeculativeTails | undefined;
  readonly parity: ParityMonitor;
}

const EMPTY: PrefixMatchResult = { keys: [], scores: new Map(), cachedBlocks: new Map() };

export class PrecisePrefixCache {
  readonly metrics: KvCacheMetrics;
  readonly precise: PrecisePrefixMetrics;
  readonly tokenizer: RequestTokenizer;
  readonly bytesPerToken: BytesPerToken;
  private readonly roots: RootKeys;
  private readonly logger: Logger;
  private readonly name: string;
  private running: Running | undefined;
  private starting: Promise<void> | undefined;
  private tokenizersLoaded: Promise<void> | undefined;
  private firstAttempt: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private closed = false;
  /** Global mode: the address the SUB is bound to (port resolved), once started. */
  boundAddress: string | undefined;
  private readonly failures: NotTokenized;
  /** Set by followEndpoints(): the endpoint set from lifecycle events replaces polling `options.endpoints`. */
  private followed: (() => readonly Endpoint[]) | undefined;

  constructor(readonly config: PrecisePrefixConfig, private readonly options: PrecisePrefixCacheOptions) {
    this.logger = options.logger;
    this.name = options.name ?? 'precise-prefix-cache';
    const registry = options.registry ?? new Registry();
    this.metrics = kvCacheMetrics(registry);
    this.precise = precisePrefixMetrics(registry);
    this.bytesPerToken = new BytesPerToken(DEFAULT_BYTES_PER_TOKEN, MAX_MODEL_SERIES, (model) => {
      this.precise.bytesPerToken.remove({ model });
      this.precise.estimateError.remove({ model });
    });
    this.failures = new NotTokenized(this.logger, this.name, this.precise);
    this.tokenizer = options.tokenizer ?? createRequestTokenizer(config.tokenizer, config.tokenizerPool);
    this.roots = new RootKeys(config.hashSeed);
  }

  get index(): KvBlockIndex | undefined { return this.running?.index; }
  get writePath(): KvEventWritePath | undefined { return this.running?.writePath; }

  /** Starts the index, event processing and sockets; resolves when ready, retries failures in the background. */
  start(): Promise<void> {
    this.tokenizersLoaded ??= preloadTokenizers(this.tokenizer, { logger: this.logger, name: this.name, timeoutMs: this.config.tokenizerPool.loadTimeoutMs })
      .catch((err: unknown) => { if (!this.closed) throw err; });
    this.tokenizersLoaded.catch(() => {}); // whenReady() reports it
    if (this.starting === undefined) {
      let attempted!: () => void;
      this.firstAttempt = new Promise<void>((resolve) => { attempted = resolve; });
      this.starting = this.startLoop(attempted);
    }
    return this.starting;
  }

  /** The configured tokenizers loaded in every worker and the first start attempt made; rejects when a tokenizer cannot load. */
  async whenReady(): Promise<void> {
    void this.start();
    await Promise.all([this.firstAttempt, this.tokenizersLoaded]);
  }

  /** Per-endpoint event mode: follows a changed endpoint set (cheap when unchanged). */
  syncEndpoints(): void {
    this.running?.writePath.sync();
  }

  /** Per-endpoint event mode fed by endpoint lifecycle events (endpoint-notification-source). */
  followEndpoints(endpoints: () => readonly Endpoint[]): void {
    this.followed = endpoints;
    this.running?.writePath.sources.follow(endpoints);
  }

  /** Drops every index entry of a pod (`ip:port`) that left the pool. */
  async forgetPod(pod: string): Promise<void> {
    await this.running?.index.clear(pod);
  }

  /**
   * Tokenize (unless `tokenIds` are given) → keys → index lookups filtered to `endpointKeys` (`ip:port`), stopping at the first
   * block no candidate holds (read-path.ts); the untokenized rest is estimated. Never rejects.
   */
  async match(model: string, body: InferenceBody, endpointKeys: readonly string[], tokenIds?: ArrayLike<number>): Promise<RequestMatch> {
    const running = this.running;
    if (running === undefined) return { ...EMPTY, outcome: 'index_not_ready' };
    let stream: TokenStream;
    try {
      // Ids a token-producer already published are used as they are.
      stream = tokenIds !== undefined ? new IdsStream(tokenIds) : await withSpan(KV_CACHE_TRACER, 'llm_d.kv_cache.tokenize', { attributes: { 'gen_ai.request.model': model, 'llm_d.kv_cache.tokenizer': this.tokenizer.kind } }, () => this.tokenizer.stream(model, body));
    } catch (err) {
      return this.notTokenized(model, err);
    }
    const inner = stream;
    const tagged: TokenStream = {
      next: () => inner.next().catch((err: unknown) => {
        throw err instanceof TokenizationError ? err : new TokenizationError('encode', (err as Error).message, { cause: err });
      }),
      rest: () => inner.rest(),
      capBatches: (chars) => inner.capBatches?.(chars),
    };
    let walk: WalkResult;
    try {
      walk = await walkPrefix(running.index, model, tagged, {
        blockSize: this.config.blockSize, root: this.roots.get(model), endpointKeys, weights: this.config.tierWeights,
        estimateRest: (rest) => rest.knownTokens + this.bytesPerToken.estimate(model, rest.textBytes),
      });
    } catch (err) {
      if (err instanceof TokenizationError) return this.notTokenized(model, err);
      this.logger.warn({ err: (err as Error).message, plugin: this.name }, 'precise prefix-cache lookup failed: scoring 0');
      return { ...EMPTY, outcome: 'lookup_failed' };
    }
    const tokenCount = walk.exactTokens + walk.estimatedTokens;
    this.precise.tokens.inc({ kind: 'tokenized' }, walk.exactTokens);
    if (walk.estimatedTokens > 0) this.precise.tokens.inc({ kind: 'estimated' }, walk.estimatedTokens);
    const estimate: Pending | undefined = walk.restBytes > 0
      ? { model, knownTokens: tokenCount - this.bytesPerToken.estimate(model, walk.restBytes), restBytes: walk.restBytes, estimated: this.bytesPerToken.estimate(model, walk.restBytes) }
      : undefined;
    const { keys, scores, cachedBlocks } = walk;
    if (walk.totalBlocks === 0) return { ...EMPTY, outcome: 'no_full_block', tokenCount };
    const tail = running.tails !== undefined && walk.estimatedTokens > 0 && walk.continuation ? new PendingTail(walk.continuation) : undefined;
    return { keys, scores, cachedBlocks, outcome: 'scored', tokenCount, ...(estimate ? { estimate } : {}), ...(tail ? { tail } : {}) };
  }

  /**
   * The pod's real prompt token count for a request this service matched (ResponseComplete):
   * teaches the bytes-per-token ratio and records the estimate's error. No-op when nothing was
   * estimated.
   */
  observePromptTokens(match: RequestMatch, promptTokens: number): void {
    if (match.estimate === undefined) return;
    const sample = this.bytesPerToken.observe(match.estimate, promptTokens);
    if (sample === undefined) return;
    this.precise.estimateError.observe({ model: sample.model }, Math.abs(sample.error));
    this.precise.bytesPerToken.set({ model: sample.model }, this.bytesPerToken.ratio(sample.model));
    this.logger.debug({ plugin: this.name, model: sample.model, error: sample.error, actualTokens: sample.actualTokens }, 'precise prefix-cache: tail estimate vs usage.prompt_tokens');
  }

  /** A completed request routed to `pod`: a parity sample, one in `parity.sampleEvery`. */
  checkParity(model: string, pod: string, match: RequestMatch): void {
    if (match.outcome === 'scored') this.running?.parity.observe(model, pod, match.keys);
  }

  /** The parity ratio over a model's recent samples (undefined before any). */
  parityRatio(model: string): number | undefined {
    return this.running?.parity.ratio(model);
  }

  private notTokenized(model: string, err: unknown): RequestMatch {
    return { ...EMPTY, outcome: this.failures.outcome(model, err) };
  }

  /**
   * With `speculativeIndexing`: `pods` (`ip:port`) hold the match's keys for the TTL; with `speculativeTail` the untokenized rest's
   * follow (speculative-tail.ts). The match's tail is taken (once): the stored match no longer keeps the prompt alive.
   */
  speculate(match: RequestMatch, pods: readonly string[]): void {
    this.running?.speculative?.add(match.keys, pods);
    const tail = match.tail?.take();
    if (tail !== undefined) this.running?.tails?.start(tail, pods);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.retry = undefined;
    this.wake?.();
    await this.starting;
    const running = this.running;
    this.running = undefined;
    if (running !== undefined) await shutdown(running);
    else await this.options.index?.close();
    await this.tokenizer.close();
  }

  private async startLoop(attempted: () => void): Promise<void> {
    try {
      while (!this.closed) {
        try {
          this.running = await this.startOnce();
          return;
        } catch (err) {
          if (this.closed) return;
          this.logger.error({ plugin: this.name, err: (err as Error).message, retryInMs: START_RETRY_MS },
            'precise-prefix-cache-scorer failed to start; the EPP serves without it (prefix scores 0) and retries');
          attempted();
          await new Promise<void>((resolve) => {
            this.wake = resolve;
            this.retry = setTimeout(resolve, START_RETRY_MS).unref();
          });
          this.wake = undefined;
        }
      }
    } finally {
      attempted();
    }
  }

  /** Builds everything; undefined when the service was closed meanwhile (then nothing is left open). */
  private async startOnce(): Promise<Running | undefined> {
    const { config, metrics, logger } = this;
    const ownsIndex = this.options.index === undefined;
    const raw = this.options.index ?? await createKvBlockIndex(config.kvBlockIndexConfig, { logger, path: 'indexerConfig.kvBlockIndexConfig' });
    if (this.closed) {
      if (ownsIndex) await raw.close();
      return undefined;
    }
    const index = instrumentIndex(raw, metrics);
    const writePath = new KvEventWritePath({
      index, blockSize: config.blockSize, hashSeed: config.hashSeed, events: config.kvEvents, metrics, logger,
      endpoints: this.options.endpoints ?? (() => []), pollIntervalMs: this.options.pollIntervalMs,
    });
    if (this.followed !== undefined) writePath.sources.follow(this.followed);
    const speculative = config.speculativeIndexing ? new SpeculativeEntries(index, config.speculativeTtlMs, logger) : undefined;
    const tails = speculative !== undefined && config.speculativeTail ? new SpeculativeTails({
      entries: speculative, blockSize: config.blockSize, busy: () => this.tokenizer.busy(), logger,
      count: (outcome) => this.precise.speculativeTails.inc({ outcome }),
    }) : undefined;
    const parity = new ParityMonitor(index, config.parity, this.precise, logger);
    const running: Running = { index, writePath, speculative, tails, parity };
    try {
      this.boundAddress = await writePath.start();
    } catch (err) {
      await shutdown(running, ownsIndex);
      throw err;
    }
    if (this.closed) {
      await shutdown(running, ownsIndex);
      return undefined;
    }
    logger.info({
      plugin: this.name, index: config.indexKind, events: writePath.sources.mode, endpoint: this.boundAddress, blockSize: config.blockSize, tokenizer: config.tokenizer.type,
    }, 'precise-prefix-cache-scorer ready');
    return running;
  }
}

async function shutdown(running: Running, closeIndex = true): Promise<void> {
  await running.parity.close();
  await running.writePath.close();
  await running.tails?.close();
  await running.speculative?.close();
  if (closeIndex) await running.index.close();
}
