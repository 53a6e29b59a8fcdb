/**
 * The default in-process index: an LRU of request keys
 * (`size`, default 1e8, clamped to MAX_MAP_ENTRIES) whose values are small LRUs of pod
 * entries (`podCacheSize`, default 10 — the 11th distinct entry pushes out the least recently
 * added one), plus one LRU of engine key → request keys **per pod** (each bounded by `size`).
 *
 * Both kinds of table are `BlockKeyLru`s (flat typed arrays, no object per key).
 * Lookup refreshes the recency of the keys it reads; adds refresh keys and entries. Everything is
 * synchronous underneath; the async signatures exist for the shared `KvBlockIndex` contract.
 */
import { BlockKeyLru } from './block-key-lru.js';
import {
  engineMapping,
  singlePod,
  validateAdd,
  type BlockKey,
  type KeyType,
  type KvBlockIndex,
  type PodEntry,
} from './types.js';

export interface MemoryIndexConfig {
  /** Maximum request keys (and engine keys per pod). */
  size?: number;
  /** Maximum pod entries per request key. */
  podCacheSize?: number;
}

export const DEFAULT_MEMORY_INDEX_SIZE = 100_000_000;
export const DEFAULT_POD_CACHE_SIZE = 10;

/**
 * Entries of one request key in add order (oldest first), at most `podCacheSize` of them, no two
 * equal (`indexOfEntry`): the entry itself when there is one (most keys: no allocation per key,
 * the stored entry is shared), else a non-empty array. Not a Map keyed by field: a Map per key is
 * several times the memory and allocation.
 */
type PodCache = PodEntry | PodEntry[];

/** An engine key's request keys in chain order; a bare key in the usual 1:1 case (no array per block). */
type Mapped = BlockKey | BlockKey[];

export class MemoryKvBlockIndex implements KvBlockIndex {
  readonly capacity: number;
  readonly podCacheSize: number;
  private readonly keys: BlockKeyLru<PodCache>;
  private readonly engines = new Map<string, BlockKeyLru<Mapped>>();

  constructor(config: MemoryIndexConfig = {}) {
    this.capacity = config.size ?? DEFAULT_MEMORY_INDEX_SIZE;
    this.podCacheSize = config.podCacheSize ?? DEFAULT_POD_CACHE_SIZE;
    if (!Number.isInteger(this.podCacheSize) || this.podCacheSize <= 0) {
      throw new RangeError(`podCacheSize ${this.podCacheSize} must be a positive integer`);
    }
    this.keys = new BlockKeyLru(this.capacity);
  }

  async lookup(requestKeys: readonly BlockKey[], podFilter?: ReadonlySet<string>): Promise<PodEntry[][]> {
    const found: PodEntry[][] = [];
    const filtered = podFilter !== undefined && podFilter.size > 0;
    for (const key of requestKeys) {
      const cache = this.keys.get(key);
      if (cache === undefined) break;
      let pods: PodEntry[];
      if (!Array.isArray(cache)) pods = !filtered || podFilter.has(cache.pod) ? [cache] : [];
      else if (!filtered) pods = cache.slice();
      else {
        pods = [];
        for (const entry of cache) if (podFilter.has(entry.pod)) pods.push(entry);
      }
      if (pods.length === 0) break;
      found.push(pods);
    }
    return found;
  }

  async add(engineKeys: readonly BlockKey[] | null, requestKeys: readonly BlockKey[], entries: readonly PodEntry[]): Promise<void> {
    validateAdd(engineKeys, requestKeys, entries);
    if (engineKeys !== null) {
      const pod = entries[0]!.pod;
      let engines = this.engines.get(pod);
      if (engines === undefined) {
        engines = new BlockKeyLru(this.capacity);
        this.engines.set(pod, engines);
      }
      if (engineKeys.length === requestKeys.length) {
        // Same block size as the engine (the usual case): 1:1, no pairing tables.
        for (let i = 0; i < engineKeys.length; i++) engines.set(engineKeys[i]!, requestKeys[i]!);
      } else {
        for (const [engineKey, mapped] of engineMapping(engineKeys, requestKeys)) engines.set(engineKey, mapped);
      }
    }
    // The same entries go on every key: their stored copies are made once per call (a 200 KB
    // prompt's event is ~4k keys). Stored entries are never mutated, so sharing is safe.
    const stored = entries.map(normalise);
    const limit = this.podCacheSize;
    const update = (cache: PodCache | undefined): PodCache => withEntries(cache, stored, limit);
    for (const key of requestKeys) this.keys.upsert(key, update);
  }

