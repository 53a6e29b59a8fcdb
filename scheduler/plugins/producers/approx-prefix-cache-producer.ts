/**
 * `approx-prefix-cache-producer`: estimates, for every candidate, how much of the request's prefix
 * is already in its KV cache, from where earlier requests with the same prefix were routed. Writes
 * `PrefixCacheMatchInfo {matchBlocks, totalBlocks, blockSizeTokens}` on every candidate; consumed by
 * `prefix-cache-scorer`, `no-hit-lru-scorer` and `prefix-based-pd-decider`. The config loader
 * injects it with defaults when one of those is declared without it.
 *
 * Produce (before scheduling):
 * 1. block size = the first candidate's `metrics.cacheBlockSize` when `autoTune` and > 0, else
 *    `blockSizeTokens`;
 * 2. hash the input in blocks of blockSize·4 bytes, at most maxBlocks blocks (see prefix-hashing.ts);
 * 3. walk the hashes, stopping at the first one no endpoint holds; an endpoint's `matchBlocks` is
 *    how many walked hashes it holds; `totalBlocks` = number of hashes.
 * PreRequest (after scheduling, synchronous — the index update is a few map operations): the
 * hashes are added for the primary profile's first target and the `prefill` profile's first target
 * (profile name hard-coded, as upstream). Each endpoint's LRU holds `metrics.cacheNumBlocks` blocks
 * when `autoTune` and known, else `lruCapacityPerServer`. Endpoints that left the pool are purged
 * lazily (checked at most every 2 minutes, on PreRequest; no timer to own).
 *
 * Parameters (llm-d code defaults; its README's zeros are wrong):
 * - `autoTune` (bool, true)
 * - `blockSizeTokens` (int ≥ 0, 16; must be > 0 when autoTune is false)
 * - `maxPrefixBlocksToMatch` (int ≥ 0, 256; 0 = no cap)
 * - `maxPrefixTokensToMatch` (int ≥ 0, 0; when > 0 it wins: maxBlocks = tokens / blockSize)
 * - `lruCapacityPerServer` (int, 31250; ≤ 0 → 31250)
 * - `blockSize` (deprecated, counted characters): an error unless `blockSizeTokens` is also set,
 *   then ignored with a warning.
 * Deliberate differences from upstream (llm-d HEAD made the same two fixes): `maxPrefixBlocksToMatch: 0`
 * means "no cap" (older upstream cut everything, silently disabling prefix routing),
 * and `lruCapacityPerServer` is honoured when `cacheNumBlocks` is unknown (upstream ignored it).
 *
 * ```yaml
 * - type: approx-prefix-cache-producer
 *   parameters: {autoTune: true, blockSizeTokens: 16, maxPrefixBlocksToMatch: 256, lruCapacityPerServer: 31250}
 * ```
 */
import { z } from 'zod';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo, type SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import { ConfigError } from '../../framework/errors.js';
import type { DataProducer, PreRequest, SchedulingResult } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { parseParameters, type PluginHandle } from '../../framework/registry.js';
import { ApproxPrefixIndex, DEFAULT_LRU_CAPACITY_PER_SERVER, blockKey, type BlockHash } from './approx-prefix-index.js';
import { cacheSaltOf, hashPrefixBlocks, prefixInput } from './prefix-hashing.js';

export const APPROX_PREFIX_CACHE_PRODUCER_TYPE = 'approx-prefix-cache-producer';
export const DEFAULT_BLOCK_SIZE_TOKENS = 16;
export const DEFAULT_MAX_PREFIX_BLOCKS = 256;
/** llm-d hard-codes the prefill profile's name here. */
const PREFILL_PROFILE = 'prefill';
const PURGE_INTERVAL_MS = 2 * 60_000;

export interface ApproxPrefixConfig {
  readonly autoTune: boolean;
  readonly blockSizeTokens: number;
  readonly maxPrefixBlocksToMatch: number;
  readonly maxPrefixTokensToMatch: number;
  readonly lruCapacityPerServer: number;
}

