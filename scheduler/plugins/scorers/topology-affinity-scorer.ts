/**
 * `topology-affinity-scorer`: in the prefill profile of a P/D request, prefers prefill candidates
 * close to the decode endpoint already picked, on a curve shaped by KV-transfer bandwidth.
 *
 * Score by level(peer, e) (see scorers/topology.ts): host 1.0, rack 0.2, zone 0.05, region 0.02,
 * none 0; all 0 when there is no peer (first profile) or it has no topology. Category: affinity.
 * Reads `Topology` from `topology-extractor`.
 *
 * Parameters:
 * - `topologyProducerName` (string): must name a `topology-extractor` when given.
 *
 * ```yaml
 * - type: topology-extractor
 * - type: topology-affinity-scorer
 * ```
 */
import { z } from 'zod';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { Scorer } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { parseParameters, type PluginHandle } from '../../framework/registry.js';
import { checkTopologyProducer } from '../filters/topology-affinity-filter.js';
import { TOPOLOGY, type Topology } from '../producers/topology-extractor.js';
import type { ScorerCategory } from './common.js';
import { compareTopology, peerTopology } from './topology.js';

export const TOPOLOGY_AFFINITY_SCORER_TYPE = 'topology-affinity-scorer';
/** Score per level: host, rack, zone, region, none. */
export const LEVEL_SCORES = [1, 0.2, 0.05, 0.02, 0] as const;

const Parameters = z.strictObject({ topologyProducerName: z.string().nullish() });

export class TopologyAffinityScorer implements Scorer {
  readonly type = TOPOLOGY_AFFINITY_SCORER_TYPE;
  readonly category: ScorerCategory = 'affinity';
  readonly consumes = [TOPOLOGY] as const;
  constructor(readonly name: string) {}

  score(ctx: SchedulingContext, _request: InferenceRequest, endpoints: readonly Endpoint[]): Map<Endpoint, number> {
    const peer = peerTopology(ctx);
    return new Map(endpoints.map((endpoint) => [endpoint, peer ? LEVEL_SCORES[compareTopology(peer, ctx.attributes.get<Topology>(endpoint, TOPOLOGY))]! : 0]));
  }
}

export const topologyAffinityScorerFactory = (name: string, parameters: unknown, handle: PluginHandle): TopologyAffinityScorer => {
  checkTopologyProducer(parseParameters(Parameters, parameters).topologyProducerName, handle);
  return new TopologyAffinityScorer(name);
};
