/**
 * `kv-cache-utilization-scorer` (older name `kv-cache-scorer`, registered as a deprecated alias):
 * prefers endpoints with free KV-cache space.
 *
 * Input: `metrics.kvCacheUsagePercent` (`vllm:kv_cache_usage_perc`, 0–1).
 * Score: `1 − u`. Not normalised across candidates. A never-scraped endpoint (u = 0) scores 1.
 * Category: distribution. No parameters (any given are ignored).
 *
 * ```yaml
 * - type: kv-cache-utilization-scorer
 * schedulingProfiles:
 * - name: default
 *   plugins: [{pluginRef: kv-cache-utilization-scorer, weight: 2}]
 * ```
 */
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { Scorer } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import type { PluginFactory } from '../../framework/registry.js';
import type { ScorerCategory } from './common.js';

export const KV_CACHE_UTILIZATION_SCORER_TYPE = 'kv-cache-utilization-scorer';
/** The type's older name, kept for pasted configs. */
export const KV_CACHE_SCORER_ALIAS = 'kv-cache-scorer';

export function kvCacheUtilizationScores(endpoints: readonly Endpoint[]): Map<Endpoint, number> {
  return new Map(endpoints.map((endpoint) => [endpoint, 1 - endpoint.metrics.kvCacheUsagePercent]));
}

export class KvCacheUtilizationScorer implements Scorer {
  readonly type = KV_CACHE_UTILIZATION_SCORER_TYPE;
  readonly category: ScorerCategory = 'distribution';
  readonly name: string;

  constructor(name: string = KV_CACHE_UTILIZATION_SCORER_TYPE) {
    this.name = name;
  }

  score(_ctx: SchedulingContext, _request: InferenceRequest, endpoints: readonly Endpoint[]): Map<Endpoint, number> {
    return kvCacheUtilizationScores(endpoints);
  }
}

export const kvCacheUtilizationScorerFactory: PluginFactory = (name) => new KvCacheUtilizationScorer(name);
