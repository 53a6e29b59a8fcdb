import { describe, expect, it } from 'vitest';
import { LruMap } from '../src/lru.js';

const keysOf = <K, V>(lru: LruMap<K, V>): K[] => [...lru.entries()].map(([key]) => key);

/** The obvious LRU on Map insertion order (delete + set per touch): the reference the linked list must equal. */
class ReferenceLru {
  readonly map = new Map<number, number>();
  readonly evicted: number[] = [];
  constructor(private readonly capacity: number) {}
  get(key: number): number | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }
  set(key: number, value: number): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next().value!;
      this.evicted.push(oldest);
      this.map.delete(oldest);
    }
  }
}

describe('LruMap', () => {
  it('evicts the least recently used key: get and set refresh, peek and has do not', () => {
    const evicted: Array<[string, number]> = [];
    const lru = new LruMap<string, number>(3, (key, value) => evicted.push([key, value]));
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('c', 3);
    expect(lru.get('a')).toBe(1); // order b, c, a
    expect(lru.peek('b')).toBe(2); // no refresh
    expect(lru.has('b')).toBe(true);
    lru.set('d', 4); // evicts b
    expect(evicted).toEqual([['b', 2]]);
    lru.set('c', 30); // replace refreshes: order a, d, c
    lru.set('e', 5); // evicts a
    expect(evicted).toEqual([['b', 2], ['a', 1]]);
    expect(keysOf(lru)).toEqual(['d', 'c', 'e']);
    expect(lru.get('c')).toBe(30);
    expect(lru.size).toBe(3);
  });

  it('capacity 1 keeps only the newest key', () => {
    const lru = new LruMap<number, string>(1);
    lru.set(1, 'x');
    lru.set(2, 'y');
    expect(lru.size).toBe(1);
    expect(lru.peek(1)).toBeUndefined();
    expect(lru.get(2)).toBe('y');
    expect(lru.get(2)).toBe('y'); // touching the newest is a no-op
    expect(keysOf(lru)).toEqual([2]);
  });

  it('upsert passes the current value (undefined when absent), refreshes, and evicts beyond capacity', () => {
    const seen: Array<number | undefined> = [];
    const bump = (current: number | undefined) => {
      seen.push(current);
      return (current ?? 0) + 1;
    };
    const lru = new LruMap<bigint, number>(2);
    lru.upsert(1n, bump);
    lru.upsert(1n, bump);
    lru.upsert(2n, bump);
    lru.upsert(1n, bump); // 1 is newest again
    lru.upsert(3n, bump); // evicts 2
    expect(seen).toEqual([undefined, 1, undefined, 2, undefined]);
    expect([...lru.entries()]).toEqual([[1n, 3], [3n, 1]]);
  });

  it('delete unlinks from either end and the middle; clear empties; the map stays usable', () => {
    const lru = new LruMap<number, number>(10);
    for (let i = 1; i <= 5; i++) lru.set(i, i);
    expect(lru.delete(1)).toBe(true); // oldest
    expect(lru.delete(5)).toBe(true); // newest
    expect(lru.delete(3)).toBe(true); // middle
    expect(lru.delete(3)).toBe(false);
    expect(keysOf(lru)).toEqual([2, 4]);
    lru.set(6, 6);
    expect(keysOf(lru)).toEqual([2, 4, 6]);
    lru.clear();
    expect(lru.size).toBe(0);
    expect(keysOf(lru)).toEqual([]);
    lru.set(7, 7);
    expect(keysOf(lru)).toEqual([7]);
  });

  it('deleting the entry just yielded during iteration is safe', () => {
    const lru = new LruMap<number, number>(10);
    for (let i = 1; i <= 4; i++) lru.set(i, i);
    const seen: number[] = [];
    for (const [key] of lru.entries()) {
      seen.push(key);
      if (key % 2 === 0) lru.delete(key);
    }
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(keysOf(lru)).toEqual([1, 3]);
  });

  it('equals the delete+set reference LRU on a random mix of operations (order, values, evictions)', () => {
    let seed = 12345;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    for (const capacity of [1, 2, 7, 50]) {
      const evicted: number[] = [];
      const lru = new LruMap<number, number>(capacity, (key) => evicted.push(key));
      const reference = new ReferenceLru(capacity);
      for (let step = 0; step < 5000; step++) {
        const key = next(capacity * 2 + 3);
        const op = next(10);
        if (op < 4) {
          expect(lru.get(key)).toBe(reference.get(key));
        } else if (op < 8) {
          lru.set(key, step);
          reference.set(key, step);
        } else if (op < 9) {
          lru.upsert(key, (current) => (current ?? 0) + step);
          reference.set(key, (reference.map.get(key) ?? 0) + step);
        } else {
          expect(lru.delete(key)).toBe(reference.map.delete(key));
        }
        expect(lru.size).toBeLessThanOrEqual(capacity);
      }
      expect([...lru.entries()]).toEqual([...reference.map.entries()]);
      expect(evicted).toEqual(reference.evicted);
    }
  });
});
