/**
 * `active-request-scorer`: prefers endpoints with fewer requests in flight *from this EPP* — a
 * signal that reacts at once, unlike scraped queue metrics.
 *
 * Input: c = requests this plugin saw dispatched to the endpoint and not yet completed. Upstream
 * reads this from the auto-injected `inflight-load-producer`; here the scorer counts itself: it is
 * also a PreRequest (+1 on the first target of every profile that picked one, so a P/D request
 * counts on its prefill and its decode pod) and a ResponseComplete (−1 when the response is done).
 * Counting stops at completion for every profile (upstream releases the prefill pod at the first
 * response chunk; we have no such hook). See `InFlightCounter` for the safety nets.
 *
 * Score: with maxC = the largest c among the candidates,
 *   c ≤ idleThreshold → 1;  otherwise `(maxC − c)/maxC · maxBusyScore`.
 * Category: distribution.
 *
 * Parameters:
 * - `idleThreshold` (int, default 0; negative → 0): at or below it an endpoint counts as idle.
 * - `maxBusyScore` (number in [0,1], default **1.0**; out of range → 1.0 with a warning). Upstream's
 *   seed-era factory used 0 when the key was omitted (a JSON zero value), which made every busy pod
 *   score 0; its README and tests say 1.0 and that is what users expect, so 1.0 it is.
 * - `requestTimeout` (string): deprecated upstream and ignored (logged).
 * - `inFlightLoadProducerName` (string): accepted and ignored — the scorer counts itself.
 *
 * ```yaml
 * - type: active-request-scorer
 *   parameters: {idleThreshold: 2, maxBusyScore: 0.5}
 * ```
 */
import { z } from 'zod';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { PreRequest, ResponseComplete, ResponseInfo, Scorer, SchedulingResult } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { parseParameters, type PluginHandle } from '../../framework/registry.js';
import type { ScorerCategory } from './common.js';
import { InFlightCounter, type InFlightCounterOptions } from './inflight-counter.js';

export const ACTIVE_REQUEST_SCORER_TYPE = 'active-request-scorer';
export const DEFAULT_MAX_BUSY_SCORE = 1;
/** How often departed endpoints and lost requests are swept (lazily, on PreRequest). */
const MAINTENANCE_INTERVAL_MS = 2 * 60_000;

const ActiveRequestParameters = z.object({
  idleThreshold: z.number().int().nullish(),
  maxBusyScore: z.number().nullish(),
  requestTimeout: z.string().nullish(),
  inFlightLoadProducerName: z.string().nullish(),
});

export function activeRequestScores(counts: ReadonlyMap<Endpoint, number>, idleThreshold: number, maxBusyScore: number): Map<Endpoint, number> {
  let maxCount = 0;
  for (const count of counts.values()) if (count > maxCount) maxCount = count;
  const scores = new Map<Endpoint, number>();
  for (const [endpoint, count] of counts) {
    scores.set(endpoint, count <= idleThreshold ? 1 : ((maxCount - count) / maxCount) * maxBusyScore);
  }
  return scores;
}

export interface ActiveRequestOptions extends InFlightCounterOptions {
  idleThreshold?: number;
  maxBusyScore?: number;
  /** The pool's endpoints, to forget departed ones (the handle's `endpoints`). */
  endpoints?: () => readonly Endpoint[];
}

export class ActiveRequestScorer implements Scorer, PreRequest, ResponseComplete {
  readonly type = ACTIVE_REQUEST_SCORER_TYPE;
  readonly category: ScorerCategory = 'distribution';
  readonly name: string;
  readonly idleThreshold: number;
  readonly maxBusyScore: number;
  readonly counter: InFlightCounter;
  private readonly endpoints: (() => readonly Endpoint[]) | undefined;
  private readonly now: () => number;
  private lastMaintenance: number;

  constructor(name: string, options: ActiveRequestOptions = {}) {
    this.name = name;
    this.idleThreshold = Math.max(0, options.idleThreshold ?? 0);
    this.maxBusyScore = options.maxBusyScore ?? DEFAULT_MAX_BUSY_SCORE;
    this.counter = new InFlightCounter(options);
    this.endpoints = options.endpoints;
    this.now = options.now ?? Date.now;
    this.lastMaintenance = this.now();
  }

  score(_ctx: SchedulingContext, _request: InferenceRequest, endpoints: readonly Endpoint[]): Map<Endpoint, number> {
    const counts = new Map(endpoints.map((endpoint) => [endpoint, this.counter.get(endpoint.name)]));
    return activeRequestScores(counts, this.idleThreshold, this.maxBusyScore);
  }

  preRequest(_ctx: SchedulingContext, request: InferenceRequest, result: SchedulingResult): void {
    this.maintain();
    const targets: string[] = [];
    for (const run of result.profileResults.values()) {
      const target = run?.targets[0];
      if (target) targets.push(target.name);
    }
    this.counter.add(request, targets);
  }

  responseComplete(request: InferenceRequest, _response: ResponseInfo, _targets: readonly Endpoint[]): void {
    this.counter.release(request);
  }

  private maintain(): void {
    const now = this.now();
    if (now - this.lastMaintenance < MAINTENANCE_INTERVAL_MS) return;
    this.lastMaintenance = now;
    this.counter.expire();
    const active = this.endpoints?.() ?? [];
    // An empty set means "not known yet" (e.g. discovery resyncing), not "everything left".
    if (active.length > 0) this.counter.retainEndpoints(new Set(active.map((endpoint) => endpoint.name)));
  }
}

export const activeRequestScorerFactory = (
  name: string,
  parameters: unknown,
  handle: PluginHandle,
  options: InFlightCounterOptions = {},
): ActiveRequestScorer => {
  const params = parseParameters(ActiveRequestParameters, parameters);
  if (params.requestTimeout) {
    handle.logger.warn({ plugin: name }, 'active-request-scorer: requestTimeout is deprecated and ignored; in-flight requests are counted until their response completes');
  }
  let maxBusyScore = DEFAULT_MAX_BUSY_SCORE;
  if (params.maxBusyScore !== undefined && params.maxBusyScore !== null) {
    if (params.maxBusyScore >= 0 && params.maxBusyScore <= 1) maxBusyScore = params.maxBusyScore;
    else handle.logger.warn({ plugin: name, maxBusyScore: params.maxBusyScore }, 'active-request-scorer: maxBusyScore must be within [0,1]; using 1.0');
  }
  return new ActiveRequestScorer(name, {
    ...options,
    idleThreshold: params.idleThreshold ?? 0,
    maxBusyScore,
    endpoints: () => handle.endpoints(),
  });
};
