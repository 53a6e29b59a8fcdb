/**
 * The scheduling loop (llm-d `pkg/epp/scheduling`): ask the profile handler which profiles to run,
 * run each (filters → weighted scorers → picker), repeat until the handler picks nothing, then let
 * the handler turn the runs into one result.
 */
import { performance } from 'node:perf_hooks';
import type { Endpoint } from './endpoint.js';
import type { InferenceRequest } from './request.js';
import type { SchedulingContext } from './cycle-state.js';
import { SchedulingError } from './errors.js';
import type { Plugin, ProfileHandler, ProfileRunResult, SchedulerProfile, SchedulingResult, ScoredEndpoint } from './plugins.js';

/** Receives each plugin call's duration (seconds), e.g. for `plugin_duration_seconds`. */
export type PluginTimer = (extensionPoint: string, plugin: Plugin, seconds: number) => void;

/** A handler that keeps picking profiles would spin forever; no real handler needs this many rounds. */
const MAX_ROUNDS = 16;

/** CycleState key: the profile results so far, in run order (read by topology plugins). */
export const PROFILE_RESULTS = 'scheduler.profile-results';

export class Scheduler {
  readonly handler: ProfileHandler;
  readonly profiles: ReadonlyMap<string, SchedulerProfile>;
  private readonly timer: PluginTimer | undefined;

  constructor(handler: ProfileHandler, profiles: ReadonlyMap<string, SchedulerProfile>, timer?: PluginTimer) {
    this.handler = handler;
    this.profiles = profiles;
    this.timer = timer;
  }

  async schedule(ctx: SchedulingContext, request: InferenceRequest): Promise<SchedulingResult> {
    const results = new Map<string, ProfileRunResult | null>();
    ctx.state.set(PROFILE_RESULTS, results);
    for (let round = 0; ; round++) {
      if (round >= MAX_ROUNDS) throw new SchedulingError(500, `profile handler ${this.handler.name} did not finish after ${MAX_ROUNDS} rounds`);
      const started = performance.now();
      const picked = await this.handler.pickProfiles(ctx, request, this.profiles, results);
      this.timer?.('ProfilePick', this.handler, (performance.now() - started) / 1000);
      if (picked.length === 0) break;
      for (const profile of picked) results.set(profile.name, await this.runProfile(ctx, request, profile));
    }
    if (results.size === 0) throw new SchedulingError(503, 'no scheduling profile ran for this request');
    const started = performance.now();
    const result = this.handler.processResults(ctx, request, results);
    this.timer?.('ProcessProfilesResults', this.handler, (performance.now() - started) / 1000);
    return result;
  }

  /** One profile run; null when no endpoint passes the filters (llm-d stores a failed run as nil). */
  async runProfile(ctx: SchedulingContext, request: InferenceRequest, profile: SchedulerProfile): Promise<ProfileRunResult | null> {
    let endpoints: readonly Endpoint[] = ctx.candidates;
    for (const filter of profile.filters) {
      const started = performance.now();
      endpoints = filter.filter(ctx, request, endpoints);
      this.timer?.('Filter', filter, (performance.now() - started) / 1000);
      if (endpoints.length === 0) {
        ctx.logger.debug({ profile: profile.name, filter: filter.name }, 'no endpoints left after filter');
        return null;
      }
    }
    endpoints = preferFresh(endpoints);
    const totals = new Float64Array(endpoints.length);
    for (const { scorer, weight } of profile.scorers) {
      const started = performance.now();
      const pending = scorer.score(ctx, request, endpoints);
      const scores = pending instanceof Promise ? await pending : pending;
      this.timer?.('Scorer', scorer, (performance.now() - started) / 1000);
      for (let i = 0; i < endpoints.length; i++) {
        const raw = scores.get(endpoints[i]!) ?? 0;
        totals[i]! += (Number.isFinite(raw) ? Math.min(1, Math.max(0, raw)) : 0) * weight;
      }
    }
    const scored: ScoredEndpoint[] = endpoints.map((endpoint, i) => ({ endpoint, score: totals[i]! }));
    const started = performance.now();
    const result = profile.picker.pick(ctx, request, scored);
    this.timer?.('Picker', profile.picker, (performance.now() - started) / 1000);
    return result.targets.length > 0 ? { ...result, scored } : null;
  }
}

/** Endpoints whose metrics went stale are used only when no fresh endpoint passed the filters. */
export function preferFresh(endpoints: readonly Endpoint[]): readonly Endpoint[] {
  let stale = 0;
  for (const endpoint of endpoints) if (endpoint.metrics.stale) stale++;
  if (stale === 0 || stale === endpoints.length) return endpoints;
  return endpoints.filter((endpoint) => !endpoint.metrics.stale);
}
