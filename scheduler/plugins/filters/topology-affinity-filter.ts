/**
 * `topology-affinity-filter`: in the prefill profile of a P/D request, keeps the prefill candidates
 * close to the decode endpoint already picked (so the KV cache travels over the fastest link).
 *
 * With peer = the endpoint the first profile picked (see scorers/topology.ts) and m = minAffinity:
 *   no peer, or the peer has no topology        → keep all;
 *   keep e ⇔ level(peer, e) is m or tighter     (host ⊂ rack ⊂ zone ⊂ region; a candidate without
 *                                                the `Topology` attribute is dropped);
 *   nobody kept                                 → keep all (a preference, never unroutable).
 * Reads `Topology` from `topology-extractor`; without one declared the filter always keeps all (the
 * loader warns at start-up).
 *
 * Parameters:
 * - `minAffinity` (`host` | `rack` | `zone` | `region`, default `host`)
 * - `topologyProducerName` (string): must name a `topology-extractor` when given.
 *
 * ```yaml
 * - type: topology-extractor
 * - type: topology-affinity-filter
 *   parameters: {minAffinity: rack}
 * ```
 */
import { z } from 'zod';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import { ConfigError } from '../../framework/errors.js';
import type { Filter } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { parseParameters, type PluginHandle } from '../../framework/registry.js';
import { TOPOLOGY, TOPOLOGY_EXTRACTOR_TYPE, type Topology } from '../producers/topology-extractor.js';
import { compareTopology, LEVELS, peerTopology, type Level } from '../scorers/topology.js';

export const TOPOLOGY_AFFINITY_FILTER_TYPE = 'topology-affinity-filter';

const Parameters = z.strictObject({
  minAffinity: z.enum(LEVELS, { error: 'must be one of host, rack, zone, region' }).nullish(),
  topologyProducerName: z.string().nullish(),
});

export class TopologyAffinityFilter implements Filter {
  readonly type = TOPOLOGY_AFFINITY_FILTER_TYPE;
  readonly consumes = [TOPOLOGY] as const;
  constructor(readonly name: string, readonly minAffinity: Level = 'host') {}

  filter(ctx: SchedulingContext, _request: InferenceRequest, endpoints: readonly Endpoint[]): Endpoint[] {
    const peer = peerTopology(ctx);
    if (!peer) return [...endpoints];
    const floor = LEVELS.indexOf(this.minAffinity);
    const kept = endpoints.filter((endpoint) => compareTopology(peer, ctx.attributes.get<Topology>(endpoint, TOPOLOGY)) <= floor);
    return kept.length > 0 ? kept : [...endpoints];
  }
}

/** Checks that a named topology producer is a topology-extractor (shared with the scorer). */
export function checkTopologyProducer(name: string | null | undefined, handle: PluginHandle): void {
  if (!name) return;
  const producer = handle.plugin(name);
  if (!producer) throw new ConfigError('parameters.topologyProducerName', `no plugin named "${name}" is declared`);
  if (producer.type !== TOPOLOGY_EXTRACTOR_TYPE) throw new ConfigError('parameters.topologyProducerName', `"${name}" is a ${producer.type}, not a ${TOPOLOGY_EXTRACTOR_TYPE}`);
}

export const topologyAffinityFilterFactory = (name: string, parameters: unknown, handle: PluginHandle): TopologyAffinityFilter => {
  const p = parseParameters(Parameters, parameters);
  checkTopologyProducer(p.topologyProducerName, handle);
  return new TopologyAffinityFilter(name, p.minAffinity ?? 'host');
};
