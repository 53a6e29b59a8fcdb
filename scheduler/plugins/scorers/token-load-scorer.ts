/**
 * `token-load-scorer`: prefers endpoints with fewer prompt tokens in flight from this EPP,
 * counting the request being scheduled.
 *
 * Input: `InFlightLoad.tokens` and `UncachedRequestTokens` from `inflight-load-producer` (added
 * by the loader when not declared). Score, with T = queueThresholdTokens:
 *   load = inFlightTokens + uncachedRequestTokens;
 *   load ≤ 0 → 1;  otherwise 1 − min(load, T)/T.
 * A fixed normalisation, not min-max: two idle-ish endpoints score ≈ 1 each, and every endpoint at or
 * past T scores 0. Category: distribution.
 *
 * Parameters:
 * - `queueThresholdTokens` (int, default 4194304 = 128 requests of 32K tokens; ≤ 0 → default)
 * - `inFlightLoadProducerName` (string): must name the `inflight-load-producer` instance when given.
 *
 * ```yaml
 * - type: token-load-scorer
 *   parameters: {queueThresholdTokens: 1048576}
 * ```
 */
import { z } from 'zod';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import { ConfigError } from '../../framework/errors.js';
import type { Scorer } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { parseParameters, type PluginHandle } from '../../framework/registry.js';
import { IN_FLIGHT_LOAD, INFLIGHT_LOAD_PRODUCER_TYPE, UNCACHED_REQUEST_TOKENS, type InFlightLoad } from '../producers/inflight-load-producer.js';
import type { ScorerCategory } from './common.js';

export const TOKEN_LOAD_SCORER_TYPE = 'token-load-scorer';
export const DEFAULT_QUEUE_THRESHOLD_TOKENS = 4_194_304;

const Parameters = z.strictObject({
  queueThresholdTokens: z.number().int().nullish(),
  inFlightLoadProducerName: z.string().nullish(),
});

export function tokenLoadScore(load: number, threshold: number): number {
  if (load <= 0) return 1;
  return 1 - Math.min(load, threshold) / threshold;
}

export class TokenLoadScorer implements Scorer {
  readonly type = TOKEN_LOAD_SCORER_TYPE;
  readonly category: ScorerCategory = 'distribution';
  readonly consumes = [IN_FLIGHT_LOAD, UNCACHED_REQUEST_TOKENS] as const;

  constructor(readonly name: string, readonly queueThresholdTokens: number = DEFAULT_QUEUE_THRESHOLD_TOKENS) {}

  score(ctx: SchedulingContext, _request: InferenceRequest, endpoints: readonly Endpoint[]): Map<Endpoint, number> {
    return new Map(endpoints.map((endpoint) => {
      const inFlight = ctx.attributes.get<InFlightLoad>(endpoint, IN_FLIGHT_LOAD)?.tokens ?? 0;
      const own = ctx.attributes.get<number>(endpoint, UNCACHED_REQUEST_TOKENS) ?? 0;
      return [endpoint, tokenLoadScore(inFlight + own, this.queueThresholdTokens)];
    }));
  }
}

/** Checks that a named in-flight load producer is one (shared with prefix-cache-affinity-filter). */
export function checkInFlightProducer(name: string | null | undefined, handle: PluginHandle): void {
  if (!name) return;
  const producer = handle.plugin(name);
  if (!producer) throw new ConfigError('parameters.inFlightLoadProducerName', `no plugin named "${name}" is declared`);
  if (producer.type !== INFLIGHT_LOAD_PRODUCER_TYPE) {
    throw new ConfigError('parameters.inFlightLoadProducerName', `"${name}" is a ${producer.type}, not an ${INFLIGHT_LOAD_PRODUCER_TYPE}`);
  }
}

export const tokenLoadScorerFactory = (name: string, parameters: unknown, handle: PluginHandle): TokenLoadScorer => {
  const params = parseParameters(Parameters, parameters);
  checkInFlightProducer(params.inFlightLoadProducerName, handle);
  const threshold = params.queueThresholdTokens ?? 0;
  return new TokenLoadScorer(name, threshold > 0 ? threshold : DEFAULT_QUEUE_THRESHOLD_TOKENS);
};