export const DEFAULT_APPROX_PREFIX_CONFIG: ApproxPrefixConfig = {
  autoTune: true,
  blockSizeTokens: DEFAULT_BLOCK_SIZE_TOKENS,
  maxPrefixBlocksToMatch: DEFAULT_MAX_PREFIX_BLOCKS,
  maxPrefixTokensToMatch: 0,
  lruCapacityPerServer: DEFAULT_LRU_CAPACITY_PER_SERVER,
};

const ApproxPrefixParameters = z.object({
  autoTune: z.boolean().nullish(),
  blockSizeTokens: z.number().int().min(0).nullish(),
  blockSize: z.number().int().nullish(),
  maxPrefixBlocksToMatch: z.number().int().min(0).nullish(),
  maxPrefixTokensToMatch: z.number().int().min(0).nullish(),
  lruCapacityPerServer: z.number().int().nullish(),
});

/** What Produce leaves for PreRequest in the cycle state. */
export interface ApproxPrefixState {
  readonly hashes: readonly BlockHash[];
  readonly matches: ReadonlyMap<string, number>;
  readonly blockSizeTokens: number;
}

export interface ApproxPrefixOptions {
  /** The pool's endpoints, for purging departed ones (the handle's `endpoints`). */
  endpoints?: () => readonly Endpoint[];
  /** Clock in ms (tests). */
  now?: () => number;
  purgeIntervalMs?: number;
}

export class ApproxPrefixCacheProducer implements DataProducer, PreRequest {
  readonly type = APPROX_PREFIX_CACHE_PRODUCER_TYPE;
  readonly produces = [PREFIX_CACHE_MATCH_INFO] as const;
  readonly name: string;
  readonly config: ApproxPrefixConfig;
  readonly index: ApproxPrefixIndex;
  private readonly endpoints: (() => readonly Endpoint[]) | undefined;
  private readonly now: () => number;
  private readonly purgeIntervalMs: number;
  private lastPurge: number;
  private pending: Array<{ updates: Array<{ name: string; capacity: number }>; hashes: readonly BlockHash[] }> = [];

  constructor(name: string = APPROX_PREFIX_CACHE_PRODUCER_TYPE, config: Partial<ApproxPrefixConfig> = {}, options: ApproxPrefixOptions = {}) {
    this.name = name;
    this.config = { ...DEFAULT_APPROX_PREFIX_CONFIG, ...config };
    this.index = new ApproxPrefixIndex(this.config.lruCapacityPerServer);
    this.endpoints = options.endpoints;
    this.now = options.now ?? Date.now;
    this.purgeIntervalMs = options.purgeIntervalMs ?? PURGE_INTERVAL_MS;
    this.lastPurge = this.now();
  }

  /** Tokens per block for this request: auto-tuned from the first candidate when possible. */
  blockSizeFor(endpoints: readonly Endpoint[]): number {
    const fromMetrics = endpoints[0]?.metrics.cacheBlockSize ?? 0;
    return this.config.autoTune && fromMetrics > 0 ? fromMetrics : this.config.blockSizeTokens;
  }

  /** Blocks hashed at most (Infinity = no cap). */
  maxBlocksFor(blockSize: number): number {
    if (this.config.maxPrefixTokensToMatch > 0 && blockSize > 0) return Math.floor(this.config.maxPrefixTokensToMatch / blockSize);
    return this.config.maxPrefixBlocksToMatch > 0 ? this.config.maxPrefixBlocksToMatch : Infinity;
  }

  /** Index keys of the request's prefix blocks. */
  hashes(request: InferenceRequest, blockSize: number): BlockHash[] {
    return hashPrefixBlocks(prefixInput(request.body), request.targetModel + cacheSaltOf(request.body), blockSize, this.maxBlocksFor(blockSize)).map(blockKey);
  }

  produce(ctx: SchedulingContext, request: InferenceRequest, endpoints: readonly Endpoint[]): void {
    const blockSizeTokens = this.blockSizeFor(endpoints);
    const hashes = this.hashes(request, blockSizeTokens);
    const matches = this.index.matchLongestPrefix(hashes);
    for (const endpoint of endpoints) {
      const info: PrefixCacheMatchInfo = { matchBlocks: matches.get(endpoint.name) ?? 0, totalBlocks: hashes.length, blockSizeTokens };
      ctx.attributes.set(endpoint, PREFIX_CACHE_MATCH_INFO, info);
    }
    const state: ApproxPrefixState = { hashes, matches, blockSizeTokens };
    ctx.state.set(this.name, state);
  }

