import { describe, expect, it } from 'vitest';
import { ApproxPrefixIndex, DEFAULT_LRU_CAPACITY_PER_SERVER } from '../../../../scheduler/plugins/producers/approx-prefix-index.js';

describe('ApproxPrefixIndex', () => {
  it('records which endpoints hold which hashes', () => {
    const index = new ApproxPrefixIndex();
    index.add('a', [1n, 2n, 3n]);
    index.add('b', [1n, 2n]);
    expect([...index.holdersOf(1n)!].sort()).toEqual(['a', 'b']);
    expect([...index.holdersOf(3n)!]).toEqual(['a']);
    expect(index.holdersOf(9n)).toBeUndefined();
    expect([index.blockCount('a'), index.blockCount('b'), index.blockCount(), index.hashCount]).toEqual([3, 2, 5, 3]);
  });

  it('matchLongestPrefix walks until the first hash nobody holds', () => {
    const index = new ApproxPrefixIndex();
    index.add('a', [1n, 2n, 3n, 5n]);
    index.add('b', [1n]);
    expect(Object.fromEntries(index.matchLongestPrefix([1n, 2n, 3n, 4n, 5n]))).toEqual({ a: 3, b: 1 });
    expect(index.matchLongestPrefix([7n, 1n]).size).toBe(0);
    expect(index.matchLongestPrefix([]).size).toBe(0);
  });

  it('counts every walked hash an endpoint holds, even with gaps (llm-d semantics)', () => {
    const index = new ApproxPrefixIndex();
    index.add('a', [1n, 3n]);
    index.add('b', [2n]);
    expect(Object.fromEntries(index.matchLongestPrefix([1n, 2n, 3n]))).toEqual({ a: 2, b: 1 });
  });

  it('evicts least recently used blocks per endpoint and unlinks them', () => {
    const index = new ApproxPrefixIndex();
    index.add('a', [1n, 2n, 3n], 3);
    index.add('b', [1n], 3);
    index.add('a', [1n], 3); // touch 1: now 2 is the oldest
    index.add('a', [4n], 3);
    expect(index.holdersOf(2n)).toBeUndefined();
    expect([...index.holdersOf(1n)!].sort()).toEqual(['a', 'b']);
    expect(index.blockCount('a')).toBe(3);
    // A batch bigger than the capacity keeps only its newest blocks.
    index.add('c', [10n, 11n, 12n, 13n], 2);
    expect([index.holdersOf(10n), index.holdersOf(11n)]).toEqual([undefined, undefined]);
    expect(index.blockCount('c')).toBe(2);
  });

  it('applies a changed capacity on the next add', () => {
    const index = new ApproxPrefixIndex();
    index.add('a', [1n, 2n, 3n, 4n], 10);
    index.add('a', [5n], 2);
    expect(index.blockCount('a')).toBe(2);
    expect(index.matchLongestPrefix([4n, 5n]).get('a')).toBe(2);
  });

  it('removeEndpoint forgets an endpoint and every hash only it held', () => {
    const index = new ApproxPrefixIndex();
    index.add('a', [1n, 2n]);
    index.add('b', [1n]);
    index.removeEndpoint('a');
    index.removeEndpoint('unknown');
    expect(index.endpoints()).toEqual(['b']);
    expect(index.holdersOf(2n)).toBeUndefined();
    expect([...index.holdersOf(1n)!]).toEqual(['b']);
  });

  it('defaults the capacity to 31250 (also for a non-positive one)', () => {
    expect(new ApproxPrefixIndex().defaultCapacity).toBe(DEFAULT_LRU_CAPACITY_PER_SERVER);
    expect(new ApproxPrefixIndex(0).defaultCapacity).toBe(31250);
  });
});
