/**
 * `single-profile-handler`: runs the one scheduling profile and makes it primary. The config
 * loader adds it when there is exactly one profile and no handler is declared.
 *
 * No parameters.
 *
 * ```yaml
 * - type: single-profile-handler
 * ```
 */
import type { InferenceRequest } from '../../framework/request.js';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import { ConfigError, SchedulingError } from '../../framework/errors.js';
import type { ProfileHandler, ProfileRunResult, SchedulerProfile, SchedulingResult } from '../../framework/plugins.js';
import type { PluginFactory } from '../../framework/registry.js';

export const SINGLE_PROFILE_HANDLER_TYPE = 'single-profile-handler';

/** Runs all profiles in the first round, then stops. */
export function runEveryProfileOnce(
  profiles: ReadonlyMap<string, SchedulerProfile>,
  results: ReadonlyMap<string, ProfileRunResult | null>,
): SchedulerProfile[] {
  return results.size >= profiles.size ? [] : [...profiles.values()];
}

/** The one profile's result with at least one target; 500 if there is not exactly one profile, 503 if it found nothing. */
export function onlyProfileResult(
  ctx: SchedulingContext,
  results: ReadonlyMap<string, ProfileRunResult | null>,
  notOneProfileMessage: string,
): { profile: string; result: ProfileRunResult } {
  if (results.size !== 1) throw new SchedulingError(500, notOneProfileMessage);
  const [profile, result] = [...results][0]!;
  if (!result || result.targets.length === 0) {
    throw new SchedulingError(503, `no endpoint available: none of the ${ctx.candidates.length} candidate endpoint(s) passed the filters of scheduling profile "${profile}"`);
  }
  return { profile, result };
}

export class SingleProfileHandler implements ProfileHandler {
  readonly type = SINGLE_PROFILE_HANDLER_TYPE;
  constructor(readonly name: string = SINGLE_PROFILE_HANDLER_TYPE) {}

  pickProfiles(
    _ctx: SchedulingContext,
    _request: InferenceRequest,
    profiles: ReadonlyMap<string, SchedulerProfile>,
    results: ReadonlyMap<string, ProfileRunResult | null>,
  ): SchedulerProfile[] {
    return runEveryProfileOnce(profiles, results);
  }

  processResults(ctx: SchedulingContext, _request: InferenceRequest, results: ReadonlyMap<string, ProfileRunResult | null>): SchedulingResult {
    const { profile } = onlyProfileResult(ctx, results, 'single profile handler is intended to be used with a single profile');
    return { primaryProfileName: profile, profileResults: results };
  }

  validateProfiles(profileNames: readonly string[]): void {
    if (profileNames.length !== 1) throw new ConfigError('', `single-profile-handler cannot serve ${profileNames.length} scheduling profiles (${profileNames.join(', ')}); declare a P/D profile handler such as disagg-profile-handler`);
  }
}

export const singleProfileHandlerFactory: PluginFactory = (name) => new SingleProfileHandler(name);
