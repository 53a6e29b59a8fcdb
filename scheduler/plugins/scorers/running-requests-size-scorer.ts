/**
 * `running-requests-size-scorer`: prefers endpoints running fewer requests.
 *
 * Input: `metrics.runningRequestsSize` (`vllm:num_requests_running`).
 * Score: `(max − r)/(max − min)` over the candidates; all get 1 when max == min.
 * Category: distribution. No parameters (any given are ignored).
 *
 * ```yaml
 * - type: running-requests-size-scorer
 * ```
 */
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { Scorer } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import type { PluginFactory } from '../../framework/registry.js';
import { minMaxScores, type ScorerCategory } from './common.js';

export const RUNNING_REQUESTS_SIZE_SCORER_TYPE = 'running-requests-size-scorer';

export function runningRequestsScores(endpoints: readonly Endpoint[]): Map<Endpoint, number> {
  return minMaxScores(endpoints, (endpoint) => endpoint.metrics.runningRequestsSize);
}

export class RunningRequestsSizeScorer implements Scorer {
  readonly type = RUNNING_REQUESTS_SIZE_SCORER_TYPE;
  readonly category: ScorerCategory = 'distribution';
  readonly name: string;

  constructor(name: string = RUNNING_REQUESTS_SIZE_SCORER_TYPE) {
    this.name = name;
  }

  score(_ctx: SchedulingContext, _request: InferenceRequest, endpoints: readonly Endpoint[]): Map<Endpoint, number> {
    return runningRequestsScores(endpoints);
  }
}

export const runningRequestsSizeScorerFactory: PluginFactory = (name) => new RunningRequestsSizeScorer(name);
