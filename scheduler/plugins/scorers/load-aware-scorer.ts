/**
 * `load-aware-scorer`: scores each endpoint by its waiting queue against a fixed threshold, so an
 * empty queue is "neutral" and a queue at or past the threshold scores 0.
 *
 * Input: q = `metrics.waitingQueueSize`.
 * Score: q = 0 → 0.5; otherwise `0.5 · (1 − min(q, T)/T)`. Not normalised across candidates, so a
 * lone busy endpoint still scores low. (Upstream's formula: idle pods get 0.5, never more.)
 * Category: distribution.
 *
 * Parameters:
 * - `threshold` (int, default 128): the queue length T that scores 0. A value ≤ 0 falls back to
 *   128 with a warning (upstream behaviour); a non-integer is a configuration error.
 *
 * ```yaml
 * - type: load-aware-scorer
 *   parameters: {threshold: 10}
 * ```
 */
import { z } from 'zod';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { Scorer } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import type { ScorerCategory } from './common.js';

export const LOAD_AWARE_SCORER_TYPE = 'load-aware-scorer';
export const DEFAULT_QUEUE_THRESHOLD = 128;

const LoadAwareParameters = z.object({ threshold: z.number().int().nullish() });

export function loadAwareScore(waiting: number, threshold: number): number {
  if (waiting <= 0) return 0.5;
  return 0.5 * (1 - Math.min(waiting, threshold) / threshold);
}

export class LoadAwareScorer implements Scorer {
  readonly type = LOAD_AWARE_SCORER_TYPE;
  readonly category: ScorerCategory = 'distribution';
  readonly name: string;
  readonly threshold: number;

  constructor(name: string, threshold: number = DEFAULT_QUEUE_THRESHOLD) {
    this.name = name;
    this.threshold = threshold > 0 ? threshold : DEFAULT_QUEUE_THRESHOLD;
  }

  score(_ctx: SchedulingContext, _request: InferenceRequest, endpoints: readonly Endpoint[]): Map<Endpoint, number> {
    return new Map(endpoints.map((endpoint) => [endpoint, loadAwareScore(endpoint.metrics.waitingQueueSize, this.threshold)]));
  }
}

export const loadAwareScorerFactory: PluginFactory = (name, parameters, handle) => {
  const { threshold } = parseParameters(LoadAwareParameters, parameters);
  if (threshold !== undefined && threshold !== null && threshold <= 0) {
    handle.logger.warn({ plugin: name, threshold, default: DEFAULT_QUEUE_THRESHOLD }, 'load-aware-scorer: threshold must be positive; using the default');
  }
  return new LoadAwareScorer(name, threshold ?? DEFAULT_QUEUE_THRESHOLD);
};
