/**
 * What every picker shares: the `maxNumOfEndpoints` parameter, injectable randomness, and the
 * plugin shell of the pickers that are one rule over the scored list (max-score, random,
 * weighted-random).
 */
import { z } from 'zod';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { Picker, ProfileRunResult, ScoredEndpoint } from '../../framework/plugins.js';
import { parseParameters } from '../../framework/registry.js';
import type { InferenceRequest } from '../../framework/request.js';

export const DEFAULT_MAX_NUM_OF_ENDPOINTS = 1;

/** A source of uniform numbers in [0,1), like Math.random (tests inject a seeded one). */
export type RandomSource = () => number;

/** Options a test (or embedding code) may pass as the factory's 4th argument. */
export interface PickerOptions {
  random?: RandomSource;
}

const PickerParameters = z.object({ maxNumOfEndpoints: z.number().int().nullish() });

/** `maxNumOfEndpoints` (default 1; ≤ 0 falls back to 1, as upstream). Other keys stop start-up. */
export function parseMaxNumOfEndpoints(parameters: unknown): number {
  const { maxNumOfEndpoints } = parseParameters(PickerParameters, parameters);
  return normaliseMaxNumOfEndpoints(maxNumOfEndpoints);
}

export function normaliseMaxNumOfEndpoints(value: number | null | undefined): number {
  return value !== undefined && value !== null && value > 0 ? value : DEFAULT_MAX_NUM_OF_ENDPOINTS;
}

/** Fisher–Yates shuffle in place. */
export function shuffleInPlace<T>(items: T[], random: RandomSource): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = items[i]!;
    items[i] = items[j]!;
    items[j] = swap;
  }
  return items;
}

/** How a picker chooses k of the scored endpoints, given a random source. */
export type PickRule = (scored: readonly ScoredEndpoint[], k: number, random: RandomSource) => Endpoint[];

/** A picker that is its rule applied to the scored list with k = `maxNumOfEndpoints`. */
export abstract class RulePicker implements Picker {
  abstract readonly type: string;
  readonly name: string;
  readonly maxNumOfEndpoints: number;
  protected abstract readonly rule: PickRule;
  private readonly random: RandomSource;

  constructor(name: string, maxNumOfEndpoints: number = DEFAULT_MAX_NUM_OF_ENDPOINTS, options: PickerOptions = {}) {
    this.name = name;
    this.maxNumOfEndpoints = normaliseMaxNumOfEndpoints(maxNumOfEndpoints);
    this.random = options.random ?? Math.random;
  }

  pick(_ctx: SchedulingContext, _request: InferenceRequest, scored: readonly ScoredEndpoint[]): ProfileRunResult {
    return { targets: this.rule(scored, this.maxNumOfEndpoints, this.random) };
  }
}
