/**
 * `mm-embeddings-cache-scorer`: prefers endpoints that likely hold the request's multimodal inputs
 * in their encoder cache, from `mm-embeddings-cache-producer`'s EncoderCacheMatchInfo.
 *
 * Score: Σ size of matched items / Σ size of request items (every item weighs 1, so the share of
 * the request's images/audio/videos the endpoint recently encoded); 0 without match info or when
 * the request has no multimodal item. Category: affinity.
 *
 * Parameters: `producerName` (optional): the producer to read; it must name a declared plugin that
 * produces EncoderCacheMatchInfo.
 *
 * ```yaml
 * - type: mm-embeddings-cache-scorer
 * schedulingProfiles: [{name: default, plugins: [{pluginRef: mm-embeddings-cache-scorer, weight: 4}]}]
 * ```
 */
import { z } from 'zod';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import { ConfigError } from '../../framework/errors.js';
import { isDataProducer, type ConsumesAttributes, type Scorer } from '../../framework/plugins.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import type { InferenceRequest } from '../../framework/request.js';
import { ENCODER_CACHE_MATCH_INFO, type EncoderCacheMatchInfo, type MatchItem } from '../producers/mm-embeddings-cache-producer.js';
import type { ScorerCategory } from './common.js';

export const MM_EMBEDDINGS_CACHE_SCORER_TYPE = 'mm-embeddings-cache-scorer';

const weight = (items: readonly MatchItem[]): number => items.reduce((sum, item) => sum + item.size, 0);

export function encoderCacheScore(info: EncoderCacheMatchInfo | undefined): number {
  const total = info ? weight(info.requestItems) : 0;
  return total > 0 ? weight(info!.matchedItems) / total : 0;
}

export class MmEmbeddingsCacheScorer implements Scorer, ConsumesAttributes {
  readonly type = MM_EMBEDDINGS_CACHE_SCORER_TYPE;
  readonly category: ScorerCategory = 'affinity';
  readonly consumes = [ENCODER_CACHE_MATCH_INFO] as const;
  constructor(readonly name: string = MM_EMBEDDINGS_CACHE_SCORER_TYPE) {}

  score(ctx: SchedulingContext, _request: InferenceRequest, endpoints: readonly Endpoint[]): Map<Endpoint, number> {
    return new Map(endpoints.map((e) => [e, encoderCacheScore(ctx.attributes.get<EncoderCacheMatchInfo>(e, ENCODER_CACHE_MATCH_INFO))]));
  }
}

export const mmEmbeddingsCacheScorerFactory: PluginFactory = (name, parameters, handle) => {
  const { producerName } = parseParameters(z.object({ producerName: z.string().min(1).nullish() }), parameters);
  if (producerName) {
    const producer = handle.plugin(producerName);
    if (!producer || !isDataProducer(producer) || !producer.produces.includes(ENCODER_CACHE_MATCH_INFO)) {
      throw new ConfigError('parameters.producerName', `"${producerName}" is not a declared plugin producing ${ENCODER_CACHE_MATCH_INFO}`);
    }
  }
  return new MmEmbeddingsCacheScorer(name);
};
