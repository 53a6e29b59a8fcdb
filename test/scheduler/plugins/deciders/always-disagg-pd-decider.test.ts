import { describe, expect, it } from 'vitest';
import { alwaysDisaggPdDeciderFactory } from '../../../../scheduler/plugins/deciders/always-disagg-pd-decider.js';
import { isDecider } from '../../../../scheduler/framework/plugins.js';
import { makeContext, makeEndpoint, makeHandle, makeRequest } from '../../helpers.js';

describe('always-disagg-pd-decider', () => {
  it('always disaggregates, whatever the input or cache', () => {
    const decider = alwaysDisaggPdDeciderFactory('always', undefined, makeHandle());
    expect(isDecider(decider)).toBe(true);
    if (!isDecider(decider)) return;
    const endpoint = makeEndpoint({ name: 'd', role: 'decode' });
    expect(decider.decide(makeContext([endpoint]), makeRequest({ model: 'm', prompt: 'x' }), endpoint)).toEqual({ disaggregate: true, reason: 'always' });
    expect(decider.decide(makeContext([]), makeRequest({ model: 'm', prompt: 'x' }), undefined)).toEqual({ disaggregate: true, reason: 'always' });
    expect(decider.name).toBe('always');
    expect(decider.type).toBe('always-disagg-pd-decider');
  });
});
