import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { PREFIX_CACHE_MATCH_INFO } from '../../../../scheduler/framework/cycle-state.js';
import { ConfigError, SchedulingError } from '../../../../scheduler/framework/errors.js';
import { PREFILL_HEADER, ENCODERS_HEADER } from '../../../../scheduler/framework/director.js';
import type { Decider, Plugin } from '../../../../scheduler/framework/plugins.js';
import { Scheduler } from '../../../../scheduler/framework/scheduler.js';
import { EppMetrics } from '../../../../scheduler/metrics.js';
import { AlwaysDisaggMultimodalDecider } from '../../../../scheduler/plugins/deciders/always-disagg-multimodal-decider.js';
import { AlwaysDisaggPdDecider } from '../../../../scheduler/plugins/deciders/always-disagg-pd-decider.js';
import { PrefixBasedPdDecider } from '../../../../scheduler/plugins/deciders/prefix-based-pd-decider.js';
import { DisaggProfileHandler, disaggProfileHandlerFactory } from '../../../../scheduler/plugins/profiles/disagg-profile-handler.js';
import { captureLogger, makeContext, makeEndpoint, makeHandle, makeRequest, silentLogger } from '../../helpers.js';
import { names, profilesOf, roleProfile, run } from './fixtures.js';
import { captureSpans } from './spans.js';

const spans = captureSpans();
afterAll(() => spans.stop());
beforeEach(() => spans.reset());

const prefillPod = makeEndpoint({ name: 'prefill-0', role: 'prefill', address: '10.1.0.1' });
const decodePod = makeEndpoint({ name: 'decode-0', role: 'decode', address: '10.1.0.2' });
const encodePod = makeEndpoint({ name: 'encode-0', role: 'encode', address: '10.1.0.3' });
const pd = profilesOf(roleProfile('decode', 'decode-filter'), roleProfile('prefill', 'prefill-filter'));
const epd = profilesOf(roleProfile('decode', 'decode-filter'), roleProfile('prefill', 'prefill-filter'), roleProfile('encode', 'encode-filter'));

async function counter(metrics: EppMetrics, name: 'disaggDecision' | 'prefillFallback'): Promise<Record<string, number>> {
  const { values } = await metrics[name].get();
  return Object.fromEntries(values.map((v) => [Object.values(v.labels).join('/'), v.value]));
}

/** Prompt of `tokens` estimated tokens (4 bytes each). */
const prompt = (tokens: number) => makeRequest({ model: 'm', prompt: 'abcd'.repeat(tokens) });

