/**
 * The default in-process index: an LRU of request keys
 * (`size`, default 1e8, clamped to what one JS Map holds) whose values are small LRUs of pod
 * entries (`podCacheSize`, default 10 — the 11th distinct entry pushes out the least recently
 * added one), plus one LRU of engine key → request keys **per pod** (each bounded by `size`).
 *
 * Lookup refreshes the recency of the keys it reads; adds refresh keys and entries. Everything is
 * synchronous underneath; the async signatures exist for the shared `KvBlockIndex` contract.
 */
import { LruMap } from './lru.js';
import {
  engineMapping,
  podEntryField,
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

/** Entries of one request key in add order (oldest first), keyed by `podEntryField`. */
type PodCache = Map<string, PodEntry>;

export class MemoryKvBlockIndex implements KvBlockIndex {
  readonly capacity: number;
  readonly podCacheSize: number;
  private readonly keys: LruMap<BlockKey, PodCache>;
  private readonly engines = new Map<string, LruMap<BlockKey, BlockKey[]>>();

  constructor(config: MemoryIndexConfig = {}) {
    this.capacity = config.size ?? DEFAULT_MEMORY_INDEX_SIZE;
    this.podCacheSize = config.podCacheSize ?? DEFAULT_POD_CACHE_SIZE;
    if (!Number.isInteger(this.podCacheSize) || this.podCacheSize <= 0) {
      throw new RangeError(`podCacheSize ${this.podCacheSize} must be a positive integer`);
    }
    this.keys = new LruMap(this.capacity);
  }

  async lookup(requestKeys: readonly BlockKey[], podFilter?: ReadonlySet<string>): Promise<Map<BlockKey, PodEntry[]>> {
    const found = new Map<BlockKey, PodEntry[]>();
    const filtered = podFilter !== undefined && podFilter.size > 0;
    for (const key of requestKeys) {
      const cache = this.keys.get(key);
      if (cache === undefined || cache.size === 0) break;
      const pods: PodEntry[] = [];
      for (const entry of cache.values()) if (!filtered || podFilter.has(entry.pod)) pods.push(entry);
      if (pods.length === 0) break;
      found.set(key, pods);
    }
    return found;
  }

  async add(engineKeys: readonly BlockKey[] | null, requestKeys: readonly BlockKey[], entries: readonly PodEntry[]): Promise<void> {
    validateAdd(engineKeys, requestKeys, entries);
    if (engineKeys !== null) {
      const pod = entries[0]!.pod;
      let engines = this.engines.get(pod);
      if (engines === undefined) {
        engines = new LruMap(this.capacity);
        this.engines.set(pod, engines);
      }
      if (engineKeys.length === requestKeys.length) {
        // Same block size as the engine (the usual case): 1:1, no pairing tables.
        for (let i = 0; i < engineKeys.length; i++) engines.set(engineKeys[i]!, [requestKeys[i]!]);
      } else {
        for (const [engineKey, mapped] of engineMapping(engineKeys, requestKeys)) engines.set(engineKey, mapped);
      }
    }
    // The same entries go on every key: their fields and stored copies are made once per call
    // (a 200 KB prompt's event is ~4k keys). Stored entries are never mutated, so sharing is safe.
    const fields = entries.map(podEntryField);
    const stored = entries.map(normalise);
    for (const key of requestKeys) {
      const cache = this.keys.getOrInsert(key, newPodCache);
      for (let i = 0; i < fields.length; i++) {
        const field = fields[i]!;
        cache.delete(field); // re-adding refreshes: the entry becomes the newest
        cache.set(field, stored[i]!);
        if (cache.size > this.podCacheSize) cache.delete(cache.keys().next().value!);
      }
    }
  }

  async evict(key: BlockKey, keyType: KeyType, entries: readonly PodEntry[]): Promise<void> {
    if (entries.length === 0) throw new Error('evict: no entries provided');
    if (keyType === 'request') {
      this.removeEntries(key, entries);
      return;
    }
    const pod = singlePod(entries, 'evict');
    const engines = this.engines.get(pod);
    const mapped = engines?.peek(key);
    if (engines === undefined || mapped === undefined) return;
    for (const requestKey of mapped) this.removeEntries(requestKey, entries);
    if (!mapped.some((requestKey) => this.holdsConfirmed(requestKey, pod))) {
      engines.delete(key);
      if (engines.size === 0) this.engines.delete(pod);
    }
  }

  async getRequestKeys(pod: string, engineKey: BlockKey): Promise<BlockKey[]> {
    return [...(this.engines.get(pod)?.peek(engineKey) ?? [])];
  }

  /** A full scan of the request keys: AllBlocksCleared is rare, and a per-pod reverse index would cost memory on every add. */
  async clear(pod: string): Promise<void> {
    const emptied: BlockKey[] = [];
    for (const [key, cache] of this.keys.entries()) {
      for (const [field, entry] of cache) if (entry.pod === pod) cache.delete(field);
      if (cache.size === 0) emptied.push(key);
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
    for (const entry of entries) cache.delete(podEntryField(entry));
    if (cache.size === 0) this.keys.delete(key);
  }

  private holdsConfirmed(key: BlockKey, pod: string): boolean {
    const cache = this.keys.peek(key);
    if (cache === undefined) return false;
    for (const entry of cache.values()) if (entry.pod === pod && entry.speculative !== true) return true;
    return false;
  }
}

const newPodCache = (): PodCache => new Map();

/** Stores a canonical copy so callers' objects are not retained and `speculative: false` equals absent. */
function normalise(entry: PodEntry): PodEntry {
  return entry.speculative === true ? { pod: entry.pod, tier: entry.tier, speculative: true } : { pod: entry.pod, tier: entry.tier };
}
