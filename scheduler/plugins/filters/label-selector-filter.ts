/**
 * `label-selector-filter` (older name `by-label-selector`, registered as a deprecated alias): keeps
 * the endpoints whose labels match a Kubernetes LabelSelector. Input order is kept.
 *
 * Parameters — a `metav1.LabelSelector`:
 * - `matchLabels` (map, default {}): every `key: value` must be present and equal.
 * - `matchExpressions` (list, default []): `{key, operator, values}` with operator
 *   - `In`: label present and its value in `values` (non-empty);
 *   - `NotIn`: label absent, or its value not in `values` (non-empty);
 *   - `Exists` / `DoesNotExist`: label present / absent (`values` must be empty).
 * All requirements must hold. An empty selector matches every endpoint (as in Kubernetes).
 * Keys and values are validated with Kubernetes' label syntax; errors name the parameter path.
 *
 * ```yaml
 * - type: label-selector-filter
 *   name: h100-decode
 *   parameters:
 *     matchLabels: {llm-d.ai/role: decode}
 *     matchExpressions:
 *     - {key: accelerator, operator: In, values: [h100, h200]}
 *     - {key: draining, operator: DoesNotExist}
 * ```
 */
import { z } from 'zod';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import { ConfigError } from '../../framework/errors.js';
import type { Filter } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';

export const LABEL_SELECTOR_FILTER_TYPE = 'label-selector-filter';
/** Older type name, kept as a deprecated alias. */
export const BY_LABEL_SELECTOR_TYPE = 'by-label-selector';

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelRequirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  readonly values: ReadonlySet<string>;
}

const LabelSelectorParameters = z.object({
  matchLabels: z.record(z.string(), z.string()).nullish(),
  matchExpressions: z.array(z.object({
    key: z.string(),
    operator: z.string(),
    values: z.array(z.string()).nullish(),
  })).nullish(),
});

const OPERATORS: readonly string[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];
const NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Kubernetes qualified-name check for label keys; the problem, or undefined when valid. */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return `invalid label key "${key}": at most one "/" is allowed`;
  const name = parts[parts.length - 1]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)) {
      return `invalid label key "${key}": the prefix must be a DNS subdomain (lower-case, at most 253 characters)`;
    }
  }
  if (name.length === 0 || name.length > 63 || !NAME_PART.test(name)) {
    return `invalid label key "${key}": the name must be 1-63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`;
  }
  return undefined;
}

/** Kubernetes label-value check; the problem, or undefined when valid (empty is valid). */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !NAME_PART.test(value)) {
    return `invalid label value "${value}": at most 63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric`;
  }
  return undefined;
}

/** Turns a LabelSelector into requirements, validating like `metav1.LabelSelectorAsSelector`. */
export function parseLabelSelector(params: z.infer<typeof LabelSelectorParameters>): LabelRequirement[] {
  const requirements: LabelRequirement[] = [];
  for (const [key, value] of Object.entries(params.matchLabels ?? {})) {
    const path = `parameters.matchLabels.${key}`;
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem) throw new ConfigError(path, problem);
    requirements.push({ key, operator: 'In', values: new Set([value]) });
  }
  (params.matchExpressions ?? []).forEach((expression, i) => {
    const path = `parameters.matchExpressions.${i}`;
    const keyProblem = labelKeyProblem(expression.key);
    if (keyProblem) throw new ConfigError(`${path}.key`, keyProblem);
    if (!OPERATORS.includes(expression.operator)) {
      throw new ConfigError(`${path}.operator`, `"${expression.operator}" is not a valid label selector operator (use In, NotIn, Exists or DoesNotExist)`);
    }
    const operator = expression.operator as SelectorOperator;
    const values = expression.values ?? [];
    if ((operator === 'In' || operator === 'NotIn') && values.length === 0) {
      throw new ConfigError(`${path}.values`, `must be non-empty for operator ${operator}`);
    }
    if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0) {
      throw new ConfigError(`${path}.values`, `must be empty for operator ${operator}`);
    }
    values.forEach((value, j) => {
      const problem = labelValueProblem(value);
      if (problem) throw new ConfigError(`${path}.values.${j}`, problem);
    });
    requirements.push({ key: expression.key, operator, values: new Set(values) });
  });
  return requirements;
}

export function matchesRequirement(labels: Readonly<Record<string, string>>, requirement: LabelRequirement): boolean {
  const present = Object.hasOwn(labels, requirement.key);
  switch (requirement.operator) {
    case 'In': return present && requirement.values.has(labels[requirement.key]!);
    case 'NotIn': return !present || !requirement.values.has(labels[requirement.key]!);
    case 'Exists': return present;
    case 'DoesNotExist': return !present;
  }
}

export function matchesSelector(labels: Readonly<Record<string, string>>, requirements: readonly LabelRequirement[]): boolean {
  return requirements.every((requirement) => matchesRequirement(labels, requirement));
}

export class LabelSelectorFilter implements Filter {
  readonly type = LABEL_SELECTOR_FILTER_TYPE;
  readonly name: string;
  readonly requirements: readonly LabelRequirement[];

  constructor(name: string, requirements: readonly LabelRequirement[]) {
    this.name = name;
    this.requirements = requirements;
  }

  filter(_ctx: SchedulingContext, _request: InferenceRequest, endpoints: readonly Endpoint[]): Endpoint[] {
    return endpoints.filter((endpoint) => matchesSelector(endpoint.labels, this.requirements));
  }
}

export const labelSelectorFilterFactory: PluginFactory = (name, parameters) =>
  new LabelSelectorFilter(name, parseLabelSelector(parseParameters(LabelSelectorParameters, parameters)));
