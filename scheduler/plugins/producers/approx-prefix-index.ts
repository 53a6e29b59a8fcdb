/**
 * The approximate prefix index: which endpoints probably hold which prefix blocks in their KV
 * cache, learned from our own routing decisions (no feedback from the model servers).
 *
 * Every endpoint has its own LRU of block hashes sized like its KV cache (`num_gpu_blocks`), so the
 * index forgets blocks about when vLLM would evict them; a reverse map hash → endpoints answers
 * lookups. Evicting a block from an endpoint's LRU removes the endpoint from that hash's set.
 * Single-threaded (Node), so no locking; all operations are O(blocks touched).
 */

/** Block hash (XXH64). */
export type BlockHash = bigint;

/** llm-d's default per-endpoint capacity: ~500K tokens of an 8B model on an H100 at 16 tokens/block. */
export const DEFAULT_LRU_CAPACITY_PER_SERVER = 31250;

interface EndpointBlocks {
  capacity: number;
  /** Insertion order = recency: the first key is the least recently used. */
  readonly blocks: Map<BlockHash, true>;
}

export class ApproxPrefixIndex {
  private readonly holders = new Map<BlockHash, Set<string>>();
  private readonly byEndpoint = new Map<string, EndpointBlocks>();
  readonly defaultCapacity: number;

  constructor(defaultCapacity: number = DEFAULT_LRU_CAPACITY_PER_SERVER) {
    this.defaultCapacity = defaultCapacity > 0 ? defaultCapacity : DEFAULT_LRU_CAPACITY_PER_SERVER;
  }

  /**
   * Records that `endpoint` now holds `hashes` (most recent last). `capacity` sizes its LRU; a
   * changed capacity (the pod's KV cache was resized) applies from now on.
   */
  add(endpoint: string, hashes: readonly BlockHash[], capacity: number = this.defaultCapacity): void {
    let entry = this.byEndpoint.get(endpoint);
    if (!entry) {
      entry = { capacity: 0, blocks: new Map() };
      this.byEndpoint.set(endpoint, entry);
    }
    entry.capacity = capacity > 0 ? capacity : this.defaultCapacity;
    for (const hash of hashes) {
      if (entry.blocks.delete(hash)) {
        entry.blocks.set(hash, true);
        continue;
      }
      entry.blocks.set(hash, true);
      let set = this.holders.get(hash);
      if (!set) {
        set = new Set();
        this.holders.set(hash, set);
      }
      set.add(endpoint);
    }
    while (entry.blocks.size > entry.capacity) {
      const oldest = entry.blocks.keys().next().value!;
      entry.blocks.delete(oldest);
      this.unlink(oldest, endpoint);
    }
  }

  /** Endpoints that hold `hash`. */
  holdersOf(hash: BlockHash): ReadonlySet<string> | undefined {
    return this.holders.get(hash);
  }

  /**
   * Walks `hashes` in order, stopping at the first one no endpoint holds; returns, per endpoint,
   * how many of the walked hashes it holds (llm-d's `matchLongestPrefix`).
   */
  matchLongestPrefix(hashes: readonly BlockHash[]): Map<string, number> {
    const matches = new Map<string, number>();
    for (const hash of hashes) {
      const set = this.holders.get(hash);
      if (!set || set.size === 0) break;
      for (const endpoint of set) matches.set(endpoint, (matches.get(endpoint) ?? 0) + 1);
    }
    return matches;
  }

  /** Forgets everything `endpoint` holds. */
  removeEndpoint(endpoint: string): void {
    const entry = this.byEndpoint.get(endpoint);
    if (!entry) return;
    for (const hash of entry.blocks.keys()) this.unlink(hash, endpoint);
    this.byEndpoint.delete(endpoint);
  }

  /** Endpoints with an LRU. */
  endpoints(): string[] {
    return [...this.byEndpoint.keys()];
  }

  /** Blocks held by `endpoint`, or by all endpoints together. */
  blockCount(endpoint?: string): number {
    if (endpoint !== undefined) return this.byEndpoint.get(endpoint)?.blocks.size ?? 0;
    let total = 0;
    for (const entry of this.byEndpoint.values()) total += entry.blocks.size;
    return total;
  }

  /** Distinct hashes known. */
  get hashCount(): number {
    return this.holders.size;
  }

  private unlink(hash: BlockHash, endpoint: string): void {
    const set = this.holders.get(hash);
    if (!set) return;
    set.delete(endpoint);
    if (set.size === 0) this.holders.delete(hash);
  }
}
