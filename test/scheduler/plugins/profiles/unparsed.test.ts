/**
 * A request its parser did not read (passthrough-parser) has no prompt: every P/D profile
 * handler keeps it decode-only with reason `unparsed`, whatever the decider would say.
 */
import { describe, expect, it } from 'vitest';
import { createInferenceRequest } from '../../../../scheduler/framework/request.js';
import { BodyBytes } from '../../../../src/http/body-bytes.js';
import { AlwaysDisaggPdDecider } from '../../../../scheduler/plugins/deciders/always-disagg-pd-decider.js';
import { DisaggProfileHandler } from '../../../../scheduler/plugins/profiles/disagg-profile-handler.js';
import { PdProfileHandler } from '../../../../scheduler/plugins/profiles/pd-profile-handler.js';
import { makeContext, makeEndpoint } from '../../helpers.js';
import { names, profilesOf, roleProfile, run } from './fixtures.js';

const prefillPod = makeEndpoint({ name: 'prefill-0', role: 'prefill' });
const decodePod = makeEndpoint({ name: 'decode-0', role: 'decode' });
const pd = profilesOf(roleProfile('decode', 'decode-filter'), roleProfile('prefill', 'prefill-filter'));
const unparsed = createInferenceRequest({ id: 'u', path: '/generate', headers: new Map(), body: undefined, rawBody: BodyBytes.of(Buffer.from('x'.repeat(4000))) });
const decoded = new Map([['decode', run(decodePod)]]);

describe('unparsed requests stay decode-only', () => {
  it('is an empty, model-less request', () => {
    expect(unparsed).toMatchObject({ unparsed: true, api: undefined, model: '', targetModel: '' });
    expect(unparsed.userInputBytes()).toBe(0);
  });

  it('disagg-profile-handler with always-disagg-pd-decider', () => {
    const h = new DisaggProfileHandler('h', { prefillDecider: new AlwaysDisaggPdDecider('a') });
    const ctx = makeContext([decodePod, prefillPod]);
    expect(h.pickProfiles(ctx, unparsed, pd, decoded)).toEqual([]);
    expect(h.processResults(ctx, unparsed, decoded).pdDecision).toMatchObject({ disaggregate: false, reason: 'unparsed' });
  });

  it('disagg-profile-handler with stageOrder prefill-first', () => {
    const h = new DisaggProfileHandler('h', { stageOrder: 'prefill-first' });
    const ctx = makeContext([decodePod, prefillPod]);
    expect(names(h.pickProfiles(ctx, unparsed, pd, new Map()))).toEqual(['decode']);
    expect(h.pickProfiles(ctx, unparsed, pd, decoded)).toEqual([]);
    expect(h.processResults(ctx, unparsed, decoded).profileResults.has('prefill')).toBe(false);
  });

  it('pd-profile-handler with a decider', () => {
    const h = new PdProfileHandler('h', { decider: new AlwaysDisaggPdDecider('a') });
    const ctx = makeContext([decodePod, prefillPod]);
    expect(h.pickProfiles(ctx, unparsed, pd, decoded)).toEqual([]);
    expect(h.processResults(ctx, unparsed, decoded).pdDecision).toMatchObject({ disaggregate: false, reason: 'unparsed' });
  });
});
