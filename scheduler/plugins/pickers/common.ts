/** What every picker shares: the `maxNumOfEndpoints` parameter and injectable randomness. */
import { z } from 'zod';
import { parseParameters } from '../../framework/registry.js';

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
