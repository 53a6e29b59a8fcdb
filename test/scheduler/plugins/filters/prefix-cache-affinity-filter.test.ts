import { describe, expect, it } from 'vitest';
import { loadEndpointPickerConfig } from '../../../../scheduler/config/loader.js';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo } from '../../../../scheduler/framework/cycle-state.js';
import type { Endpoint } from '../../../../scheduler/framework/endpoint.js';
import { PrefixCacheAffinityFilter, prefixCacheAffinityFilterFactory, type AffinityOptions } from '../../../../scheduler/plugins/filters/prefix-cache-affinity-filter.js';
import { createDefaultRegistry } from '../../../../scheduler/plugins/index.js';
import { IN_FLIGHT_LOAD, type InFlightLoad } from '../../../../scheduler/plugins/producers/inflight-load-producer.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle, silentLogger } from '../../helpers.js';

const base: AffinityOptions = { affinityThreshold: 0.8, explorationProbability: 0, maxTTFTPenaltyMs: 1000, peakPrefillThroughput: 1000 };

/** Endpoints with a given match ratio (out of 10 blocks) and in-flight tokens. */
function setup(specs: ReadonlyArray<{ match: number; tokens?: number }>) {
  const endpoints = specs.map((_, i) => makeEndpoint({ name: `e${i}` }));
  const ctx = makeContext(endpoints);
  specs.forEach((spec, i) => {
    ctx.attributes.set<PrefixCacheMatchInfo>(endpoints[i]!, PREFIX_CACHE_MATCH_INFO, { matchBlocks: spec.match, totalBlocks: 10, blockSizeTokens: 16 });
    if (spec.tokens !== undefined) ctx.attributes.set<InFlightLoad>(endpoints[i]!, IN_FLIGHT_LOAD, { requests: 1, tokens: spec.tokens });
  });
  return { endpoints, ctx };
}
const names = (list: readonly Endpoint[]) => list.map((e) => e.name);

describe('prefix-cache-affinity-filter', () => {
  it('keeps only endpoints at or above τ (the boundary counts as sticky)', () => {
    const { endpoints, ctx } = setup([{ match: 8 }, { match: 7 }, { match: 10 }]);
    expect(names(new PrefixCacheAffinityFilter('f', base).filter(ctx, chatRequest('x'), endpoints))).toEqual(['e0', 'e2']);
  });

  it('keeps all when nobody is sticky, when τ ≤ 0, and with a single candidate', () => {
    const { endpoints, ctx } = setup([{ match: 1 }, { match: 7 }]);
    expect(names(new PrefixCacheAffinityFilter('f', base).filter(ctx, chatRequest('x'), endpoints))).toEqual(['e0', 'e1']);
    const hot = setup([{ match: 10 }, { match: 0 }]);
    expect(names(new PrefixCacheAffinityFilter('f', { ...base, affinityThreshold: 0 }).filter(hot.ctx, chatRequest('x'), hot.endpoints))).toEqual(['e0', 'e1']);
    expect(names(new PrefixCacheAffinityFilter('f', base).filter(hot.ctx, chatRequest('x'), [hot.endpoints[1]!]))).toEqual(['e1']);
  });

  it('breaks stickiness only when the sticky TTFT exceeds the cold one by more than the penalty', () => {
    // 1000 tok/s: 2000 tokens = 2000 ms; cold endpoint idle = 0 ms → penalty 2000 > 1000 → all.
    const saturated = setup([{ match: 10, tokens: 2000 }, { match: 0, tokens: 0 }]);
    expect(names(new PrefixCacheAffinityFilter('f', base).filter(saturated.ctx, chatRequest('x'), saturated.endpoints))).toEqual(['e0', 'e1']);
    // exactly at the penalty (1000 ms) still sticks
    const edge = setup([{ match: 10, tokens: 1000 }, { match: 0, tokens: 0 }]);
    expect(names(new PrefixCacheAffinityFilter('f', base).filter(edge.ctx, chatRequest('x'), edge.endpoints))).toEqual(['e0']);
    // the best sticky endpoint counts: one idle sticky endpoint keeps stickiness
    const mixed = setup([{ match: 10, tokens: 5000 }, { match: 9, tokens: 0 }, { match: 0, tokens: 0 }]);
    expect(names(new PrefixCacheAffinityFilter('f', base).filter(mixed.ctx, chatRequest('x'), mixed.endpoints))).toEqual(['e0', 'e1']);
    // maxTTFTPenaltyMs 0 = always stick
    expect(names(new PrefixCacheAffinityFilter('f', { ...base, maxTTFTPenaltyMs: 0 }).filter(saturated.ctx, chatRequest('x'), saturated.endpoints))).toEqual(['e0']);
  });

  it('explores (keeps all) exactly when the random draw is below the probability', () => {
    const { endpoints, ctx } = setup([{ match: 10 }, { match: 0 }]);
    const at = (draw: number) => names(new PrefixCacheAffinityFilter('f', { ...base, explorationProbability: 0.1, random: () => draw }).filter(ctx, chatRequest('x'), endpoints));
    expect(at(0.05)).toEqual(['e0', 'e1']);
    expect(at(0.1)).toEqual(['e0']);
  });

  it('validates parameters at start-up', () => {
    const make = (p: unknown) => prefixCacheAffinityFilterFactory('f', p, makeHandle());
    expect(make(undefined).options).toMatchObject({ affinityThreshold: 0.8, maxTTFTPenaltyMs: 18000, peakPrefillThroughput: 15928 });
    expect(() => make({ affinityThreshold: 1.5 })).toThrow(/parameters.affinityThreshold/);
    expect(() => make({ explorationProbability: 2 })).toThrow(/parameters.explorationProbability/);
    expect(() => make({ ttftSource: 'latencyPredictor' })).toThrow(/latency predictor/);
    expect(() => make({ peakPrefillThroughput: 0 })).toThrow(/parameters.peakPrefillThroughput/);
    expect(make({ peakPrefillThroughput: 0, maxTTFTPenaltyMs: 0 }).options.maxTTFTPenaltyMs).toBe(0);
    expect(() => make({ affinityTreshold: 0.5 })).toThrow(/affinityTreshold/);
    expect(() => make({ inFlightLoadProducerName: 'nope' })).toThrow(/no plugin named "nope"/);
  });

  it('loads with the loader adding inflight-load-producer and approx-prefix-cache-producer', () => {
    const loaded = loadEndpointPickerConfig(`apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: prefix-cache-affinity-filter
- type: token-load-scorer
`, { registry: createDefaultRegistry(), logger: silentLogger });
    expect(loaded.producers.map((p) => p.type)).toEqual(['approx-prefix-cache-producer', 'inflight-load-producer']);
  });
});
