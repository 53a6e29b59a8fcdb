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

export class SingleProfileHandler implements ProfileHandler {
  readonly type = SINGLE_PROFILE_HANDLER_TYPE;
  constructor(readonly name: string = SINGLE_PROFILE_HANDLER_TYPE) {}

  pickProfiles(
    _ctx: SchedulingContext,
    _request: InferenceRequest,
    profiles: ReadonlyMap<string, SchedulerProfile>,
    results: ReadonlyMap<string, ProfileRunResult | null>,
  ): SchedulerProfile[] {
    return results.size >= profiles.size ? [] : [...profiles.values()];
  }

  processResults(ctx: SchedulingContext, _request: InferenceRequest, results: ReadonlyMap<string, ProfileRunResult | null>): SchedulingResult {
    if (results.size !== 1) throw new SchedulingError(500, 'single profile handler is intended to be used with a single profile');
    const [profile, result] = [...results][0]!;
    if (!result || result.targets.length === 0) {
      throw new SchedulingError(503, `no endpoint available: none of the ${ctx.candidates.length} candidate endpoint(s) passed the filters of scheduling profile "${profile}"`);
    }
    return { primaryProfileName: profile, profileResults: results };
  }

  validateProfiles(profileNames: readonly string[]): void {
    if (profileNames.length !== 1) throw new ConfigError('', `single-profile-handler cannot serve ${profileNames.length} scheduling profiles (${profileNames.join(', ')}); declare a P/D profile handler such as disagg-profile-handler`);
  }
}

export const singleProfileHandlerFactory: PluginFactory = (name) => new SingleProfileHandler(name);