describe('disagg-profile-handler Pick', () => {
  const handler = new DisaggProfileHandler('h', { prefillDecider: new PrefixBasedPdDecider('p', 4) });

  it('decode not run → decode', () => {
    const ctx = makeContext([decodePod, prefillPod]);
    expect(names(handler.pickProfiles(ctx, prompt(100), pd, new Map()))).toEqual(['decode']);
    expect(spans.spans('llm_d.epp.disagg.profile_handler.pick')[0]!.attributes['llm_d.profile_handler.decision']).toBe('run_decode');
  });

  it('decode failed → done, nothing counted', async () => {
    const metrics = new EppMetrics();
    const h = new DisaggProfileHandler('h', { prefillDecider: new AlwaysDisaggPdDecider('a'), metrics });
    expect(h.pickProfiles(makeContext([prefillPod]), prompt(100), pd, new Map([['decode', null]]))).toEqual([]);
    const attributes = spans.spans('llm_d.epp.disagg.profile_handler.pick')[0]!.attributes;
    expect(attributes['llm_d.profile_handler.decision']).toBe('complete');
    expect(attributes['llm_d.profile_handler.decode_failed']).toBe(true);
    expect(await counter(metrics, 'disaggDecision')).toEqual({});
  });

  it('uncached tokens ≥ N → prefill; short non-cached suffix → skip', () => {
    const ctx = makeContext([decodePod, prefillPod]);
    ctx.attributes.set(decodePod, PREFIX_CACHE_MATCH_INFO, { matchBlocks: 0, totalBlocks: 1, blockSizeTokens: 1 });
    expect(names(handler.pickProfiles(ctx, prompt(10), pd, new Map([['decode', run(decodePod)]])))).toEqual(['prefill']);

    const cached = makeContext([decodePod, prefillPod]);
    cached.attributes.set(decodePod, PREFIX_CACHE_MATCH_INFO, { matchBlocks: 7, totalBlocks: 10, blockSizeTokens: 1 });
    expect(names(handler.pickProfiles(cached, prompt(10), pd, new Map([['decode', run(decodePod)]])))).toEqual([]);
    expect(spans.spans('llm_d.epp.disagg.profile_handler.pick').map((s) => s.attributes['llm_d.profile_handler.decision']))
      .toEqual(['run_prefill', 'complete_decode-only']);
  });

  it('no deciders → decode-only even with a prefill profile', () => {
    const plain = new DisaggProfileHandler('h');
    expect(plain.pickProfiles(makeContext([decodePod]), prompt(100), pd, new Map([['decode', run(decodePod)]]))).toEqual([]);
  });

  it('E/PD: text → no encode; image → encode', () => {
    const h = new DisaggProfileHandler('h', { encodeDecider: new AlwaysDisaggMultimodalDecider('mm') });
    const text = makeRequest({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] });
    const image = makeRequest({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x/i.png' } }] }] });
    expect(h.pickProfiles(makeContext([decodePod]), text, epd, new Map([['decode', run(decodePod)]]))).toEqual([]);
    expect(names(h.pickProfiles(makeContext([decodePod]), image, epd, new Map([['decode', run(decodePod)]])))).toEqual(['encode']);
  });

  it('does not ask a decider twice for the same request', () => {
    let calls = 0;
    const counting: Decider = { type: 't', name: 'counting', decide: () => (calls++, { disaggregate: false, reason: 'never' }) };
    const h = new DisaggProfileHandler('h', { prefillDecider: counting });
    const ctx = makeContext([decodePod]);
    const results = new Map([['decode', run(decodePod)]]);
    h.pickProfiles(ctx, prompt(10), pd, results);
    h.pickProfiles(ctx, prompt(10), pd, results);
    expect(calls).toBe(1);
  });

  it('missing decode profile → 503 with the reason', () => {
    const h = new DisaggProfileHandler('h');
    expect(() => h.pickProfiles(makeContext([decodePod]), prompt(1), profilesOf(roleProfile('prefill', 'prefill-filter')), new Map()))
      .toThrow(/no decode endpoint available: scheduling profile "decode" is not configured/);
  });
});

describe('disagg-profile-handler through the Scheduler', () => {
  function schedulerWith(metrics: EppMetrics, options: ConstructorParameters<typeof DisaggProfileHandler>[1], profiles = pd) {
    return new Scheduler(new DisaggProfileHandler('h', { ...options, metrics }), profiles);
  }

  it('same request twice: P/D first, then decode-only once cached; counters record both', async () => {
    const metrics = new EppMetrics();
    const scheduler = schedulerWith(metrics, { prefillDecider: new PrefixBasedPdDecider('p', 4) });
    const request = prompt(20);
    const first = makeContext([prefillPod, decodePod]);
    for (const pod of [prefillPod, decodePod]) first.attributes.set(pod, PREFIX_CACHE_MATCH_INFO, { matchBlocks: 0, totalBlocks: 20, blockSizeTokens: 1 });
    const pdResult = await scheduler.schedule(first, request);
    expect(pdResult.primaryProfileName).toBe('decode');
    expect([...pdResult.profileResults.keys()].sort()).toEqual(['decode', 'prefill']);
    expect(pdResult.profileResults.get('prefill')!.targets).toEqual([prefillPod]);

    const second = makeContext([prefillPod, decodePod]);
    for (const pod of [prefillPod, decodePod]) second.attributes.set(pod, PREFIX_CACHE_MATCH_INFO, { matchBlocks: 20, totalBlocks: 20, blockSizeTokens: 1 });
    const dResult = await scheduler.schedule(second, request);
    expect([...dResult.profileResults.keys()]).toEqual(['decode']);
    expect(await counter(metrics, 'disaggDecision')).toEqual({ 'm/prefill-decode/threshold_met': 1, 'm/decode-only/cached': 1 });
  });

  it('long request after a short one → P/D', async () => {
    const scheduler = schedulerWith(new EppMetrics(), { prefillDecider: new PrefixBasedPdDecider('p', 4) });
    const noHit = (ctx: ReturnType<typeof makeContext>) => {
      for (const pod of [prefillPod, decodePod]) ctx.attributes.set(pod, PREFIX_CACHE_MATCH_INFO, { matchBlocks: 0, totalBlocks: 1, blockSizeTokens: 1 });
      return ctx;
    };
    expect([...(await scheduler.schedule(noHit(makeContext([prefillPod, decodePod])), prompt(2))).profileResults.keys()]).toEqual(['decode']);
    expect([...(await scheduler.schedule(noHit(makeContext([prefillPod, decodePod])), prompt(40))).profileResults.keys()].sort()).toEqual(['decode', 'prefill']);
  });

  it('no prefill pod → decode-only, logged and counted', async () => {
    const metrics = new EppMetrics();
    const scheduler = schedulerWith(metrics, { prefillDecider: new AlwaysDisaggPdDecider('a') });
    const { logger, records } = captureLogger('info');
    const result = await scheduler.schedule(makeContext([decodePod], logger), prompt(100));
    expect([...result.profileResults.keys()]).toEqual(['decode']);
    expect(await counter(metrics, 'disaggDecision')).toEqual({ 'm/decode-only/no_prefill_pod': 1 });
    expect(await counter(metrics, 'prefillFallback')).toEqual({ 'm/no_prefill_endpoint': 1 });
    expect(records.some((r) => String(r.msg).includes('no prefill endpoint'))).toBe(true);
  });

  it('no decode pod → 503 "no decode endpoint available"', async () => {
    const scheduler = schedulerWith(new EppMetrics(), { prefillDecider: new AlwaysDisaggPdDecider('a') });
    const failure = scheduler.schedule(makeContext([prefillPod]), prompt(100));
    await expect(failure).rejects.toBeInstanceOf(SchedulingError);
    await expect(failure).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/^no decode endpoint available: none of the 1 candidate endpoint\(s\) passed the filters of scheduling profile "decode"/) });
  });

  it('E/P/D: multimodal → encode, then prefill; encode failed → still prefill', async () => {
    const metrics = new EppMetrics();
    const options = { encodeDecider: new AlwaysDisaggMultimodalDecider('mm'), prefillDecider: new AlwaysDisaggPdDecider('a') };
    const scheduler = schedulerWith(metrics, options, epd);
    const image = makeRequest({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x/i.png' } }] }] });
    const all = await scheduler.schedule(makeContext([decodePod, prefillPod, encodePod]), image);
    expect([...all.profileResults.keys()].sort()).toEqual(['decode', 'encode', 'prefill']);
    expect(spans.spans('llm_d.epp.disagg.profile_handler.pick').map((s) => s.attributes['llm_d.profile_handler.decision']))
      .toEqual(['run_decode', 'run_encode', 'run_prefill', 'complete_encode-prefill-decode']);

    const noEncoder = await scheduler.schedule(makeContext([decodePod, prefillPod]), image);
    expect([...noEncoder.profileResults.keys()].sort()).toEqual(['decode', 'prefill']);
    expect(await counter(metrics, 'disaggDecision')).toEqual({ 'm/encode-prefill-decode/always': 1, 'm/prefill-decode/always': 1 });
    expect(await counter(metrics, 'prefillFallback')).toEqual({ 'm/no_encode_endpoint': 1 });
  });
});

