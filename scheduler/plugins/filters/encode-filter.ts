/**
 * `encode-filter`: keeps the endpoints that can serve the encode stage, by the pod label
 * `llm-d.ai/role`. Kept roles: encode, encode-prefill, encode-prefill-decode.
 * Unlabeled endpoints are dropped. Input order is kept.
 *
 * No parameters (any given are ignored).
 *
 * ```yaml
 * - type: encode-filter
 * ```
 */
import type { PluginFactory } from '../../framework/registry.js';
import { ByLabelFilter } from './by-label.js';
import { ENCODE_ROLES, ROLE_LABEL } from './roles.js';

export const ENCODE_FILTER_TYPE = 'encode-filter';

export function createEncodeFilter(name: string = ENCODE_FILTER_TYPE): ByLabelFilter {
  return new ByLabelFilter({ type: ENCODE_FILTER_TYPE, name, label: ROLE_LABEL, validValues: ENCODE_ROLES, allowsNoLabel: false });
}

export const encodeFilterFactory: PluginFactory = (name) => createEncodeFilter(name);
