/**
 * The approximate prefix index: which endpoints probably hold which prefix blocks in their KV
 * cache, learned from our own routing decisions (no feedback from the model servers).
 *
 * Every endpoint has its own LRU of block hashes sized like its KV cache (`num_gpu_blocks`), so the
 * index forgets blocks about when vLLM would evict them; a reverse map hash → endpoints answers
 * lookups. Evicting a block from an endpoint's LRU removes the endpoint from that hash's set.
 * Single-threaded (Node), so no locking; all operations are O(blocks touched).
 */
import { LRUCache } from 'lru-cache';

/**
 * Index key of a block: the low 53 bits of its XXH64 chain hash as a plain number. V8 hashes
 * BigInt Map keys slowly (BigInt keys made `add` ~60 % of a scheduling decision); 53 bits keep
 * collisions negligible (~2^-53 per pair) for an index that is only an estimate anyway.
 */
export type BlockHash = number;

const LOW_53_BITS = (1n << 53n) - 1n;

export function blockKey(hash: bigint): BlockHash {
  return Number(hash & LOW_53_BITS);
}

/** llm-d's default per-endpoint capacity: ~500K tokens of an 8B model on an H100 at 16 tokens/block. */
export const DEFAULT_LRU_CAPACITY_PER_SERVER = 31250;

type EndpointBlocks = LRUCache<BlockHash, true>;

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
    const wanted = capacity > 0 ? capacity : this.defaultCapacity;
    let blocks = this.byEndpoint.get(endpoint);
    if (!blocks || blocks.max !== wanted) blocks = this.resize(endpoint, blocks, wanted);
    for (const hash of hashes) {
      if (blocks.get(hash)) continue; // get() refreshes recency
      blocks.set(hash, true);
      let set = this.holders.get(hash);
      if (!set) {
        set = new Set();
        this.holders.set(hash, set);
      }
      set.add(endpoint);
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
    const blocks = this.byEndpoint.get(endpoint);
    if (!blocks) return;
    this.byEndpoint.delete(endpoint);
    for (const hash of blocks.keys()) this.unlink(hash, endpoint);
  }

  /** Endpoints with an LRU. */
  endpoints(): string[] {
    return [...this.byEndpoint.keys()];
  }

  /** Blocks held by `endpoint`, or by all endpoints together. */
  blockCount(endpoint?: string): number {
    if (endpoint !== undefined) return this.byEndpoint.get(endpoint)?.size ?? 0;
    let total = 0;
    for (const blocks of this.byEndpoint.values()) total += blocks.size;
    return total;
  }

  /** Distinct hashes known. */
  get hashCount(): number {
    return this.holders.size;
  }

  /** A new LRU for `endpoint` holding the most recent of its old blocks (lru-cache's max is fixed). */
  private resize(endpoint: string, old: EndpointBlocks | undefined, capacity: number): EndpointBlocks {
    const blocks: EndpointBlocks = new LRUCache<BlockHash, true>({
      max: capacity,
      // Evicted from this endpoint's LRU: it no longer holds the block.
      dispose: (_value, hash, reason) => {
        if (reason === 'evict') this.unlink(hash, endpoint);
      },
    });
    if (old) {
      const kept = [...old.rkeys()]; // least recent first
      const dropped = kept.splice(0, Math.max(0, kept.length - capacity));
      for (const hash of dropped) this.unlink(hash, endpoint);
      for (const hash of kept) blocks.set(hash, true);
    }
    this.byEndpoint.set(endpoint, blocks);
    return blocks;
  }

  private unlink(hash: BlockHash, endpoint: string): void {
    const set = this.holders.get(hash);
    if (!set) return;
    set.delete(endpoint);
    if (set.size === 0) this.holders.delete(hash);
  }
}