describe('disagg-profile-handler ProcessResults', () => {
  const handler = new DisaggProfileHandler('h');
  const ctx = makeContext([decodePod, prefillPod, encodePod]);

  it('decode failed → 503 error', () => {
    expect(() => handler.processResults(ctx, prompt(1), new Map([['decode', null], ['prefill', run(prefillPod)]]))).toThrow(SchedulingError);
  });

  it('D, D+P, D+E; a null stage is omitted; decode is primary', () => {
    const d = handler.processResults(ctx, prompt(1), new Map([['decode', run(decodePod)], ['prefill', null], ['encode', null]]));
    expect(d.primaryProfileName).toBe('decode');
    expect([...d.profileResults.keys()]).toEqual(['decode']);
    const dp = handler.processResults(ctx, prompt(1), new Map([['decode', run(decodePod)], ['prefill', run(prefillPod)]]));
    expect([...dp.profileResults.keys()]).toEqual(['decode', 'prefill']);
    const de = handler.processResults(ctx, prompt(1), new Map([['decode', run(decodePod)], ['encode', run(encodePod)], ['prefill', null]]));
    expect([...de.profileResults.keys()]).toEqual(['decode', 'encode']);
  });
});

describe('disagg-profile-handler PreRequest', () => {
  it('sets the prefill and encoder headers from the result and clears stale values', () => {
    const handler = new DisaggProfileHandler('h');
    const request = makeRequest({ model: 'm', prompt: 'x' }, { headers: { [PREFILL_HEADER]: '6.6.6.6:1', [ENCODERS_HEADER]: 'evil:1' } });
    const ctx = makeContext([decodePod]);
    handler.preRequest(ctx, request, { primaryProfileName: 'decode', profileResults: new Map([['decode', run(decodePod)], ['prefill', run(prefillPod)]]) });
    expect(request.headers.get(PREFILL_HEADER)).toBe('10.1.0.1:8000');
    expect(request.headers.has(ENCODERS_HEADER)).toBe(false);
    handler.preRequest(ctx, request, { primaryProfileName: 'decode', profileResults: new Map([['decode', run(decodePod)]]) });
    expect(request.headers.has(PREFILL_HEADER)).toBe(false);
  });
});

