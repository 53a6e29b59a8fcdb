/** Registers the picker plugins under their type strings. */
import type { PluginRegistry } from '../../framework/registry.js';
import { MAX_SCORE_PICKER_TYPE, maxScorePickerFactory } from './max-score-picker.js';
import { RANDOM_PICKER_TYPE, randomPickerFactory } from './random-picker.js';
import { ROUND_ROBIN_PICKER_TYPE, roundRobinPickerFactory } from './round-robin-picker.js';
import { WEIGHTED_RANDOM_PICKER_TYPE, weightedRandomPickerFactory } from './weighted-random-picker.js';

export function registerPickerPlugins(registry: PluginRegistry): PluginRegistry {
  return registry
    .register(MAX_SCORE_PICKER_TYPE, maxScorePickerFactory)
    .register(RANDOM_PICKER_TYPE, randomPickerFactory)
    .register(WEIGHTED_RANDOM_PICKER_TYPE, weightedRandomPickerFactory)
    .register(ROUND_ROBIN_PICKER_TYPE, roundRobinPickerFactory);
}
