/**
 * `weighted-random-picker`: picks at random with probability proportional to score, so better
 * endpoints win more often without starving the rest.
 *
 * Algorithm (A-Res weighted reservoir sampling, Efraimidis & Spirakis): each endpoint with score
 * w > 0 gets key `U^(1/w)`, U uniform in (0,1) (U = 0 becomes 1e-10); score ≤ 0 gets key 0; the k
 * largest keys win. When every score is ≤ 0 it falls back to a uniform random pick.
 * Parameters: `maxNumOfEndpoints` k (int, default 1; ≤ 0 → 1).
 *
 * ```yaml
 * - type: weighted-random-picker
 *   parameters: {maxNumOfEndpoints: 1}
 * ```
 */
import type { Endpoint } from '../../framework/endpoint.js';
import type { ScoredEndpoint } from '../../framework/plugins.js';
import type { PluginHandle } from '../../framework/registry.js';
import { RulePicker, parseMaxNumOfEndpoints, type PickerOptions, type RandomSource } from './common.js';
import { pickRandom } from './random-picker.js';

export const WEIGHTED_RANDOM_PICKER_TYPE = 'weighted-random-picker';

export function pickWeightedRandom(scored: readonly ScoredEndpoint[], k: number, random: RandomSource): Endpoint[] {
  if (!scored.some((entry) => entry.score > 0)) return pickRandom(scored, k, random);
  const keyed = scored.map((entry) => {
    if (!(entry.score > 0)) return { endpoint: entry.endpoint, key: 0 };
    const u = random() || 1e-10;
    return { endpoint: entry.endpoint, key: u ** (1 / entry.score) };
  });
  keyed.sort((a, b) => b.key - a.key);
  return keyed.slice(0, k).map((entry) => entry.endpoint);
}

export class WeightedRandomPicker extends RulePicker {
  readonly type = WEIGHTED_RANDOM_PICKER_TYPE;
  protected readonly rule = pickWeightedRandom;
}

export const weightedRandomPickerFactory = (name: string, parameters: unknown, _handle?: PluginHandle, options: PickerOptions = {}): WeightedRandomPicker =>
  new WeightedRandomPicker(name, parseMaxNumOfEndpoints(parameters), options);