  preRequest(ctx: SchedulingContext, _request: InferenceRequest, result: SchedulingResult): void {
    this.maybePurge();
    const state = ctx.state.get(this.name) as ApproxPrefixState | undefined;
    if (!state || state.hashes.length === 0) return;
    const targets = new Set<Endpoint>();
    for (const profile of [result.primaryProfileName, PREFILL_PROFILE]) {
      const target = result.profileResults.get(profile)?.targets[0];
      if (target) targets.add(target);
    }
    // As upstream, the index learns off the request path: the request is forwarded first and the
    // chosen pods' blocks are recorded on the next turn of the event loop.
    const updates = [...targets].map((target) => ({ name: target.name, capacity: this.capacityOf(target) }));
    this.pending.push({ updates, hashes: state.hashes });
    if (this.pending.length === 1) setImmediate(() => this.flush());
  }

  /** Applies the index updates queued by preRequest (also called by tests to observe them). */
  flush(): void {
    const pending = this.pending;
    this.pending = [];
    for (const { updates, hashes } of pending) {
      for (const { name, capacity } of updates) this.index.add(name, hashes, capacity);
    }
  }

  private capacityOf(endpoint: Endpoint): number {
    const gpuBlocks = endpoint.metrics.cacheNumBlocks;
    return this.config.autoTune && gpuBlocks > 0 ? gpuBlocks : this.config.lruCapacityPerServer;
  }

  private maybePurge(): void {
    const now = this.now();
    if (!this.endpoints || now - this.lastPurge < this.purgeIntervalMs) return;
    this.lastPurge = now;
    const current = this.endpoints();
    // An empty set means "not known yet" (discovery resyncing), not "every pod left".
    if (current.length === 0) return;
    const active = new Set(current.map((endpoint) => endpoint.name));
    for (const name of this.index.endpoints()) if (!active.has(name)) this.index.removeEndpoint(name);
  }
}

/** Validates parameters into a config (errors name `parameters.<key>`). */
export function parseApproxPrefixConfig(parameters: unknown, handle?: PluginHandle, name = APPROX_PREFIX_CACHE_PRODUCER_TYPE): ApproxPrefixConfig {
  const params = parseParameters(ApproxPrefixParameters, parameters);
  const blockSizeGiven = params.blockSizeTokens !== undefined && params.blockSizeTokens !== null;
  if (params.blockSize !== undefined && params.blockSize !== null) {
    if (!blockSizeGiven) {
      throw new ConfigError('parameters.blockSize', 'is deprecated (it counted characters); set blockSizeTokens, the block size in tokens, instead');
    }
    handle?.logger.warn({ plugin: name }, 'approx-prefix-cache-producer: blockSize is deprecated and ignored because blockSizeTokens is set');
  }
  const autoTune = params.autoTune ?? DEFAULT_APPROX_PREFIX_CONFIG.autoTune;
  const blockSizeTokens = params.blockSizeTokens ?? DEFAULT_BLOCK_SIZE_TOKENS;
  if (!autoTune && blockSizeTokens <= 0) throw new ConfigError('parameters.blockSizeTokens', 'must be > 0 when autoTune is false');
  const lru = params.lruCapacityPerServer ?? DEFAULT_LRU_CAPACITY_PER_SERVER;
  return {
    autoTune,
    blockSizeTokens,
    maxPrefixBlocksToMatch: params.maxPrefixBlocksToMatch ?? DEFAULT_MAX_PREFIX_BLOCKS,
    maxPrefixTokensToMatch: params.maxPrefixTokensToMatch ?? 0,
    lruCapacityPerServer: lru > 0 ? lru : DEFAULT_LRU_CAPACITY_PER_SERVER,
  };
}

export const approxPrefixCacheProducerFactory = (
  name: string,
  parameters: unknown,
  handle: PluginHandle,
  options: Omit<ApproxPrefixOptions, 'endpoints'> = {},
): ApproxPrefixCacheProducer =>
  new ApproxPrefixCacheProducer(name, parseApproxPrefixConfig(parameters, handle, name), { ...options, endpoints: () => handle.endpoints() });
