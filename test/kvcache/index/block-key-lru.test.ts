import { describe, expect, it } from 'vitest';
import { LruMap, MAX_MAP_ENTRIES } from '../../../src/lru.js';
import { seededRandom } from '../../../src/random.js';
import { BlockKeyLru } from '../../../scheduler/kvcache/index/block-key-lru.js';

const keysOf = (lru: { entries(): IterableIterator<[bigint, number]> }): bigint[] => [...lru.entries()].map(([key]) => key);

/** A random uint64 from a seeded source; `space` > 0 draws from a small pool so keys repeat. */
function keyFrom(random: () => number, space: number): bigint {
  if (space > 0) return BigInt(Math.floor(random() * space)) * 0x1_0000_0001n;
  const hi = BigInt(Math.floor(random() * 0x1_0000_0000));
  const lo = BigInt(Math.floor(random() * 0x1_0000_0000));
  return (hi << 32n) | lo;
}

describe('BlockKeyLru', () => {
  it('keeps LruMap semantics: get/set/upsert refresh, peek/has do not, the oldest goes beyond capacity', () => {
    const lru = new BlockKeyLru<number>(3);
    lru.set(1n, 1);
    lru.set(2n, 2);
    lru.set(3n, 3);
    expect(lru.get(1n)).toBe(1); // order 2, 3, 1
    expect(lru.peek(2n)).toBe(2);
    expect(lru.has(2n)).toBe(true);
    lru.set(4n, 4); // evicts 2
    expect(lru.has(2n)).toBe(false);
    lru.upsert(3n, (current) => (current ?? 0) * 10); // order 1, 4, 3
    lru.set(5n, 5); // evicts 1
    expect(keysOf(lru)).toEqual([4n, 3n, 5n]);
    expect(lru.get(3n)).toBe(30);
    expect(lru.size).toBe(3);
  });

  it('holds the whole uint64 range, 0 and 2^64-1 included, keeping keys that share a half apart', () => {
    const lru = new BlockKeyLru<string>(10);
    const keys = [0n, 1n, 0xffff_ffff_ffff_ffffn, 0xffff_ffff_0000_0000n, 0x0000_0000_ffff_ffffn, 1n << 32n];
    keys.forEach((key, i) => lru.set(key, `v${i}`));
    keys.forEach((key, i) => expect(lru.peek(key)).toBe(`v${i}`));
    expect(keysOf(lru as unknown as BlockKeyLru<number>)).toEqual(keys);
  });

  it('refuses keys outside the uint64 range instead of wrapping them onto another key', () => {
    const lru = new BlockKeyLru<string>(10);
    lru.set(0xffff_ffff_ffff_ffffn, 'max');
    expect(() => lru.set(-1n, 'wrapped')).toThrow(RangeError);
    expect(() => lru.get(1n << 64n)).toThrow(RangeError);
    expect(lru.peek(0xffff_ffff_ffff_ffffn)).toBe('max');
    expect(lru.size).toBe(1);
  });

  it("an upsert's update may use another table (the probe's result is not shared between tables)", () => {
    const outer = new BlockKeyLru<number>(100);
    const inner = new BlockKeyLru<number>(100);
    for (let key = 1n; key <= 50n; key++) {
      outer.upsert(key, () => {
        inner.set(key * 1_000_003n, 1); // a different key through the shared split
        return Number(key);
      });
    }
    for (let key = 1n; key <= 50n; key++) expect(outer.peek(key)).toBe(Number(key));
    expect(keysOf(outer)).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i + 1)));
  });

  // The table's own paths — probe runs, backward-shift deletion, doubling, free-list reuse,
  // eviction — checked against LruMap (itself tested against a Map-order reference) op by op.
  for (const [name, capacity, space, ops] of [
    ['many deletes in a small key space (probe runs, backward shift)', 5000, 3000, 60_000],
    ['eviction at a capacity below the key space', 700, 2000, 40_000],
    ['growth past several doublings with unique keys', 100_000, 0, 30_000],
  ] as const) {
    it(`equals LruMap under random operations: ${name}`, () => {
      const random = seededRandom(capacity + space);
      const table = new BlockKeyLru<number>(capacity);
      const reference = new LruMap<bigint, number>(capacity);
      for (let op = 0; op < ops; op++) {
        const key = keyFrom(random, space);
        const roll = random();
        if (roll < 0.35) {
          table.set(key, op);
          reference.set(key, op);
        } else if (roll < 0.55) {
          const bump = (current: number | undefined) => (current ?? 0) + op;
          table.upsert(key, bump);
          reference.upsert(key, bump);
        } else if (roll < 0.75) {
          expect(table.delete(key)).toBe(reference.delete(key));
        } else if (roll < 0.9) {
          expect(table.get(key)).toBe(reference.get(key));
        } else {
          expect(table.peek(key)).toBe(reference.peek(key));
          expect(table.has(key)).toBe(reference.has(key));
        }
        expect(table.size).toBe(reference.size);
        if (op % 5000 === 0) expect([...table.entries()]).toEqual([...reference.entries()]);
      }
      expect([...table.entries()]).toEqual([...reference.entries()]);
      // Every key still present is findable (no probe run broken by a deletion).
      for (const [key, value] of reference.entries()) expect(table.peek(key)).toBe(value);
    });
  }

  it('deleting while iterating the yielded entry is safe; clear empties and the table stays usable', () => {
    const lru = new BlockKeyLru<number>(100);
    for (let i = 0; i < 50; i++) lru.set(BigInt(i), i);
    for (const [key, value] of lru.entries()) if (value % 2 === 0) lru.delete(key);
    expect(lru.size).toBe(25);
    expect(keysOf(lru)).toEqual(Array.from({ length: 25 }, (_, i) => BigInt(2 * i + 1)));
    lru.clear();
    expect(lru.size).toBe(0);
    expect(lru.get(1n)).toBeUndefined();
    lru.set(7n, 7);
    expect(keysOf(lru)).toEqual([7n]);
  });

  it('rejects non-positive capacities and clamps to the index-wide maximum', () => {
    expect(() => new BlockKeyLru(0)).toThrow(/positive/);
    expect(new BlockKeyLru(100_000_000).capacity).toBe(MAX_MAP_ENTRIES);
  });
});
