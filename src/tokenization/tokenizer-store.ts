/**
 * Loaded tokenizers by model name: an LRU of 20 (llm-d's default), with
 * single-flight loading — concurrent first requests for a model share one load instead of each
 * parsing a multi-megabyte tokenizer.json (llm-d/llm-d-kv-cache#191). Models are found only in
 * local directories (model-files.ts); a model that is not there is remembered as missing for a
 * few seconds so a stream of requests for it does not hammer the file system — the
 * MAX_MISSING_MODELS most recent ones (names come from requests: made-up ones must not pile up).
 */
import { join } from 'node:path';
import { LruMap } from '../lru.js';
import { AddedTokenSplitter } from './added-tokens.js';
import type { Encoder } from './encoder.js';
import { TokenizationError } from './errors.js';
import { findModelDir, readModelConfig, TOKENIZER_FILE, type ModelConfig, type ModelLocations } from './model-files.js';
import { WorkerEncoder } from './worker-encoder.js';

/** Ids `add_special_tokens: true` puts before and after a text (e.g. Llama's BOS). */
export interface SpecialAffixes {
  prefix: Uint32Array;
  suffix: Uint32Array;
}

/** One model's tokenizer, template configuration and text splitter. */
export interface ModelTokenizer {
  readonly model: string;
  readonly dir: string;
  /** Identifies the tokenizer (its tokenizer.json path); models sharing a directory share it. */
  readonly tokenizerPath: string;
  readonly config: ModelConfig;
  /** Splits text at atomic added tokens; undefined when splitting would change the ids. */
  readonly splitter: AddedTokenSplitter | undefined;
  /** Token ids of each text. */
  encode(texts: readonly string[], addSpecialTokens: boolean): Promise<Uint32Array[]>;
  /** What `add_special_tokens` adds around a text; undefined if that is not a plain prefix/suffix. */
  specialAffixes(): Promise<SpecialAffixes | undefined>;
}

export interface TokenizerStoreOptions extends ModelLocations {
  /** Loaded tokenizers kept (default 20). */
  capacity?: number;
  /** Where tokenizers run (default: a WorkerEncoder owned — and closed — by the store). */
  encoder?: Encoder;
  /** How long a model that was not found stays "not found" (default 5 s). */
  missingTtlMs?: number;
}

/** Any text works as a probe; its ids with and without special tokens reveal the affixes. */
const AFFIX_PROBE = 'probe';

function indexOfRun(haystack: Uint32Array, needle: Uint32Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Missing models remembered at most (model names are client input; an older one is probed again). */
export const MAX_MISSING_MODELS = 1024;

export class TokenizerStore {
  private readonly loaded = new Map<string, ModelTokenizer>();
  private readonly loading = new Map<string, Promise<ModelTokenizer>>();
  /** Model → until when it counts as missing; set order is expiry order, the oldest dropped past the cap. */
  private readonly missing = new LruMap<string, number>(MAX_MISSING_MODELS);
  private readonly encoder: Encoder;
  private readonly ownsEncoder: boolean;
  private readonly capacity: number;
  private readonly missingTtlMs: number;

  constructor(private readonly options: TokenizerStoreOptions = {}) {
    this.encoder = options.encoder ?? new WorkerEncoder();
    this.ownsEncoder = options.encoder === undefined;
    this.capacity = options.capacity ?? 20;
    this.missingTtlMs = options.missingTtlMs ?? 5000;
  }

  /** The model's tokenizer, loading it on first use; rejects with a TokenizationError. */
  get(model: string): Promise<ModelTokenizer> {
    const hit = this.loaded.get(model);
    if (hit) {
      this.loaded.delete(model);
      this.loaded.set(model, hit);
      return Promise.resolve(hit);
    }
    let loading = this.loading.get(model);
    if (!loading) {
      loading = this.load(model).finally(() => this.loading.delete(model));
      this.loading.set(model, loading);
    }
    return loading;
  }

  /** Models currently loaded, least recently used first. */
  loadedModels(): string[] {
    return [...this.loaded.keys()];
  }

  async close(): Promise<void> {
    this.loaded.clear();
    if (this.ownsEncoder) await this.encoder.close();
  }

  private async load(model: string): Promise<ModelTokenizer> {
    const missingUntil = this.missing.peek(model);
    if (missingUntil !== undefined && missingUntil > Date.now()) throw this.notFound(model);
    const dir = await findModelDir(model, this.options);
    if (dir === undefined) {
      this.missing.set(model, Date.now() + this.missingTtlMs);
      throw this.notFound(model);
    }
    this.missing.delete(model);
    const tokenizerPath = join(dir, TOKENIZER_FILE);
    let tokenizer: ModelTokenizer;
    try {
      const [config, meta] = await Promise.all([readModelConfig(dir), this.encoder.load(tokenizerPath)]);
      tokenizer = this.create(model, dir, tokenizerPath, config, AddedTokenSplitter.create(meta));
    } catch (error) {
      throw new TokenizationError('tokenizer_load', `cannot load the tokenizer of ${model} from ${dir}: ${(error as Error).message}`, { cause: error });
    }
    this.loaded.set(model, tokenizer);
    while (this.loaded.size > this.capacity) this.evict(this.loaded.keys().next().value!);
    return tokenizer;
  }

  private evict(model: string): void {
    const evicted = this.loaded.get(model);
    this.loaded.delete(model);
    if (!evicted) return;
    const stillUsed = [...this.loaded.values()].some((other) => other.tokenizerPath === evicted.tokenizerPath);
    if (!stillUsed) this.encoder.unload(evicted.tokenizerPath);
  }

  private notFound(model: string): TokenizationError {
    return new TokenizationError('model_not_found', `no local tokenizer for model ${JSON.stringify(model)}`);
  }

  private create(
    model: string,
    dir: string,
    tokenizerPath: string,
    config: ModelConfig,
    splitter: AddedTokenSplitter | undefined,
  ): ModelTokenizer {
    const encoder = this.encoder;
    const encode = (texts: readonly string[], addSpecialTokens: boolean): Promise<Uint32Array[]> =>
      encoder.encode(tokenizerPath, texts, addSpecialTokens);
    let affixes: Promise<SpecialAffixes | undefined> | undefined;
    const specialAffixes = (): Promise<SpecialAffixes | undefined> => {
      // One call after the other: a pool with a queue of one must not refuse its own probe.
      affixes ??= (async () => [await encode([AFFIX_PROBE], false), await encode([AFFIX_PROBE], true)] as const)().then(([[plain], [withSpecial]]) => {
        const at = indexOfRun(withSpecial!, plain!);
        if (at < 0) return undefined;
        return { prefix: withSpecial!.slice(0, at), suffix: withSpecial!.slice(at + plain!.length) };
      });
      affixes.catch(() => (affixes = undefined));
      return affixes;
    };
    return { model, dir, tokenizerPath, config, splitter, encode, specialAffixes };
  }
}
