/**
 * disagg-profile-handler with `stageOrder: prefill-first` (llm-d Router): prefill runs first with no
 * decider, encode next, decode last; the decode profile's topology plugins compare with the
 * prefill pick.
 */
import { describe, expect, it } from 'vitest';
import { loadEndpointPickerConfig } from '../../../../scheduler/config/loader.js';
import { SchedulingContext } from '../../../../scheduler/framework/cycle-state.js';
import { ConfigError } from '../../../../scheduler/framework/errors.js';
import { EppMetrics } from '../../../../scheduler/metrics.js';
import { AlwaysDisaggMultimodalDecider } from '../../../../scheduler/plugins/deciders/always-disagg-multimodal-decider.js';
import { PrefixBasedPdDecider } from '../../../../scheduler/plugins/deciders/prefix-based-pd-decider.js';
import { createDefaultRegistry } from '../../../../scheduler/plugins/index.js';
import { DisaggProfileHandler, disaggProfileHandlerFactory } from '../../../../scheduler/plugins/profiles/disagg-profile-handler.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle, makeRequest, silentLogger } from '../../helpers.js';
import { names, profilesOf, roleProfile, run } from './fixtures.js';

const prefillPod = makeEndpoint({ name: 'prefill-0', role: 'prefill' });
const decodePod = makeEndpoint({ name: 'decode-0', role: 'decode' });
const pd = profilesOf(roleProfile('decode', 'decode-filter'), roleProfile('prefill', 'prefill-filter'));
const epd = profilesOf(roleProfile('decode', 'decode-filter'), roleProfile('prefill', 'prefill-filter'), roleProfile('encode', 'encode-filter'));
const request = makeRequest({ model: 'm', prompt: 'short' });

describe('disagg-profile-handler stageOrder: prefill-first', () => {
  it('prefill → decode, then complete with reason prefill_first (even for a one-word prompt)', async () => {
    const metrics = new EppMetrics();
    const h = new DisaggProfileHandler('h', { stageOrder: 'prefill-first', metrics });
    const ctx = makeContext([decodePod, prefillPod]);
    expect(names(h.pickProfiles(ctx, request, pd, new Map()))).toEqual(['prefill']);
    expect(names(h.pickProfiles(ctx, request, pd, new Map([['prefill', run(prefillPod)]])))).toEqual(['decode']);
    const done = new Map([['prefill', run(prefillPod)], ['decode', run(decodePod)]]);
    expect(h.pickProfiles(ctx, request, pd, done)).toEqual([]);
    expect(h.processResults(ctx, request, done)).toMatchObject({ primaryProfileName: 'decode', pdDecision: { disaggregate: true, reason: 'prefill_first' } });
    const { values } = await metrics.disaggDecision.get();
    expect(values.map((v) => [v.labels.decision_type, v.labels.reason, v.value])).toEqual([['prefill-decode', 'prefill_first', 1]]);
  });

  it('prefill found no pod → decode still runs, served decode-only (no_prefill_pod)', () => {
    const h = new DisaggProfileHandler('h', { stageOrder: 'prefill-first' });
    const ctx = makeContext([decodePod]);
    expect(names(h.pickProfiles(ctx, request, pd, new Map()))).toEqual(['prefill']);
    expect(names(h.pickProfiles(ctx, request, pd, new Map([['prefill', null]])))).toEqual(['decode']);
    const done = new Map([['prefill', null], ['decode', run(decodePod)]]);
    expect(h.processResults(ctx, request, done).pdDecision).toMatchObject({ disaggregate: false, reason: 'no_prefill_pod' });
    expect(h.processResults(ctx, request, done).profileResults.has('prefill')).toBe(false);
  });

  it('no prefill profile → decode only, reason disabled; encode is decided without a decode pod', () => {
    const h = new DisaggProfileHandler('h', { stageOrder: 'prefill-first', encodeDecider: new AlwaysDisaggMultimodalDecider('mm') });
    const ctx = makeContext([decodePod]);
    const decodeOnly = profilesOf(roleProfile('decode', 'decode-filter'));
    expect(names(h.pickProfiles(ctx, request, decodeOnly, new Map()))).toEqual(['decode']);
    expect(h.processResults(ctx, request, new Map([['decode', run(decodePod)]])).pdDecision).toEqual({ disaggregate: false, reason: 'disabled' });
    // Text-only request: the multimodal decider says no → straight from prefill to decode.
    const ctx2 = makeContext([decodePod, prefillPod]);
    expect(names(h.pickProfiles(ctx2, request, epd, new Map()))).toEqual(['prefill']);
    expect(names(h.pickProfiles(ctx2, request, epd, new Map([['prefill', run(prefillPod)]])))).toEqual(['decode']);
  });

  it('factory: stageOrder values are strict; a prefill decider is refused with prefill-first', () => {
    const handle = makeHandle({ plugins: { p: new PrefixBasedPdDecider('p', 4) } });
    expect((disaggProfileHandlerFactory('h', { stageOrder: 'prefill-first' }, handle) as DisaggProfileHandler).stageOrder).toBe('prefill-first');
    expect((disaggProfileHandlerFactory('h', {}, handle) as DisaggProfileHandler).stageOrder).toBe('decode-first');
    expect(() => disaggProfileHandlerFactory('h', { stageOrder: 'prefill' }, handle)).toThrow(/parameters\.stageOrder/);
    expect(() => disaggProfileHandlerFactory('h', { stageOrder: 'prefill-first', deciders: { prefill: 'p' } }, handle)).toThrow(ConfigError);
    expect(() => disaggProfileHandlerFactory('h', { stageOrder: 'prefill-first', deciders: { prefill: 'p' } }, handle)).toThrow(/parameters\.stageOrder: .*prefill decider is not supported/);
  });

  it('through the loader: the decode profile\'s topology filter keeps decode pods on the prefill pod\'s rack', async () => {
    const rack = (name: string, role: string, r: string) => makeEndpoint({ name, role, labels: { 'topology.kubernetes.io/rack': r, 'topology.kubernetes.io/zone': 'z' } });
    const endpoints = [rack('prefill-r1', 'prefill', 'r1'), rack('decode-r2', 'decode', 'r2'), rack('decode-r1', 'decode', 'r1')];
    const loaded = loadEndpointPickerConfig(`
apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- {type: prefill-filter}
- {type: decode-filter}
- {type: max-score-picker}
- {type: topology-extractor}
- {type: topology-affinity-filter, parameters: {minAffinity: rack}}
- {type: disagg-profile-handler, parameters: {stageOrder: prefill-first}}
schedulingProfiles:
- {name: prefill, plugins: [{pluginRef: prefill-filter}, {pluginRef: max-score-picker}]}
- {name: decode, plugins: [{pluginRef: decode-filter}, {pluginRef: topology-affinity-filter}, {pluginRef: max-score-picker}]}
`, { registry: createDefaultRegistry(), logger: silentLogger, endpoints: () => endpoints });
    try {
      const req = chatRequest('hello');
      const ctx = new SchedulingContext(endpoints, silentLogger);
      for (const producer of loaded.producers) await producer.produce(ctx, req, endpoints);
      const result = await loaded.scheduler.schedule(ctx, req);
      expect(result.profileResults.get('prefill')?.targets[0]?.name).toBe('prefill-r1');
      expect(result.profileResults.get('decode')?.targets.map((e) => e.name)).toEqual(['decode-r1']);
    } finally {
      await loaded.close();
    }
  });
});
