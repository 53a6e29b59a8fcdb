/**
 * `endpoint-attribute-scorer`: scores endpoints linearly by a numeric attribute published by an
 * extractor such as `dcgm-extractor`, as llm-d Router.
 *
 * Formula: s = (value − min) / (max − min), inverted (1 − s) for `linear_lower_is_better`.
 * - `fixedRange: {min, max}`: the configured bounds; s is clamped to [0, 1].
 * - `adaptiveRange` (default): min/max over the candidates that have a value; when they are all
 *   equal every such candidate scores 1.
 * An endpoint without a value scores 0 (and takes no part in the adaptive range).
 *
 * Parameters: `attributeKey` (required), `producer` (the publishing plugin's name; required here),
 * `algorithm.type` (`linear_lower_is_better` | `linear_higher_is_better`, required),
 * `algorithm.normalization` (at most one of `adaptiveRange: {}` and `fixedRange: {min, max}`,
 * min < max).
 *
 * ```yaml
 * - type: endpoint-attribute-scorer
 *   name: gpu-utilization-scorer
 *   parameters:
 *     attributeKey: GPUUtilization
 *     producer: dcgm-extractor
 *     algorithm: {type: linear_lower_is_better, normalization: {fixedRange: {min: 0, max: 1}}}
 * ```
 */
import { z } from 'zod';
import type { Endpoint } from '../../framework/endpoint.js';
import { ConfigError } from '../../framework/errors.js';
import type { Scorer } from '../../framework/plugins.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import { resolveAttribute, type AttributeReader } from '../filters/endpoint-attribute.js';

export const ENDPOINT_ATTRIBUTE_SCORER_TYPE = 'endpoint-attribute-scorer';

const Parameters = z.strictObject({
  attributeKey: z.string({ error: 'attributeKey is required' }).min(1, 'attributeKey is required'),
  producer: z.string().min(1).optional(),
  algorithm: z.strictObject({
    type: z.enum(['linear_lower_is_better', 'linear_higher_is_better'], { error: 'algorithm.type must be "linear_lower_is_better" or "linear_higher_is_better"' }),
    normalization: z.strictObject({
      fixedRange: z.strictObject({ min: z.number(), max: z.number() }).optional(),
      adaptiveRange: z.strictObject({}).optional(),
    }).default({}),
  }, { error: 'algorithm is required' }),
});

export class EndpointAttributeScorer implements Scorer {
  readonly type = ENDPOINT_ATTRIBUTE_SCORER_TYPE;

  constructor(
    readonly name: string,
    private readonly read: AttributeReader,
    private readonly lowerIsBetter: boolean,
    private readonly fixedRange?: { min: number; max: number },
  ) {}

  score(_ctx: unknown, _request: unknown, endpoints: readonly Endpoint[]): Map<Endpoint, number> {
    const values = new Map<Endpoint, number>();
    for (const endpoint of endpoints) {
      const value = this.read(endpoint);
      if (value !== undefined && Number.isFinite(value)) values.set(endpoint, value);
    }
    const present = [...values.values()];
    const min = this.fixedRange?.min ?? Math.min(...present);
    const max = this.fixedRange?.max ?? Math.max(...present);
    const scores = new Map<Endpoint, number>();
    for (const endpoint of endpoints) {
      const value = values.get(endpoint);
      if (value === undefined) {
        scores.set(endpoint, 0);
        continue;
      }
      if (max === min) {
        scores.set(endpoint, 1);
        continue;
      }
      const s = Math.min(1, Math.max(0, (value - min) / (max - min)));
      scores.set(endpoint, this.lowerIsBetter ? 1 - s : s);
    }
    return scores;
  }
}

export const endpointAttributeScorerFactory: PluginFactory = (name, parameters, handle) => {
  const p = parseParameters(Parameters, parameters);
  const { fixedRange, adaptiveRange } = p.algorithm.normalization;
  if (fixedRange && adaptiveRange) throw new ConfigError(['parameters', 'algorithm', 'normalization'], 'at most one normalization strategy: fixedRange or adaptiveRange');
  if (fixedRange && fixedRange.min >= fixedRange.max) throw new ConfigError(['parameters', 'algorithm', 'normalization', 'fixedRange'], `min must be less than max (got ${fixedRange.min}, ${fixedRange.max})`);
  const read = resolveAttribute(handle, p.attributeKey, 'attributeKey', p.producer);
  return new EndpointAttributeScorer(name, read, p.algorithm.type === 'linear_lower_is_better', fixedRange);
};
