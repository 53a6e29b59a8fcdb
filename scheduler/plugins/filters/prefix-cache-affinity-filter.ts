/**
 * `prefix-cache-affinity-filter`: "sticky until saturated". Keeps only the endpoints that already
 * hold most of the request's prefix, unless those are so loaded that a cold endpoint would answer
 * sooner.
 *
 * With s_e = matchBlocks/totalBlocks from `PrefixCacheMatchInfo` (0 when absent) and τ =
 * affinityThreshold:
 * 1. ≤ 1 candidate, or τ ≤ 0 → keep all.
 * 2. With probability explorationProbability → keep all (seeds caches elsewhere).
 * 3. sticky = {e : s_e ≥ τ}; none → keep all.
 * 4. TTFT gate (maxTTFTPenaltyMs > 0 and some non-sticky endpoint): ttft_e = inFlightTokens_e /
 *    peakPrefillThroughput · 1000 ms (`InFlightLoad` from `inflight-load-producer`, 0 when absent);
 *    if min(ttft over sticky) − min(ttft over non-sticky) > maxTTFTPenaltyMs → keep all.
 * 5. Otherwise keep sticky (input order).
 *
 * Parameters (defaults as llm-d):
 * - `affinityThreshold` (number ≤ 1, default 0.80)
 * - `explorationProbability` (number in [0,1], default 0)
 * - `maxTTFTPenaltyMs` (number ≥ 0, default 18000; 0 = always stick)
 * - `ttftSource` (`prefillThroughput` only; llm-d's `latencyPredictor` needs a latency predictor,
 *   which pd-router does not have: rejected at start-up)
 * - `peakPrefillThroughput` (tokens/s > 0 when the gate is on, default 15928)
 * - `prefixMatchInfoProducerName`, `inFlightLoadProducerName` (strings; must name such producers)
 *
 * ```yaml
 * - type: prefix-cache-affinity-filter
 *   parameters: {affinityThreshold: 0.8, maxTTFTPenaltyMs: 5000}
 * ```
 */
import { z } from 'zod';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo, type SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import { ConfigError } from '../../framework/errors.js';
import type { Filter } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { parseParameters, type PluginHandle } from '../../framework/registry.js';
import { IN_FLIGHT_LOAD, type InFlightLoad } from '../producers/inflight-load-producer.js';
import { checkInFlightProducer } from '../scorers/token-load-scorer.js';

export const PREFIX_CACHE_AFFINITY_FILTER_TYPE = 'prefix-cache-affinity-filter';

export const AFFINITY_DEFAULTS = {
  affinityThreshold: 0.8,
  explorationProbability: 0,
  maxTTFTPenaltyMs: 18_000,
  peakPrefillThroughput: 15_928,
} as const;

const Parameters = z.strictObject({
  affinityThreshold: z.number().max(1, 'must be <= 1').nullish(),
  explorationProbability: z.number().min(0, 'must be in [0, 1]').max(1, 'must be in [0, 1]').nullish(),
  maxTTFTPenaltyMs: z.number().min(0, 'must be >= 0').nullish(),
  ttftSource: z.string().nullish(),
  peakPrefillThroughput: z.number().min(0, 'must be >= 0').nullish(),
  prefixMatchInfoProducerName: z.string().nullish(),
  latencyPredictionInfoProducerName: z.string().nullish(),
  inFlightLoadProducerName: z.string().nullish(),
});

export interface AffinityOptions {
  affinityThreshold: number;
  explorationProbability: number;
  maxTTFTPenaltyMs: number;
  peakPrefillThroughput: number;
  /** Uniform [0,1) source (tests). */
  random?: () => number;
}

export function prefixMatchRatio(info: PrefixCacheMatchInfo | undefined): number {
  if (!info || info.totalBlocks <= 0) return 0;
  return info.matchBlocks / info.totalBlocks;
}

