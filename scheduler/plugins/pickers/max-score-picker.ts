/**
 * `max-score-picker` (llm-d's default picker): picks the highest-scored endpoints; ties are broken
 * at random so equal endpoints share the load.
 *
 * Algorithm: shuffle, stable-sort by score descending, take the first k.
 * Parameters: `maxNumOfEndpoints` k (int, default 1; ≤ 0 → 1).
 *
 * ```yaml
 * - type: max-score-picker
 * schedulingProfiles:
 * - name: default
 *   plugins: [{pluginRef: max-score-picker}]
 * ```
 */
import type { Endpoint } from '../../framework/endpoint.js';
import type { ScoredEndpoint } from '../../framework/plugins.js';
import type { PluginHandle } from '../../framework/registry.js';
import { RulePicker, parseMaxNumOfEndpoints, shuffleInPlace, type PickerOptions, type RandomSource } from './common.js';

export const MAX_SCORE_PICKER_TYPE = 'max-score-picker';

export function pickMaxScore(scored: readonly ScoredEndpoint[], k: number, random: RandomSource): Endpoint[] {
  const order = shuffleInPlace([...scored], random);
  order.sort((a, b) => b.score - a.score); // Array.prototype.sort is stable
  return order.slice(0, k).map((entry) => entry.endpoint);
}

export class MaxScorePicker extends RulePicker {
  readonly type = MAX_SCORE_PICKER_TYPE;
  protected readonly rule = pickMaxScore;
  constructor(name: string = MAX_SCORE_PICKER_TYPE, maxNumOfEndpoints?: number, options?: PickerOptions) {
    super(name, maxNumOfEndpoints, options);
  }
}

export const maxScorePickerFactory = (name: string, parameters: unknown, _handle?: PluginHandle, options: PickerOptions = {}): MaxScorePicker =>
  new MaxScorePicker(name, parseMaxNumOfEndpoints(parameters), options);
