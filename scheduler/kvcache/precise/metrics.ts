/**
 * pd-router's own metrics of the precise prefix cache (beside llm-d's llm_d_kv_cache_* ones in
 * index/metrics.ts), registered once per Registry:
 *
 *   pd_router_precise_prefix_tokens_total{kind}            counter   prompt tokens of routed requests: `tokenized`
 *                                                                    (exact) or `estimated` (the walk stopped early)
 *   pd_router_precise_prefix_estimate_error_ratio{model}   histogram |estimated / actual − 1| of the untokenized part,
 *                                                                    once the pod reported usage.prompt_tokens
 *   pd_router_precise_prefix_bytes_per_token{model}        gauge     the learned ratio the estimate uses
 *   pd_router_precise_prefix_skipped_total{reason}         counter   requests scored without precise prefix because
 *                                                                    tokenization was `overloaded` (back-pressure)
 *   pd_router_precise_prefix_matches_total{outcome}        counter   every request's match by outcome: `scored`,
 *                                                                    `index_not_ready`, `tokenization_failed`, `overloaded`,
 *                                                                    `no_full_block`, `lookup_failed`, or `late` (it outlasted
 *                                                                    the Director's producer budget: scored 0)
 *   pd_router_precise_prefix_speculative_tails_total{outcome}
 *                                                          counter   background tails of speculative guesses (the part the
 *                                                                    walk did not tokenize): `completed`, `skipped_busy` (no
 *                                                                    idle tokenizer worker), `failed`, `cancelled` (close),
 *                                                                    `expired` (still running a TTL after the pick)
 *   pd_router_precise_prefix_parity_ratio{model}           gauge     share of a sample of routed requests' block keys
 *                                                                    that the chosen pod's KV events confirmed (1 = our
 *                                                                    tokenization and hashing match the engine's)
 *   pd_router_precise_prefix_parity_samples_total{model}   counter   parity samples taken
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Models with their own `{model}` series (and per-model state: learned ratio, parity window): the
 * most recently seen ones. Model names come from client requests — a pod that serves any name
 * (or `modelName` / the simulated tokenizer, which tokenize any) must not grow series without end.
 */
export const MAX_MODEL_SERIES = 256;

export class PrecisePrefixMetrics {
  readonly tokens: Counter<'kind'>;
  readonly estimateError: Histogram<'model'>;
  readonly bytesPerToken: Gauge<'model'>;
  readonly skipped: Counter<'reason'>;
  readonly matches: Counter<'outcome'>;
  readonly speculativeTails: Counter<'outcome'>;
  readonly parity: Gauge<'model'>;
  readonly paritySamples: Counter<'model'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.tokens = new Counter({ name: 'pd_router_precise_prefix_tokens_total', help: 'Prompt tokens of routed requests, tokenized exactly or estimated from bytes', labelNames: ['kind'], registers });
    this.estimateError = new Histogram({
      name: 'pd_router_precise_prefix_estimate_error_ratio', help: 'Relative error of the token estimate of the untokenized prompt tail', labelNames: ['model'],
      buckets: [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1], registers,
    });
    this.bytesPerToken = new Gauge({ name: 'pd_router_precise_prefix_bytes_per_token', help: 'Learned UTF-8 bytes per token used for the estimate', labelNames: ['model'], registers });
    this.skipped = new Counter({ name: 'pd_router_precise_prefix_skipped_total', help: 'Requests scored without precise prefix', labelNames: ['reason'], registers });
    this.matches = new Counter({ name: 'pd_router_precise_prefix_matches_total', help: 'Precise prefix matches of requests by outcome (late: after the producer budget, not used)', labelNames: ['outcome'], registers });
    this.speculativeTails = new Counter({
      name: 'pd_router_precise_prefix_speculative_tails_total', help: 'Background speculative-guess tails (prompt part the walk did not tokenize) by outcome', labelNames: ['outcome'], registers,
    });
    this.parity = new Gauge({ name: 'pd_router_precise_prefix_parity_ratio', help: 'Share of sampled request block keys confirmed by the chosen pod\'s KV events', labelNames: ['model'], registers });
    this.paritySamples = new Counter({ name: 'pd_router_precise_prefix_parity_samples_total', help: 'Parity samples taken', labelNames: ['model'], registers });
  }
}

const byRegistry = new WeakMap<Registry, PrecisePrefixMetrics>();

/** One PrecisePrefixMetrics per registry: a second precise cache shares the first one's series. */
export function precisePrefixMetrics(registry: Registry): PrecisePrefixMetrics {
  let metrics = byRegistry.get(registry);
  if (metrics === undefined) {
    metrics = new PrecisePrefixMetrics(registry);
    byRegistry.set(registry, metrics);
  }
  return metrics;
}
