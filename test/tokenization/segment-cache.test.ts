/** The segment cache: keys by (namespace, text), approximate LRU under a byte budget. */
import { beforeAll, describe, expect, it } from 'vitest';
import { SegmentCache } from '../../src/tokenization/segment-cache.js';

beforeAll(() => new SegmentCache().ready());

describe('SegmentCache', () => {
  it('keys depend on namespace and text', () => {
    const cache = new SegmentCache();
    expect(cache.key('0', 'hello')).toBe(cache.key('0', 'hello'));
    expect(cache.key('0', 'hello')).not.toBe(cache.key('1', 'hello'));
    expect(cache.key('0', 'hello')).not.toBe(cache.key('0', 'hellp'));
  });

  it('keeps recently used entries within the byte budget (two generations of half the budget each)', () => {
    const probe = new SegmentCache();
    probe.set(probe.key('0', 'a'), new Uint32Array(100));
    const cost = probe.stats().bytes;
    const cache = new SegmentCache(4 * cost + 1); // each generation holds two entries
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((text) => cache.key('0', text));
    cache.set(a!, new Uint32Array(100));
    cache.set(b!, new Uint32Array(100));
    cache.set(c!, new Uint32Array(100)); // young {c}, old {a, b}
    expect(cache.get(a!)).toBeDefined(); // a used again: young {c, a}, old {b}
    cache.set(d!, new Uint32Array(100)); // young {d}, old {c, a}; b, the least recently used, is gone
    expect(cache.get(b!)).toBeUndefined();
    expect(cache.get(a!)).toBeDefined();
    expect(cache.get(c!)).toBeDefined();
    expect(cache.stats()).toMatchObject({ hits: 3, misses: 1 });
    expect(cache.stats().bytes).toBeLessThanOrEqual(cache.maxBytes);
  });

  it('stores a compact copy of views into larger buffers, and skips entries over budget', () => {
    const cache = new SegmentCache(2000);
    const buffer = new Uint32Array([1, 2, 3, 4, 5, 6]);
    const key = cache.key('0', 'x');
    cache.set(key, buffer.subarray(1, 3));
    const stored = cache.get(key)!;
    expect([...stored]).toEqual([2, 3]);
    expect(stored.buffer.byteLength).toBe(8);
    cache.set(cache.key('0', 'huge'), new Uint32Array(1000));
    expect(cache.stats().entries).toBe(1);
  });
});
