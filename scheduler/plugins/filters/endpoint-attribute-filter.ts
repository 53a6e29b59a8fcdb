/**
 * `endpoint-attribute-filter`: keeps the endpoints whose numeric attribute (published by an
 * extractor such as `dcgm-extractor`) passes a threshold, as llm-d Router.
 *
 * Formula: keep e when `value(e) <op> threshold.value`, op one of LessThan, LessThanOrEqual,
 * GreaterThan, GreaterThanOrEqual, Equal, NotEqual. An endpoint without a value is kept when
 * `onMissing: Pass` (default) and dropped with `Fail`. When nothing is left and
 * `fallbackOnEmpty: true`, the input list is returned unchanged (default false: empty).
 *
 * Parameters: `attribute` (required), `producer` (the publishing plugin's name; required here,
 * see endpoint-attribute.ts), `onMissing` (Pass | Fail), `fallbackOnEmpty` (bool),
 * `algorithm: {type: threshold, threshold: {operator, value}}` (required).
 *
 * ```yaml
 * - type: endpoint-attribute-filter
 *   name: gpu-utilization-filter
 *   parameters:
 *     attribute: GPUUtilization
 *     producer: dcgm-extractor
 *     onMissing: Pass
 *     fallbackOnEmpty: true
 *     algorithm: {type: threshold, threshold: {operator: LessThanOrEqual, value: 0.90}}
 * ```
 */
import { z } from 'zod';
import type { Endpoint } from '../../framework/endpoint.js';
import type { Filter } from '../../framework/plugins.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import { resolveAttribute, type AttributeReader } from './endpoint-attribute.js';

export const ENDPOINT_ATTRIBUTE_FILTER_TYPE = 'endpoint-attribute-filter';

const OPERATORS = {
  LessThan: (v: number, t: number) => v < t,
  LessThanOrEqual: (v: number, t: number) => v <= t,
  GreaterThan: (v: number, t: number) => v > t,
  GreaterThanOrEqual: (v: number, t: number) => v >= t,
  Equal: (v: number, t: number) => v === t,
  NotEqual: (v: number, t: number) => v !== t,
} as const;
type Operator = keyof typeof OPERATORS;

const Parameters = z.strictObject({
  attribute: z.string({ error: 'attribute is required' }).min(1, 'attribute is required'),
  producer: z.string().min(1).optional(),
  onMissing: z.enum(['Pass', 'Fail'], { error: 'onMissing must be "Pass" or "Fail"' }).default('Pass'),
  fallbackOnEmpty: z.boolean().default(false),
  algorithm: z.strictObject({
    type: z.literal('threshold', { error: 'algorithm.type must be "threshold"' }),
    threshold: z.strictObject({
      operator: z.enum(Object.keys(OPERATORS) as [Operator, ...Operator[]], { error: `threshold.operator must be one of ${Object.keys(OPERATORS).join(', ')}` }),
      value: z.number({ error: 'threshold.value must be a number' }),
    }, { error: 'algorithm.threshold is required' }),
  }, { error: 'algorithm is required' }),
});

export class EndpointAttributeFilter implements Filter {
  readonly type = ENDPOINT_ATTRIBUTE_FILTER_TYPE;

  constructor(
    readonly name: string,
    private readonly read: AttributeReader,
    private readonly rule: { operator: Operator; value: number; passOnMissing: boolean; fallbackOnEmpty: boolean },
  ) {}

  filter(_ctx: unknown, _request: unknown, endpoints: readonly Endpoint[]): Endpoint[] {
    const test = OPERATORS[this.rule.operator];
    const kept = endpoints.filter((endpoint) => {
      const value = this.read(endpoint);
      return value === undefined ? this.rule.passOnMissing : test(value, this.rule.value);
    });
    return kept.length === 0 && this.rule.fallbackOnEmpty ? [...endpoints] : kept;
  }
}

export const endpointAttributeFilterFactory: PluginFactory = (name, parameters, handle) => {
  const p = parseParameters(Parameters, parameters);
  const read = resolveAttribute(handle, p.attribute, 'attribute', p.producer);
  return new EndpointAttributeFilter(name, read, {
    operator: p.algorithm.threshold.operator, value: p.algorithm.threshold.value,
    passOnMissing: p.onMissing === 'Pass', fallbackOnEmpty: p.fallbackOnEmpty,
  });
};
