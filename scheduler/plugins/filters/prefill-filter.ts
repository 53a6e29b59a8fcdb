/**
 * `prefill-filter`: keeps the endpoints that can serve the prefill stage, by the pod label
 * `llm-d.ai/role`. Kept roles: prefill, encode-prefill, prefill-decode, both (deprecated), encode-prefill-decode.
 * Unlabeled endpoints are dropped. Input order is kept.
 *
 * No parameters (any given are ignored).
 *
 * ```yaml
 * - type: prefill-filter
 * ```
 */
import type { PluginFactory } from '../../framework/registry.js';
import { ByLabelFilter } from './by-label.js';
import { PREFILL_ROLES, ROLE_LABEL } from './roles.js';

export const PREFILL_FILTER_TYPE = 'prefill-filter';

export function createPrefillFilter(name: string = PREFILL_FILTER_TYPE): ByLabelFilter {
  return new ByLabelFilter({ type: PREFILL_FILTER_TYPE, name, label: ROLE_LABEL, validValues: PREFILL_ROLES, allowsNoLabel: false });
}

export const prefillFilterFactory: PluginFactory = (name) => createPrefillFilter(name);
