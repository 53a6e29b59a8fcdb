/** The P/D and E/PD deciders a disagg/pd profile handler consults. */
import type { PluginRegistry } from '../../framework/registry.js';
import { ADAPTIVE_PD_DECIDER_TYPE, adaptivePdDeciderFactory } from './adaptive-pd-decider.js';
import { ALWAYS_DISAGG_MULTIMODAL_DECIDER_TYPE, alwaysDisaggMultimodalDeciderFactory } from './always-disagg-multimodal-decider.js';
import { ALWAYS_DISAGG_PD_DECIDER_TYPE, alwaysDisaggPdDeciderFactory } from './always-disagg-pd-decider.js';
import { PREFIX_BASED_PD_DECIDER_TYPE, prefixBasedPdDeciderFactory } from './prefix-based-pd-decider.js';

export function registerDeciderPlugins(registry: PluginRegistry): PluginRegistry {
  return registry
    .register(PREFIX_BASED_PD_DECIDER_TYPE, prefixBasedPdDeciderFactory)
    .register(ADAPTIVE_PD_DECIDER_TYPE, adaptivePdDeciderFactory)
    .register(ALWAYS_DISAGG_PD_DECIDER_TYPE, alwaysDisaggPdDeciderFactory)
    .register(ALWAYS_DISAGG_MULTIMODAL_DECIDER_TYPE, alwaysDisaggMultimodalDeciderFactory);
}
