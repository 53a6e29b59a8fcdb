/**
 * Encodes prompt text piece by piece: the text is cut at atomic added tokens (added-tokens.ts)
 * and long runs at provably safe points (safe-cuts.ts); pieces seen before come from the segment
 * cache, the others are encoded together in one call — concurrently on the libuv pool. The ids
 * equal those of encoding the whole text in one call (property-tested with Qwen3 and Llama 3.1),
 * so a follow-up turn pays only for its new messages, and a long cold prompt encodes in parallel.
 *
 * With `addSpecialTokens` (completions), the ids the post-processor adds around a text (e.g.
 * Llama's BOS) are put around the concatenation; tokenizers whose additions are not a plain
 * prefix/suffix, or whose text cannot be split, are encoded whole.
 */
import { SegmentCache, type SegmentCacheStats } from './segment-cache.js';
import { wholeText, type PromptText } from './text-parts.js';
import { IdsStream, PieceStream, type TokenStream } from './token-stream.js';
import type { ModelTokenizer } from './tokenizer-store.js';

/** Pieces up to this length are looked up by text before hashing: templates repeat them ("\n"). */
const SHORT_PIECE = 64;

export interface SegmentedEncoderOptions {
  /** Segment cache budget in bytes (default 64 MiB); 0 turns the cache — and splitting — off. */
  segmentCacheBytes?: number;
  /** Target chunk size for long runs, in UTF-16 units (default 2048; 0 = never cut runs). */
  chunkChars?: number;
}

export class SegmentedEncoder {
  private readonly cache: SegmentCache | undefined;
  private readonly chunkChars: number;
  /** A short cache namespace per tokenizer file. */
  private readonly namespaces = new Map<string, string>();

  constructor(options: SegmentedEncoderOptions = {}) {
    const bytes = options.segmentCacheBytes ?? 64 * 1024 * 1024;
    this.cache = bytes > 0 ? new SegmentCache(bytes) : undefined;
    this.chunkChars = options.chunkChars ?? 2048;
  }

  async encode(tokenizer: ModelTokenizer, text: string, addSpecialTokens: boolean): Promise<Uint32Array> {
    const affixes = addSpecialTokens ? await tokenizer.specialAffixes() : undefined;
    if (!tokenizer.splitter || !this.cache || (addSpecialTokens && !affixes)) {
      return (await tokenizer.encode([text], addSpecialTokens))[0]!;
    }
    const pieces = tokenizer.splitter.split(text, this.chunkChars);
    const runs = await this.encodeRuns(tokenizer, pieces, 0, pieces.length);
    return concatenate(pieces, runs, 0, pieces.length, affixes?.prefix, affixes?.suffix);
  }

  /**
   * The same ids as `encode`, produced batch by batch (token-stream.ts) so the caller can stop
   * early. A tokenizer whose text cannot be split is encoded whole on the first call. Text in
   * parts is split without being joined (text-parts.ts).
   */
  async stream(tokenizer: ModelTokenizer, text: PromptText, addSpecialTokens: boolean, firstChars?: number): Promise<TokenStream> {
    const affixes = addSpecialTokens ? await tokenizer.specialAffixes() : undefined;
    if (!tokenizer.splitter || !this.cache || (addSpecialTokens && !affixes)) {
      return new IdsStream((await tokenizer.encode([wholeText(text)], addSpecialTokens))[0]!, Number.MAX_SAFE_INTEGER);
    }
    const pieces = tokenizer.splitter.split(text, this.chunkChars);
    const cache = this.cache;
    await cache.ready();
    const namespace = this.namespace(tokenizer.tokenizerPath);
    // Each piece is hashed once: asking whether it is known (batch sizing) keeps its key for the encode.
    const keys = new Array<string | undefined>(pieces.length);
    const keyAt = (i: number): string => (keys[i] ??= cache.key(namespace, pieces[i] as string));
    const encodePieces = async (all: ReadonlyArray<string | number>, from: number, to: number): Promise<Uint32Array> =>
      concatenate(all, await this.encodeRuns(tokenizer, all, from, to, keyAt), from, to);
    const known = (index: number): boolean => cache.has(keyAt(index));
    return new PieceStream(pieces, encodePieces, affixes?.prefix, affixes?.suffix, firstChars, known);
  }

  /** The ids of each ordinary run in pieces[from, to): from the cache, the others encoded in one call. */
  private async encodeRuns(
    tokenizer: ModelTokenizer,
    pieces: ReadonlyArray<string | number>,
    from: number,
    to: number,
    keyAt?: (index: number) => string,
  ): Promise<Array<Uint32Array | undefined>> {
    const cache = this.cache!;
    await cache.ready();
    const namespace = this.namespace(tokenizer.tokenizerPath);
    const runs = new Array<Uint32Array | undefined>(pieces.length);
    const short = new Map<string, Uint32Array>();
    const missing = new Map<string, { text: string; at: number[] }>();
    for (let i = from; i < to; i++) {
      const piece = pieces[i]!;
      if (typeof piece === 'number') continue;
      const seen = piece.length <= SHORT_PIECE ? short.get(piece) : undefined;
      if (seen) {
        runs[i] = seen;
        continue;
      }
      const key = keyAt ? keyAt(i) : cache.key(namespace, piece);
      const pending = missing.get(key);
      if (pending) {
        pending.at.push(i);
        continue;
      }
      const tokens = cache.get(key);
      if (!tokens) {
        missing.set(key, { text: piece, at: [i] });
        continue;
      }
      runs[i] = tokens;
      if (piece.length <= SHORT_PIECE) short.set(piece, tokens);
    }
    if (missing.size > 0) {
      const encoded = await tokenizer.encode([...missing.values()].map((entry) => entry.text), false);
      let n = 0;
      for (const [key, { at }] of missing) {
        const tokens = encoded[n++]!;
        cache.set(key, tokens);
        for (const i of at) runs[i] = tokens;
      }
    }
    return runs;
  }

  stats(): SegmentCacheStats | undefined {
    return this.cache?.stats();
  }

  clear(): void {
    this.cache?.clear();
  }

  private namespace(tokenizerPath: string): string {
    let namespace = this.namespaces.get(tokenizerPath);
    if (namespace === undefined) {
      namespace = String(this.namespaces.size);
      this.namespaces.set(tokenizerPath, namespace);
    }
    return namespace;
  }
}

/** prefix ‖ (each piece of pieces[from, to): its atomic id, or its run's ids) ‖ suffix. */
function concatenate(
  pieces: ReadonlyArray<string | number>,
  runs: ReadonlyArray<Uint32Array | undefined>,
  from: number,
  to: number,
  prefix: Uint32Array = new Uint32Array(0),
  suffix: Uint32Array = new Uint32Array(0),
): Uint32Array {
  let length = prefix.length + suffix.length;
  for (let i = from; i < to; i++) length += typeof pieces[i] === 'number' ? 1 : runs[i]!.length;
  const out = new Uint32Array(length);
  out.set(prefix);
  let offset = prefix.length;
  for (let i = from; i < to; i++) {
    const piece = pieces[i]!;
    if (typeof piece === 'number') {
      out[offset++] = piece;
    } else {
      out.set(runs[i]!, offset);
      offset += runs[i]!.length;
    }
  }
  out.set(suffix, offset);
  return out;
}
