/**
 * A bounded LRU map from 64-bit block keys to values, kept in flat typed arrays: the in-memory
 * index's two tables (request key → pod entries, and per pod engine key → request keys).
 *
 * Why not `LruMap` (a JS `Map` of linked node objects): every unique document a pod prefills
 * stores one new key per block in both tables (a 200 KB prompt is ~4k blocks per event). With a
 * `Map`, each new key costs a BigInt kept alive as the key, a node object, a Map slot and, as the
 * Map grows, rehashes of everything already in it; profiled, that was the largest single cost of
 * KV-event ingestion and much of the EPP's GC. Here a key is two uint32 halves in an entry slot:
 *
 *   entry slot s (dense, reused through a free list):
 *     keyHi[s], keyLo[s]        the key
 *     older[s], newer[s]        the recency list (slot numbers; NONE at the ends)
 *     value of s                the value (a slot of a JS array chunk: the only pointer per entry)
 *   buckets[b] = s + 1          open addressing, linear probing, 0 = empty; a power of two,
 *                               at most half full; deletion shifts later entries back (no tombstones)
 *
 * Both grow by doubling as entries arrive (amortised O(1)), so an index configured for 16M keys
 * costs memory for the keys it holds, ~30 bytes each, not for its capacity. Keys must be uint64
 * (what block keys are); the semantics are `LruMap`'s: `get`/`set`/`upsert` refresh recency,
 * `peek` does not, the oldest entry is evicted beyond `capacity`.
 */
import { MAX_MAP_ENTRIES } from '../../../src/lru.js';
import { halves, joinKey, splitKey } from '../../../src/kvblock/ints.js';
import { bucketOf } from './block-key-bits.js';
import type { BlockKey } from './types.js';

const NONE = -1;
const INITIAL_SLOTS = 1024;
const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;

