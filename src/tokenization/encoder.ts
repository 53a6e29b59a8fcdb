/**
 * Where tokenizers run. Two implementations with one contract, so the choice is a measured
 * trade-off (docs/prefix-cache.md), not an API difference:
 *
 *  - WorkerEncoder (default): a worker thread owns the tokenizers; nothing but message passing
 *    happens on the caller's event loop.
 *  - InProcessEncoder: the binding on the calling thread — one hop less, but tokenizer loading and
 *    id conversion block the caller.
 *
 * Tokenizers are identified by the path of their tokenizer.json, so two model names that point
 * at one directory share a tokenizer.
 */
import type { TokenizerMeta } from './tokenizer-meta.js';
import { encodePacked, loadTokenizerFile, unpack, type LoadedTokenizer } from './encode-worker.js';

export interface Encoder {
  /** Loads the tokenizer (if needed) and returns what segmentation needs to know about it. */
  load(path: string): Promise<TokenizerMeta>;
  /** Token ids of each text (loading the tokenizer again if it was unloaded meanwhile). */
  encode(path: string, texts: readonly string[], addSpecialTokens: boolean): Promise<Uint32Array[]>;
  /** Frees a tokenizer; a later `encode` reloads it. */
  unload(path: string): void;
  close(): Promise<void>;
}

export class InProcessEncoder implements Encoder {
  private readonly loaded = new Map<string, Promise<LoadedTokenizer>>();

  private get(path: string): Promise<LoadedTokenizer> {
    let loading = this.loaded.get(path);
    if (!loading) {
      loading = loadTokenizerFile(path);
      loading.catch(() => this.loaded.delete(path));
      this.loaded.set(path, loading);
    }
    return loading;
  }

  async load(path: string): Promise<TokenizerMeta> {
    return (await this.get(path)).meta;
  }

  async encode(path: string, texts: readonly string[], addSpecialTokens: boolean): Promise<Uint32Array[]> {
    const { tokenizer } = await this.get(path);
    const { ids, lengths } = await encodePacked(tokenizer, texts, addSpecialTokens);
    return unpack(ids, lengths);
  }

  unload(path: string): void {
    this.loaded.delete(path);
  }

  async close(): Promise<void> {
    this.loaded.clear();
  }
}
