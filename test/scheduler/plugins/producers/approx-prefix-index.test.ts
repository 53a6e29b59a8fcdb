import { describe, expect, it } from 'vitest';
import { ApproxPrefixIndex, DEFAULT_LRU_CAPACITY_PER_SERVER } from '../../../../scheduler/plugins/producers/approx-prefix-index.js';

describe('ApproxPrefixIndex', () => {
  it('records which endpoints hold which hashes', () => {
    const index = new ApproxPrefixIndex();
    index.add('a', [1, 2, 3]);
    index.add('b', [1, 2]);
    expect([...index.holdersOf(1)!].sort()).toEqual(['a', 'b']);
    expect([...index.holdersOf(3)!]).toEqual(['a']);
    expect(index.holdersOf(9)).toBeUndefined();
    expect([index.blockCount('a'), index.blockCount('b'), index.blockCount(), index.hashCount]).toEqual([3, 2, 5, 3]);
  });

  it('matchLongestPrefix walks until the first hash nobody holds', () => {
    const index = new ApproxPrefixIndex();
    index.add('a', [1, 2, 3, 5]);
    index.add('b', [1]);
    expect(Object.fromEntries(index.matchLongestPrefix([1, 2, 3, 4, 5]))).toEqual({ a: 3, b: 1 });
    expect(index.matchLongestPrefix([7, 1]).size).toBe(0);
    expect(index.matchLongestPrefix([]).size).toBe(0);
  });

  it('counts every walked hash an endpoint holds, even with gaps (llm-d semantics)', () => {
    const index = new ApproxPrefixIndex();
    index.add('a', [1, 3]);
    index.add('b', [2]);
    expect(Object.fromEntries(index.matchLongestPrefix([1, 2, 3]))).toEqual({ a: 2, b: 1 });
  });

  it('evicts least recently used blocks per endpoint and unlinks them', () => {
    const index = new ApproxPrefixIndex();
    index.add('a', [1, 2, 3], 3);
    index.add('b', [1], 3);
    index.add('a', [1], 3); // touch 1: now 2 is the oldest
    index.add('a', [4], 3);
    expect(index.holdersOf(2)).toBeUndefined();
    expect([...index.holdersOf(1)!].sort()).toEqual(['a', 'b']);
    expect(index.blockCount('a')).toBe(3);
    // A batch bigger than the capacity keeps only its newest blocks.
    index.add('c', [10, 11, 12, 13], 2);
    expect([index.holdersOf(10), index.holdersOf(11)]).toEqual([undefined, undefined]);
    expect(index.blockCount('c')).toBe(2);
  });

  it('applies a changed capacity on the next add', () => {
    const index = new ApproxPrefixIndex();
    index.add('a', [1, 2, 3, 4], 10);
    index.add('a', [5], 2);
    expect(index.blockCount('a')).toBe(2);
    expect(index.matchLongestPrefix([4, 5]).get('a')).toBe(2);
  });

  it('removeEndpoint forgets an endpoint and every hash only it held', () => {
    const index = new ApproxPrefixIndex();
    index.add('a', [1, 2]);
    index.add('b', [1]);
    index.removeEndpoint('a');
    index.removeEndpoint('unknown');
    expect(index.endpoints()).toEqual(['b']);
    expect(index.holdersOf(2)).toBeUndefined();
    expect([...index.holdersOf(1)!]).toEqual(['b']);
  });

  it('defaults the capacity to 31250 (also for a non-positive one)', () => {
    expect(new ApproxPrefixIndex().defaultCapacity).toBe(DEFAULT_LRU_CAPACITY_PER_SERVER);
    expect(new ApproxPrefixIndex(0).defaultCapacity).toBe(31250);
  });
});
