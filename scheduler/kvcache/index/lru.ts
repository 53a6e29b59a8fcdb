/**
 * A bounded least-recently-used map on top of `Map`'s insertion order: touching a key re-inserts
 * it at the end, and the first key is the oldest. No timers, no per-entry allocation beyond Map's.
 */

/**
 * V8 caps a single Map at 2^24 entries (it throws "Map maximum size exceeded"); llm-d's default
 * index size (1e8) is above that, so capacities are clamped here rather than failing at key 16.7M.
 */
export const MAX_MAP_ENTRIES = 16_000_000;

export class LruMap<K, V> {
  private readonly map = new Map<K, V>();
  readonly capacity: number;

  constructor(capacity: number, private readonly onEvict?: (key: K, value: V) => void) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError(`LRU capacity ${capacity} must be a positive integer`);
    this.capacity = Math.min(capacity, MAX_MAP_ENTRIES);
  }

  get size(): number {
    return this.map.size;
  }

  /** Value and refresh recency. */
  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  /** Value without touching recency. */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Insert or replace as most recent; evicts the oldest entry beyond capacity. */
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next();
      if (!oldest.done) {
        const evicted = this.map.get(oldest.value)!;
        this.map.delete(oldest.value);
        this.onEvict?.(oldest.value, evicted);
      }
    }
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  clear(): void {
    this.map.clear();
  }
}
