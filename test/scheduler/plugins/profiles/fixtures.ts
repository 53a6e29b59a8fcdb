/** Small builders shared by the profile-handler tests: real role filters, real max-score picker. */
import type { Endpoint } from '../../../../scheduler/framework/endpoint.js';
import type { ProfileRunResult, SchedulerProfile } from '../../../../scheduler/framework/plugins.js';
import { isFilter, isPicker } from '../../../../scheduler/framework/plugins.js';
import { createDefaultRegistry } from '../../../../scheduler/plugins/index.js';
import { makeHandle } from '../../helpers.js';

const registry = createDefaultRegistry();

/** A profile with the given role filter (by type) and a max-score picker, no scorers. */
export function roleProfile(name: string, filterType: string): SchedulerProfile {
  const filter = registry.create(filterType, filterType, undefined, makeHandle());
  const picker = registry.create('max-score-picker', 'max-score-picker', undefined, makeHandle());
  if (!isFilter(filter) || !isPicker(picker)) throw new Error('unexpected plugin kinds');
  return { name, filters: [filter], scorers: [], picker };
}

export function profilesOf(...profiles: SchedulerProfile[]): Map<string, SchedulerProfile> {
  return new Map(profiles.map((profile) => [profile.name, profile]));
}

export function run(...targets: Endpoint[]): ProfileRunResult {
  return { targets };
}

export const names = (profiles: readonly SchedulerProfile[]): string[] => profiles.map((profile) => profile.name);
