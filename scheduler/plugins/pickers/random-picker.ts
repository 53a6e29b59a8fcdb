/**
 * `random-picker`: picks uniformly at random among the scored candidates, ignoring scores.
 *
 * Algorithm: shuffle, take the first k. Parameters: `maxNumOfEndpoints` k (int, default 1; ≤ 0 → 1).
 *
 * ```yaml
 * - type: random-picker
 *   parameters: {maxNumOfEndpoints: 1}
 * ```
 */
import type { Endpoint } from '../../framework/endpoint.js';
import type { ScoredEndpoint } from '../../framework/plugins.js';
import type { PluginHandle } from '../../framework/registry.js';
import { RulePicker, parseMaxNumOfEndpoints, shuffleInPlace, type PickerOptions, type RandomSource } from './common.js';

export const RANDOM_PICKER_TYPE = 'random-picker';

export function pickRandom(scored: readonly ScoredEndpoint[], k: number, random: RandomSource): Endpoint[] {
  return shuffleInPlace([...scored], random).slice(0, k).map((entry) => entry.endpoint);
}

export class RandomPicker extends RulePicker {
  readonly type = RANDOM_PICKER_TYPE;
  protected readonly rule = pickRandom;
}

export const randomPickerFactory = (name: string, parameters: unknown, _handle?: PluginHandle, options: PickerOptions = {}): RandomPicker =>
  new RandomPicker(name, parseMaxNumOfEndpoints(parameters), options);
