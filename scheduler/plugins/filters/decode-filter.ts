/**
 * `decode-filter`: keeps the endpoints that can serve the decode stage, by the pod label
 * `llm-d.ai/role`. Kept roles: decode, prefill-decode, both (deprecated), encode-prefill-decode.
 * Unlabeled endpoints are kept (llm-d treats an unlabeled pod as a decode pod). Input order is kept.
 *
 * No parameters (any given are ignored).
 *
 * ```yaml
 * - type: decode-filter
 * ```
 */
import type { PluginFactory } from '../../framework/registry.js';
import { ByLabelFilter } from './by-label.js';
import { DECODE_ROLES, ROLE_LABEL } from './roles.js';

export const DECODE_FILTER_TYPE = 'decode-filter';

export function createDecodeFilter(name: string = DECODE_FILTER_TYPE): ByLabelFilter {
  return new ByLabelFilter({ type: DECODE_FILTER_TYPE, name, label: ROLE_LABEL, validValues: DECODE_ROLES, allowsNoLabel: true });
}

export const decodeFilterFactory: PluginFactory = (name) => createDecodeFilter(name);
