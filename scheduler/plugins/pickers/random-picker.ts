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
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { Picker, ProfileRunResult, ScoredEndpoint } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import type { PluginHandle } from '../../framework/registry.js';
import { DEFAULT_MAX_NUM_OF_ENDPOINTS, normaliseMaxNumOfEndpoints, parseMaxNumOfEndpoints, shuffleInPlace, type PickerOptions, type RandomSource } from './common.js';

export const RANDOM_PICKER_TYPE = 'random-picker';

export function pickRandom(scored: readonly ScoredEndpoint[], k: number, random: RandomSource): Endpoint[] {
  return shuffleInPlace([...scored], random).slice(0, k).map((entry) => entry.endpoint);
}

export class RandomPicker implements Picker {
  readonly type = RANDOM_PICKER_TYPE;
  readonly name: string;
  readonly maxNumOfEndpoints: number;
  private readonly random: RandomSource;

  constructor(name: string, maxNumOfEndpoints: number = DEFAULT_MAX_NUM_OF_ENDPOINTS, options: PickerOptions = {}) {
    this.name = name;
    this.maxNumOfEndpoints = normaliseMaxNumOfEndpoints(maxNumOfEndpoints);
    this.random = options.random ?? Math.random;
  }

  pick(_ctx: SchedulingContext, _request: InferenceRequest, scored: readonly ScoredEndpoint[]): ProfileRunResult {
    return { targets: pickRandom(scored, this.maxNumOfEndpoints, this.random) };
  }
}

export const randomPickerFactory = (name: string, parameters: unknown, _handle?: PluginHandle, options: PickerOptions = {}): RandomPicker =>
  new RandomPicker(name, parseMaxNumOfEndpoints(parameters), options);
