/**
 * `lora-affinity-scorer`: prefers endpoints that already serve the request's LoRA adapter, then
 * those that can load one more.
 *
 * Input: `metrics.activeModels`, `metrics.waitingModels`, `metrics.maxActiveModels` (vLLM
 * `vllm:lora_requests_info`). With m = the request's target model (after rewrite):
 *   m active                                   → 1.0
 *   |active| + |waiting| < maxActiveModels     → 0.8  (room to load it)
 *   m waiting                                  → 0.6  (already queued for loading)
 *   otherwise                                  → 0.0  (full, would evict)
 * A base-model request on a server without LoRA metrics scores 0 everywhere (no preference).
 * Category: affinity. No parameters (any given are an error).
 *
 * ```yaml
 * - type: lora-affinity-scorer
 * ```
 */
import { z } from 'zod';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint, EndpointMetrics } from '../../framework/endpoint.js';
import type { Scorer } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import type { ScorerCategory } from './common.js';

export const LORA_AFFINITY_SCORER_TYPE = 'lora-affinity-scorer';

export function loraAffinityScore(metrics: EndpointMetrics, model: string): number {
  if (metrics.activeModels.has(model)) return 1;
  if (metrics.activeModels.size + metrics.waitingModels.size < metrics.maxActiveModels) return 0.8;
  if (metrics.waitingModels.has(model)) return 0.6;
  return 0;
}

export class LoraAffinityScorer implements Scorer {
  readonly type = LORA_AFFINITY_SCORER_TYPE;
  readonly category: ScorerCategory = 'affinity';
  constructor(readonly name: string = LORA_AFFINITY_SCORER_TYPE) {}

  score(_ctx: SchedulingContext, request: InferenceRequest, endpoints: readonly Endpoint[]): Map<Endpoint, number> {
    return new Map(endpoints.map((endpoint) => [endpoint, loraAffinityScore(endpoint.metrics, request.targetModel)]));
  }
}

export const loraAffinityScorerFactory: PluginFactory = (name, parameters) => {
  parseParameters(z.strictObject({}), parameters);
  return new LoraAffinityScorer(name);
};
