/**
 * `round-robin-picker`: takes the candidates in turn, ignoring scores. Not an llm-d type — some
 * deployment guides use it, so it is accepted; llm-d's default is `max-score-picker` (a warning
 * says so at start-up).
 *
 * Algorithm: the candidates are ordered by endpoint name (so the rotation does not depend on the
 * order discovery lists them in); the picker keeps a cursor c, returns the k names starting at
 * position `c mod n`, and advances c by one per pick. Every candidate thus comes first once per n
 * picks, also when k > 1. The cursor is per picker instance (one per config entry).
 * Parameters: `maxNumOfEndpoints` k (int, default 1; ≤ 0 → 1).
 *
 * ```yaml
 * - type: round-robin-picker
 * ```
 */
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { Picker, ProfileRunResult, ScoredEndpoint } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import type { PluginHandle } from '../../framework/registry.js';
import { DEFAULT_MAX_NUM_OF_ENDPOINTS, normaliseMaxNumOfEndpoints, parseMaxNumOfEndpoints } from './common.js';
import { MAX_SCORE_PICKER_TYPE } from './max-score-picker.js';

export const ROUND_ROBIN_PICKER_TYPE = 'round-robin-picker';

/** The k endpoints starting at `cursor` in name order, wrapping around. */
export function pickRoundRobin(scored: readonly ScoredEndpoint[], k: number, cursor: number): Endpoint[] {
  const order = scored.map((entry) => entry.endpoint).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const n = order.length;
  const count = Math.min(k, n);
  const picked: Endpoint[] = [];
  for (let i = 0; i < count; i++) picked.push(order[(cursor + i) % n]!);
  return picked;
}

export class RoundRobinPicker implements Picker {
  readonly type = ROUND_ROBIN_PICKER_TYPE;
  readonly name: string;
  readonly maxNumOfEndpoints: number;
  private cursor = 0;

  constructor(name: string, maxNumOfEndpoints: number = DEFAULT_MAX_NUM_OF_ENDPOINTS) {
    this.name = name;
    this.maxNumOfEndpoints = normaliseMaxNumOfEndpoints(maxNumOfEndpoints);
  }

  pick(_ctx: SchedulingContext, _request: InferenceRequest, scored: readonly ScoredEndpoint[]): ProfileRunResult {
    if (scored.length === 0) return { targets: [] };
    const targets = pickRoundRobin(scored, this.maxNumOfEndpoints, this.cursor);
    this.cursor = (this.cursor + 1) % Number.MAX_SAFE_INTEGER;
    return { targets };
  }
}

export const roundRobinPickerFactory = (name: string, parameters: unknown, handle: PluginHandle): RoundRobinPicker => {
  const picker = new RoundRobinPicker(name, parseMaxNumOfEndpoints(parameters));
  handle.logger.warn({ plugin: name }, `plugin type "${ROUND_ROBIN_PICKER_TYPE}" is deprecated: it ignores scores and is not an llm-d picker; use "${MAX_SCORE_PICKER_TYPE}", llm-d's default`);
  return picker;
};
