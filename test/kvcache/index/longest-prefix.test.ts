import { describe, expect, it } from 'vitest';
import {
  confirmedPrefixBlocks,
  DEFAULT_TIER_WEIGHTS,
  longestPrefixScores,
  matchLongestPrefix,
  normaliseScores,
  tierWeightsFrom,
} from '../../../scheduler/kvcache/index/longest-prefix.js';
import { MemoryKvBlockIndex } from '../../../scheduler/kvcache/index/memory-index.js';
import type { BlockKey, PodEntry } from '../../../scheduler/kvcache/index/types.js';

const P = '10.0.0.1:8000';
const Q = '10.0.0.2:8000';
const R = '10.0.0.3:8000';
const e = (pod: string, tier: string): PodEntry => ({ pod, tier });
const keys = (n: number): BlockKey[] => Array.from({ length: n }, (_, i) => BigInt(i + 1));
/** A lookup's answer: the entries of each leading block found, in block order. */
const hits = (...blocks: PodEntry[][]): PodEntry[][] => blocks;

describe('LongestPrefix raw scores', () => {
  it('gpu, gpu, (gpu+cpu) then a gap → 3.0 (the best tier counts)', () => {
    const found = hits([e(P, 'gpu')], [e(P, 'gpu')], [e(P, 'gpu'), e(P, 'cpu')]);
    expect(longestPrefixScores(found)).toEqual(new Map([[P, 3]]));
  });

  it('a cpu-only third block at weight 0.5 → 2.5', () => {
    const weights = tierWeightsFrom([{ name: 'gpu', weight: 1 }, { name: 'CPU', weight: 0.5 }]);
    const found = hits([e(P, 'gpu')], [e(P, 'gpu')], [e(P, 'cpu')]);
    expect(longestPrefixScores(found, weights)).toEqual(new Map([[P, 2.5]]));
  });

  it('pods first seen after block 0 score nothing; pods drop out at their first missing block', () => {
    const found = hits([e(P, 'gpu'), e(Q, 'gpu')], [e(P, 'gpu'), e(R, 'gpu')], [e(P, 'gpu'), e(Q, 'gpu'), e(R, 'gpu')]);
    expect(longestPrefixScores(found)).toEqual(new Map([[P, 3], [Q, 1]]));
  });

  it('unknown and speculative (empty) tiers weigh 1.0; default cpu weighs 0.8', () => {
    const found = hits([e(P, 'nvme')], [e(P, '')], [e(P, 'cpu')]);
    expect(longestPrefixScores(found, DEFAULT_TIER_WEIGHTS).get(P)).toBeCloseTo(2.8);
  });

  it('nothing found → no scores', () => {
    expect(longestPrefixScores([]).size).toBe(0);
    expect(longestPrefixScores([[], [e(P, 'gpu')]]).size).toBe(0); // an empty entry list ends the run
  });

  it('several pods per block, the order of entries irrelevant; a pod dropping out keeps its sum', () => {
    const found = hits([e(Q, 'cpu'), e(P, 'gpu'), e(Q, 'gpu'), e(R, 'cpu')], [e(R, 'gpu'), e(P, 'gpu')], [e(P, 'cpu')], [e(R, 'gpu')]);
    const scores = longestPrefixScores(found, DEFAULT_TIER_WEIGHTS);
    expect([...scores.keys()].sort()).toEqual([P, Q, R]);
    expect(scores.get(P)).toBeCloseTo(2.8);
    expect(scores.get(Q)).toBeCloseTo(1);
    expect(scores.get(R)).toBeCloseTo(1.8);
  });
});

describe('confirmed leading blocks (what the P/D decider reads)', () => {
  const guess = (pod: string): PodEntry => ({ pod, tier: 'gpu', speculative: true });

  it('every tier counts 1; a speculative guess is not a confirmed block', () => {
    const found = hits([e(P, 'gpu'), e(Q, 'cpu')], [e(P, 'cpu'), guess(Q)], [guess(P)], [e(P, 'gpu')]);
    expect(confirmedPrefixBlocks(found)).toEqual(new Map([[P, 2], [Q, 1]]));
  });

  it('a pod known only by a guess on block 0 has no confirmed blocks; one confirmed entry among guesses counts', () => {
    const found = hits([guess(P), e(Q, 'gpu')], [guess(Q), e(Q, 'cpu')]);
    expect(confirmedPrefixBlocks(found)).toEqual(new Map([[Q, 2]]));
  });
});

describe('normalisation per endpoint ip:port', () => {
  it('min(1, raw/totalBlocks); absent → 0', () => {
    const raw = new Map([[P, 3], [Q, 1], ['x', 9]]);
    expect(normaliseScores(raw, [P, Q, R], 4)).toEqual(new Map([[P, 0.75], [Q, 0.25], [R, 0]]));
    expect(normaliseScores(new Map([[P, 9]]), [P], 4).get(P)).toBe(1);
  });

  it('totalBlocks ≤ 0 or raw ≤ 0 → 0 for everyone', () => {
    expect(normaliseScores(new Map([[P, 3]]), [P], 0)).toEqual(new Map([[P, 0]]));
    expect(normaliseScores(new Map([[P, -1]]), [P], 3)).toEqual(new Map([[P, 0]]));
  });

  it('a single endpoint holding 2 of N blocks scores 2/N, not 1.0', async () => {
    const index = new MemoryKvBlockIndex();
    await index.add([1n, 2n], [1n, 2n], [e(P, 'gpu')]);
    const match = await matchLongestPrefix(index, keys(5), [P]);
    expect(match.scores).toEqual(new Map([[P, 0.4]]));
    expect(match.raw).toEqual(new Map([[P, 2]]));
  });

  it('looks up only the candidates; no keys or an empty index → all 0', async () => {
    const index = new MemoryKvBlockIndex();
    expect((await matchLongestPrefix(index, keys(3), [P, Q])).scores).toEqual(new Map([[P, 0], [Q, 0]]));
    await index.add(null, keys(3), [e(R, 'gpu')]);
    expect((await matchLongestPrefix(index, keys(3), [P])).scores).toEqual(new Map([[P, 0]]));
    expect((await matchLongestPrefix(index, [], [R])).scores).toEqual(new Map([[R, 0]]));
  });
});
