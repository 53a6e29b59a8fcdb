/** Small pieces the scorers share. */
import type { Endpoint } from '../../framework/endpoint.js';

/**
 * What a scorer prefers (llm-d `ScorerCategory`): `affinity` pulls requests to where state already
 * is (prefix cache, session); `distribution` spreads load.
 */
export type ScorerCategory = 'affinity' | 'distribution';

/**
 * Lower-is-better min–max normalisation: `(max − v)/(max − min)`, so the least loaded endpoint gets
 * 1 and the most loaded 0; every endpoint gets 1 when all values are equal (or there is only one).
 */
export function minMaxScores(endpoints: readonly Endpoint[], value: (endpoint: Endpoint) => number): Map<Endpoint, number> {
  let min = Infinity;
  let max = -Infinity;
  const values = endpoints.map((endpoint) => {
    const v = value(endpoint);
    if (v < min) min = v;
    if (v > max) max = v;
    return v;
  });
  const scores = new Map<Endpoint, number>();
  endpoints.forEach((endpoint, i) => scores.set(endpoint, max === min ? 1 : (max - values[i]!) / (max - min)));
  return scores;
}
