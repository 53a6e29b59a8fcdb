/** Both P/D profile handlers expose the decider's decision: on the result, the counter and the span. */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { PREFIX_CACHE_MATCH_INFO } from '../../../../scheduler/framework/cycle-state.js';
import { isProfileHandler, type Decider } from '../../../../scheduler/framework/plugins.js';
import { Scheduler } from '../../../../scheduler/framework/scheduler.js';
import { EppMetrics } from '../../../../scheduler/metrics.js';
import { AlwaysDisaggPdDecider } from '../../../../scheduler/plugins/deciders/always-disagg-pd-decider.js';
import { PrefixBasedPdDecider } from '../../../../scheduler/plugins/deciders/prefix-based-pd-decider.js';
import { DisaggProfileHandler, disaggProfileHandlerFactory } from '../../../../scheduler/plugins/profiles/disagg-profile-handler.js';
import { PdProfileHandler, pdProfileHandlerFactory } from '../../../../scheduler/plugins/profiles/pd-profile-handler.js';
import { createDefaultRegistry } from '../../../../scheduler/plugins/index.js';
import { makeContext, makeEndpoint, makeHandle, makeRequest } from '../../helpers.js';
import { profilesOf, roleProfile } from './fixtures.js';
import { captureSpans } from './spans.js';

const spans = captureSpans();
afterAll(() => spans.stop());
beforeEach(() => spans.reset());

const prefillPod = makeEndpoint({ name: 'prefill-0', role: 'prefill', address: '10.3.0.1' });
const decodePod = makeEndpoint({ name: 'decode-0', role: 'decode', address: '10.3.0.2' });
const pd = profilesOf(roleProfile('decode', 'decode-filter'), roleProfile('prefill', 'prefill-filter'));
const prompt = (tokens: number) => makeRequest({ model: 'm', prompt: 'abcd'.repeat(tokens) });

/** A context where the decode pod holds `cached` one-token blocks of the prompt. */
function contextWith(pods: ReturnType<typeof makeEndpoint>[], cached: number) {
  const ctx = makeContext(pods);
  ctx.attributes.set(decodePod, PREFIX_CACHE_MATCH_INFO, { matchBlocks: cached, totalBlocks: 100, blockSizeTokens: 1 });
  return ctx;
}

async function byReason(counter: EppMetrics['disaggDecision']): Promise<Record<string, number>> {
  const { values } = await counter.get();
  return Object.fromEntries(values.map((v) => [`${String(v.labels.decision_type)}/${String(v.labels.reason)}`, v.value]));
}

/** A decider with fixed output, to show estimates travel through untouched. */
const fixed = (disaggregate: boolean, reason: string): Decider => ({
  type: 'fixed', name: 'fixed', decide: () => ({ disaggregate, reason, estimates: { ttft_local_ms: 120.5, ttft_remote_ms: 80 } }),
});

describe.each([
  ['disagg-profile-handler', 'llm_d.epp.disagg.profile_handler.pick', 'disaggDecision',
    (decider: Decider, metrics: EppMetrics) => new DisaggProfileHandler('h', { prefillDecider: decider, metrics })],
  ['pd-profile-handler (decider form)', 'llm_d.epp.pd.profile_handler.pick', 'pdDecision',
    (decider: Decider, metrics: EppMetrics) => new PdProfileHandler('h', { decider, metrics })],
] as const)('%s: pdDecision', (_name, spanName, counterName, build) => {
  it('carries the decider reason on the result, the counter and the pick span', async () => {
    const metrics = new EppMetrics();
    const scheduler = new Scheduler(build(new PrefixBasedPdDecider('p', 8), metrics), pd);
    const long = await scheduler.schedule(contextWith([decodePod, prefillPod], 0), prompt(40));
    expect(long.pdDecision).toEqual({ disaggregate: true, reason: 'threshold_met', estimates: { input_tokens: 40, non_cached_tokens: 40 } });
    const cached = await scheduler.schedule(contextWith([decodePod, prefillPod], 36), prompt(40));
    expect(cached.pdDecision).toMatchObject({ disaggregate: false, reason: 'cached' });
    const short = await scheduler.schedule(contextWith([decodePod, prefillPod], 0), prompt(2));
    expect(short.pdDecision).toMatchObject({ disaggregate: false, reason: 'short_input' });
    expect(await byReason(metrics[counterName])).toEqual({ 'prefill-decode/threshold_met': 1, 'decode-only/cached': 1, 'decode-only/short_input': 1 });
    const reasons = spans.spans(spanName).map((s) => s.attributes['pd.decision.reason']).filter((r) => r !== undefined);
    expect(new Set(reasons)).toEqual(new Set(['threshold_met', 'cached', 'short_input']));
  });

  it('estimates become pd.estimate.<name> span attributes', async () => {
    const scheduler = new Scheduler(build(fixed(false, 'local_cheaper'), new EppMetrics()), pd);
    const result = await scheduler.schedule(makeContext([decodePod, prefillPod]), prompt(10));
    expect(result.pdDecision).toEqual({ disaggregate: false, reason: 'local_cheaper', estimates: { ttft_local_ms: 120.5, ttft_remote_ms: 80 } });
    const deciding = spans.spans(spanName).find((s) => s.attributes['pd.decision.reason'] === 'local_cheaper');
    expect(deciding?.attributes).toMatchObject({ 'pd.estimate.ttft_local_ms': 120.5, 'pd.estimate.ttft_remote_ms': 80 });
  });

  it('yes, but no prefill pod found → decode-only with reason no_prefill_pod (estimates kept)', async () => {
    const metrics = new EppMetrics();
    const scheduler = new Scheduler(build(fixed(true, 'remote_cheaper'), metrics), pd);
    const result = await scheduler.schedule(makeContext([decodePod]), prompt(10));
    expect([...result.profileResults.keys()]).toEqual(['decode']);
    expect(result.pdDecision).toEqual({ disaggregate: false, reason: 'no_prefill_pod', estimates: { ttft_local_ms: 120.5, ttft_remote_ms: 80 } });
    expect(await byReason(metrics[counterName])).toEqual({ 'decode-only/no_prefill_pod': 1 });
  });
});

