import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../../../scheduler/framework/endpoint.js';
import type { Plugin } from '../../../../scheduler/framework/plugins.js';
import { EndpointAttributeFilter, endpointAttributeFilterFactory } from '../../../../scheduler/plugins/filters/endpoint-attribute-filter.js';
import { EndpointAttributeScorer, endpointAttributeScorerFactory } from '../../../../scheduler/plugins/scorers/endpoint-attribute-scorer.js';
import { makeContext, makeEndpoint, makeHandle, makeRequest } from '../../helpers.js';

const [a, b, c, none] = ['a', 'b', 'c', 'none'].map((name) => makeEndpoint({ name })) as [Endpoint, Endpoint, Endpoint, Endpoint];
const values = new Map<Endpoint, number>([[a, 0.2], [b, 0.9], [c, 0.95]]);
const read = (e: Endpoint): number | undefined => values.get(e);
const ctx = makeContext([a, b, c, none]);
const request = makeRequest({ model: 'm', prompt: 'x' });
const all = [a, b, c, none];

const producer: Plugin & { attributes: string[]; readAttribute(e: Endpoint, attr: string): number | undefined } = {
  type: 'dcgm-extractor', name: 'dcgm-extractor', attributes: ['GPUUtilization'],
  readAttribute: (e, attr) => (attr === 'GPUUtilization' ? values.get(e) : undefined),
};
const handle = makeHandle({ plugins: { 'dcgm-extractor': producer } });

describe('endpoint-attribute-filter', () => {
  const filter = (operator: string, value: number, passOnMissing = true, fallbackOnEmpty = false, list = all) =>
    new EndpointAttributeFilter('f', read, { operator: operator as 'LessThan', value, passOnMissing, fallbackOnEmpty }).filter(ctx, request, list);

  it('each operator at its edge (value equal to the threshold)', () => {
    expect(filter('LessThan', 0.9)).toEqual([a, none]);
    expect(filter('LessThanOrEqual', 0.9)).toEqual([a, b, none]);
    expect(filter('GreaterThan', 0.9)).toEqual([c, none]);
    expect(filter('GreaterThanOrEqual', 0.9)).toEqual([b, c, none]);
    expect(filter('Equal', 0.9)).toEqual([b, none]);
    expect(filter('NotEqual', 0.9)).toEqual([a, c, none]);
  });

  it('onMissing Fail drops endpoints without a value; fallbackOnEmpty returns the input when nothing is left', () => {
    expect(filter('LessThan', 0.9, false)).toEqual([a]);
    expect(filter('LessThan', 0.1, false)).toEqual([]);
    expect(filter('LessThan', 0.1, false, true)).toEqual(all);
    expect(filter('LessThan', 0.1, true, true, [b, c])).toEqual([b, c]);
  });

  it('factory: llm-d defaults (onMissing Pass, no fallback) and strict parameters', () => {
    const f = endpointAttributeFilterFactory('f', { attribute: 'GPUUtilization', producer: 'dcgm-extractor', algorithm: { type: 'threshold', threshold: { operator: 'LessThan', value: 0.5 } } }, handle) as EndpointAttributeFilter;
    expect(f.filter(ctx, request, all)).toEqual([a, none]);
    const base = { attribute: 'GPUUtilization', producer: 'dcgm-extractor' };
    expect(() => endpointAttributeFilterFactory('f', { ...base, algorithm: { type: 'range' } }, handle)).toThrow(/parameters\.algorithm\.type/);
    expect(() => endpointAttributeFilterFactory('f', { ...base, algorithm: { type: 'threshold', threshold: { operator: 'Below', value: 1 } } }, handle)).toThrow(/operator must be one of/);
    expect(() => endpointAttributeFilterFactory('f', { ...base, onMissing: 'Skip', algorithm: { type: 'threshold', threshold: { operator: 'Equal', value: 1 } } }, handle)).toThrow(/parameters\.onMissing/);
    expect(() => endpointAttributeFilterFactory('f', { ...base }, handle)).toThrow(/parameters\.algorithm/);
  });
});

describe('endpoint-attribute-scorer', () => {
  it('fixedRange: (v − min)/(max − min), clamped, inverted for lower-is-better; missing → 0', () => {
    const lower = new EndpointAttributeScorer('s', read, true, { min: 0.5, max: 0.9 }).score(ctx, request, all);
    expect(lower.get(a)).toBe(1); // clamped: below min
    expect(lower.get(b)).toBeCloseTo(0);
    expect(lower.get(c)).toBe(0); // clamped: above max
    expect(lower.get(none)).toBe(0);
    const higher = new EndpointAttributeScorer('s', read, false, { min: 0, max: 1 }).score(ctx, request, all);
    expect(higher.get(b)).toBeCloseTo(0.9);
  });

  it('adaptiveRange: over the candidates with a value; all equal → 1; missing → 0 and outside the range', () => {
    const s = new EndpointAttributeScorer('s', read, true).score(ctx, request, all);
    expect(s.get(a)).toBe(1);
    expect(s.get(c)).toBe(0);
    expect(s.get(b)).toBeCloseTo(1 - 0.7 / 0.75);
    expect(s.get(none)).toBe(0);
    const single = new EndpointAttributeScorer('s', read, true).score(ctx, request, [b, none]);
    expect(single.get(b)).toBe(1);
    expect(new EndpointAttributeScorer('s', read, false).score(ctx, request, [none]).get(none)).toBe(0);
  });

  it('factory: one normalization strategy, min < max, producer must publish the attribute', () => {
    const p = (normalization: unknown, extra: Record<string, unknown> = {}) => endpointAttributeScorerFactory('s', { attributeKey: 'GPUUtilization', producer: 'dcgm-extractor', algorithm: { type: 'linear_lower_is_better', normalization }, ...extra }, handle);
    expect(p({ adaptiveRange: {} })).toBeInstanceOf(EndpointAttributeScorer);
    expect(() => p({ adaptiveRange: {}, fixedRange: { min: 0, max: 1 } })).toThrow(/at most one normalization/);
    expect(() => p({ fixedRange: { min: 1, max: 1 } })).toThrow(/fixedRange: min must be less than max/);
    expect(() => p({}, { attributeKey: 'GPUTemp' })).toThrow(/parameters\.attributeKey: "dcgm-extractor" does not publish "GPUTemp"/);
    expect(() => p({}, { producer: undefined })).toThrow(/parameters\.producer: required/);
    expect(() => p({}, { producer: 'nope' })).toThrow(/parameters\.producer: no plugin named "nope"/);
  });
});
