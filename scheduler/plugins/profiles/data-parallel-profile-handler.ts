/**
 * `data-parallel-profile-handler` (deprecated upstream in favour of `single-profile-handler`):
 * for vLLM data-parallel pods, where each DP rank is an endpoint `<pod>-rank-<i>` on its own port
 * but traffic must enter through the pod's primary port. Runs the one profile like
 * `single-profile-handler`, then:
 * - sets `x-data-parallel-host-port: <address>:<rank port>` of the picked endpoint on the request;
 * - rewrites every target's port to `primaryPort` (so the request is sent to `<address>:<primaryPort>`,
 *   where the sidecar forwards it to the rank named by the header).
 *
 * Parameters:
 * - `primaryPort` (int in [1, 65535], default 8000)
 * Exactly one scheduling profile (checked at start-up).
 *
 * ```yaml
 * - type: data-parallel-profile-handler
 *   parameters: {primaryPort: 8000}
 * ```
 */
import { z } from 'zod';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import { joinHostPort, type Endpoint } from '../../framework/endpoint.js';
import { ConfigError } from '../../framework/errors.js';
import type { ProfileHandler, ProfileRunResult, SchedulerProfile, SchedulingResult } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { onlyProfileResult, runEveryProfileOnce } from './single-profile-handler.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import { DATA_PARALLEL_HEADER } from '../../../src/wire/headers.js';

export const DATA_PARALLEL_PROFILE_HANDLER_TYPE = 'data-parallel-profile-handler';
export const DEFAULT_PRIMARY_PORT = 8000;

const Parameters = z.strictObject({
  primaryPort: z.number().int().min(1, 'must be in [1, 65535]').max(65535, 'must be in [1, 65535]').nullish(),
});

/** The same endpoint addressed on another port. */
export function onPort(endpoint: Endpoint, port: number): Endpoint {
  return { ...endpoint, port, hostPort: joinHostPort(endpoint.address, port) };
}

export class DataParallelProfileHandler implements ProfileHandler {
  readonly type = DATA_PARALLEL_PROFILE_HANDLER_TYPE;
  constructor(readonly name: string, readonly primaryPort: number = DEFAULT_PRIMARY_PORT) {}

  pickProfiles(
    _ctx: SchedulingContext,
    _request: InferenceRequest,
    profiles: ReadonlyMap<string, SchedulerProfile>,
    results: ReadonlyMap<string, ProfileRunResult | null>,
  ): SchedulerProfile[] {
    return runEveryProfileOnce(profiles, results);
  }

  processResults(ctx: SchedulingContext, request: InferenceRequest, results: ReadonlyMap<string, ProfileRunResult | null>): SchedulingResult {
    const { profile, result } = onlyProfileResult(ctx, results, 'data-parallel-profile-handler serves exactly one scheduling profile');
    request.headers.set(DATA_PARALLEL_HEADER, result.targets[0]!.hostPort);
    const targets = result.targets.map((target) => onPort(target, this.primaryPort));
    return { primaryProfileName: profile, profileResults: new Map([[profile, { targets }]]) };
  }

  validateProfiles(profileNames: readonly string[]): void {
    if (profileNames.length !== 1) throw new ConfigError('', `data-parallel-profile-handler needs exactly one scheduling profile, got ${profileNames.length} (${profileNames.join(', ')})`);
  }
}

export const dataParallelProfileHandlerFactory: PluginFactory = (name, parameters) => {
  const params = parseParameters(Parameters, parameters);
  return new DataParallelProfileHandler(name, params.primaryPort ?? DEFAULT_PRIMARY_PORT);
};
