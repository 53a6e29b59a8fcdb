/**
 * `by-label` (deprecated upstream; prefer `label-selector-filter`, or the role filters): keeps the
 * endpoints whose value of one label is in a list, and optionally those without the label.
 *
 * Rule: keep e ⇔ labels[label] ∈ validValues  ∨  (label absent ∧ allowsNoLabel).
 * A label that is present with an empty value counts as present. Input order is kept.
 *
 * Parameters:
 * - `label` (string, required, non-empty)
 * - `validValues` (string[], default []) — must be non-empty unless `allowsNoLabel` is true
 * - `allowsNoLabel` (bool, default false)
 * Unknown keys stop start-up with their YAML path (see docs/configuration.md, "Plugin parameters are checked").
 *
 * ```yaml
 * - type: by-label
 *   name: gpu-filter
 *   parameters: {label: accelerator, validValues: [h100, a100], allowsNoLabel: false}
 * ```
 *
 * The role filters (`decode-filter`, `prefill-filter`, `encode-filter`) are fixed instances of
 * this filter on `llm-d.ai/role`.
 */
import { z } from 'zod';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import { ConfigError } from '../../framework/errors.js';
import type { Filter } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';

export const BY_LABEL_TYPE = 'by-label';

const ByLabelParameters = z.object({
  label: z.string().nullish(),
  validValues: z.array(z.string()).nullish(),
  allowsNoLabel: z.boolean().nullish(),
});

/** The filter rule itself; a new array in input order. */
export function filterByLabel(
  endpoints: readonly Endpoint[],
  label: string,
  validValues: ReadonlySet<string>,
  allowsNoLabel: boolean,
): Endpoint[] {
  return endpoints.filter((endpoint) => {
    const defined = Object.hasOwn(endpoint.labels, label);
    return defined ? validValues.has(endpoint.labels[label]!) : allowsNoLabel;
  });
}

export class ByLabelFilter implements Filter {
  readonly type: string;
  readonly name: string;
  readonly label: string;
  readonly validValues: ReadonlySet<string>;
  readonly allowsNoLabel: boolean;

  constructor(init: { type?: string; name: string; label: string; validValues: readonly string[]; allowsNoLabel: boolean }) {
    this.type = init.type ?? BY_LABEL_TYPE;
    this.name = init.name;
    this.label = init.label;
    this.validValues = new Set(init.validValues);
    this.allowsNoLabel = init.allowsNoLabel;
  }

  filter(_ctx: SchedulingContext, _request: InferenceRequest, endpoints: readonly Endpoint[]): Endpoint[] {
    return filterByLabel(endpoints, this.label, this.validValues, this.allowsNoLabel);
  }
}

export const byLabelFactory: PluginFactory = (name, parameters, handle) => {
  handle.logger.warn({ plugin: name }, `plugin type "${BY_LABEL_TYPE}" is deprecated; use "label-selector-filter" for label filtering or decode-filter/prefill-filter/encode-filter for roles`);
  const params = parseParameters(ByLabelParameters, parameters);
  const label = params.label ?? '';
  if (label === '') throw new ConfigError('parameters.label', 'must be specified');
  const validValues = params.validValues ?? [];
  const allowsNoLabel = params.allowsNoLabel ?? false;
  if (validValues.length === 0 && !allowsNoLabel) {
    throw new ConfigError('parameters.validValues', "must be non-empty unless 'allowsNoLabel' is true");
  }
  return new ByLabelFilter({ name, label, validValues, allowsNoLabel });
};
