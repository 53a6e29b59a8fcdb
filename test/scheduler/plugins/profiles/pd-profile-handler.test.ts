import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { PREFIX_CACHE_MATCH_INFO } from '../../../../scheduler/framework/cycle-state.js';
import { ConfigError, SchedulingError } from '../../../../scheduler/framework/errors.js';
import type { Plugin } from '../../../../scheduler/framework/plugins.js';
import { Scheduler } from '../../../../scheduler/framework/scheduler.js';
import { EppMetrics } from '../../../../scheduler/metrics.js';
import { AlwaysDisaggPdDecider } from '../../../../scheduler/plugins/deciders/always-disagg-pd-decider.js';
import { PrefixBasedPdDecider } from '../../../../scheduler/plugins/deciders/prefix-based-pd-decider.js';
import { DATA_PARALLEL_HEADER } from '../../../../scheduler/framework/director.js';
import { PdProfileHandler, pdProfileHandlerFactory } from '../../../../scheduler/plugins/profiles/pd-profile-handler.js';
import { makeContext, makeEndpoint, makeHandle, makeRequest, silentLogger } from '../../helpers.js';
import { names, profilesOf, roleProfile, run } from './fixtures.js';
import { captureSpans } from './spans.js';

const spans = captureSpans();
afterAll(() => spans.stop());
beforeEach(() => spans.reset());

const prefillPod = makeEndpoint({ name: 'prefill-0', role: 'prefill', address: '10.2.0.1' });
const decodePod = makeEndpoint({ name: 'decode-0', role: 'decode', address: '10.2.0.2' });
const pd = profilesOf(roleProfile('decode', 'decode-filter'), roleProfile('prefill', 'prefill-filter'));

async function pdDecisions(metrics: EppMetrics): Promise<Record<string, number>> {
  const { values } = await metrics.pdDecision.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.decision_type), v.value]));
}

/** Runs the handler's decision for one request whose decode pod holds `matchBlocks` blocks of `blockSizeTokens`. */
function decide(handler: PdProfileHandler, promptBytes: number, matchBlocks?: number, blockSizeTokens = 16): boolean {
  const ctx = makeContext([decodePod, prefillPod]);
  if (matchBlocks !== undefined) ctx.attributes.set(decodePod, PREFIX_CACHE_MATCH_INFO, { matchBlocks, totalBlocks: 100, blockSizeTokens });
  const picked = handler.pickProfiles(ctx, makeRequest({ model: 'm', prompt: 'x'.repeat(promptBytes) }), pd, new Map([['decode', run(decodePod)]]));
  return names(picked).includes('prefill');
}

describe('pd-profile-handler, seed-era threshold rule', () => {
  it('threshold 0 (the default) always disaggregates, even with no match info', () => {
    const handler = new PdProfileHandler('pd', { threshold: { threshold: 0, hashBlockSize: 64 } });
    expect(decide(handler, 1)).toBe(true);
    expect(handler.consumes).toEqual([]);
  });

  it('prefill iff userInputBytes − matchBlocks·blockSizeTokens·4 ≥ threshold', () => {
    const handler = new PdProfileHandler('pd', { threshold: { threshold: 100, hashBlockSize: 64 } });
    expect(handler.consumes).toEqual([PREFIX_CACHE_MATCH_INFO]);
    // 300 bytes, 2 blocks × 16 tokens × 4 bytes = 128 cached → 172 non-cached ≥ 100.
    expect(decide(handler, 300, 2)).toBe(true);
    // 300 − 200 (exactly threshold) → prefill; 300 − 201 would not.
    expect(decide(handler, 300, 1, 50)).toBe(true);
    expect(decide(handler, 301, 1, 51)).toBe(false);
    // fully cached (a partial block counts whole) → decode-only.
    expect(decide(handler, 300, 5)).toBe(false);
    // short prompt → decode-only.
    expect(decide(handler, 99, 0)).toBe(false);
  });

  it('missing match info counts as nothing cached', () => {
    const handler = new PdProfileHandler('pd', { threshold: { threshold: 100, hashBlockSize: 64 } });
    expect(decide(handler, 100)).toBe(true);
    expect(decide(handler, 99)).toBe(false);
  });

  it('hashBlockSize is the block width only when the match info has no block size', () => {
    const handler = new PdProfileHandler('pd', { threshold: { threshold: 100, hashBlockSize: 10 } });
    // 200 bytes − 5 blocks × 10 bytes = 150 ≥ 100.
    expect(decide(handler, 200, 5, 0)).toBe(true);
    // 200 − 11 × 10 = 90 < 100.
    expect(decide(handler, 200, 11, 0)).toBe(false);
  });
});

describe('pd-profile-handler, decider form', () => {
  it('asks the named decider with the chosen decode endpoint', () => {
    const handler = new PdProfileHandler('pd', { decider: new PrefixBasedPdDecider('p', 16) });
    expect(decide(handler, 64 * 4, 0)).toBe(true);
    expect(decide(handler, 64 * 4, 4)).toBe(false);
  });

  it('runs decode first, then prefill; span attributes follow upstream', () => {
    const handler = new PdProfileHandler('pd', { decider: new AlwaysDisaggPdDecider('a') });
    const ctx = makeContext([decodePod, prefillPod]);
    const request = makeRequest({ model: 'm', prompt: 'hello' });
    expect(names(handler.pickProfiles(ctx, request, pd, new Map()))).toEqual(['decode']);
    expect(names(handler.pickProfiles(ctx, request, pd, new Map([['decode', run(decodePod)]])))).toEqual(['prefill']);
    expect(handler.pickProfiles(ctx, request, pd, new Map([['decode', run(decodePod)], ['prefill', run(prefillPod)]]))).toEqual([]);
    const picks = spans.spans('llm_d.epp.pd.profile_handler.pick').map((s) => s.attributes);
    expect(picks.map((a) => a['llm_d.profile_handler.decision'])).toEqual(['run_decode', 'prefill_decode', 'complete']);
    expect(picks[1]).toMatchObject({ 'llm_d.profile_handler.selected_profile': 'prefill', 'llm_d.profile_handler.total_profiles': 2, 'llm_d.profile_handler.executed_profiles': 1, 'gen_ai.request.model': 'm' });
  });
});