describe('disagg-profile-handler factory', () => {
  const deciders: Record<string, Plugin> = {
    'prefix-based-pd-decider': new PrefixBasedPdDecider('prefix-based-pd-decider', 4),
    'always-disagg-multimodal-decider': new AlwaysDisaggMultimodalDecider('always-disagg-multimodal-decider'),
    'queue-scorer': { type: 'queue-scorer', name: 'queue-scorer' },
  };
  const handle = makeHandle({ plugins: deciders });
  const make = (parameters: unknown) => disaggProfileHandlerFactory('h', parameters, handle) as DisaggProfileHandler;

  it('defaults: decode/prefill/encode profiles, no deciders', () => {
    const h = make(undefined);
    expect([h.decodeProfile, h.prefillProfile, h.encodeProfile, h.prefillDecider, h.encodeDecider]).toEqual(['decode', 'prefill', 'encode', undefined, undefined]);
    expect(h.consumes).toEqual([]);
  });

  it('nested form resolves deciders and custom profile names; consumes what its deciders read', () => {
    const h = make({ profiles: { decode: 'my-decode', prefill: 'my-prefill' }, deciders: { prefill: 'prefix-based-pd-decider', encode: 'always-disagg-multimodal-decider' } });
    expect([h.decodeProfile, h.prefillProfile, h.encodeProfile]).toEqual(['my-decode', 'my-prefill', 'encode']);
    expect(h.prefillDecider?.name).toBe('prefix-based-pd-decider');
    expect(h.encodeDecider?.name).toBe('always-disagg-multimodal-decider');
    expect(h.consumes).toEqual([PREFIX_CACHE_MATCH_INFO]);
  });

  it('deprecated flat form, with deciderPluginName as the prefill fallback', () => {
    const h = make({ decodeProfile: 'd', prefillProfile: 'p', deciderPluginName: 'prefix-based-pd-decider' });
    expect([h.decodeProfile, h.prefillProfile, h.prefillDecider?.name]).toEqual(['d', 'p', 'prefix-based-pd-decider']);
  });

  it('mixing flat and nested parameters is an error', () => {
    expect(() => make({ profiles: { decode: 'd' }, prefillProfile: 'p' })).toThrow(/^parameters: cannot mix deprecated flat parameters \(prefillProfile\)/);
  });

  it('an undeclared decider, or a plugin that is not a decider, is an error naming the parameter', () => {
    expect(() => make({ deciders: { prefill: 'nope' } })).toThrow(ConfigError);
    expect(() => make({ deciders: { prefill: 'nope' } })).toThrow(/^parameters\.deciders\.prefill: decider plugin "nope" is not declared/);
    expect(() => make({ deciders: { encode: 'queue-scorer' } })).toThrow(/^parameters\.deciders\.encode: plugin "queue-scorer" \(type queue-scorer\) is not a decider/);
    expect(() => make({ prefillDeciderPluginName: 'nope' })).toThrow(/^parameters\.prefillDeciderPluginName:/);
  });

  it('ignores unrelated keys such as primaryPort and threshold', () => {
    expect(() => make({ primaryPort: 8000, threshold: 10, deciders: { prefill: 'prefix-based-pd-decider' } })).not.toThrow();
  });

  it('validateProfiles: a missing decode profile fails start-up', () => {
    const h = make(undefined);
    expect(() => h.validateProfiles(['prefill'], silentLogger)).toThrow(/decode profile "decode" is not among the scheduling profiles/);
    expect(() => h.validateProfiles(['decode'], silentLogger)).not.toThrow();
  });
});
