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
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { Picker, ProfileRunResult, ScoredEndpoint } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import type { PluginHandle } from '../../framework/registry.js';
import { DEFAULT_MAX_NUM_OF_ENDPOINTS, normaliseMaxNumOfEndpoints, parseMaxNumOfEndpoints, shuffleInPlace, type PickerOptions, type RandomSource } from './common.js';

export const MAX_SCORE_PICKER_TYPE = 'max-score-picker';

export function pickMaxScore(scored: readonly ScoredEndpoint[], k: number, random: RandomSource): Endpoint[] {
  const order = shuffleInPlace([...scored], random);
  order.sort((a, b) => b.score - a.score); // Array.prototype.sort is stable
  return order.slice(0, k).map((entry) => entry.endpoint);
}

export class MaxScorePicker implements Picker {
  readonly type = MAX_SCORE_PICKER_TYPE;
  readonly name: string;
  readonly maxNumOfEndpoints: number;
  private readonly random: RandomSource;

  constructor(name: string = MAX_SCORE_PICKER_TYPE, maxNumOfEndpoints: number = DEFAULT_MAX_NUM_OF_ENDPOINTS, options: PickerOptions = {}) {
    this.name = name;
    this.maxNumOfEndpoints = normaliseMaxNumOfEndpoints(maxNumOfEndpoints);
    this.random = options.random ?? Math.random;
  }

  pick(_ctx: SchedulingContext, _request: InferenceRequest, scored: readonly ScoredEndpoint[]): ProfileRunResult {
    return { targets: pickMaxScore(scored, this.maxNumOfEndpoints, this.random) };
  }
}

export const maxScorePickerFactory = (name: string, parameters: unknown, _handle?: PluginHandle, options: PickerOptions = {}): MaxScorePicker =>
  new MaxScorePicker(name, parseMaxNumOfEndpoints(parameters), options);
