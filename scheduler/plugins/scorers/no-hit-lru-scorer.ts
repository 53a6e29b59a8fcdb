/**
 * `no-hit-lru-scorer`: spreads *cold* requests (no endpoint has any of the prefix cached) so that
 * new prefixes land on the endpoints that took a cold request least recently; warm requests are
 * left to the prefix scorer.
 *
 * Input: `PrefixCacheMatchInfo` on each candidate (from `approx-prefix-cache-producer`). A request is
 * cold when no candidate has `matchBlocks > 0` (missing info counts as no hit).
 * Score, with n candidates:
 * - warm: 0.5 for all;
 * - cold, n = 1: 1;
 * - cold: endpoints never given a cold request, in candidate order i, score `1 − i/(n−1)`; the
 *   others score `max(0, 1 − (neverUsed + lruPos)/(n−1))`, lruPos 0 being the least recently used.
 * PreRequest (cold requests only): the primary profile's first target and the `prefill` profile's
 * first target become the most recently used. Category: distribution.
 *
 * Parameters:
 * - `lruSize` (int, default 1024; ≤ 0 → 1024): endpoints remembered.
 * - `prefixPluginType`, `prefixPluginName`, `prefixMatchInfoProducerName` (strings): accepted and
 *   unused, as upstream.
 *
 * ```yaml
 * - type: no-hit-lru-scorer
 *   parameters: {lruSize: 2048}
 * ```
 */
import { z } from 'zod';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo, type SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { ConsumesAttributes, PreRequest, Scorer, SchedulingResult } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import type { ScorerCategory } from './common.js';

export const NO_HIT_LRU_SCORER_TYPE = 'no-hit-lru-scorer';
export const DEFAULT_LRU_SIZE = 1024;
/** llm-d hard-codes the prefill profile's name in this plugin. */
const PREFILL_PROFILE = 'prefill';

const NoHitLruParameters = z.object({
  lruSize: z.number().int().nullish(),
  prefixPluginType: z.string().nullish(),
  prefixPluginName: z.string().nullish(),
  prefixMatchInfoProducerName: z.string().nullish(),
});

/** Endpoint names by recency of their last cold request: oldest first. */
export class EndpointLru {
  private readonly order = new Map<string, true>();
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Makes `name` the most recently used, evicting the oldest beyond capacity. */
  touch(name: string): void {
    this.order.delete(name);
    this.order.set(name, true);
    if (this.order.size > this.capacity) this.order.delete(this.order.keys().next().value!);
  }

  /** Position of each remembered name, 0 = least recently used. */
  positions(): Map<string, number> {
    return new Map([...this.order.keys()].map((name, i) => [name, i]));
  }

  keys(): string[] {
    return [...this.order.keys()];
  }
}

export function isColdRequest(ctx: SchedulingContext, endpoints: readonly Endpoint[]): boolean {
  return !endpoints.some((endpoint) => (ctx.attributes.get<PrefixCacheMatchInfo>(endpoint, PREFIX_CACHE_MATCH_INFO)?.matchBlocks ?? 0) > 0);
}

/** Cold-request scores from LRU positions (see the header). */
export function coldScores(endpoints: readonly Endpoint[], lruPositions: ReadonlyMap<string, number>): Map<Endpoint, number> {
  const scores = new Map<Endpoint, number>();
  const n = endpoints.length;
  if (n === 1) return scores.set(endpoints[0]!, 1);
  const neverUsed = endpoints.filter((endpoint) => !lruPositions.has(endpoint.name));
  neverUsed.forEach((endpoint, i) => scores.set(endpoint, 1 - i / (n - 1)));
  for (const endpoint of endpoints) {
    const position = lruPositions.get(endpoint.name);
    if (position !== undefined) scores.set(endpoint, Math.max(0, 1 - (neverUsed.length + position) / (n - 1)));
  }
  return scores;
}

export class NoHitLruScorer implements Scorer, PreRequest, ConsumesAttributes {
  readonly type = NO_HIT_LRU_SCORER_TYPE;
  readonly category: ScorerCategory = 'distribution';
  readonly consumes = [PREFIX_CACHE_MATCH_INFO] as const;
  readonly name: string;
  readonly lru: EndpointLru;

  constructor(name: string, lruSize: number = DEFAULT_LRU_SIZE) {
    this.name = name;
    this.lru = new EndpointLru(lruSize > 0 ? lruSize : DEFAULT_LRU_SIZE);
  }

  score(ctx: SchedulingContext, _request: InferenceRequest, endpoints: readonly Endpoint[]): Map<Endpoint, number> {
    const cold = isColdRequest(ctx, endpoints);
    // Remembered for PreRequest; a second profile run of this scorer overwrites it (same request).
    ctx.state.set(this.name, { cold });
    if (!cold) return new Map(endpoints.map((endpoint) => [endpoint, 0.5]));
    return coldScores(endpoints, this.lru.positions());
  }

  preRequest(ctx: SchedulingContext, _request: InferenceRequest, result: SchedulingResult): void {
    const state = ctx.state.get(this.name) as { cold: boolean } | undefined;
    if (!state?.cold) return;
    for (const profile of [result.primaryProfileName, PREFILL_PROFILE]) {
      const target = result.profileResults.get(profile)?.targets[0];
      if (target) this.lru.touch(target.name);
    }
  }
}

export const noHitLruScorerFactory: PluginFactory = (name, parameters) => {
  const params = parseParameters(NoHitLruParameters, parameters);
  return new NoHitLruScorer(name, params.lruSize ?? DEFAULT_LRU_SIZE);
};
