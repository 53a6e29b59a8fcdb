/**
 * Topology levels shared by `topology-affinity-filter` and `topology-affinity-scorer`, and the
 * peer they compare with: the endpoint the first scheduling profile of this request picked (the
 * decode pick, for `disagg-profile-handler`, which always runs decode first).
 *
 * level(peer, e) = the tightest of host, rack, zone, region on which both have the same non-empty
 * value, else none (empty never matches empty).
 */
import type { SchedulingContext } from '../../framework/cycle-state.js';
import type { Endpoint } from '../../framework/endpoint.js';
import { PROFILE_RESULTS } from '../../framework/scheduler.js';
import type { ProfileRunResult } from '../../framework/plugins.js';
import { TOPOLOGY, type Topology } from '../producers/topology-extractor.js';

export const LEVELS = ['host', 'rack', 'zone', 'region'] as const;
export type Level = (typeof LEVELS)[number];

/** Index into LEVELS (0 = host, tightest); LEVELS.length = none. */
export function compareTopology(peer: Topology | undefined, candidate: Topology | undefined): number {
  if (!peer || !candidate) return LEVELS.length;
  const same = (a: string, b: string) => a !== '' && a === b;
  if (same(peer.hostname, candidate.hostname)) return 0;
  if (same(peer.rack, candidate.rack)) return 1;
  if (same(peer.zone, candidate.zone)) return 2;
  if (same(peer.region, candidate.region)) return 3;
  return LEVELS.length;
}

/** The topology of the endpoint the first profile picked, or undefined when unknown or empty. */
export function peerTopology(ctx: SchedulingContext): Topology | undefined {
  const results = ctx.state.get(PROFILE_RESULTS) as ReadonlyMap<string, ProfileRunResult | null> | undefined;
  const first = results ? [...results.values()][0] : undefined;
  const peer: Endpoint | undefined = first?.targets[0];
  if (!peer) return undefined;
  const topology = ctx.attributes.get<Topology>(peer, TOPOLOGY);
  if (!topology || (!topology.hostname && !topology.rack && !topology.zone && !topology.region)) return undefined;
  return topology;
}
