/**
 * `burst-prefix-cache-producer`: co-locates bursts of requests that share a prompt (e.g. the `n`
 * samples of one RL rollout prompt arriving together), so the shared prefix is prefilled once
 * instead of on every replica while all caches are still cold.
 *
 * Produce: the request's prefix is hashed in blocks of `blockSizeTokens` (prefix-hashing.ts, as
 * the approximate producer; at most `maxPrefixTokensToMatch / blockSizeTokens` blocks, else 256)
 * and joins the current window; the first request of a window starts a `windowDurationMs` timer,
 * and when it fires the whole window is placed jointly (burst-assign.ts):
 * - identical prompts form a group, placed whole on the least-loaded replica, or `maxPerReplica`
 *   members per replica spilling to the next least-loaded;
 * - with `minColocateBlocks` > 0, a request sharing ≥ that many leading blocks with another one
 *   joins a replica already holding such a prefix while that replica is under its fair share
 *   (⌈placed requests / replicas⌉), else the least-loaded one; longer prefixes are placed first;
 * - anything else (no overlap, prompt shorter than a block) gets no affinity.
 * Each request then gets `PrefixCacheMatchInfo` = full match (totalBlocks/totalBlocks) on its
 * assigned endpoint and 0 elsewhere; `prefix-cache-scorer` with `prefixMatchInfoProducerName`
 * turns that into 1 / 0. Load is counted in requests within the window.
 * Every request waits up to the window; the producer's budget is the window + 300 ms (the
 * director's default 400 ms would cut long windows). A window holding `maxBatchSize` requests
 * refuses more (that request is scheduled without this producer's data).
 *
 * Parameters (llm-d Router's defaults): `windowDurationMs` (100, 1..10000), `maxPerReplica`
 * (-1 = unlimited, else ≥ 1), `blockSizeTokens` (64), `maxPrefixTokensToMatch` (0 = 256 blocks; when
 * > 0 it must be ≥ blockSizeTokens), `minColocateBlocks` (0), `maxBatchSize` (1000, -1 = unlimited),
 * `balanceBy` (`requests`; llm-d's `tokens` is refused at start-up: not implemented here).
 *
 * ```yaml
 * - type: burst-prefix-cache-producer
 *   parameters: {windowDurationMs: 100, maxPerReplica: -1, minColocateBlocks: 0}
 * - type: prefix-cache-scorer
 *   parameters: {prefixMatchInfoProducerName: burst-prefix-cache-producer}
 * ```
 */
import { z } from 'zod';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo, type SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import { ConfigError } from '../../framework/errors.js';
import type { DataProducer } from '../../framework/plugins.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import type { InferenceRequest } from '../../framework/request.js';
import { assignBurst, type BurstEntry, type BurstOptions } from './burst-assign.js';
import { cacheSaltOf, hashPrefixBlocks, prefixInput } from './prefix-hashing.js';

export const BURST_PREFIX_CACHE_PRODUCER_TYPE = 'burst-prefix-cache-producer';
const DEFAULT_MAX_BLOCKS = 256;
const TIMEOUT_MARGIN_MS = 300;

const Parameters = z.object({
  windowDurationMs: z.number().int().min(1).max(10_000).nullish(),
  maxPerReplica: z.number().int().refine((n) => n === -1 || n >= 1, 'must be -1 (unlimited) or ≥ 1').nullish(),
  blockSizeTokens: z.number().int().min(1).nullish(),
  maxPrefixTokensToMatch: z.number().int().min(0).nullish(),
  minColocateBlocks: z.number().int().min(0).nullish(),
  maxBatchSize: z.number().int().refine((n) => n === -1 || n >= 1, 'must be -1 (unlimited) or ≥ 1').nullish(),
  balanceBy: z.enum(['requests', 'tokens']).nullish(),
});

export interface BurstConfig extends BurstOptions {
  readonly windowDurationMs: number;
  readonly blockSizeTokens: number;
  readonly maxBlocks: number;
  readonly maxBatchSize: number;
}

interface Pending extends BurstEntry { endpoints: readonly Endpoint[]; resolve: (replica: string | undefined) => void }

export class BurstPrefixCacheProducer implements DataProducer {
  readonly type = BURST_PREFIX_CACHE_PRODUCER_TYPE;
  readonly produces = [PREFIX_CACHE_MATCH_INFO] as const;
  readonly produceTimeoutMs: number;
  private window: Pending[] | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly name: string, readonly config: BurstConfig) {
    this.produceTimeoutMs = config.windowDurationMs + TIMEOUT_MARGIN_MS;
  }

  async produce(ctx: SchedulingContext, request: InferenceRequest, endpoints: readonly Endpoint[]): Promise<void> {
    const hashes = hashPrefixBlocks(prefixInput(request.body), request.targetModel + cacheSaltOf(request.body), this.config.blockSizeTokens, this.config.maxBlocks);
    if (this.window === undefined) {
      const window: Pending[] = [];
      this.window = window;
      this.timer = setTimeout(() => this.seal(window), this.config.windowDurationMs);
    }
    if (this.config.maxBatchSize !== -1 && this.window.length >= this.config.maxBatchSize) {
      throw new Error(`burst prefix window full: maxBatchSize ${this.config.maxBatchSize} reached`);
    }
    const replica = await new Promise<string | undefined>((resolve) => {
      this.window!.push({ hashes, candidates: new Set(endpoints.map((e) => e.name)), endpoints, resolve });
    });
    for (const endpoint of endpoints) {
      const info: PrefixCacheMatchInfo = { matchBlocks: endpoint.name === replica ? hashes.length : 0, totalBlocks: hashes.length, blockSizeTokens: this.config.blockSizeTokens };
      ctx.attributes.set(endpoint, PREFIX_CACHE_MATCH_INFO, info);
    }
  }

  /** Releases a pending window now without affinity (shutdown). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const pending of this.window ?? []) pending.resolve(undefined);
    this.window = undefined;
  }

  private seal(window: Pending[]): void {
    if (this.window === window) this.window = undefined;
    this.timer = undefined;
    const replicas = [...new Set(window.flatMap((p) => p.endpoints.map((e) => e.name)))];
    const assigned = assignBurst(window, replicas, this.config);
    window.forEach((pending, i) => pending.resolve(assigned[i]));
  }
}

export function parseBurstConfig(parameters: unknown): BurstConfig {
  const p = parseParameters(Parameters, parameters);
  if (p.balanceBy === 'tokens') throw new ConfigError('parameters.balanceBy', '"tokens" is not implemented in pd-router; use "requests"');
  const blockSizeTokens = p.blockSizeTokens ?? 64;
  const maxTokens = p.maxPrefixTokensToMatch ?? 0;
  if (maxTokens > 0 && maxTokens < blockSizeTokens) throw new ConfigError('parameters.maxPrefixTokensToMatch', `must be 0 or ≥ blockSizeTokens (${blockSizeTokens})`);
  return {
    windowDurationMs: p.windowDurationMs ?? 100,
    maxPerReplica: p.maxPerReplica ?? -1,
    blockSizeTokens,
    maxBlocks: maxTokens > 0 ? Math.floor(maxTokens / blockSizeTokens) : DEFAULT_MAX_BLOCKS,
    minColocateBlocks: p.minColocateBlocks ?? 0,
    maxBatchSize: p.maxBatchSize ?? 1000,
  };
}

export const burstPrefixCacheProducerFactory: PluginFactory = (name, parameters) => new BurstPrefixCacheProducer(name, parseBurstConfig(parameters));
