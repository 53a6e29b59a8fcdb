import { describe, expect, it } from 'vitest';
import { parseFlowControlConfig } from '../../../scheduler/flowcontrol/config.js';
import { FLOW_CONTROL_FACTORIES, registerFlowControlPlugins } from '../../../scheduler/flowcontrol/plugins.js';
import { parseQuantity } from '../../../scheduler/flowcontrol/quantity.js';
import type { Plugin } from '../../../scheduler/framework/plugins.js';
import { PluginRegistry } from '../../../scheduler/framework/registry.js';
import { makeHandle } from '../helpers.js';

function plugins(specs: Record<string, [string, unknown?]>): (name: string) => Plugin | undefined {
  const built = new Map<string, Plugin>();
  for (const [name, [type, parameters]] of Object.entries(specs)) built.set(name, FLOW_CONTROL_FACTORIES.get(type)!(name, parameters, makeHandle()));
  built.set('queue-scorer', { type: 'queue-scorer', name: 'queue-scorer' });
  return (name) => built.get(name);
}

describe('flowControl section', () => {
  it('defaults: utilization detector, static 1.0, global-strict + fcfs bands of 5000 / 1G, 60 s TTL', () => {
    const s = parseFlowControlConfig(undefined, plugins({}));
    expect([s.detector.type, s.usageLimit.type, s.defaultRequestTtlMs, s.noEndpointRequestTtlMs, s.maxRequests, s.maxBytes])
      .toEqual(['utilization-detector', 'static-usage-limit-policy', 60_000, 60_000, 0, 0]);
    expect(s.bandFor(7)).toMatchObject({ maxRequests: 5000, maxBytes: 1e9 });
    expect([s.bandFor(0).fairness.type, s.bandFor(0).ordering.type]).toEqual(['global-strict-fairness-policy', 'fcfs-ordering-policy']);
  });

  it('the upstream samples parse (program-aware band, soft reflective ceiling, detector ref)', () => {
    const a = parseFlowControlConfig({ defaultPriorityBand: { fairnessPolicyRef: 'program-aware-fairness' } }, plugins({ 'program-aware-fairness': ['program-aware-fairness'] }));
    expect(a.bandFor(0).fairness.type).toBe('program-aware-fairness');
    const b = parseFlowControlConfig({ usageLimitPolicyPluginRef: 'soft-reflective-ceiling-policy' }, plugins({ 'soft-reflective-ceiling-policy': ['soft-reflective-ceiling-policy'] }));
    expect(b.usageLimit.type).toBe('soft-reflective-ceiling-policy');
    const c = parseFlowControlConfig({ saturationDetector: { pluginRef: 'u' } }, plugins({ u: ['utilization-detector', { queueDepthThreshold: 999999999, kvCacheUtilThreshold: 1.0 }] }));
    expect(c.detector.name).toBe('u');
  });

  it('bands: explicit by priority, negative template for priority < 0, quantities and TTLs', () => {
    const s = parseFlowControlConfig({
      maxBytes: '1Gi', maxRequests: '2k', defaultRequestTTL: '30s', noEndpointRequestTTL: '5m',
      defaultPriorityBand: { maxRequests: 100 },
      defaultNegativePriorityBand: { maxRequests: '10', orderingPolicyRef: 'edf' },
      priorityBands: [{ priority: 10, maxBytes: '500M', fairnessPolicyRef: 'rr' }, { priority: -5, maxRequests: 0 }],
    }, plugins({ edf: ['edf-ordering-policy'], rr: ['round-robin-fairness-policy'] }));
    expect([s.maxBytes, s.maxRequests, s.defaultRequestTtlMs, s.noEndpointRequestTtlMs]).toEqual([2 ** 30, 2000, 30_000, 300_000]);
    expect(s.bandFor(0).maxRequests).toBe(100);
    expect(s.bandFor(-1)).toMatchObject({ maxRequests: 10 });
    expect(s.bandFor(-1).ordering.type).toBe('edf-ordering-policy');
    expect(s.bandFor(10)).toMatchObject({ maxBytes: 5e8, maxRequests: 5000 });
    expect(s.bandFor(10).fairness.type).toBe('round-robin-fairness-policy');
    expect(s.bandFor(-5).maxRequests).toBe(5000); // "0" = the system default
  });

  it.each([
    [{ maxRequest: 5 }, /^flowControl\.maxRequest: unknown field/],
    [{ maxBytes: '1.5Gx' }, /^flowControl\.maxBytes: "1.5Gx" is not a quantity/],
    [{ defaultRequestTTL: '10 parsecs' }, /^flowControl\.defaultRequestTTL: invalid duration/],
    [{ priorityBands: [{ priority: 1 }, { priority: 1 }] }, /^flowControl\.priorityBands\[1\]\.priority: priority 1 is configured twice/],
    [{ priorityBands: [{ maxRequests: 1 }] }, /^flowControl\.priorityBands\[0\]\.priority: must be an integer/],
    [{ priorityBands: [{ priority: 1, fairnessPolicyRef: 'nope' }] }, /^flowControl\.priorityBands\[0\]\.fairnessPolicyRef: no plugin named "nope"/],
    [{ defaultPriorityBand: { orderingPolicyRef: 'queue-scorer' } }, /^flowControl\.defaultPriorityBand\.orderingPolicyRef: "queue-scorer" \(type queue-scorer\) is not a ordering policy/],
    [{ saturationDetector: { pluginRef: 'x', metricsStalenessThreshold: '150ms' } }, /^flowControl\.saturationDetector\.metricsStalenessThreshold: unknown field/],
    [{ enableEviction: true }, /^flowControl\.enableEviction: in-flight eviction is not implemented/],
    [{ usageLimitPolicyPluginRef: 'queue-scorer' }, /is not a usage limit policy/],
  ])('rejects %j with its YAML path', (section, error) => {
    expect(() => parseFlowControlConfig(section, plugins({}))).toThrow(error);
  });

  it('plugin parameters are strict; unimplemented modes fail at start-up', () => {
    const make = (type: string, parameters: unknown) => () => FLOW_CONTROL_FACTORIES.get(type)!('x', parameters, makeHandle());
    expect(make('utilization-detector', { queueDepthTreshold: 5 })).toThrow(/queueDepthTreshold/);
    expect(make('utilization-detector', { headroom: 0.2 })).toThrow(/parameters.headroom/);
    expect(make('utilization-detector', { metricsStalenessThreshold: '0s' })).toThrow(/parameters.metricsStalenessThreshold: must be > 0/);
    expect(make('concurrency-detector', { concurrencyMode: 'tokens' })).toThrow(/parameters.concurrencyMode/);
    expect(make('soft-reflective-ceiling-policy', { x: 1 })).toThrow(/x/);
    expect(make('static-usage-limit-policy', { threshold: 0 })).toThrow(/parameters.threshold/);
    expect(make('program-aware-fairness', { strategy: 'wfq' })).toThrow(/parameters.strategy/);
    expect(make('probabilistic-admitter', { k: -1 })).toThrow(/parameters.k/);
    expect(registerFlowControlPlugins(new PluginRegistry()).types()).toContain('soft-reflective-ceiling-policy');
  });

  it('quantities', () => {
    expect([parseQuantity(100), parseQuantity('1k'), parseQuantity('1Ki'), parseQuantity('0.5Gi')]).toEqual([100, 1000, 1024, 2 ** 29]);
    expect(typeof parseQuantity(-1)).toBe('string');
    expect(typeof parseQuantity('0.5')).toBe('string');
  });
});