export class BlockKeyLru<V> {
  readonly capacity: number;
  private keyHi = new Uint32Array(INITIAL_SLOTS);
  private keyLo = new Uint32Array(INITIAL_SLOTS);
  private older = new Int32Array(INITIAL_SLOTS);
  private newer = new Int32Array(INITIAL_SLOTS);
  /**
   * Values in fixed chunks of CHUNK slots (slot s at chunks[s >> CHUNK_BITS][s & CHUNK_MASK]):
   * growing one multi-MB JS array by copying cost ~100 ns per element here (large-object
   * allocation and GC), a new 4096-slot chunk costs nothing to the ones already filled.
   */
  private values: Array<Array<V | undefined>> = [];
  private buckets = new Int32Array(INITIAL_SLOTS * 2);
  private mask = INITIAL_SLOTS * 2 - 1;
  /** Slots ever handed out; slots below it are in use or on the free list. */
  private used = 0;
  private freeList = NONE;
  private count = 0;
  private oldest = NONE;
  private newest = NONE;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError(`LRU capacity ${capacity} must be a positive integer`);
    this.capacity = Math.min(capacity, MAX_MAP_ENTRIES);
  }

  get size(): number {
    return this.count;
  }

  /** Value and refresh recency. */
  get(key: BlockKey): V | undefined {
    const slot = this.find(key);
    if (slot === NONE) return undefined;
    this.touch(slot);
    return this.valueAt(slot);
  }

  /** Value without touching recency. */
  peek(key: BlockKey): V | undefined {
    const slot = this.find(key);
    return slot === NONE ? undefined : this.valueAt(slot);
  }

  has(key: BlockKey): boolean {
    return this.find(key) !== NONE;
  }

  /** Insert or replace as most recent; evicts the oldest entry beyond capacity. */
  set(key: BlockKey, value: V): void {
    const slot = this.find(key);
    if (slot === NONE) {
      this.insert(value, halves[0]!, halves[1]!, this.probedBucket);
      return;
    }
    this.setValue(slot, value);
    this.touch(slot);
  }

  /**
   * Sets `update(current value or undefined)` as the key's value, most recent; one probe where
   * get + set take two. `update` must not change this map (it may use others: the probe's result
   * is held in locals, not in the shared `halves`).
   */
  upsert(key: BlockKey, update: (current: V | undefined) => V): void {
    const slot = this.find(key);
    if (slot === NONE) {
      const hi = halves[0]!;
      const lo = halves[1]!;
      const bucket = this.probedBucket;
      this.insert(update(undefined), hi, lo, bucket);
      return;
    }
    this.setValue(slot, update(this.valueAt(slot)));
    this.touch(slot);
  }

  delete(key: BlockKey): boolean {
    const slot = this.find(key);
    if (slot === NONE) return false;
    this.remove(slot, this.probedBucket);
    return true;
  }

  /** Oldest first. Deleting the entry just yielded is safe; other changes during iteration are not. */
  *entries(): IterableIterator<[BlockKey, V]> {
    let slot = this.oldest;
    while (slot !== NONE) {
      const next = this.newer[slot]!;
      yield [joinKey(this.keyHi[slot]!, this.keyLo[slot]!), this.valueAt(slot) as V];
      slot = next;
    }
  }

  /** Empties the map and gives its memory back (the arrays return to their initial size). */
  clear(): void {
    this.keyHi = new Uint32Array(INITIAL_SLOTS);
    this.keyLo = new Uint32Array(INITIAL_SLOTS);
    this.older = new Int32Array(INITIAL_SLOTS);
    this.newer = new Int32Array(INITIAL_SLOTS);
    this.values = [];
    this.buckets = new Int32Array(INITIAL_SLOTS * 2);
    this.mask = INITIAL_SLOTS * 2 - 1;
    this.used = 0;
    this.freeList = NONE;
    this.count = 0;
    this.oldest = NONE;
    this.newest = NONE;
  }

  private valueAt(slot: number): V | undefined {
    return this.values[slot >>> CHUNK_BITS]![slot & CHUNK_MASK];
  }

  private setValue(slot: number, value: V | undefined): void {
    this.values[slot >>> CHUNK_BITS]![slot & CHUNK_MASK] = value;
  }

  /** The bucket `find` stopped at: the key's own bucket on a hit, the empty one to fill on a miss. */
  private probedBucket = 0;

  /** The key's slot, or NONE; leaves the key split in `halves` for `insert`. */
  private find(key: BlockKey): number {
    splitKey(key);
    const hi = halves[0]!;
    const lo = halves[1]!;
    const buckets = this.buckets;
    const mask = this.mask;
    let bucket = bucketOf(hi, lo, mask);
    for (;;) {
      const stored = buckets[bucket]!;
      if (stored === 0) {
        this.probedBucket = bucket;
        return NONE;
      }
      const slot = stored - 1;
      if (this.keyLo[slot] === lo && this.keyHi[slot] === hi) {
        this.probedBucket = bucket;
        return slot;
      }
      bucket = (bucket + 1) & mask;
    }
  }

  /** Inserts the key (hi, lo) that `find` missed at `bucket` (the empty one it stopped at), as the newest entry. */
  private insert(value: V, hi: number, lo: number, bucket: number): void {
    if ((this.count + 1) * 2 > this.buckets.length) {
      this.rehash(this.buckets.length * 2);
      bucket = bucketOf(hi, lo, this.mask);
      while (this.buckets[bucket] !== 0) bucket = (bucket + 1) & this.mask;
    }
    const slot = this.allocate();
    this.keyHi[slot] = hi;
    this.keyLo[slot] = lo;
    this.setValue(slot, value);
    this.older[slot] = this.newest;
    this.newer[slot] = NONE;
    if (this.newest === NONE) this.oldest = slot;
    else this.newer[this.newest] = slot;
    this.newest = slot;
    this.buckets[bucket] = slot + 1;
    this.count++;
    if (this.count > this.capacity) this.evictOldest();
  }

  private evictOldest(): void {
    const slot = this.oldest;
    const hi = this.keyHi[slot]!;
    const lo = this.keyLo[slot]!;
    let bucket = bucketOf(hi, lo, this.mask);
    while (this.buckets[bucket] !== slot + 1) bucket = (bucket + 1) & this.mask;
    this.remove(slot, bucket);
  }

  /** Unlinks `slot`, frees it and empties `bucket`, shifting later probes back so lookups never stop early. */
  private remove(slot: number, bucket: number): void {
    this.unlink(slot);
    this.setValue(slot, undefined);
    this.newer[slot] = this.freeList;
    this.freeList = slot;
    this.count--;
    const buckets = this.buckets;
    const mask = this.mask;
    let hole = bucket;
    let next = (hole + 1) & mask;
    for (;;) {
      const stored = buckets[next]!;
      if (stored === 0) break;
      const home = bucketOf(this.keyHi[stored - 1]!, this.keyLo[stored - 1]!, mask);
      // Move the entry into the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (!stays) {
        buckets[hole] = stored;
        hole = next;
      }
      next = (next + 1) & mask;
    }
    buckets[hole] = 0;
  }

  private allocate(): number {
    if (this.freeList !== NONE) {
      const slot = this.freeList;
      this.freeList = this.newer[slot]!;
      return slot;
    }
    if (this.used === this.keyHi.length) this.growSlots();
    if ((this.used & CHUNK_MASK) === 0) this.values.push(new Array<V | undefined>(CHUNK).fill(undefined));
    return this.used++;
  }

  private growSlots(): void {
    const length = this.keyHi.length * 2;
    this.keyHi = grown(this.keyHi, new Uint32Array(length));
    this.keyLo = grown(this.keyLo, new Uint32Array(length));
    this.older = grown(this.older, new Int32Array(length));
    this.newer = grown(this.newer, new Int32Array(length));
  }

  private rehash(length: number): void {
    const buckets = new Int32Array(length);
    const mask = length - 1;
    for (let slot = this.oldest; slot !== NONE; slot = this.newer[slot]!) {
      let bucket = bucketOf(this.keyHi[slot]!, this.keyLo[slot]!, mask);
      while (buckets[bucket] !== 0) bucket = (bucket + 1) & mask;
      buckets[bucket] = slot + 1;
    }
    this.buckets = buckets;
    this.mask = mask;
  }

  /** Moves a linked slot to the newest end. */
  private touch(slot: number): void {
    if (slot === this.newest) return;
    this.unlink(slot);
    this.older[slot] = this.newest;
    this.newer[slot] = NONE;
    this.newer[this.newest] = slot;
    this.newest = slot;
  }

  private unlink(slot: number): void {
    const older = this.older[slot]!;
    const newer = this.newer[slot]!;
    if (older === NONE) this.oldest = newer;
    else this.newer[older] = newer;
    if (newer === NONE) this.newest = older;
    else this.older[newer] = older;
  }
}

function grown<T extends Uint32Array | Int32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
