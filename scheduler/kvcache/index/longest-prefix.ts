/**
 * LongestPrefix scoring: how many leading blocks of a request each pod holds,
 * each block weighted by the best device tier the pod has it on.
 *
 *   block 0:     every pod present, weight = max tier weight among its entries (unknown tier → 1.0)
 *   block i > 0: only pods present in every block so far keep scoring; stop when none remain
 *   raw(pod)   = Σ weights over its consecutive leading blocks   (gpu,gpu,cpu@0.5 → 2.5)
 *
 * Normalisation (SCHED #1107): per candidate endpoint `ip:port`, `min(1, raw / totalBlocks)`;
 * absent or ≤ 0 → 0; totalBlocks ≤ 0 → all 0. Absolute, so a cold cluster scores 0, not 1.
 */
import type { BlockKey, KvBlockIndex, PodEntry } from './types.js';

/** Weight per lower-case tier name, e.g. { gpu: 1.0, cpu: 0.8 } (`kvCacheBackendConfigs`). */
export type TierWeights = ReadonlyMap<string, number>;

/** llm-d's defaults: `kvCacheBackendConfigs: [{name: gpu, weight: 1.0}, {name: cpu, weight: 0.8}]`. */
export const DEFAULT_TIER_WEIGHTS: TierWeights = new Map([
  ['gpu', 1.0],
  ['cpu', 0.8],
]);

/** From llm-d's `kvCacheBackendConfigs` list form. */
export function tierWeightsFrom(backends: ReadonlyArray<{ name: string; weight: number }>): TierWeights {
  return new Map(backends.map((backend) => [backend.name.toLowerCase(), backend.weight]));
}

/** A pod's weight for one block's entries, or undefined when it holds none of them. */
type WeightOf = (entries: readonly PodEntry[], pod: string) => number | undefined;

/** The best tier weight among the pod's entries (unknown tier → 1.0). */
function tierWeightOf(weights: TierWeights): WeightOf {
  return (entries, pod) => {
    let best: number | undefined;
    for (const entry of entries) {
      if (entry.pod !== pod) continue;
      const weight = weights.get(entry.tier.toLowerCase()) ?? 1.0;
      if (best === undefined || weight > best) best = weight;
    }
    return best;
  };
}

/** 1 when the pod holds the block for sure (any tier, speculative guesses excluded). */
const confirmedOf: WeightOf = (entries, pod) => {
  for (const entry of entries) if (entry.pod === pod && entry.speculative !== true) return 1;
  return undefined;
};

/**
 * The one walk behind both numbers, over a lookup's answer (`run[i]`: the entries of block i, the
 * leading blocks found): per pod, Σ weightOf over the consecutive leading blocks it holds. The
 * pods are those holding block 0; a pod drops out at its first missing block, keeping its sum, and
 * the walk ends when none is left. Active pods live in two arrays compacted in place — no
 * allocation per block (a 128k-token prompt is ~8k blocks).
 */
function prefixRun(run: ReadonlyArray<readonly PodEntry[]>, weightOf: WeightOf): Map<string, number> {
  const scores = new Map<string, number>();
  const pods: string[] = [];
  const sums: number[] = [];
  let active = -1;
  for (const entries of run) {
    if (entries.length === 0) break;
    if (active < 0) {
      for (const entry of entries) {
        if (pods.includes(entry.pod)) continue;
        const weight = weightOf(entries, entry.pod);
        if (weight === undefined) continue;
        pods.push(entry.pod);
        sums.push(weight);
      }
      active = pods.length;
    } else {
      let kept = 0;
      for (let i = 0; i < active; i++) {
        const pod = pods[i]!;
        const weight = weightOf(entries, pod);
        if (weight === undefined) {
          scores.set(pod, sums[i]!);
          continue;
        }
        pods[kept] = pod;
        sums[kept++] = sums[i]! + weight;
      }
      active = kept;
    }
    if (active === 0) break;
  }
  for (let i = 0; i < Math.max(0, active); i++) scores.set(pods[i]!, sums[i]!);
  return scores;
}

/** Raw scores of the pods that hold block 0 (`run`: a lookup's answer); pods first seen after block 0 score nothing. */
export function longestPrefixScores(run: ReadonlyArray<readonly PodEntry[]>, weights: TierWeights = DEFAULT_TIER_WEIGHTS): Map<string, number> {
  return prefixRun(run, tierWeightOf(weights));
}

/** Confirmed consecutive leading blocks per pod: every tier counts 1, speculative entries 0. */
export function confirmedPrefixBlocks(run: ReadonlyArray<readonly PodEntry[]>): Map<string, number> {
  return prefixRun(run, confirmedOf);
}

/** `min(1, raw/totalBlocks)` for every candidate endpoint key (`ip:port`), 0 when absent. */
export function normaliseScores(
  raw: ReadonlyMap<string, number>,
  endpointKeys: Iterable<string>,
  totalBlocks: number,
): Map<string, number> {
  const normalised = new Map<string, number>();
  for (const endpoint of endpointKeys) {
    const score = raw.get(endpoint) ?? 0;
    normalised.set(endpoint, totalBlocks > 0 && score > 0 ? Math.min(1, score / totalBlocks) : 0);
  }
  return normalised;
}

export interface PrefixMatch {
  /** Normalised score per candidate endpoint, in [0, 1]. */
  scores: Map<string, number>;
  /** Raw weighted block counts per pod that matched block 0. */
  raw: Map<string, number>;
  totalBlocks: number;
}

/** Lookup restricted to the candidates, then LongestPrefix and normalisation — what a scorer needs. */
export async function matchLongestPrefix(
  index: KvBlockIndex,
  requestKeys: readonly BlockKey[],
  endpointKeys: readonly string[],
  weights: TierWeights = DEFAULT_TIER_WEIGHTS,
): Promise<PrefixMatch> {
  const totalBlocks = requestKeys.length;
  if (totalBlocks === 0 || endpointKeys.length === 0) {
    return { scores: normaliseScores(new Map(), endpointKeys, 0), raw: new Map(), totalBlocks };
  }
  const raw = longestPrefixScores(await index.lookup(requestKeys, new Set(endpointKeys)), weights);
  return { scores: normaliseScores(raw, endpointKeys, totalBlocks), raw, totalBlocks };
}
