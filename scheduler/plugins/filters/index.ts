/** Registers the filter plugins under their llm-d type strings. */
import type { PluginRegistry } from '../../framework/registry.js';
import { BY_LABEL_TYPE, byLabelFactory } from './by-label.js';
import { DECODE_FILTER_TYPE, decodeFilterFactory } from './decode-filter.js';
import { ENCODE_FILTER_TYPE, encodeFilterFactory } from './encode-filter.js';
import { BY_LABEL_SELECTOR_TYPE, LABEL_SELECTOR_FILTER_TYPE, labelSelectorFilterFactory } from './label-selector-filter.js';
import { PREFILL_FILTER_TYPE, prefillFilterFactory } from './prefill-filter.js';
import { TOPOLOGY_AFFINITY_FILTER_TYPE, topologyAffinityFilterFactory } from './topology-affinity-filter.js';
import { ENDPOINT_ATTRIBUTE_FILTER_TYPE, endpointAttributeFilterFactory } from './endpoint-attribute-filter.js';
import { PREFIX_CACHE_AFFINITY_FILTER_TYPE, prefixCacheAffinityFilterFactory } from './prefix-cache-affinity-filter.js';

export function registerFilterPlugins(registry: PluginRegistry): PluginRegistry {
  return registry
    .register(DECODE_FILTER_TYPE, decodeFilterFactory)
    .register(PREFILL_FILTER_TYPE, prefillFilterFactory)
    .register(ENCODE_FILTER_TYPE, encodeFilterFactory)
    .register(BY_LABEL_TYPE, byLabelFactory)
    .register(LABEL_SELECTOR_FILTER_TYPE, labelSelectorFilterFactory)
    .alias(BY_LABEL_SELECTOR_TYPE, LABEL_SELECTOR_FILTER_TYPE)
    .register(PREFIX_CACHE_AFFINITY_FILTER_TYPE, prefixCacheAffinityFilterFactory)
    .register(TOPOLOGY_AFFINITY_FILTER_TYPE, topologyAffinityFilterFactory)
    .register(ENDPOINT_ATTRIBUTE_FILTER_TYPE, endpointAttributeFilterFactory);
}
