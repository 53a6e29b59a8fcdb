/**
 * Request keys → per-endpoint prefix match (prefix-cache.md §1 steps 5–7, §7), traced like
 * llm-d-kv-cache's `Indexer.ScoreTokens`: `llm_d.kv_cache.score_tokens` → {`llm_d.kv_cache.index`,
 * `llm_d.kv_cache.scorer.compute`} (tracing.md §2).
 *
 * Two numbers per endpoint come out of one lookup:
 *  - `scores`: LongestPrefix with tier weights (gpu 1.0, cpu 0.8 …; speculative entries 1.0),
 *    normalised `min(1, raw / totalBlocks)` — what the scorer returns;
 *  - `cachedBlocks`: consecutive leading blocks the endpoint **confirmed** holding (any tier, each
 *    counted once, speculative guesses excluded) — what the P/D decider needs. llm-d handed the
 *    decider `hit ? 1 : 0` blocks, and later the tier-weighted count (llm-d/llm-d#1466): a cached
 *    prefix then looked uncached and long, mostly-cached conversations were sent to prefill anyway.
 */
import type { BlockKey } from '../../../src/kvblock/keys.js';
import { withSpan } from '../../../src/telemetry/tracing.js';
import { longestPrefixScores, normaliseScores, type TierWeights } from '../index/longest-prefix.js';
import type { KvBlockIndex, PodEntry } from '../index/types.js';

/** Instrumentation scope of llm-d-kv-cache's spans. */
export const KV_CACHE_TRACER = 'llm-d-kv-cache';

/** Every tier counts 1 (unknown tiers weigh 1.0 in longestPrefixScores). */
const UNIT_WEIGHTS: TierWeights = new Map();

export interface PrefixMatchResult {
  /** Request keys of the full blocks. */
  readonly keys: readonly BlockKey[];
  /** Normalised tier-weighted score per endpoint `ip:port`, in [0, 1]. */
  readonly scores: ReadonlyMap<string, number>;
  /** Confirmed consecutive leading blocks per endpoint `ip:port` (absent = 0). */
  readonly cachedBlocks: ReadonlyMap<string, number>;
}

function withoutSpeculative(hits: ReadonlyMap<BlockKey, readonly PodEntry[]>): Map<BlockKey, PodEntry[]> {
  const confirmed = new Map<BlockKey, PodEntry[]>();
  for (const [key, entries] of hits) confirmed.set(key, entries.filter((entry) => entry.speculative !== true));
  return confirmed;
}

function maxAndAvg(values: Iterable<number>): { max: number; avg: number } {
  let max = 0;
  let sum = 0;
  let count = 0;
  for (const value of values) {
    max = Math.max(max, value);
    sum += value;
    count++;
  }
  return { max, avg: count > 0 ? sum / count : 0 };
}

/** Looks the keys up for `endpointKeys` (the candidates' `ip:port`) and scores them. Rejects when the index fails. */
export function matchPrefix(
  index: KvBlockIndex,
  model: string,
  tokenCount: number,
  keys: readonly BlockKey[],
  endpointKeys: readonly string[],
  weights: TierWeights,
): Promise<PrefixMatchResult> {
  return withSpan(KV_CACHE_TRACER, 'llm_d.kv_cache.score_tokens', {
    attributes: {
      'gen_ai.request.model': model,
      'llm_d.kv_cache.pod_count': endpointKeys.length,
      'llm_d.kv_cache.token_count': tokenCount,
      'llm_d.kv_cache.block_keys.count': keys.length,
    },
  }, async (span) => {
    const filter = new Set(endpointKeys);
    const hits = await withSpan(KV_CACHE_TRACER, 'llm_d.kv_cache.index', {
      attributes: { 'llm_d.kv_cache.index.lookup.block_count': keys.length, 'llm_d.kv_cache.lookup.pod_filter_count': filter.size },
    }, async (lookupSpan) => {
      const found = await index.lookup(keys, filter);
      lookupSpan.setAttributes({ 'llm_d.kv_cache.lookup.cache_hit': found.size > 0, 'llm_d.kv_cache.lookup.blocks_found': found.size });
      return found;
    });
    const result = await withSpan(KV_CACHE_TRACER, 'llm_d.kv_cache.scorer.compute', {
      attributes: { 'llm_d.kv_cache.scorer.algorithm': 'LongestPrefix', 'llm_d.kv_cache.scorer.key_count': keys.length },
    }, (computeSpan) => {
      const raw = longestPrefixScores(keys, hits, weights);
      const scores = normaliseScores(raw, endpointKeys, keys.length);
      const cachedBlocks = longestPrefixScores(keys, withoutSpeculative(hits), UNIT_WEIGHTS);
      const { max, avg } = maxAndAvg(raw.values());
      computeSpan.setAttributes({ 'llm_d.kv_cache.score.max': max, 'llm_d.kv_cache.score.avg': avg, 'llm_d.kv_cache.scorer.pods_scored': raw.size });
      return { keys, scores, cachedBlocks };
    });
    const best = maxAndAvg(result.cachedBlocks.values()).max;
    span.setAttributes({ 'llm_d.kv_cache.blocks_found': hits.size, 'llm_d.kv_cache.block_hit_ratio': keys.length > 0 ? best / keys.length : 0 });
    return result;
  });
}
