/** Registers the scorer plugins under their llm-d type strings. */
import type { PluginRegistry } from '../../framework/registry.js';
import { ACTIVE_REQUEST_SCORER_TYPE, activeRequestScorerFactory } from './active-request-scorer.js';
import { KV_CACHE_SCORER_ALIAS, KV_CACHE_UTILIZATION_SCORER_TYPE, kvCacheUtilizationScorerFactory } from './kv-cache-utilization-scorer.js';
import { LOAD_AWARE_SCORER_TYPE, loadAwareScorerFactory } from './load-aware-scorer.js';
import { NO_HIT_LRU_SCORER_TYPE, noHitLruScorerFactory } from './no-hit-lru-scorer.js';
import { PREFIX_CACHE_SCORER_TYPE, prefixCacheScorerFactory } from './prefix-cache-scorer.js';
import { PRECISE_PREFIX_CACHE_SCORER_TYPE, precisePrefixCacheScorerFactory } from './precise-prefix-cache-scorer.js';
import { QUEUE_SCORER_TYPE, queueScorerFactory } from './queue-scorer.js';
import { RUNNING_REQUESTS_SIZE_SCORER_TYPE, runningRequestsSizeScorerFactory } from './running-requests-size-scorer.js';
import { SESSION_AFFINITY_SCORER_TYPE, sessionAffinityScorerFactory } from './session-affinity-scorer.js';
import { TOKEN_LOAD_SCORER_TYPE, tokenLoadScorerFactory } from './token-load-scorer.js';
import { TOPOLOGY_AFFINITY_SCORER_TYPE, topologyAffinityScorerFactory } from './topology-affinity-scorer.js';
import { ENDPOINT_ATTRIBUTE_SCORER_TYPE, endpointAttributeScorerFactory } from './endpoint-attribute-scorer.js';
import { LORA_AFFINITY_SCORER_TYPE, loraAffinityScorerFactory } from './lora-affinity-scorer.js';
// llmda: multimodal encoder-cache affinity
import { MM_EMBEDDINGS_CACHE_SCORER_TYPE, mmEmbeddingsCacheScorerFactory } from './mm-embeddings-cache-scorer.js';

export function registerScorerPlugins(registry: PluginRegistry): PluginRegistry {
  return registry
    .register(QUEUE_SCORER_TYPE, queueScorerFactory)
    .register(RUNNING_REQUESTS_SIZE_SCORER_TYPE, runningRequestsSizeScorerFactory)
    .register(KV_CACHE_UTILIZATION_SCORER_TYPE, kvCacheUtilizationScorerFactory)
    .alias(KV_CACHE_SCORER_ALIAS, KV_CACHE_UTILIZATION_SCORER_TYPE)
    .register(LOAD_AWARE_SCORER_TYPE, loadAwareScorerFactory)
    .register(ACTIVE_REQUEST_SCORER_TYPE, activeRequestScorerFactory)
    .register(SESSION_AFFINITY_SCORER_TYPE, sessionAffinityScorerFactory)
    .register(NO_HIT_LRU_SCORER_TYPE, noHitLruScorerFactory)
    .register(PREFIX_CACHE_SCORER_TYPE, prefixCacheScorerFactory)
    .register(PRECISE_PREFIX_CACHE_SCORER_TYPE, precisePrefixCacheScorerFactory)
    .register(TOKEN_LOAD_SCORER_TYPE, tokenLoadScorerFactory)
    .register(LORA_AFFINITY_SCORER_TYPE, loraAffinityScorerFactory)
    .register(TOPOLOGY_AFFINITY_SCORER_TYPE, topologyAffinityScorerFactory)
    .register(ENDPOINT_ATTRIBUTE_SCORER_TYPE, endpointAttributeScorerFactory)
    .register(MM_EMBEDDINGS_CACHE_SCORER_TYPE, mmEmbeddingsCacheScorerFactory);
}