  async evict(key: BlockKey, keyType: KeyType, entries: readonly PodEntry[]): Promise<void> {
    if (entries.length === 0) throw new Error('evict: no entries provided');
    if (keyType === 'request') {
      this.removeEntries(key, entries);
      return;
    }
    const pod = singlePod(entries, 'evict');
    const engines = this.engines.get(pod);
    const value = engines?.peek(key);
    if (engines === undefined || value === undefined) return;
    const mapped = typeof value === 'bigint' ? [value] : value;
    for (const requestKey of mapped) this.removeEntries(requestKey, entries);
    if (!mapped.some((requestKey) => this.holdsConfirmed(requestKey, pod))) {
      engines.delete(key);
      if (engines.size === 0) this.engines.delete(pod);
    }
  }

  async getRequestKeys(pod: string, engineKey: BlockKey): Promise<BlockKey[]> {
    const value = this.engines.get(pod)?.peek(engineKey);
    if (value === undefined) return [];
    return typeof value === 'bigint' ? [value] : [...value];
  }

  /** A full scan of the request keys: AllBlocksCleared is rare, and a per-pod reverse index would cost memory on every add. */
  async clear(pod: string): Promise<void> {
    const emptied: BlockKey[] = [];
    for (const [key, cache] of this.keys.entries()) {
      if (!Array.isArray(cache)) {
        if (cache.pod === pod) emptied.push(key);
        continue;
      }
      for (let i = cache.length - 1; i >= 0; i--) if (cache[i]!.pod === pod) cache.splice(i, 1);
      if (cache.length === 0) emptied.push(key);
    }
    for (const key of emptied) this.keys.delete(key);
    this.engines.delete(pod);
  }

  async size(): Promise<number> {
    return this.keys.size;
  }

  async close(): Promise<void> {
    this.keys.clear();
    this.engines.clear();
  }

  private removeEntries(key: BlockKey, entries: readonly PodEntry[]): void {
    const cache = this.keys.peek(key);
    if (cache === undefined) return;
    if (!Array.isArray(cache)) {
      if (entries.some((entry) => sameEntry(cache, entry))) this.keys.delete(key);
      return;
    }
    for (const entry of entries) {
      const at = indexOfEntry(cache, entry);
      if (at >= 0) cache.splice(at, 1);
    }
    if (cache.length === 0) this.keys.delete(key);
  }

  private holdsConfirmed(key: BlockKey, pod: string): boolean {
    const cache = this.keys.peek(key);
    if (cache === undefined) return false;
    for (const entry of Array.isArray(cache) ? cache : [cache]) if (entry.pod === pod && entry.speculative !== true) return true;
    return false;
  }
}

/** The identity `podEntryField` names: pod, tier, speculative (false = absent). */
function sameEntry(a: PodEntry, b: PodEntry): boolean {
  return a.pod === b.pod && a.tier === b.tier && (a.speculative === true) === (b.speculative === true);
}

function indexOfEntry(list: readonly PodEntry[], entry: PodEntry): number {
  for (let i = 0; i < list.length; i++) if (sameEntry(list[i]!, entry)) return i;
  return -1;
}

/**
 * `cache` with `stored` added in order: re-adding an entry refreshes it (it becomes the newest);
 * beyond `limit` the oldest goes. Mutates an array cache in place.
 */
function withEntries(cache: PodCache | undefined, stored: readonly PodEntry[], limit: number): PodCache {
  if (stored.length === 1) {
    // The usual event: one pod entry on a key that is new or already holds just that entry.
    if (cache === undefined || (!Array.isArray(cache) && sameEntry(cache, stored[0]!))) return stored[0]!;
  }
  const list = cache === undefined ? [] : Array.isArray(cache) ? cache : [cache];
  for (const entry of stored) {
    const at = indexOfEntry(list, entry);
    if (at >= 0) list.splice(at, 1);
    list.push(entry);
    if (list.length > limit) list.shift();
  }
  return list.length === 1 ? list[0]! : list;
}

/** Stores a canonical copy so callers' objects are not retained and `speculative: false` equals absent. */
function normalise(entry: PodEntry): PodEntry {
  return entry.speculative === true ? { pod: entry.pod, tier: entry.tier, speculative: true } : { pod: entry.pod, tier: entry.tier };
}
