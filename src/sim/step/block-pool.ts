/**
 * The step engine's paged KV cache, with vLLM's prefix caching (docs/simulator.md "Step engine"):
 *
 *  - A fixed pool of blocks. A request holds the blocks for the tokens it has computed (allocated
 *    step by step, as the scheduler grants tokens), plus the prefix-cache hits it started from.
 *  - A block that becomes full gets its chained key (the same `cbor-fnv` keys as the rest of the
 *    simulator) and enters the prefix cache: one BlockStored event per commit, parent = the key of
 *    the block before it.
 *  - Freed blocks (refcount 0) go to the tail of a free queue in reverse order (a request's last
 *    block is evicted first) and stay cached until reused; reusing a cached block evicts it from
 *    the prefix cache (one BlockRemoved event).
 *  - A lookup returns the longest cached prefix of a request's keys, capped so that at least one
 *    token is left to compute (the step that computes it samples the next token).
 */
import type { BlockKey } from '../../kvblock/keys.js';
import type { KvEventSink } from '../kv-events.js';

export interface PoolBlock {
  readonly id: number;
  refCount: number;
  key: BlockKey | null;
  /** Position in the free queue (doubly linked), or not linked. */
  prev: PoolBlock | null;
  next: PoolBlock | null;
  free: boolean;
}

/** What the pool needs to know of a request. */
export interface BlockOwner {
  /** Keys of every full block of the request's tokens (prompt, then output), in order. */
  readonly keys: readonly BlockKey[];
  /** Token ids, prompt then output (BlockStored carries them). */
  readonly tokenIds: readonly number[];
  readonly loraId: number | null;
  readonly loraName: string | null;
  /** Blocks held, in token order. */
  blocks: PoolBlock[];
  /** How many of `blocks` carry their key (committed to the prefix cache). */
  committed: number;
}

export class BlockPool {
  readonly capacity: number;
  private readonly all: PoolBlock[];
  private readonly cached = new Map<BlockKey, PoolBlock>();
  private head: PoolBlock | null = null;
  private tail: PoolBlock | null = null;
  private freeCount = 0;

  constructor(capacity: number, readonly blockSize: number, private sink: KvEventSink) {
    this.capacity = capacity;
    this.all = Array.from({ length: capacity }, (_, id) => ({ id, refCount: 0, key: null, prev: null, next: null, free: false }));
    for (const block of this.all) this.pushFree(block);
  }

  setSink(sink: KvEventSink): void {
    this.sink = sink;
  }

  get freeBlocks(): number {
    return this.freeCount;
  }

  get usedBlocks(): number {
    return this.capacity - this.freeCount;
  }

  /** Blocks held by requests / capacity (vLLM's kv_cache_usage_perc). */
  get usage(): number {
    return this.capacity > 0 ? this.usedBlocks / this.capacity : 0;
  }

  /** Cached blocks of the longest cached prefix of `owner`'s first `tokens` tokens (at most tokens − 1 covered). */
  lookup(owner: Pick<BlockOwner, 'keys'>, tokens: number): PoolBlock[] {
    const limit = Math.min(owner.keys.length, Math.floor((tokens - 1) / this.blockSize));
    const hits: PoolBlock[] = [];
    for (let i = 0; i < limit; i++) {
      const block = this.cached.get(owner.keys[i]!);
      if (block === undefined) break;
      hits.push(block);
    }
    return hits;
  }

  /**
   * Gives `owner` blocks for `tokens` tokens in total, starting (when it holds none) from the cache
   * `hits`. False, with nothing changed, when the free blocks do not suffice.
   */
  allocate(owner: BlockOwner, tokens: number, hits: readonly PoolBlock[] = []): boolean {
    const held = owner.blocks.length + hits.length;
    const needed = Math.max(0, Math.ceil(tokens / this.blockSize) - held);
    const revived = hits.reduce((count, block) => count + (block.refCount === 0 ? 1 : 0), 0);
    if (needed + revived > this.freeCount) return false;
    for (const block of hits) {
      if (block.refCount === 0) this.unlinkFree(block);
      block.refCount++;
      owner.blocks.push(block);
    }
    if (owner.committed === 0) owner.committed = hits.length;
    for (let i = 0; i < needed; i++) {
      const block = this.popFree();
      if (block.key !== null) {
        this.cached.delete(block.key);
        this.sink.blockRemoved({ type: 'BlockRemoved', blockHashes: [block.key], medium: 'GPU' });
        block.key = null;
      }
      block.refCount = 1;
      owner.blocks.push(block);
    }
    return true;
  }

  /** Commits the blocks that `computed` tokens fill completely to the prefix cache. */
  commit(owner: BlockOwner, computed: number): void {
    const full = Math.min(Math.floor(computed / this.blockSize), owner.keys.length, owner.blocks.length);
    if (full <= owner.committed) return;
    const stored: BlockKey[] = [];
    const tokenIds: number[] = [];
    let parent: BlockKey | null = owner.committed > 0 ? owner.keys[owner.committed - 1]! : null;
    for (let i = owner.committed; i < full; i++) {
      const key = owner.keys[i]!;
      const block = owner.blocks[i]!;
      if (this.cached.has(key)) {
        // Computed concurrently by another request: this copy stays uncached (as vLLM does).
        if (stored.length === 0) parent = key;
        continue;
      }
      block.key = key;
      this.cached.set(key, block);
      stored.push(key);
      for (let t = i * this.blockSize; t < (i + 1) * this.blockSize; t++) tokenIds.push(owner.tokenIds[t]!);
    }
    owner.committed = full;
    if (stored.length > 0) {
      this.sink.blockStored({ type: 'BlockStored', blockHashes: stored, parentBlockHash: parent, tokenIds, blockSize: this.blockSize, loraId: owner.loraId, loraName: owner.loraName, medium: 'GPU' });
    }
  }

  /** Releases every block of `owner` (last block first to the free queue: evicted first). */
  free(owner: BlockOwner): void {
    for (let i = owner.blocks.length - 1; i >= 0; i--) {
      const block = owner.blocks[i]!;
      block.refCount--;
      if (block.refCount === 0) this.pushFree(block);
    }
    owner.blocks = [];
    owner.committed = 0;
  }

  /** `/sleep`: forget every cached block (AllBlocksCleared). Held blocks stay held, uncached. */
  clear(): void {
    for (const block of this.cached.values()) block.key = null;
    this.cached.clear();
    this.sink.allCleared();
  }

  private pushFree(block: PoolBlock): void {
    block.free = true;
    block.prev = this.tail;
    block.next = null;
    if (this.tail) this.tail.next = block;
    else this.head = block;
    this.tail = block;
    this.freeCount++;
  }

  private unlinkFree(block: PoolBlock): void {
    if (block.prev) block.prev.next = block.next;
    else this.head = block.next;
    if (block.next) block.next.prev = block.prev;
    else this.tail = block.prev;
    block.prev = block.next = null;
    block.free = false;
    this.freeCount--;
  }

  private popFree(): PoolBlock {
    const block = this.head;
    if (block === null) throw new Error('block pool exhausted');
    this.unlinkFree(block);
    return block;
  }
}
