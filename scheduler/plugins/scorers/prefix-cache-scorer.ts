/**
 * `prefix-cache-scorer` (approximate): prefers endpoints that likely hold more of the request's
 * prefix in their KV cache, as estimated by `approx-prefix-cache-producer` (which the config loader
 * injects with defaults when this scorer is declared without a producer).
 *
 * Input: `PrefixCacheMatchInfo` on each candidate. Score: `matchBlocks / totalBlocks`; 0 when the
 * info is missing or `totalBlocks` is 0. Category: affinity.
 *
 * Parameters:
 * - `mode`: `approximate` (default) | `cache_tracking`. Deployment guides set `mode` on this
 *   scorer; `cache_tracking` (llm-d's older name for KV-event tracking) builds a
 *   `precise-prefix-cache-scorer` instead, with the other parameters passed on to it (its
 *   `indexerConfig`, `kvEventsConfig`, …). Any other value is an error.
 * - `prefixMatchInfoProducerName`: the producer whose match info is read (llm-d Router's way to
 *   pair this scorer with `precise-prefix-cache-producer`); it must name a declared plugin that
 *   produces PrefixCacheMatchInfo, and then no approximate producer is injected. pd-router keeps one
 *   match info per endpoint, so declare one such producer.
 * - In approximate mode every other key is ignored (upstream quirk: sample configs put the
 *   producer's `blockSize`, `maxPrefixBlocksToMatch`, `lruCapacityPerServer` here, where they have
 *   no effect — set them on `approx-prefix-cache-producer`).
 *
 * ```yaml
 * - type: prefix-cache-scorer
 * schedulingProfiles:
 * - name: decode
 *   plugins: [{pluginRef: prefix-cache-scorer, weight: 2}]
 * ```
 */
import { z } from 'zod';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo, type SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import { ConfigError } from '../../framework/errors.js';
import { isDataProducer, type ConsumesAttributes, type Scorer } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { parseParameters, tolerate, type PluginFactory } from '../../framework/registry.js';
import type { ScorerCategory } from './common.js';
import { PRECISE_PREFIX_CACHE_SCORER_TYPE, precisePrefixCacheScorerFactory } from './precise-prefix-cache-scorer.js';

export const PREFIX_CACHE_SCORER_TYPE = 'prefix-cache-scorer';

const PrefixCacheScorerParameters = z.object({
  mode: z.enum(['approximate', 'cache_tracking']).nullish(),
  prefixMatchInfoProducerName: z.string().min(1).nullish(),
});
tolerate(PrefixCacheScorerParameters, ['blockSize', 'blockSizeTokens', 'maxPrefixBlocksToMatch', 'maxPrefixTokensToMatch', 'lruCapacityPerServer', 'autoTune', 'indexerConfig', 'kvEventsConfig', 'tokenProcessorConfig', 'speculativeIndexing', 'speculativeTTL', 'tokenizer']); // producer keys (approximate) / precise keys (cache_tracking)

export function prefixMatchScore(info: PrefixCacheMatchInfo | undefined): number {
  if (!info || !(info.totalBlocks > 0)) return 0;
  return info.matchBlocks / info.totalBlocks;
}

export class PrefixCacheScorer implements Scorer, ConsumesAttributes {
  readonly type = PREFIX_CACHE_SCORER_TYPE;
  readonly category: ScorerCategory = 'affinity';
  readonly consumes = [PREFIX_CACHE_MATCH_INFO] as const;
  readonly name: string;

  constructor(name: string = PREFIX_CACHE_SCORER_TYPE) {
    this.name = name;
  }

  score(ctx: SchedulingContext, _request: InferenceRequest, endpoints: readonly Endpoint[]): Map<Endpoint, number> {
    return new Map(endpoints.map((endpoint) => [endpoint, prefixMatchScore(ctx.attributes.get<PrefixCacheMatchInfo>(endpoint, PREFIX_CACHE_MATCH_INFO))]));
  }
}

export const prefixCacheScorerFactory: PluginFactory = (name, parameters, handle) => {
  const { mode, prefixMatchInfoProducerName: producerName } = parseParameters(PrefixCacheScorerParameters, parameters);
  if (producerName) {
    const producer = handle.plugin(producerName);
    if (!producer) throw new ConfigError('parameters.prefixMatchInfoProducerName', `names no declared plugin: "${producerName}"`);
    if (!isDataProducer(producer) || !producer.produces.includes(PREFIX_CACHE_MATCH_INFO)) {
      throw new ConfigError('parameters.prefixMatchInfoProducerName', `plugin "${producerName}" (type ${producer.type}) does not produce ${PREFIX_CACHE_MATCH_INFO}`);
    }
  }
  if (mode === 'cache_tracking') {
    handle.logger.info({ plugin: name, mode }, `prefix-cache-scorer: mode "cache_tracking" is KV-event tracking: building a ${PRECISE_PREFIX_CACHE_SCORER_TYPE}`);
    const { mode: _mode, ...precise } = parameters as Record<string, unknown>;
    return precisePrefixCacheScorerFactory(name, precise, handle);
  }
  return new PrefixCacheScorer(name);
};