describe('reasons without a decider', () => {
  it('disagg-profile-handler with no prefill decider → disabled', async () => {
    const metrics = new EppMetrics();
    const result = await new Scheduler(new DisaggProfileHandler('h', { metrics }), pd).schedule(makeContext([decodePod, prefillPod]), prompt(10));
    expect(result.pdDecision).toEqual({ disaggregate: false, reason: 'disabled' });
    expect(await byReason(metrics.disaggDecision)).toEqual({ 'decode-only/disabled': 1 });
  });

  it('always-disagg → always', async () => {
    const result = await new Scheduler(new DisaggProfileHandler('h', { prefillDecider: new AlwaysDisaggPdDecider('a') }), pd)
      .schedule(makeContext([decodePod, prefillPod]), prompt(1));
    expect(result.pdDecision).toEqual({ disaggregate: true, reason: 'always' });
  });

  it('pd-profile-handler seed-era threshold form: always / short_input / cached / threshold_met, in bytes', async () => {
    const metrics = new EppMetrics();
    const always = await new Scheduler(new PdProfileHandler('h', { threshold: { threshold: 0, hashBlockSize: 64 } }), pd)
      .schedule(makeContext([decodePod, prefillPod]), prompt(1));
    expect(always.pdDecision).toEqual({ disaggregate: true, reason: 'always' });
    const scheduler = new Scheduler(new PdProfileHandler('h', { threshold: { threshold: 100, hashBlockSize: 64 }, metrics }), pd);
    // prompt(n) is 4n bytes; a block of 1 token is 4 bytes.
    expect((await scheduler.schedule(contextWith([decodePod, prefillPod], 0), prompt(20))).pdDecision)
      .toEqual({ disaggregate: false, reason: 'short_input', estimates: { input_bytes: 80, non_cached_bytes: 80 } });
    expect((await scheduler.schedule(contextWith([decodePod, prefillPod], 20), prompt(40))).pdDecision)
      .toEqual({ disaggregate: false, reason: 'cached', estimates: { input_bytes: 160, non_cached_bytes: 80 } });
    expect((await scheduler.schedule(contextWith([decodePod, prefillPod], 0), prompt(40))).pdDecision)
      .toEqual({ disaggregate: true, reason: 'threshold_met', estimates: { input_bytes: 160, non_cached_bytes: 160 } });
    expect(await byReason(metrics.pdDecision)).toEqual({ 'decode-only/short_input': 1, 'decode-only/cached': 1, 'prefill-decode/threshold_met': 1 });
  });
});

describe('adaptive-pd-decider behind both handlers (built from config parameters)', () => {
  const busyDecode = makeEndpoint({ name: 'decode-busy', role: 'decode', address: '10.3.0.5', metrics: { runningRequestsSize: 64, waitingQueueSize: 4, updatedAt: 1 } });
  const idlePrefill = makeEndpoint({ name: 'prefill-idle', role: 'prefill', address: '10.3.0.6', metrics: { updatedAt: 1 } });

  it.each([
    ['disagg-profile-handler', disaggProfileHandlerFactory, { deciders: { prefill: 'adaptive' } }, 'disaggDecision'],
    ['pd-profile-handler', pdProfileHandlerFactory, { deciderPluginName: 'adaptive' }, 'pdDecision'],
  ] as const)('%s: protect_tpot on the result and in the counter', async (_name, factory, parameters, counterName) => {
    const metrics = new EppMetrics();
    const decider = createDefaultRegistry().create('adaptive-pd-decider', 'adaptive', { tpotSloMs: 50 }, { ...makeHandle(), metrics });
    const handler = factory('h', parameters, { ...makeHandle({ plugins: { adaptive: decider } }), metrics });
    if (!isProfileHandler(handler)) throw new Error('not a profile handler');
    const ctx = makeContext([busyDecode, idlePrefill]);
    for (const pod of [busyDecode, idlePrefill]) ctx.attributes.set(pod, PREFIX_CACHE_MATCH_INFO, { matchBlocks: 0, totalBlocks: 500, blockSizeTokens: 16 });
    const result = await new Scheduler(handler, pd).schedule(ctx, prompt(8000));
    expect(result.profileResults.get('prefill')?.targets).toEqual([idlePrefill]);
    expect(result.pdDecision).toMatchObject({ disaggregate: true, reason: 'protect_tpot', estimates: { uncached_tokens: 8000 } });
    expect(await byReason(metrics[counterName])).toEqual({ 'prefill-decode/protect_tpot': 1 });
  });
});
