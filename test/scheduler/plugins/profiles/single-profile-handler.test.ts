import { describe, expect, it } from 'vitest';
import { SchedulingError } from '../../../../scheduler/framework/errors.js';
import { Scheduler } from '../../../../scheduler/framework/scheduler.js';
import { SingleProfileHandler } from '../../../../scheduler/plugins/profiles/single-profile-handler.js';
import { makeContext, makeEndpoint, makeRequest } from '../../helpers.js';
import { profilesOf, roleProfile } from './fixtures.js';

describe('single-profile-handler', () => {
  const handler = new SingleProfileHandler();
  const profiles = profilesOf(roleProfile('default', 'decode-filter'));
  const pod = makeEndpoint({ name: 'pod-0' });

  it('runs the one profile once and makes it primary', async () => {
    const result = await new Scheduler(handler, profiles).schedule(makeContext([pod]), makeRequest({ model: 'm', prompt: 'x' }));
    expect(result.primaryProfileName).toBe('default');
    expect(result.profileResults.get('default')!.targets).toEqual([pod]);
  });

  it('a failed run → 503 naming the profile', async () => {
    const prefillOnly = makeEndpoint({ name: 'p', role: 'prefill' });
    const failure = new Scheduler(handler, profiles).schedule(makeContext([prefillOnly]), makeRequest({ model: 'm', prompt: 'x' }));
    await expect(failure).rejects.toBeInstanceOf(SchedulingError);
    await expect(failure).rejects.toMatchObject({ status: 503, message: expect.stringContaining('scheduling profile "default"') });
  });

  it('refuses more than one profile at start-up', () => {
    expect(() => handler.validateProfiles(['a', 'b'])).toThrow(/cannot serve 2 scheduling profiles/);
    expect(() => handler.validateProfiles(['a'])).not.toThrow();
  });
});
