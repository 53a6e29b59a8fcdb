/**
 * `queue-scorer`: prefers endpoints with fewer requests waiting in the model server's queue.
 *
 * Input: `metrics.waitingQueueSize` (`vllm:num_requests_waiting`).
 * Score: `(max − q)/(max − min)` over the candidates; all get 1 when max == min. An endpoint that
 * was never scraped has zero metrics and so looks idle (as upstream: new endpoints start at zero).
 * Category: distribution. No parameters (any given are ignored).
 *
 * ```yaml
 * - type: queue-scorer
 * schedulingProfiles:
 * - name: default
 *   plugins: [{pluginRef: queue-scorer, weight: 1}]
 * ```
 */
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { Scorer } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import type { PluginFactory } from '../../framework/registry.js';
import { minMaxScores, type ScorerCategory } from './common.js';

export const QUEUE_SCORER_TYPE = 'queue-scorer';

export function queueScores(endpoints: readonly Endpoint[]): Map<Endpoint, number> {
  return minMaxScores(endpoints, (endpoint) => endpoint.metrics.waitingQueueSize);
}

export class QueueScorer implements Scorer {
  readonly type = QUEUE_SCORER_TYPE;
  readonly category: ScorerCategory = 'distribution';
  readonly name: string;

  constructor(name: string = QUEUE_SCORER_TYPE) {
    this.name = name;
  }

  score(_ctx: SchedulingContext, _request: InferenceRequest, endpoints: readonly Endpoint[]): Map<Endpoint, number> {
    return queueScores(endpoints);
  }
}

export const queueScorerFactory: PluginFactory = (name) => new QueueScorer(name);
