import { describe, expect, it } from 'vitest';
import { loadEndpointPickerConfig } from '../../../../scheduler/config/loader.js';
import type { Endpoint } from '../../../../scheduler/framework/endpoint.js';
import { PROFILE_RESULTS } from '../../../../scheduler/framework/scheduler.js';
import { TopologyAffinityFilter, topologyAffinityFilterFactory } from '../../../../scheduler/plugins/filters/topology-affinity-filter.js';
import { createDefaultRegistry } from '../../../../scheduler/plugins/index.js';
import { TopologyExtractor, topologyExtractorFactory } from '../../../../scheduler/plugins/producers/topology-extractor.js';
import { TopologyAffinityScorer } from '../../../../scheduler/plugins/scorers/topology-affinity-scorer.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle, silentLogger } from '../../helpers.js';

const at = (name: string, host: string, rack: string, zone: string, role = 'prefill') => makeEndpoint({
  name, role, labels: { 'kubernetes.io/hostname': host, 'topology.kubernetes.io/rack': rack, 'topology.kubernetes.io/zone': zone, 'topology.kubernetes.io/region': 'r1' },
});

/** A context where `peer` was picked by the first (decode) profile and topology was extracted. */
function context(peer: Endpoint | undefined, candidates: Endpoint[]) {
  const ctx = makeContext(peer ? [peer, ...candidates] : candidates);
  new TopologyExtractor('t').produce(ctx, chatRequest('x'), ctx.candidates);
  ctx.state.set(PROFILE_RESULTS, new Map(peer ? [['decode', { targets: [peer] }]] : []));
  return ctx;
}
const names = (list: readonly Endpoint[]) => list.map((e) => e.name);

describe('topology affinity', () => {
  const decode = at('d', 'h1', 'k1', 'z1', 'decode');
  const sameHost = at('p-host', 'h1', 'k9', 'z9');
  const sameRack = at('p-rack', 'h2', 'k1', 'z1');
  const sameZone = at('p-zone', 'h3', 'k2', 'z1');
  const farAway = at('p-far', 'h4', 'k3', 'z2');

  it('filter keeps candidates at minAffinity or tighter; none → all; no peer → all', () => {
    const all = [farAway, sameZone, sameRack, sameHost];
    expect(names(new TopologyAffinityFilter('f', 'host').filter(context(decode, all), chatRequest('x'), all))).toEqual(['p-host']);
    expect(names(new TopologyAffinityFilter('f', 'rack').filter(context(decode, all), chatRequest('x'), all))).toEqual(['p-rack', 'p-host']);
    expect(names(new TopologyAffinityFilter('f', 'zone').filter(context(decode, all), chatRequest('x'), all))).toEqual(['p-zone', 'p-rack', 'p-host']);
    expect(names(new TopologyAffinityFilter('f', 'host').filter(context(decode, [farAway]), chatRequest('x'), [farAway]))).toEqual(['p-far']);
    expect(names(new TopologyAffinityFilter('f', 'host').filter(context(undefined, all), chatRequest('x'), all))).toEqual(names(all));
  });

  it('empty never matches empty; a candidate without the attribute is dropped', () => {
    const bare = makeEndpoint({ name: 'bare', role: 'decode' });
    const alsoBare = makeEndpoint({ name: 'also-bare' });
    expect(names(new TopologyAffinityFilter('f', 'region').filter(context(bare, [alsoBare, farAway]), chatRequest('x'), [alsoBare, farAway]))).toEqual(['also-bare', 'p-far']);
    const ctx = context(decode, [sameHost]);
    const unextracted = at('late', 'h1', 'k1', 'z1');
    expect(names(new TopologyAffinityFilter('f', 'host').filter(ctx, chatRequest('x'), [unextracted, sameHost]))).toEqual(['p-host']);
  });

  it('scorer: host 1, rack 0.2, zone 0.05, region 0.02, none 0; 0 without a peer', () => {
    const all = [sameHost, sameRack, sameZone, farAway, makeEndpoint({ name: 'nowhere' })];
    const scores = new TopologyAffinityScorer('s').score(context(decode, all), chatRequest('x'), all);
    expect(all.map((e) => scores.get(e))).toEqual([1, 0.2, 0.05, 0.02, 0]);
    expect([...new TopologyAffinityScorer('s').score(context(undefined, all), chatRequest('x'), all).values()]).toEqual([0, 0, 0, 0, 0]);
  });

  it('parameters: custom labels, levels checked, producer name checked', () => {
    const custom = topologyExtractorFactory('t', { rack: 'nvlink-domain' }, makeHandle()) as TopologyExtractor;
    expect(custom.labels.rack).toBe('nvlink-domain');
    expect(() => topologyAffinityFilterFactory('f', { minAffinity: 'planet' }, makeHandle())).toThrow(/parameters.minAffinity/);
    expect(() => topologyAffinityFilterFactory('f', { topologyProducerName: 'x' }, makeHandle({ plugins: { x: { type: 'queue-scorer', name: 'x' } } }))).toThrow(/not a topology-extractor/);
  });

  it('through the loader, the P/D prefill stage picks the prefill pod next to the decode pod', async () => {
    const loaded = loadEndpointPickerConfig(`apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: topology-extractor
- type: topology-affinity-filter
  parameters: {minAffinity: rack}
- type: topology-affinity-scorer
- type: prefill-filter
- type: decode-filter
- type: max-score-picker
- type: always-disagg-pd-decider
- type: disagg-profile-handler
  parameters: {deciders: {prefill: always-disagg-pd-decider}}
schedulingProfiles:
- name: prefill
  plugins: [{pluginRef: prefill-filter}, {pluginRef: topology-affinity-filter}, {pluginRef: topology-affinity-scorer}]
- name: decode
  plugins: [{pluginRef: decode-filter}]
`, { registry: createDefaultRegistry(), logger: silentLogger });
    const endpoints = [decode, farAway, sameZone, sameRack, sameHost];
    const ctx = makeContext(endpoints);
    const request = chatRequest('x');
    for (const producer of loaded.producers) await producer.produce(ctx, request, endpoints);
    const result = await loaded.scheduler.schedule(ctx, request);
    expect(result.profileResults.get('prefill')?.targets[0]?.name).toBe('p-host');
  });
});
