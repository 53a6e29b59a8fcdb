/**
 * `topology-extractor`: publishes each endpoint's locality (host, rack, zone, region) as the
 * `Topology` attribute, read from the endpoint's pod labels, for `topology-affinity-filter` and
 * `topology-affinity-scorer`.
 *
 * Topology_e = { hostname: labels[hostname], rack: labels[rack], zone: labels[zone], region: labels[region] }
 * (absent label = empty = unknown). Difference from llm-d: there is no fallback to the pod's
 * `spec.hostname` — endpoints here carry labels only.
 *
 * Parameters (label names):
 * - `hostname` (default `kubernetes.io/hostname`), `rack` (default `topology.kubernetes.io/rack`),
 *   `zone` (default `topology.kubernetes.io/zone`), `region` (default `topology.kubernetes.io/region`)
 *
 * ```yaml
 * - type: topology-extractor
 *   parameters: {rack: example.com/nvlink-domain}
 * ```
 */
import { z } from 'zod';
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { DataProducer } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';

export const TOPOLOGY_EXTRACTOR_TYPE = 'topology-extractor';
/** Attribute: an endpoint's `Topology`. */
export const TOPOLOGY = 'Topology';

export interface Topology {
  readonly hostname: string;
  readonly rack: string;
  readonly zone: string;
  readonly region: string;
}

export interface TopologyLabels {
  readonly hostname: string;
  readonly rack: string;
  readonly zone: string;
  readonly region: string;
}

export const DEFAULT_TOPOLOGY_LABELS: TopologyLabels = {
  hostname: 'kubernetes.io/hostname',
  rack: 'topology.kubernetes.io/rack',
  zone: 'topology.kubernetes.io/zone',
  region: 'topology.kubernetes.io/region',
};

const Parameters = z.strictObject({
  hostname: z.string().min(1).nullish(),
  rack: z.string().min(1).nullish(),
  zone: z.string().min(1).nullish(),
  region: z.string().min(1).nullish(),
});

export function topologyOf(endpoint: Endpoint, labels: TopologyLabels = DEFAULT_TOPOLOGY_LABELS): Topology {
  const get = (key: string) => endpoint.labels[key] ?? '';
  return { hostname: get(labels.hostname), rack: get(labels.rack), zone: get(labels.zone), region: get(labels.region) };
}

export class TopologyExtractor implements DataProducer {
  readonly type = TOPOLOGY_EXTRACTOR_TYPE;
  readonly produces = [TOPOLOGY] as const;
  constructor(readonly name: string, readonly labels: TopologyLabels = DEFAULT_TOPOLOGY_LABELS) {}

  produce(ctx: SchedulingContext, _request: InferenceRequest, endpoints: readonly Endpoint[]): void {
    // Every candidate, so the peer picked by an earlier profile has its topology too.
    for (const endpoint of new Set([...ctx.candidates, ...endpoints])) ctx.attributes.set<Topology>(endpoint, TOPOLOGY, topologyOf(endpoint, this.labels));
  }
}

export const topologyExtractorFactory: PluginFactory = (name, parameters) => {
  const p = parseParameters(Parameters, parameters);
  const d = DEFAULT_TOPOLOGY_LABELS;
  return new TopologyExtractor(name, { hostname: p.hostname ?? d.hostname, rack: p.rack ?? d.rack, zone: p.zone ?? d.zone, region: p.region ?? d.region });
};
