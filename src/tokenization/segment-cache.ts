/**
 * Token runs of already-seen text pieces, so a follow-up turn re-tokenizes only what is new.
 *
 * A conversation's earlier turns render to the same pieces (text between atomic added tokens,
 * see added-tokens.ts) on every turn, and tokenizing a piece alone gives exactly its ids in the
 * whole prompt. Keyed by (tokenizer, xxh64 of the piece, piece length) — 64-bit hashes, so a
 * collision is vanishingly unlikely, and we avoid keeping prompt text alive as map keys.
 *
 * Eviction is a two-generation approximation of LRU, bounded by an estimate of retained bytes:
 * new and re-used entries live in the young generation; when it holds half the budget, the old
 * generation is dropped wholesale and the young one becomes old. A hit costs one Map lookup (two
 * on a hit in the old generation) instead of the delete-and-reinsert of an exact LRU, which was
 * the cache's main cost on a follow-up turn's ~30 lookups.
 */
import xxhash, { type XXHashAPI } from 'xxhash-wasm';

/** Bytes an entry costs beyond its tokens: Map entry, key string, typed-array header. */
const ENTRY_OVERHEAD_BYTES = 160;

let hasherPromise: Promise<XXHashAPI> | undefined;
let hasher: XXHashAPI | undefined;

/** Instantiates the xxhash WebAssembly module once per process. */
export async function loadHasher(): Promise<XXHashAPI> {
  hasherPromise ??= xxhash().then((api) => (hasher = api));
  return hasherPromise;
}

export interface SegmentCacheStats {
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

const costOf = (key: string, tokens: Uint32Array): number => tokens.byteLength + ENTRY_OVERHEAD_BYTES + key.length * 2;

export class SegmentCache {
  private young = new Map<string, Uint32Array>();
  private old = new Map<string, Uint32Array>();
  private youngBytes = 0;
  private oldBytes = 0;
  private hits = 0;
  private misses = 0;

  /** @param maxBytes retained-bytes budget (default 64 MiB ≈ 15 M tokens). */
  constructor(readonly maxBytes = 64 * 1024 * 1024) {}

  /** Must be awaited once before `key` (loads the hash function). */
  ready(): Promise<unknown> {
    return loadHasher();
  }

  /** The cache key of `text` for the tokenizer named `namespace`. */
  key(namespace: string, text: string): string {
    if (!hasher) throw new Error('SegmentCache.ready() was not awaited');
    return `${namespace}\u0000${hasher.h64ToString(text)}:${text.length}`;
  }

  /** Whether `key` is held (no statistics, no promotion). */
  has(key: string): boolean {
    return this.young.has(key) || this.old.has(key);
  }

  get(key: string): Uint32Array | undefined {
    const young = this.young.get(key);
    if (young !== undefined) {
      this.hits++;
      return young;
    }
    const old = this.old.get(key);
    if (old === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.old.delete(key);
    this.oldBytes -= costOf(key, old);
    this.addYoung(key, old);
    return old;
  }

  set(key: string, tokens: Uint32Array): void {
    // A view into a larger buffer would keep the whole buffer alive: keep a compact copy.
    const own = tokens.byteLength === tokens.buffer.byteLength ? tokens : tokens.slice();
    if (costOf(key, own) > this.maxBytes / 2) return;
    if (this.young.has(key)) return;
    const old = this.old.get(key);
    if (old !== undefined) {
      this.old.delete(key);
      this.oldBytes -= costOf(key, old);
    }
    this.addYoung(key, own);
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
    this.youngBytes = 0;
    this.oldBytes = 0;
  }

  stats(): SegmentCacheStats {
    return { hits: this.hits, misses: this.misses, entries: this.young.size + this.old.size, bytes: this.youngBytes + this.oldBytes };
  }

  private addYoung(key: string, tokens: Uint32Array): void {
    const cost = costOf(key, tokens);
    if (this.youngBytes + cost > this.maxBytes / 2) {
      this.old = this.young;
      this.oldBytes = this.youngBytes;
      this.young = new Map();
      this.youngBytes = 0;
    }
    this.young.set(key, tokens);
    this.youngBytes += cost;
  }
}