describe('pd-profile-handler through the Scheduler', () => {
  it('records pd_decision_total once per request with the outcome; no prefill pod → decode-only', async () => {
    const metrics = new EppMetrics();
    const scheduler = new Scheduler(new PdProfileHandler('pd', { metrics }), pd);
    const request = makeRequest({ model: 'm', prompt: 'hello world' });
    const both = await scheduler.schedule(makeContext([prefillPod, decodePod]), request);
    expect([...both.profileResults.keys()]).toEqual(['decode', 'prefill']);
    const decodeOnly = await scheduler.schedule(makeContext([decodePod]), request);
    expect([...decodeOnly.profileResults.keys()]).toEqual(['decode']);
    expect(await pdDecisions(metrics)).toEqual({ 'prefill-decode': 1, 'decode-only': 1 });
    expect((await metrics.prefillFallback.get()).values.map((v) => v.labels.reason)).toEqual(['no_prefill_endpoint']);
  });

  it('no decode pod → 503', async () => {
    const scheduler = new Scheduler(new PdProfileHandler('pd'), pd);
    await expect(scheduler.schedule(makeContext([prefillPod]), makeRequest({ model: 'm', prompt: 'x' }))).rejects.toMatchObject({ status: 503 });
    await expect(scheduler.schedule(makeContext([prefillPod]), makeRequest({ model: 'm', prompt: 'x' }))).rejects.toBeInstanceOf(SchedulingError);
  });

  it('primaryPort: routes to ip:primaryPort and tells the sidecar the rank port', async () => {
    const rank = makeEndpoint({ name: 'decode-0-rank-1', role: 'decode', address: '10.2.0.9', port: 8001 });
    const scheduler = new Scheduler(new PdProfileHandler('pd', { primaryPort: 8000, decider: { type: 't', name: 'never', decide: () => ({ disaggregate: false, reason: 'never' }) } }), pd);
    const request = makeRequest({ model: 'm', prompt: 'x' });
    const result = await scheduler.schedule(makeContext([rank]), request);
    expect(result.profileResults.get('decode')!.targets[0]!.hostPort).toBe('10.2.0.9:8000');
    expect(request.headers.get(DATA_PARALLEL_HEADER)).toBe('10.2.0.9:8001');
  });
});

describe('pd-profile-handler factory: which generation', () => {
  const decider = new PrefixBasedPdDecider('prefix-based-pd-decider', 8);
  const withDecider = makeHandle({ plugins: { 'prefix-based-pd-decider': decider, 'my-decider': new AlwaysDisaggPdDecider('my-decider'), scorer: { type: 's', name: 'scorer' } as Plugin } });
  const bare = makeHandle();
  const make = (parameters: unknown, handle = withDecider) => pdProfileHandlerFactory('pd', parameters, handle) as PdProfileHandler;

  it('threshold/hashBlockSize → seed-era rule, even when a decider is declared', () => {
    const handler = make({ threshold: 10, hashBlockSize: 5, prefixPluginName: 'prefix-cache-scorer' });
    expect(handler.decider).toBeUndefined();
    expect(handler.threshold).toEqual({ threshold: 10, hashBlockSize: 5 });
    expect(make({ hashBlockSize: 32 }).threshold).toEqual({ threshold: 0, hashBlockSize: 32 });
  });

  it('no parameters and no prefix-based-pd-decider declared → seed-era default (threshold 0: always P/D)', () => {
    const handler = make(undefined, bare);
    expect(handler.decider).toBeUndefined();
    expect(handler.threshold).toEqual({ threshold: 0, hashBlockSize: 64 });
  });

  it('no parameters and prefix-based-pd-decider declared → that decider (the later default)', () => {
    expect(make(undefined).decider).toBe(decider);
  });

  it('deciderPluginName must name a declared decider', () => {
    expect(make({ deciderPluginName: 'my-decider' }).decider?.name).toBe('my-decider');
    expect(() => make({ deciderPluginName: 'missing' })).toThrow(/^parameters\.deciderPluginName: decider plugin "missing" is not declared/);
    expect(() => make({ deciderPluginName: 'scorer' })).toThrow(/is not a decider/);
  });

  it('rejects bad parameters with their path', () => {
    expect(() => make({ threshold: -1 })).toThrow(ConfigError);
    expect(() => make({ threshold: -1 })).toThrow(/^parameters\.threshold:/);
    expect(() => make({ threshold: 'ten' })).toThrow(/^parameters\.threshold:/);
    expect(() => make({ hashBlockSize: 0 })).toThrow(/^parameters\.hashBlockSize:/);
    expect(() => make({ primaryPort: 70000 })).toThrow(/^parameters\.primaryPort:/);
    expect(() => make({ threshold: 5, deciderPluginName: 'my-decider' })).toThrow(/^parameters: threshold\/hashBlockSize .* cannot be combined with deciderPluginName/);
  });

  it('validateProfiles: decode profile required', () => {
    expect(() => make(undefined, bare).validateProfiles(['default'], silentLogger)).toThrow(/decode profile "decode"/);
  });
});
