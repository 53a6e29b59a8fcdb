/**
 * A request's token stream → per-endpoint prefix match, traced like llm-d-kv-cache's
 * `Indexer.ScoreTokens`: `llm_d.kv_cache.score_tokens` → {`llm_d.kv_cache.index` (one per lookup),
 * `llm_d.kv_cache.scorer.compute`}.
 *
 * The walk: ids arrive a batch at a time (src/tokenization/token-stream.ts); each batch's full
 * blocks are keyed (chained from the model's root) and looked up at once, filtered to the
 * candidates. The index answers the leading run of keys some candidate holds, so the first key
 * it does not answer is a block no candidate holds: no endpoint's consecutive prefix can reach
 * past it, and the walk stops — the rest of the prompt is neither tokenized nor hashed. Its token
 * count is estimated by the caller (`estimateRest`) so the totals stay right.
 *
 * Two numbers per endpoint come out:
 *  - `scores`: LongestPrefix with tier weights (gpu 1.0, cpu 0.8 …; speculative entries 1.0),
 *    normalised `min(1, raw / totalBlocks)` — what the scorer returns; totalBlocks counts the
 *    estimated rest too;
 *  - `cachedBlocks`: consecutive leading blocks the endpoint **confirmed** holding (any tier, each
 *    counted once, speculative guesses excluded) — what the P/D decider needs. llm-d handed the
 *    decider a hit flag, and later the tier-weighted count: a cached prefix then looked uncached
 *    and long, mostly-cached conversations were sent to prefill anyway.
 */
import { blockKeys, type BlockKey } from '../../../src/kvblock/keys.js';
import type { TokenStream, TokenStreamRest } from '../../../src/tokenization/token-stream.js';
import { withSpan } from '../../../src/telemetry/tracing.js';
import { confirmedPrefixBlocks, longestPrefixScores, normaliseScores, type TierWeights } from '../index/longest-prefix.js';
import type { KvBlockIndex, PodEntry } from '../index/types.js';

/** Instrumentation scope of llm-d-kv-cache's spans. */
export const KV_CACHE_TRACER = 'llm-d-kv-cache';

export interface PrefixMatchResult {
  /** Request keys of the full blocks that were tokenized (all of them when the walk did not stop early). */
  readonly keys: readonly BlockKey[];
  /** Normalised tier-weighted score per endpoint `ip:port`, in [0, 1]. */
  readonly scores: ReadonlyMap<string, number>;
  /** Confirmed consecutive leading blocks per endpoint `ip:port` (absent = 0). */
  readonly cachedBlocks: ReadonlyMap<string, number>;
}

export interface WalkResult extends PrefixMatchResult {
  /** Tokens produced by the tokenizer. */
  readonly exactTokens: number;
  /** Tokens of the part not tokenized, estimated (0 when the walk reached the end). */
  readonly estimatedTokens: number;
  /** UTF-8 bytes of the text not tokenized (what the estimate was made from). */
  readonly restBytes: number;
  /** The full-block count the scores are normalised by (exact + estimated tokens). */
  readonly totalBlocks: number;
  /** Where the walk stopped, when it stopped early: the rest of the prompt can still be read from here. */
  readonly continuation?: WalkContinuation;
}

/** A stopped walk's state: the stream (positioned after the last batch), the last key, the tokens short of a block. */
export interface WalkContinuation {
  readonly stream: TokenStream;
  readonly parent: BlockKey;
  readonly pending: Uint32Array;
}

