/**
 * A bounded least-recently-used map: a `Map` from key to node, the nodes linked from oldest to
 * newest. Touching a key moves its node to the newest end (pointer writes, no re-hash); the oldest
 * node is evicted beyond capacity. No timers.
 *
 * Why not `Map`'s insertion order with delete + set per touch: every lookup and add refreshes its
 * keys (a 200 KB prompt is ~4k BigInt keys per event and per request), and delete + set hashes the
 * key twice more and leaves a hole that the Map later compacts. A node costs one small object per
 * entry; the eviction order is the same exact LRU.
 */

/**
 * The largest capacity an LRU here takes. V8 caps a single Map at 2^24 entries (it throws "Map
 * maximum size exceeded"), so `LruMap` cannot hold more; the KV index's tables (`BlockKeyLru`)
 * clamp to the same: llm-d's default index size (1e8) would be several GB in one EPP.
 */
export const MAX_MAP_ENTRIES = 16_000_000;

interface Node<K, V> {
  readonly key: K;
  value: V;
  older: Node<K, V> | undefined;
  newer: Node<K, V> | undefined;
}

export class LruMap<K, V> {
  private readonly map = new Map<K, Node<K, V>>();
  private oldest: Node<K, V> | undefined;
  private newest: Node<K, V> | undefined;
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
    const node = this.map.get(key);
    if (node === undefined) return undefined;
    this.touch(node);
    return node.value;
  }

  /** Value without touching recency. */
  peek(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Insert or replace as most recent; evicts the oldest entry beyond capacity. */
  set(key: K, value: V): void {
    const node = this.map.get(key);
    if (node === undefined) {
      this.insert(key, value);
      return;
    }
    node.value = value;
    this.touch(node);
  }

  /**
   * Sets `update(current value or undefined)` as the key's value, most recent (inserting when
   * absent, evicting beyond capacity): one hash lookup where get + set would take two.
   */
  upsert(key: K, update: (current: V | undefined) => V): void {
    const node = this.map.get(key);
    if (node === undefined) {
      this.insert(key, update(undefined));
      return;
    }
    node.value = update(node.value);
    this.touch(node);
  }

  delete(key: K): boolean {
    const node = this.map.get(key);
    if (node === undefined) return false;
    this.unlink(node);
    this.map.delete(key);
    return true;
  }

  /** Oldest first. Deleting the entry just yielded is safe; other changes during iteration are not. */
  *entries(): IterableIterator<[K, V]> {
    let node = this.oldest;
    while (node !== undefined) {
      const next = node.newer;
      yield [node.key, node.value];
      node = next;
    }
  }

  clear(): void {
    this.map.clear();
    this.oldest = undefined;
    this.newest = undefined;
  }

  private insert(key: K, value: V): void {
    const node: Node<K, V> = { key, value, older: this.newest, newer: undefined };
    if (this.newest === undefined) this.oldest = node;
    else this.newest.newer = node;
    this.newest = node;
    this.map.set(key, node);
    if (this.map.size > this.capacity) {
      const evicted = this.oldest!;
      this.unlink(evicted);
      this.map.delete(evicted.key);
      this.onEvict?.(evicted.key, evicted.value);
    }
  }

  /** Moves a linked node to the newest end. */
  private touch(node: Node<K, V>): void {
    if (node === this.newest) return;
    this.unlink(node);
    node.older = this.newest;
    this.newest!.newer = node;
    this.newest = node;
  }

  private unlink(node: Node<K, V>): void {
    if (node.older === undefined) this.oldest = node.newer;
    else node.older.newer = node.newer;
    if (node.newer === undefined) this.newest = node.older;
    else node.newer.older = node.older;
    node.older = undefined;
    node.newer = undefined;
  }
}