export class PrefixCacheAffinityFilter implements Filter {
  readonly type = PREFIX_CACHE_AFFINITY_FILTER_TYPE;
  readonly consumes: readonly string[];
  private readonly random: () => number;

  constructor(readonly name: string, readonly options: AffinityOptions) {
    this.random = options.random ?? Math.random;
    this.consumes = options.maxTTFTPenaltyMs > 0 ? [PREFIX_CACHE_MATCH_INFO, IN_FLIGHT_LOAD] : [PREFIX_CACHE_MATCH_INFO];
  }

  filter(ctx: SchedulingContext, _request: InferenceRequest, endpoints: readonly Endpoint[]): Endpoint[] {
    const { affinityThreshold, explorationProbability, maxTTFTPenaltyMs, peakPrefillThroughput } = this.options;
    if (endpoints.length <= 1 || affinityThreshold <= 0) return [...endpoints];
    if (explorationProbability > 0 && this.random() < explorationProbability) return [...endpoints];
    const sticky: Endpoint[] = [];
    const cold: Endpoint[] = [];
    for (const endpoint of endpoints) {
      const ratio = prefixMatchRatio(ctx.attributes.get<PrefixCacheMatchInfo>(endpoint, PREFIX_CACHE_MATCH_INFO));
      (ratio >= affinityThreshold ? sticky : cold).push(endpoint);
    }
    if (sticky.length === 0) return [...endpoints];
    if (maxTTFTPenaltyMs > 0 && cold.length > 0) {
      const ttft = (endpoint: Endpoint) => ((ctx.attributes.get<InFlightLoad>(endpoint, IN_FLIGHT_LOAD)?.tokens ?? 0) / peakPrefillThroughput) * 1000;
      const best = (list: readonly Endpoint[]) => Math.min(...list.map(ttft));
      if (best(sticky) - best(cold) > maxTTFTPenaltyMs) return [...endpoints];
    }
    return sticky;
  }
}

export const prefixCacheAffinityFilterFactory = (name: string, parameters: unknown, handle: PluginHandle): PrefixCacheAffinityFilter => {
  const params = parseParameters(Parameters, parameters);
  const ttftSource = params.ttftSource ?? 'prefillThroughput';
  if (ttftSource === 'latencyPredictor') {
    throw new ConfigError('parameters.ttftSource', 'latencyPredictor needs a latency predictor, which pd-router does not have; use prefillThroughput');
  }
  if (ttftSource !== 'prefillThroughput') throw new ConfigError('parameters.ttftSource', `must be "prefillThroughput" or "latencyPredictor", got "${ttftSource}"`);
  if (params.latencyPredictionInfoProducerName) {
    throw new ConfigError('parameters.latencyPredictionInfoProducerName', 'pd-router has no latency predictor');
  }
  const options: AffinityOptions = {
    affinityThreshold: params.affinityThreshold ?? AFFINITY_DEFAULTS.affinityThreshold,
    explorationProbability: params.explorationProbability ?? AFFINITY_DEFAULTS.explorationProbability,
    maxTTFTPenaltyMs: params.maxTTFTPenaltyMs ?? AFFINITY_DEFAULTS.maxTTFTPenaltyMs,
    peakPrefillThroughput: params.peakPrefillThroughput ?? AFFINITY_DEFAULTS.peakPrefillThroughput,
  };
  if (options.maxTTFTPenaltyMs > 0 && options.peakPrefillThroughput === 0) {
    throw new ConfigError('parameters.peakPrefillThroughput', 'must be > 0 when the TTFT gate is on (maxTTFTPenaltyMs > 0)');
  }
  checkInFlightProducer(params.inFlightLoadProducerName, handle);
  if (params.prefixMatchInfoProducerName && !handle.plugin(params.prefixMatchInfoProducerName)) {
    throw new ConfigError('parameters.prefixMatchInfoProducerName', `no plugin named "${params.prefixMatchInfoProducerName}" is declared`);
  }
  return new PrefixCacheAffinityFilter(name, options);
};