export interface WalkOptions {
  blockSize: number;
  /** The model's chain root. */
  root: BlockKey;
  /** The candidates' `ip:port`. */
  endpointKeys: readonly string[];
  weights: TierWeights;
  /** Tokens of the part not tokenized. */
  estimateRest(rest: TokenStreamRest): number;
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

/** pending ‖ chunk; the chunk itself when nothing is pending (streams hand out arrays they never change). */
function append(pending: Uint32Array, chunk: ArrayLike<number>): Uint32Array {
  if (pending.length === 0 && chunk instanceof Uint32Array) return chunk;
  const out = new Uint32Array(pending.length + chunk.length);
  out.set(pending);
  out.set(chunk, pending.length);
  return out;
}

/** Walks the stream block by block, looking each batch up, until the first block no candidate holds. Rejects when the index or the tokenizer fails. */
export function walkPrefix(index: KvBlockIndex, model: string, stream: TokenStream, options: WalkOptions): Promise<WalkResult> {
  const { blockSize, endpointKeys, weights } = options;
  return withSpan(KV_CACHE_TRACER, 'llm_d.kv_cache.score_tokens', {
    attributes: { 'gen_ai.request.model': model, 'llm_d.kv_cache.pod_count': endpointKeys.length },
  }, async (span) => {
    const filter = new Set(endpointKeys);
    const keys: BlockKey[] = [];
    // Entries of the leading blocks found, in block order: the run the scores are computed over.
    const run: PodEntry[][] = [];
    let parent = options.root;
    let pending: Uint32Array = new Uint32Array(0);
    let exactTokens = 0;
    let stopped = false;
    for (let chunk = await stream.next(); chunk !== undefined; chunk = await stream.next()) {
      exactTokens += chunk.length;
      pending = append(pending, chunk);
      const fresh = blockKeys(pending, blockSize, parent);
      if (fresh.length === 0) continue;
      parent = fresh[fresh.length - 1]!;
      pending = pending.slice(fresh.length * blockSize);
      keys.push(...fresh);
      const found = await withSpan(KV_CACHE_TRACER, 'llm_d.kv_cache.index', {
        attributes: { 'llm_d.kv_cache.index.lookup.block_count': fresh.length, 'llm_d.kv_cache.lookup.pod_filter_count': filter.size },
      }, async (lookupSpan) => {
        const result = await index.lookup(fresh, filter);
        lookupSpan.setAttributes({ 'llm_d.kv_cache.lookup.cache_hit': result.length > 0, 'llm_d.kv_cache.lookup.blocks_found': result.length });
        return result;
      });
      for (const entries of found) run.push(entries);
      if (found.length < fresh.length) {
        stopped = true;
        break;
      }
    }
    const rest = stopped ? stream.rest() : { knownTokens: 0, textBytes: 0 };
    const estimatedTokens = stopped ? options.estimateRest(rest) : 0;
    const totalBlocks = Math.max(keys.length, Math.floor((exactTokens + estimatedTokens) / blockSize));
    const result = await withSpan(KV_CACHE_TRACER, 'llm_d.kv_cache.scorer.compute', {
      attributes: { 'llm_d.kv_cache.scorer.algorithm': 'LongestPrefix', 'llm_d.kv_cache.scorer.key_count': keys.length },
    }, (computeSpan) => {
      const raw = longestPrefixScores(run, weights);
      const scores = normaliseScores(raw, endpointKeys, totalBlocks);
      const cachedBlocks = confirmedPrefixBlocks(run);
      const { max, avg } = maxAndAvg(raw.values());
      computeSpan.setAttributes({ 'llm_d.kv_cache.score.max': max, 'llm_d.kv_cache.score.avg': avg, 'llm_d.kv_cache.scorer.pods_scored': raw.size });
      return { keys, scores, cachedBlocks };
    });
    const best = maxAndAvg(result.cachedBlocks.values()).max;
    span.setAttributes({
      'llm_d.kv_cache.token_count': exactTokens + estimatedTokens,
      'llm_d.kv_cache.tokens_tokenized': exactTokens,
      'llm_d.kv_cache.block_keys.count': keys.length,
      'llm_d.kv_cache.blocks_found': run.length,
      'llm_d.kv_cache.block_hit_ratio': totalBlocks > 0 ? best / totalBlocks : 0,
    });
    const continuation: WalkContinuation | undefined = stopped ? { stream, parent, pending } : undefined;
    return { ...result, exactTokens, estimatedTokens, restBytes: rest.textBytes, totalBlocks, ...(continuation ? { continuation } : {}) };
  });
}
