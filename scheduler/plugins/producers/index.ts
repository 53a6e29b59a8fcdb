/** Registers the data-producer plugins under their llm-d type strings. */
import type { PluginRegistry } from '../../framework/registry.js';
import { APPROX_PREFIX_CACHE_PRODUCER_TYPE, approxPrefixCacheProducerFactory } from './approx-prefix-cache-producer.js';
import { TOPOLOGY_EXTRACTOR_TYPE, topologyExtractorFactory } from './topology-extractor.js';
import { INFLIGHT_LOAD_PRODUCER_TYPE, inflightLoadProducerFactory } from './inflight-load-producer.js';
// llmda: tokens and precise prefix producers
import { PRECISE_PREFIX_CACHE_PRODUCER_TYPE, precisePrefixCacheProducerFactory } from './precise-prefix-cache-producer.js';
import { TOKEN_PRODUCER_TYPE, tokenProducerFactory } from './token-producer.js';
import { MM_EMBEDDINGS_CACHE_PRODUCER_TYPE, mmEmbeddingsCacheProducerFactory } from './mm-embeddings-cache-producer.js';
import { BURST_PREFIX_CACHE_PRODUCER_TYPE, burstPrefixCacheProducerFactory } from './burst-prefix-cache-producer.js';

export function registerProducerPlugins(registry: PluginRegistry): PluginRegistry {
  return registry.register(APPROX_PREFIX_CACHE_PRODUCER_TYPE, approxPrefixCacheProducerFactory)
    .register(INFLIGHT_LOAD_PRODUCER_TYPE, inflightLoadProducerFactory)
    .register(TOPOLOGY_EXTRACTOR_TYPE, topologyExtractorFactory)
    .register(TOKEN_PRODUCER_TYPE, tokenProducerFactory)
    .register(PRECISE_PREFIX_CACHE_PRODUCER_TYPE, precisePrefixCacheProducerFactory)
    .register(BURST_PREFIX_CACHE_PRODUCER_TYPE, burstPrefixCacheProducerFactory)
    .register(MM_EMBEDDINGS_CACHE_PRODUCER_TYPE, mmEmbeddingsCacheProducerFactory);
}
